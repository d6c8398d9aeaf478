// Exim driver: one message per `<id>-H` file under <spool>/input, flat or, with
// split_spool_directory, in input/<6th character of the id>/ (62 subdirectories). The -D file
// holds the body, -J journals deliveries made during a run that crashed, -T / -K are temporaries.

import { createEximBpParser } from './exim-bp.js';
import fs from 'node:fs';
import { errorCode } from '../plugin/errors.js';
import { pathExists, readBounded } from './read.js';
import path from 'node:path';
import { eximIdArrival } from './queue-id.js';
import { countQueueFiles, linkTarget } from './skipped.js';
import type { ListingCommand, MtaDriver, QueueEntry, QueuedMessage, SpoolScanContext } from './types.js';
import { deniedError, isDenied } from './access.js';
import { parseEximBp } from './exim-bp.js';
import { parseEximHeaderFile } from './exim-spool.js';

export { isEximId, parseEximHeaderFile, stripEximRecipientExtras, type EximHeaderRecord } from './exim-spool.js';
export { formatEximSize, parseEximBp, parseEximBpc, parseEximSize, type EximBpParseOptions } from './exim-bp.js';

export const EXIM_SPOOLS = ['/var/spool/exim4', '/var/spool/exim'] as const;
export const EXIM_QUEUES = ['input', 'frozen'] as const;

/** Most of an -H file that is read; a 16,384-recipient message (Exim's own limit) fits. */
export const EXIM_HEADER_READ_CAP = 1024 * 1024;


/** The input directory of a spool: <spool>/input, or the spool itself if given as .../input. */
export function eximInputDir(spool: string): string {
  return path.basename(spool) === 'input' ? spool : path.join(spool, 'input');
}

