// Writes Sendmail queue jobs: a qf control file (format version 8, as 8.17 writes it) and a df
// data file per message, in one flat mqueue directory like the relay in incident 001.
// Held messages become quarantined `hf` jobs. A message delivered in part lists only the recipients
// left: the MTA rewrites the qf without the delivered ones (test/fixtures/mta/sendmail-partial).

import fs from 'node:fs';
import path from 'node:path';
import type { GenMessage, SpoolWriter } from './model.js';

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function sendmailQf(m: GenMessage): Buffer {
  const lines = [
    'V8',
    `T${m.arrival}`,
    `K${m.arrival + 300}`,
    'N2',
    'P120301',
    `I8/1/${100000 + (m.arrival % 900000)}`,
    'MDeferred: Connection refused by [127.0.0.2]',
    'Fbs',
    `$_${m.client ?? 'root@localhost'}`,
    '$rESMTP',
    '$sapp1.corp.example',
    `S<${m.sender}>`,
    ...(m.kind === 'held' ? ['qheld for review'] : []),
    ...m.recipients.flatMap((r) => [`rRFC822; ${r}`, `RPFD:<${r}>`]),
    'H?P?Return-Path: <\x81g>',
    `H??Received: from app1.corp.example by mx1.lab.example (8.17.1.9/8.17.1.9/Debian-2+deb12u2) with ESMTP id ${m.id}`,
    `H??From: <${m.sender || 'MAILER-DAEMON@mx1.lab.example'}>`,
    `H??To: <${m.recipients[0]}>`,
    'H??Subject: queued message',
    '.',
  ];
  return Buffer.from(lines.join('\n') + '\n', 'latin1');
}

export const sendmailWriter: SpoolWriter = {
  mta: 'sendmail',
  prepare(root) {
    fs.mkdirSync(path.join(root, 'mqueue'), { recursive: true, mode: 0o700 });
  },
  write(root, m) {
    const dir = path.join(root, 'mqueue');
    const prefix = m.kind === 'held' ? 'hf' : 'qf';
    fs.writeFileSync(path.join(dir, `df${m.id}`), m.body + '\n', { mode: 0o600 });
    fs.writeFileSync(path.join(dir, `${prefix}${m.id}`), sendmailQf(m), { mode: 0o600 });
    return 2;
  },
  queueFor(kind) {
    return kind === 'held' ? 'quarantine' : 'mqueue';
  },
  makeId(seq, arrival) {
    // YMDh + minute/second characters, then a 6-digit sequence, like 6ANB2d3x012345. As Sendmail's
    // assign_queueid(): gmtime, and the year is tm_year (years since 1900) mod 60.
    const d = new Date(arrival * 1000);
    const t = [(d.getUTCFullYear() - 1900) % 60, d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
      .map((n) => B62[n % 60])
      .join('');
    return `${t}${B62[Math.floor(seq / 1e6) % 60]}${B62[Math.floor(seq / 6e7) % 60]}${String(seq % 1e6).padStart(6, '0')}`;
  },
};
