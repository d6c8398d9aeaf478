// The MTAs the suite knows. A new MTA is one driver file plus a row here.

import fs from 'node:fs';
import path from 'node:path';
import { exim } from './exim.js';
import { nullmailer } from './nullmailer.js';
import { opensmtpd } from './opensmtpd.js';
import { postfix } from './postfix.js';
import { sendmail } from './sendmail.js';
import type { MtaDriver, MtaName } from './types.js';
import type { LogGrammar } from '../log/flow.js';
import { eximLog } from '../log/exim-lines.js';
import { nullmailerLog } from '../log/nullmailer-lines.js';
import { opensmtpdLog } from '../log/opensmtpd-lines.js';
import { postfixLog } from '../log/postfix-lines.js';
import { sendmailLog } from '../log/sendmail-lines.js';

export interface MtaRow {
  driver: MtaDriver;
  /** Its log lines for the flood check: syslog tags, line parser, default log paths (lib/log/flow.ts). */
  log: LogGrammar;
  /** Files whose presence means this MTA is installed (not /usr/sbin/sendmail: every MTA ships one). */
  installedMarkers: string[];
  /** Names in the spool root that identify it when --spool is given without --mta. */
  spoolMarkers: string[];
  /** The spool-denied remedy when the refused path cannot even be stat'ed (else lib/mta/access.ts reads
   *  it off the path's owner, group and mode): the distribution's usual layout. */
  spoolHint: string;
  /** The listing command, offered beside a spool remedy only where it works for any user. */
  listingForUsers?: string;
  /** What to do when the listing command failed or printed no listing: never that same command. */
  listingHint: (user: string) => string;
  /** What to install / where to look when the listing command is missing. */
  commandHint: string;
}

export const MTAS: Record<MtaName, MtaRow> = {
  postfix: {
    driver: postfix,
    log: postfixLog,
    installedMarkers: ['/usr/sbin/postconf', '/usr/sbin/postqueue'],
    spoolMarkers: ['deferred', 'maildrop', 'active', 'incoming'],
    spoolHint: "Postfix queues are 0700 postfix: run the check as postfix with sudo -u postfix (README 'Spool access')",
    // postqueue -j asks the showq daemon: any user, unless authorized_mailq_users says otherwise.
    listingForUsers: 'use --source command (postqueue -j)',
    listingHint: (user) =>
      `postqueue needs a running Postfix and ${user} in authorized_mailq_users (postconf authorized_mailq_users); ` +
      "or read the spool as postfix with sudo -u postfix (README 'Spool access')",
    commandHint: 'postqueue is part of Postfix: install postfix or use --source spool',
  },
  exim: {
    driver: exim,
    log: eximLog,
    installedMarkers: ['/usr/sbin/exim4', '/usr/sbin/exim'],
    spoolMarkers: ['input', 'msglog', 'db'],
    spoolHint: "Exim's spool is 0750 Debian-exim on Debian (exim elsewhere): add the monitoring user to that group (README 'Spool access')",
    // No listingForUsers: exim -bp is for admin users only (queue_list_requires_admin), i.e. the same group.
    listingHint: (user) =>
      `exim -bp lists the queue only for Exim admin users (queue_list_requires_admin): add ${user} to Exim's group ` +
      `(usermod -aG Debian-exim ${user} on Debian), which lets it read the spool as well`,
    commandHint: 'exim -bp needs the exim binary (exim4 on Debian) on PATH or in /usr/sbin',
  },
  sendmail: {
    driver: sendmail,
    log: sendmailLog,
    installedMarkers: ['/usr/sbin/sendmail-mta', '/usr/lib/sm.bin/sendmail'],
    spoolMarkers: ['qf', 'df', 'xf'],
    spoolHint:
      "Debian's mqueue is smmta:smmsp 2750 with qf files root:smmsp 0640: add the monitoring user to group smmsp (README 'Spool access')",
    listingForUsers: 'use --source command (mailq)',
    listingHint: (user) =>
      `read the spool instead: on Debian group smmsp reads every queue (usermod -aG smmsp ${user}, or sudo -g smmsp: README 'Spool access')`,
    commandHint: 'mailq comes with sendmail: install sendmail-bin or use --source spool',
  },
  nullmailer: {
    driver: nullmailer,
    log: nullmailerLog,
    installedMarkers: ['/usr/sbin/nullmailer-send', '/usr/sbin/nullmailer-queue'],
    // The trigger FIFO, or queue/ tmp/ failed/ together: queue/ or failed/ alone is too common a name.
    spoolMarkers: ['trigger'],
    spoolHint: "nullmailer's queue/ is 0750 mail:root and its files 0600 mail: run the check as mail with sudo -u mail (README 'Spool access')",
    // mailq is setuid mail on Debian: any user may run it (it lists queue/ only, not failed/).
    listingForUsers: 'use --source command (mailq; it does not list failed/)',
    listingHint: () => "read the spool as mail instead: sudo -u mail (README 'Spool access')",
    commandHint: 'mailq comes with nullmailer (/usr/bin/mailq): install nullmailer or use --source spool',
  },
  opensmtpd: {
    driver: opensmtpd,
    log: opensmtpdLog,
    installedMarkers: ['/usr/sbin/smtpd', '/usr/sbin/smtpctl'],
    // queue/ with offline/ or purge/ (incoming/ alone would be Postfix's): see detectFromSpool.
    spoolMarkers: ['offline', 'purge'],
    spoolHint:
      "the OpenSMTPD queue is 0700 opensmtpq and offline/ files belong to their submitters: run the check as root via sudo (README 'Spool access'); as opensmtpq (sudo -u opensmtpq) all but offline/ contents is readable",
    listingHint: () => "smtpctl show queue needs root: read the spool as opensmtpq instead (sudo -u opensmtpq, README 'Spool access')",
    commandHint: 'smtpctl comes with opensmtpd (needs root); or use --source spool',
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
  // Before Postfix: an OpenSMTPD spool has incoming/ too.
  if (has('queue') && MTAS.opensmtpd.spoolMarkers.some(has)) return 'opensmtpd';
  if (MTAS.postfix.spoolMarkers.some(has)) return 'postfix';
  if (has('input')) return 'exim';
  if (names.some((n) => /^(qf|hf|df|xf|Qf)/.test(n) || /^q\d|^mqueue/.test(n)) || /mqueue/.test(path.basename(spool))) return 'sendmail';
  if (has('trigger') || (has('queue') && has('tmp') && has('failed'))) return 'nullmailer';
  names = [];
  return undefined;
}

/** Which MTA is installed here: the first whose marker files exist; else the first whose default
 *  spool exists and holds what that MTA's spool holds (a host whose binaries are elsewhere, a copy). */
export function detectInstalled(): MtaName | undefined {
  return (
    MTA_NAMES.find((n) => MTAS[n].installedMarkers.some(exists)) ??
    MTA_NAMES.find((n) => MTAS[n].driver.defaultSpools.some((s) => detectFromSpool(s) === n))
  );
}