/** `<id>-H` with a 16-character (4.96 and older) or 23-character (4.97+) id -> the id. */
export function eximHeaderFileId(name: string): string | undefined {
  const len = name.length;
  if ((len !== 18 && len !== 25) || name.charCodeAt(len - 2) !== 0x2d || name.charCodeAt(len - 1) !== 0x48) return undefined;
  if (name.charCodeAt(6) !== 0x2d /* - */) return undefined;
  return name.slice(0, len - 2);
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

const isHeaderFile = (name: string) => eximHeaderFileId(name) !== undefined;

/**
 * The -H files Exim's queue runner and exim -bp see (queue.c queue_get_spool_list): those in input/
 * and in its split subdirectories, named by one base-62 character (Exim scans them whether or not
 * split_spool_directory is set now: it may have been before). Anything else (input/old/, a
 * subdirectory of a split directory, a symlinked split directory, a symlinked -H file) is left out
 * and handed to ctx.onSkipped, so the check can say so. Exim itself would follow a symlinked split
 * directory or -H file, but it is never followed here (out of the spool, or a loop).
 */
function* walkInput(dir: string, top: boolean, ctx: SpoolScanContext): Generator<QueueEntry, boolean> {
  let handle: fs.Dir;
  try {
    handle = fs.opendirSync(dir, { bufferSize: 1024 });
  } catch (err) {
    const code = errorCode(err);
    if (!top && (code === 'ENOENT' || code === 'ENOTDIR')) return true; // split subdirectory gone
    // Node's opendir error does not say which directory: the line must (lib/mta/access.ts).
    if (isDenied(err)) throw deniedError(err, dir, 'Exim spool directory');
    throw err;
  }
  const subdirs: string[] = [];
  const skippedDirs: string[] = [];
  const linkedDirs: string[] = [];
  let linkedFiles = 0;
  try {
    for (let d = handle.readSync(); d !== null; d = handle.readSync()) {
      if (ctx.signal.aborted) return false;
      const name = d.name;
      if (d.isFile()) {
        const id = eximHeaderFileId(name);
        if (id !== undefined) yield { id, queue: 'input', path: `${dir}/${name}`, dir };
      } else if (d.isDirectory()) {
        if (top && name.length === 1 && isAlnum(name.charCodeAt(0))) subdirs.push(name);
        else skippedDirs.push(name);
      } else if (d.isSymbolicLink()) {
        if (top && name.length === 1 && isAlnum(name.charCodeAt(0))) linkedDirs.push(name);
        else if (isHeaderFile(name)) linkedFiles++;
      }
    }
  } finally {
    try {
      handle.closeSync();
    } catch {
      /* already closed */
    }
  }
  for (const s of subdirs) {
    if (ctx.signal.aborted) return false;
    if (!(yield* walkInput(path.join(dir, s), false, ctx))) return false;
  }
  const report = ctx.onSkipped;
  if (report && !ctx.signal.aborted) {
    for (const s of skippedDirs) {
      const n = countQueueFiles(`${dir}/${s}`, isHeaderFile, ctx.signal);
      if (n.files > 0 || n.more) report({ path: `${dir}/${s}`, why: 'not-queue-dir', files: n.files, more: n.more, mtaSees: false });
    }
    for (const s of linkedDirs) report({ path: `${dir}/${s}`, why: 'symlink', files: 0, mtaSees: true, target: linkTarget(`${dir}/${s}`) });
    if (linkedFiles) report({ path: dir, why: 'symlink', files: linkedFiles, mtaSees: true });
  }
  return true;
}

/**
 * Message size as exim -bp computes it: the live headers plus the -D file without its first line
 * (`<id>-D\n`), plus one for the blank line between them. Without the header sizes (cut read),
 * just the body part. Undefined when the -D file is missing.
 */
export function eximMessageSize(dataFileSize: number | undefined, id: string, headerBytes: number | undefined): number | undefined {
  if (dataFileSize === undefined) return undefined;
  return Math.max(0, dataFileSize - (id.length + 3)) + 1 + (headerBytes ?? 0);
}

function dataFileSize(headerPath: string): number | undefined {
  try {
    const st = fs.lstatSync(`${headerPath.slice(0, -1)}D`, { throwIfNoEntry: false });
    return st?.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** readMessage: parse one -H file (bounded, sync) and stat its -D file. `cap` is for tests. */
export function readEximMessage(entry: QueueEntry, cap: number = EXIM_HEADER_READ_CAP, sizes = true): QueuedMessage | null {
  const r = readBounded(entry.path, cap);
  if (r === null) return null;
  if ('error' in r) return { id: entry.id, queue: entry.queue, recipients: [], flags: ['unreadable'] };
  const rec = parseEximHeaderFile(r.buf, r.end, !r.truncated);
  const flags: string[] = [];
  if (rec.frozen) flags.push('frozen');
  if (r.truncated && !rec.envelopeComplete) flags.push('truncated');
  // A format error, or a whole file that ends before its recipient list does.
  if (rec.malformed || rec.id !== entry.id || (!r.truncated && !rec.envelopeComplete)) flags.push('unreadable');
  const msg: QueuedMessage = {
    id: entry.id,
    queue: rec.frozen ? 'frozen' : entry.queue,
    arrival: rec.arrival,
    sender: rec.sender,
    recipients: rec.recipients,
    size: sizes ? eximMessageSize(dataFileSize(entry.path), entry.id, rec.headerBytes) : undefined,
  };
  if (rec.client !== undefined) msg.client = rec.client;
  if (flags.length) msg.flags = flags;
  return msg;
}


export const exim: MtaDriver = {
  createListingParser: (cmd, now, emit) => createEximBpParser({ label: cmd.label, now }, emit),
  name: 'exim',
  needsReading: ['frozen'],
  countedTogether: ['input', 'frozen'],
  queues: EXIM_QUEUES,
  defaultSpools: EXIM_SPOOLS,
  binaries: ['exim4', 'exim'],

  async resolveSpools(explicit?: string[]): Promise<string[]> {
    if (explicit?.length) return [...explicit];
    for (const candidate of EXIM_SPOOLS) if (await pathExists(candidate)) return [candidate];
    return [EXIM_SPOOLS[0]];
  },

  *listEntries(spool: string, ctx: SpoolScanContext): Iterable<QueueEntry> {
    yield* walkInput(eximInputDir(spool), true, ctx);
  },

  sizeNeedsStat: true,
  readMessage: (entry, want) => readEximMessage(entry, EXIM_HEADER_READ_CAP, want?.sizes !== false),
  idArrival: (id: string) => eximIdArrival(id),

  listingCommands(): ListingCommand[] {
    return [{ file: 'exim', alternatives: ['exim4'], args: ['-bp'] }];
  },

  parseListing(stdout: string, cmd: ListingCommand, now?: number): QueuedMessage[] {
    return parseEximBp(stdout, { label: cmd.label, now });
  },
};
