// Writes Exim spool messages: `<id>-H` (envelope and headers) and `<id>-D` (body) in input/,
// or with split_spool_directory in input/<6th character of the id>/. Held messages are frozen.
// A message delivered in part keeps every address in its recipient list and names the delivered ones
// in the non-recipients tree before it (test/fixtures/mta/exim-partial).

import fs from 'node:fs';
import path from 'node:path';
import { envelopeOrder, type GenMessage, type SpoolWriter } from './model.js';

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(n: number, width: number): string {
  let s = '';
  for (let i = 0; i < width; i++) {
    s = B62[n % 62] + s;
    n = Math.floor(n / 62);
  }
  return s;
}

function header(flag: string, text: string): string {
  const line = `${text}\n`;
  return `${String(Buffer.byteLength(line, 'latin1')).padStart(3, '0')}${flag} ${line}`;
}

/** The non-recipients tree as spool_out.c writes it: each node "<left><right> address" (Y when that
 *  child exists, N when not), in pre-order; "XX" when empty. Exim keeps it balanced, ordered by
 *  address: a sorted list halved at each level is such a tree. */
export function eximNonRecipients(addresses: string[]): string[] {
  if (addresses.length === 0) return ['XX'];
  const out: string[] = [];
  const walk = (a: string[]) => {
    const mid = a.length >> 1;
    const left = a.slice(0, mid);
    const right = a.slice(mid + 1);
    out.push(`${left.length ? 'Y' : 'N'}${right.length ? 'Y' : 'N'} ${a[mid]}`);
    if (left.length) walk(left);
    if (right.length) walk(right);
  };
  walk([...addresses].sort());
  return out;
}

export function eximHeaderFile(m: GenMessage): Buffer {
  const rcpts = envelopeOrder(m).map((r) => r.address);
  const lines = [
    `${m.id}-H`,
    'Debian-exim 101 101',
    `<${m.sender}>`,
    `${m.arrival} 0`,
    '-received_protocol esmtp',
    `-body_linecount ${m.body.split('\n').length}`,
    ...(m.client ? [`-host_address ${m.client.replace(/^.*\[(.*)\]$/, '$1')}.41234`] : []),
    ...(m.kind === 'held' ? [`-frozen ${m.arrival + 60}`] : []),
    ...eximNonRecipients(m.delivered ?? []),
    String(rcpts.length),
    ...rcpts,
    '',
  ];
  const headers =
    header('P', `Received: from app1.corp.example by mx1.lab.example with esmtp (Exim 4.96) id ${m.id}`) +
    header('F', `From: <${m.sender || 'MAILER-DAEMON@mx1.lab.example'}>`) +
    header('T', `To: <${m.recipients[0]}>`) +
    header(' ', 'Subject: queued message');
  return Buffer.from(lines.join('\n') + '\n' + headers, 'latin1');
}

export const eximWriter: SpoolWriter = {
  mta: 'exim',
  prepare(root, opts) {
    const input = path.join(root, 'input');
    fs.mkdirSync(input, { recursive: true, mode: 0o750 });
    if (opts?.split) for (const c of B62) fs.mkdirSync(path.join(input, c), { recursive: true, mode: 0o750 });
  },
  write(root, m, opts) {
    const dir = opts?.split ? path.join(root, 'input', m.id[5]) : path.join(root, 'input');
    fs.writeFileSync(path.join(dir, `${m.id}-D`), `${m.id}-D\n${m.body}\n`, { mode: 0o640 });
    fs.writeFileSync(path.join(dir, `${m.id}-H`), eximHeaderFile(m), { mode: 0o640 });
    return 2;
  },
  queueFor(kind) {
    return kind === 'held' ? 'frozen' : 'input';
  },
  makeId(seq, arrival) {
    // 4.96 format: base-62 time (6), base-62 "pid" (6, here the sequence), fraction (2).
    return `${base62(arrival, 6)}-${base62(seq, 6)}-${base62(seq % 3844, 2)}`;
  },
};
