// Real spools captured from Debian's postfix, exim4 and sendmail by test/fixtures/capture-fixtures.sh.
// Each case: spool/ (the queue), listing/ (the MTA's own listing of that same queue), manifest.json.
import fs from 'node:fs';
import path from 'node:path';
import type { MtaName } from '../../lib/mta/types.js';

export const FIXTURE_ROOT = process.env.FIXTURE_ROOT ?? path.join(__dirname, '../fixtures/mta');
/** The small queues delivered in part (capture-fixtures.sh's -partial cases), kept apart from mta/ so
 *  the tests written for the full plan (a flood, holds, bounces) do not meet them. CI's live run
 *  captures every case into one FIXTURE_ROOT: then both are that directory. */
export const PARTIAL_FIXTURE_ROOT = process.env.FIXTURE_ROOT ?? path.join(__dirname, '../fixtures/mta-partial');

export interface FixtureCase {
  name: string;
  dir: string;
  mta: MtaName;
  capturedAt: number;
  manifest: {
    expected: { total: number; byQueue: Record<string, number>; nullSender: number; recipients: number };
    listingCounts?: { total: number; byQueue: Record<string, number>; nullSender: number; recipients: number };
  };
  /** Directories to pass as --spool. */
  spools: string[];
  /** Recorded listings as --listing-file values ([label=]FILE). */
  listingFiles: string[];
  /** --spool values a command-mode run needs to know what to list (Exim named queues: exim -bp -qG<name>
   *  for each one in the spool root); [] when the listing commands do not depend on the spool. */
  commandSpools: string[];
  /** Exim named queues the capture listed with exim -bp -qG<name> (listing/exim-bp-qG<name>.txt). */
  namedQueues: string[];
}

/** Which recorded file answers which listing command (label '' = the main listing). */
const LISTING_FILES: Record<MtaName, Record<string, string>> = {
  postfix: { '': 'postqueue-j.txt' },
  exim: { '': 'exim-bp.txt' },
  sendmail: { '': 'mailq.txt', quarantine: 'mailq-qQ.txt' },
  nullmailer: { '': 'mailq.txt' },
  opensmtpd: { '': 'show-queue.txt' },
};

/** Exim named queues: `exim -bp -qG<name>` recorded as listing/exim-bp-qG<name>.txt answers the listing labelled <name>. */
function namedQueueListings(mta: MtaName, dir: string): Record<string, string> {
  if (mta !== 'exim' || !fs.existsSync(path.join(dir, 'listing'))) return {};
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(path.join(dir, 'listing'))) {
    const m = /^exim-bp-qG([A-Za-z0-9_.-]+)\.txt$/.exec(f);
    if (m) out[m[1]] = f;
  }
  return out;
}

export function fixtureCases(root: string = FIXTURE_ROOT): FixtureCase[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((d) => fs.existsSync(path.join(root, d, 'manifest.json')))
    .sort()
    .map((name) => {
      const dir = path.join(root, name);
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      const mta = manifest.mta as MtaName;
      const spoolDir = path.join(dir, 'spool');
      const spools =
        mta === 'sendmail'
          ? ['mqueue', 'mqueue-client'].map((d) => path.join(spoolDir, d)).filter((d) => fs.existsSync(d))
          : [spoolDir];
      const listingFiles = Object.entries({ ...LISTING_FILES[mta], ...namedQueueListings(mta, dir) })
        .filter(([, f]) => fs.existsSync(path.join(dir, 'listing', f)))
        .map(([label, f]) => (label ? `${label}=` : '') + path.join(dir, 'listing', f));
      const namedQueues = Object.keys(namedQueueListings(mta, dir)).sort();
      return { name, dir, mta, capturedAt: manifest.capturedAt, manifest, spools, listingFiles, commandSpools: namedQueues.length ? spools : [], namedQueues };
    });
}
