// Writes Postfix queue files in the record layout cleanup(8) produces (see test/fixtures/mta/postfix):
//   C (6 fixed-width numbers) T A(create_time) A(rewrite_context) F S [A(client)] O R ... M N... X E
// A recipient delivered already is O D: qmgr overwrites the R record's type byte with REC_TYPE_DONE
// ('D') in place, and the C record keeps the recipient count cleanup wrote (test/fixtures/mta/postfix-partial).
// Deferred files are hashed one level deep by the first character of the ID, like Postfix's default.

import fs from 'node:fs';
import path from 'node:path';
import { envelopeOrder, type GenMessage, type SpoolWriter } from './model.js';

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function record(type: string, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  return Buffer.concat([Buffer.from([type.charCodeAt(0), ...varint(body.length)]), body]);
}

const pad15 = (n: number) => String(n).padStart(15, ' ');

export function postfixQueueFile(m: GenMessage): Buffer {
  const head: Buffer[] = [
    record('T', `${m.arrival} ${m.usec ?? 0}`),
    record('A', `create_time=${m.arrival}`),
    record('A', 'rewrite_context=local'),
    record('F', ''),
    record('S', m.sender),
  ];
  if (m.client) head.push(record('A', `log_message_origin=${m.client}`));
  const rcpts = envelopeOrder(m);
  for (const r of rcpts) head.push(record('O', r.address), record(r.done ? 'D' : 'R', r.address));
  head.push(record('M', ''));
  const content = m.body.split('\n').map((line) => record('N', line));
  const contentBuf = Buffer.concat(content);
  const tail = Buffer.concat([record('X', ''), record('E', '')]);
  // The C record has a fixed width, so its own length is known before its values.
  const cLen = record('C', [0, 0, 0, 0, 0, 0].map(pad15).join(' ')).length;
  const headBuf = Buffer.concat(head);
  const dataOffset = cLen + headBuf.length;
  const dataSize = contentBuf.length;
  const c = record('C', [dataSize, dataOffset, rcpts.length, 0, dataSize, 0].map(pad15).join(' '));
  return Buffer.concat([c, headBuf, contentBuf, tail]);
}

export const postfixWriter: SpoolWriter = {
  mta: 'postfix',
  prepare(root) {
    for (const q of ['incoming', 'active', 'deferred', 'hold', 'maildrop', 'corrupt', 'defer', 'bounce'])
      fs.mkdirSync(path.join(root, q), { recursive: true, mode: 0o700 });
  },
  write(root, m) {
    const hashed = m.queue === 'deferred' ? path.join('deferred', m.id[0]) : m.queue;
    const dir = path.join(root, hashed);
    const file = path.join(dir, m.id);
    try {
      fs.writeFileSync(file, postfixQueueFile(m), { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, postfixQueueFile(m), { mode: 0o700 });
    }
    return 1;
  },
  queueFor(kind) {
    return { bounce: 'deferred', flood: 'deferred', normal: 'deferred', partial: 'deferred', held: 'hold', fresh: 'active' }[kind];
  },
  makeId(seq) {
    // Short IDs: hex, unique per spool (real ones are microseconds + inode number).
    return (0x10000000000 + seq * 2654435761).toString(16).toUpperCase().slice(-11);
  },
};
