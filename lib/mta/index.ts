// The MTAs the suite knows. A new MTA is one driver file plus a row here.

import fs from 'node:fs';
import path from 'node:path';
import { exim } from './exim.js';
import { postfix } from './postfix.js';
import { sendmail } from './sendmail.js';
import type { MtaDriver, MtaName } from './types.js';

export interface MtaRow {
  driver: MtaDriver;
  /** Files whose presence means this MTA is installed (not /usr/sbin/sendmail: every MTA ships one). */
  installedMarkers: string[];
  /** Names in the spool root that identify it when --spool is given without --mta. */
  spoolMarkers: string[];
  /** How to give a monitoring user read access, for the EACCES message. */
  accessHint: string;
  /** What to install / where to look when the listing command is missing. */
  commandHint: string;
}

export const MTAS: Record<MtaName, MtaRow> = {
  postfix: {
    driver: postfix,
    installedMarkers: ['/usr/sbin/postconf', '/usr/sbin/postqueue'],
    spoolMarkers: ['deferred', 'maildrop', 'active', 'incoming'],
    accessHint:
      "Postfix queues are 0700 postfix: run the check as postfix via sudo (see README 'Spool access'), or use --source command (postqueue -j)",
    commandHint: 'postqueue is part of Postfix: install postfix or use --source spool',
  },
  exim: {
    driver: exim,
    installedMarkers: ['/usr/sbin/exim4', '/usr/sbin/exim'],
    spoolMarkers: ['input', 'msglog', 'db'],
    accessHint:
      "add the monitoring user to the Debian-exim (or exim) group, e.g. 'usermod -aG Debian-exim sensu', or use --source command (exim -bp)",
    commandHint: 'exim -bp needs the exim binary (exim4 on Debian) on PATH or in /usr/sbin',
  },
  sendmail: {
    driver: sendmail,
    installedMarkers: ['/usr/sbin/sendmail-mta', '/usr/lib/sm.bin/sendmail'],
    spoolMarkers: ['qf', 'df', 'xf'],
    accessHint:
      "the mqueue is root-owned: run the check via sudo (see README 'Spool access'), or add the user to group smmsp for the MSP queue, or use --source command (mailq)",
    commandHint: 'mailq comes with sendmail: install sendmail-bin or use --source spool',
  },
};

export const MTA_NAMES = Object.keys(MTAS) as MtaName[];

function exists(p: string): boolean {
  try {
    fs.accessSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Guess the MTA from what a spool directory holds (used when --spool is given without --mta). */
export function detectFromSpool(spool: string): MtaName | undefined {
  let names: string[] = [];
  try {
    const dir = fs.opendirSync(spool);
    try {
      // Only the first entries are needed: a huge Sendmail queue dir must not be listed whole.
      for (let i = 0; i < 2000; i++) {
        const d = dir.readSync();
        if (!d) break;
        names.push(d.name);
      }
    } finally {
      dir.closeSync();
    }
  } catch {
    return undefined;
  }
  const has = (n: string) => names.includes(n);
  if (MTAS.postfix.spoolMarkers.some(has)) return 'postfix';
  if (has('input')) return 'exim';
  if (names.some((n) => /^(qf|hf|df|xf|Qf)/.test(n) || /^q\d|^mqueue/.test(n)) || /mqueue/.test(path.basename(spool))) return 'sendmail';
  names = [];
  return undefined;
}

/** Which MTA is installed here: the first whose marker files exist (Postfix, Exim, Sendmail). */
export function detectInstalled(): MtaName | undefined {
  return MTA_NAMES.find((n) => MTAS[n].installedMarkers.some(exists));
}
