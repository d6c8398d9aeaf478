// Hostile spools, one row each: a generated 20-message spool of one MTA, damaged in one way.
// `expect` says what the depth check must answer; every queue check must answer without crashing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { eximHeaderFile } from '../../bench/gen/exim.js';
import type { GenMessage } from '../../bench/gen/model.js';
import { postfixQueueFile } from '../../bench/gen/postfix.js';
import { sendmailQf } from '../../bench/gen/sendmail.js';
import type { MtaName } from '../../lib/mta/types.js';

export const NOW = 1795432267;
export const BASE = 20;

export interface SpoolCase {
  mta: MtaName;
  name: string;
  /** Damage the spool (root: what generate() wrote; spool: what --spool gets; outside: a dir beside it). */
  build: (s: { root: string; spool: string; outside: string }) => void;
  /** Run the checks as nobody (the spool is made readable to nobody first, then damaged). */
  asNobody?: boolean;
  /** The damage keeps the directory walk itself from seeing part of the queue: no queue check may say OK. */
  walkBlocked?: boolean;
  /** What the depth check must say: a message count with unreadable files counted and named, or UNKNOWN. */
  expect:
    | { total: number; unreadable?: number; named?: string[]; absent?: string[] }
    | { unknown: RegExp };
}

const msg = (id: string, extra: Partial<GenMessage> = {}): GenMessage => ({
  id,
  kind: 'normal',
  queue: 'deferred',
  arrival: NOW - 3600,
  sender: 'hostile@sender.example',
  recipients: ['victim@rcpt.example'],
  body: 'Subject: x\n\nbody',
  ...extra,
});

// ---- Postfix: files in hold/ (flat) and deferred/<hash>/ ----
const pf = (root: string, id: string, data: Buffer | string, mode = 0o700, queue = 'hold') => {
  fs.mkdirSync(path.join(root, queue), { recursive: true });
  fs.writeFileSync(path.join(root, queue, id), data, { mode });
  fs.chmodSync(path.join(root, queue, id), mode);
};
const pfGood = (id: string, extra: Partial<GenMessage> = {}) => postfixQueueFile(msg(id, extra));
const varint = (n: number) => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
};
const rec = (type: string, payload: string | Buffer) => {
  const b = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  return Buffer.concat([Buffer.from(type, 'latin1'), varint(b.length), b]);
};
/** Deterministic junk. */
export function junk(n: number, seed = 7): Buffer {
  const b = Buffer.alloc(n);
  let a = seed;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    b[i] = a >>> 24;
  }
  return b;
}

// ---- Sendmail: spool is <root>/mqueue ----
const sm = (spool: string, name: string, data: Buffer | string, mode = 0o600) => {
  fs.writeFileSync(path.join(spool, name), data, { mode });
  fs.chmodSync(path.join(spool, name), mode);
};
const smGood = (id: string, extra: Partial<GenMessage> = {}) => sendmailQf(msg(id, extra));

// ---- Exim: <root>/input ----
const EX1 = '1xVZZZ-000001-01';
const EX2 = '1xVZZZ-000002-02';
const ex = (root: string, id: string, data: Buffer | string, mode = 0o640, sub = '') => {
  const dir = path.join(root, 'input', sub);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${id}-H`), data, { mode });
  fs.chmodSync(path.join(dir, `${id}-H`), mode);
};
const exGood = (id: string, extra: Partial<GenMessage> = {}) => eximHeaderFile(msg(id, extra));

const chownNobodyOther = (p: string) => fs.chownSync(p, 1, 1); // daemon: "another user"

export const SPOOL_CASES: SpoolCase[] = [
  // ------------------------------------------------------------------ Postfix
  { mta: 'postfix', name: 'zero-byte queue file', build: ({ root }) => pf(root, 'ZERO000001', ''), expect: { total: BASE + 1, unreadable: 1, named: ['ZERO000001'] } },
  { mta: 'postfix', name: 'truncated queue file (first 100 bytes)', build: ({ root }) => pf(root, 'TRUNC00001', pfGood('TRUNC00001').subarray(0, 100)), expect: { total: BASE + 1, unreadable: 1, named: ['TRUNC00001'] } },
  { mta: 'postfix', name: 'random bytes', build: ({ root }) => pf(root, 'RANDOM0001', junk(3000)), expect: { total: BASE + 1, unreadable: 1, named: ['RANDOM0001'] } },
  {
    mta: 'postfix',
    name: 'record length past the end of the file',
    build: ({ root }) => pf(root, 'LENGTH0001', Buffer.concat([rec('T', '1795400000 0'), rec('S', 'a@b.example'), Buffer.from('R'), varint(5_000_000), Buffer.from('x@y')])),
    expect: { total: BASE + 1, unreadable: 1, named: ['LENGTH0001'] },
  },
  { mta: 'postfix', name: 'length varint that never ends (0xff bytes)', build: ({ root }) => pf(root, 'VARINT0001', Buffer.concat([Buffer.from('S'), Buffer.alloc(64, 0xff)])), expect: { total: BASE + 1, unreadable: 1 } },
  {
    mta: 'postfix',
    name: 'pointer record looping back on itself',
    build: ({ root }) => pf(root, 'PLOOP00001', Buffer.concat([rec('T', '1795400000 0'), rec('S', 'a@b.example'), rec('p', '14')])),
    expect: { total: BASE + 1, unreadable: 1 },
  },
  { mta: 'postfix', name: 'pointer past the end', build: ({ root }) => pf(root, 'PEND000001', Buffer.concat([rec('T', '1795400000 0'), rec('p', '99999999')])), expect: { total: BASE + 1, unreadable: 1 } },
  {
    mta: 'postfix',
    name: 'C record lying about the content size',
    build: ({ root }) => {
      const f = pfGood('CLIE000001');
      f.write(String(999999).padStart(15, ' '), 2, 'latin1');
      pf(root, 'CLIE000001', f);
    },
    expect: { total: BASE + 1 },
  },
  { mta: 'postfix', name: 'arrival time far in the future (T 99999999999999999999)', build: ({ root }) => pf(root, 'FUTURE0001', pfGood('FUTURE0001', { arrival: 99999999999999999999 as number })), expect: { total: BASE + 1 } },
  { mta: 'postfix', name: 'arrival time 0 (1970)', build: ({ root }) => pf(root, 'EPOCH00001', pfGood('EPOCH00001', { arrival: 0 })), expect: { total: BASE + 1 } },
  {
    mta: 'postfix',
    name: "sender and recipient with '|', newline, NUL and invalid UTF-8",
    build: ({ root }) => pf(root, 'NASTY00001', pfGood('NASTY00001', { sender: 'a|b\nc\u0000d\u00ff@x.example', recipients: ['r|1\r\n@y.example'] })),
    expect: { total: BASE + 1 },
  },
  { mta: 'postfix', name: '5,000 recipients', build: ({ root }) => pf(root, 'MANY000001', pfGood('MANY000001', { recipients: Array.from({ length: 5000 }, (_, i) => `r${i}@many.example`) })), expect: { total: BASE + 1 } },
  { mta: 'postfix', name: 'a recipient record of 2 MB', build: ({ root }) => pf(root, 'HUGE000001', pfGood('HUGE000001', { recipients: ['x'.repeat(2 << 20)] })), expect: { total: BASE + 1, unreadable: 1 } },
  {
    mta: 'postfix',
    name: '64 MB message (content never read)',
    build: ({ root }) => pf(root, 'BIG0000001', pfGood('BIG0000001', { body: 'y'.repeat(64 << 20) })),
    expect: { total: BASE + 1 },
  },
  { mta: 'postfix', name: 'file still being written (no owner-x) and garbage', build: ({ root }) => pf(root, 'INCOMPL001', junk(500), 0o600), expect: { total: BASE + 1, unreadable: 0 } },
  {
    mta: 'postfix',
    name: 'directory where a queue file should be',
    build: ({ root }) => fs.mkdirSync(path.join(root, 'hold', 'DIRID00001')),
    expect: { total: BASE },
  },
  {
    mta: 'postfix',
    name: 'FIFO named like a queue file (must not block)',
    build: ({ root }) => execFileSync('mkfifo', ['-m', '0700', path.join(root, 'hold', 'FIFO000001')]),
    expect: { total: BASE },
  },
  {
    mta: 'postfix',
    name: 'symlink to a queue file outside the spool',
    build: ({ root, outside }) => {
      fs.writeFileSync(path.join(outside, 'OUT0000001'), pfGood('OUT0000001', { sender: 'outside@evil.example' }), { mode: 0o700 });
      fs.symlinkSync(path.join(outside, 'OUT0000001'), path.join(root, 'hold', 'LINK000001'));
    },
    expect: { total: BASE, absent: ['outside@evil.example'] },
  },
  {
    mta: 'postfix',
    name: 'symlinked hash directory pointing outside the spool',
    build: ({ root, outside }) => {
      fs.mkdirSync(path.join(outside, 'q'));
      fs.writeFileSync(path.join(outside, 'q', 'OUT0000002'), pfGood('OUT0000002', { sender: 'outside@evil.example' }), { mode: 0o700 });
      fs.symlinkSync(path.join(outside, 'q'), path.join(root, 'deferred', 'Z'));
    },
    expect: { total: BASE, absent: ['outside@evil.example'] },
  },
  { mta: 'postfix', name: 'symlink loop (deferred/L -> ..)', build: ({ root }) => fs.symlinkSync('..', path.join(root, 'deferred', 'L')), expect: { total: BASE } },
  {
    mta: 'postfix',
    name: 'directories nested 200 deep in deferred',
    build: ({ root }) => {
      let d = path.join(root, 'deferred');
      for (let i = 0; i < 200; i++) fs.mkdirSync((d = path.join(d, 'd')));
      fs.writeFileSync(path.join(d, 'DEEP000001'), pfGood('DEEP000001'), { mode: 0o700 });
    },
    // deferred/d/ is no hash directory (those are one upper-case hex character): Postfix never sees
    // the file, so it is not counted (issue 13; the long output says so).
    expect: { total: BASE },
  },
  { mta: 'postfix', name: 'names that are not queue IDs (editor leftovers)', build: ({ root }) => ['A.swp', 'B~', '.hidden', 'x y'].forEach((n) => pf(root, n, pfGood('ABCDEF0001'))), expect: { total: BASE } },
  {
    mta: 'postfix',
    name: 'deferred is a file, not a directory',
    build: ({ root }) => {
      fs.rmSync(path.join(root, 'deferred'), { recursive: true });
      fs.writeFileSync(path.join(root, 'deferred'), 'not a dir');
    },
    walkBlocked: true,
    expect: { unknown: /deferred.*not a directory/ },
  },
  {
    mta: 'postfix',
    name: 'mode-000 queue file owned by another user (as nobody)',
    asNobody: true,
    build: ({ root }) => {
      pf(root, 'SECRET0001', pfGood('SECRET0001'), 0o000);
      chownNobodyOther(path.join(root, 'hold', 'SECRET0001'));
    },
    expect: { unknown: /SECRET0001.*permission denied|permission denied.*SECRET0001/i },
  },
  {
    mta: 'postfix',
    name: 'one hash subdirectory mode 000 owned by another user (as nobody)',
    asNobody: true,
    walkBlocked: true,
    build: ({ root }) => {
      const d = fs.readdirSync(path.join(root, 'deferred'))[0];
      fs.chmodSync(path.join(root, 'deferred', d), 0o000);
      chownNobodyOther(path.join(root, 'deferred', d));
    },
    expect: { unknown: /cannot read the spool.*permission denied/ },
  },
  // ------------------------------------------------------------------ Sendmail
  { mta: 'sendmail', name: 'zero-byte qf', build: ({ spool }) => sm(spool, 'qfZERO000001', ''), expect: { total: BASE + 1, unreadable: 1, named: ['ZERO000001'] } },
  { mta: 'sendmail', name: 'truncated qf (no final dot line)', build: ({ spool }) => sm(spool, 'qfTRUNC00001', smGood('TRUNC00001').subarray(0, 60)), expect: { total: BASE + 1, unreadable: 1, named: ['TRUNC00001'] } },
  { mta: 'sendmail', name: 'random bytes', build: ({ spool }) => sm(spool, 'qfRANDOM0001', junk(3000)), expect: { total: BASE + 1, unreadable: 1 } },
  {
    mta: 'sendmail',
    name: 'qf without an S line (sendmail itself gives up on it)',
    build: ({ spool }) => sm(spool, 'qfNOSEND0001', smGood('NOSEND0001').toString('latin1').replace(/^S<.*>\n/m, '')),
    expect: { total: BASE + 1, unreadable: 1, named: ['NOSEND0001'] },
  },
  {
    mta: 'sendmail',
    name: 'qf with a 1 MB header line',
    build: ({ spool }) => sm(spool, 'qfBIGHDR0001', smGood('BIGHDR0001').toString('latin1').replace('H??Subject: queued message', `H??Subject: ${'z'.repeat(1 << 20)}`)),
    expect: { total: BASE + 1 },
  },
  { mta: 'sendmail', name: 'qf with CRLF line ends', build: ({ spool }) => sm(spool, 'qfCRLF000001', smGood('CRLF000001').toString('latin1').replace(/\n/g, '\r\n')), expect: { total: BASE + 1, unreadable: 0 } },
  { mta: 'sendmail', name: 'arrival T99999999999999999999', build: ({ spool }) => sm(spool, 'qfFUTURE0001', smGood('FUTURE0001').toString('latin1').replace(/^T\d+/m, 'T99999999999999999999')), expect: { total: BASE + 1 } },
  { mta: 'sendmail', name: 'd line pointing outside the spool', build: ({ spool }) => sm(spool, 'qfDLINE00001', smGood('DLINE00001').toString('latin1').replace('V8\n', 'V8\nd../../../../etc\n')), expect: { total: BASE + 1 } },
  { mta: 'sendmail', name: 'directory named like a qf', build: ({ spool }) => fs.mkdirSync(path.join(spool, 'qfDIR0000001')), expect: { total: BASE } },
  { mta: 'sendmail', name: 'FIFO named like a qf (must not block)', build: ({ spool }) => execFileSync('mkfifo', [path.join(spool, 'qfFIFO000001')]), expect: { total: BASE } },
  {
    mta: 'sendmail',
    name: 'qf symlink to a file outside the spool',
    build: ({ spool, outside }) => {
      fs.writeFileSync(path.join(outside, 'qfOUT0000001'), smGood('OUT0000001', { sender: 'outside@evil.example' }));
      fs.symlinkSync(path.join(outside, 'qfOUT0000001'), path.join(spool, 'qfLINK000001'));
    },
    expect: { total: BASE, absent: ['outside@evil.example'] },
  },
  {
    mta: 'sendmail',
    name: 'q* queue-directory symlink made by another user, pointing outside',
    build: ({ spool, outside }) => {
      fs.writeFileSync(path.join(outside, 'qfOUT0000002'), smGood('OUT0000002', { sender: 'outside@evil.example' }));
      fs.symlinkSync(outside, path.join(spool, 'q9'));
      fs.lchownSync(path.join(spool, 'q9'), 1, 1);
    },
    expect: { total: BASE, absent: ['outside@evil.example'] },
  },
  { mta: 'sendmail', name: 'symlink loop (q1 -> .)', build: ({ spool }) => fs.symlinkSync('.', path.join(spool, 'q1')), expect: { total: BASE } },
  { mta: 'sendmail', name: 'symlink loop (qf -> ..) in a q subdirectory', build: ({ spool }) => {
      fs.mkdirSync(path.join(spool, 'q2'));
      fs.symlinkSync('..', path.join(spool, 'q2', 'qf'));
    }, expect: { total: BASE } },
  {
    mta: 'sendmail',
    name: 'mode-000 qf owned by another user (as nobody)',
    asNobody: true,
    build: ({ spool }) => {
      sm(spool, 'qfSECRET0001', smGood('SECRET0001'), 0o000);
      chownNobodyOther(path.join(spool, 'qfSECRET0001'));
    },
    expect: { unknown: /permission denied.*qfSECRET0001|qfSECRET0001.*permission denied/i },
  },
  {
    mta: 'sendmail',
    name: 'q1 queue subdirectory mode 000 owned by another user (as nobody)',
    asNobody: true,
    walkBlocked: true,
    build: ({ spool }) => {
      // A queue group (QueueDirectory=.../q*): q* directories are queues only when the spool has no
      // queue files of its own (issue 13), so the generated queue moves to q0/ first.
      fs.mkdirSync(path.join(spool, 'q0'));
      for (const f of fs.readdirSync(spool)) if (f !== 'q0') fs.renameSync(path.join(spool, f), path.join(spool, 'q0', f));
      fs.mkdirSync(path.join(spool, 'q1'));
      sm(path.join(spool, 'q1'), 'qfINQ1000001', smGood('INQ1000001'));
      fs.chmodSync(path.join(spool, 'q1'), 0o000);
      chownNobodyOther(path.join(spool, 'q1'));
    },
    expect: { unknown: /cannot read the spool.*(permission denied|EACCES)/i },
  },
  // ------------------------------------------------------------------ Exim
  { mta: 'exim', name: 'zero-byte -H', build: ({ root }) => ex(root, EX1, ''), expect: { total: BASE + 1, unreadable: 1, named: [EX1] } },
  {
    mta: 'exim',
    name: '-H with missing lines (no recipients)',
    build: ({ root }) => ex(root, EX1, exGood(EX1).toString('latin1').split('\n').slice(0, 4).join('\n') + '\n'),
    expect: { total: BASE + 1, unreadable: 1, named: [EX1] },
  },
  {
    mta: 'exim',
    name: '-H with the sender line missing',
    build: ({ root }) => ex(root, EX1, exGood(EX1).toString('latin1').replace(/^<.*>\n/m, '')),
    expect: { total: BASE + 1, unreadable: 1, named: [EX1] },
  },
  { mta: 'exim', name: 'random bytes', build: ({ root }) => ex(root, EX1, junk(2000)), expect: { total: BASE + 1, unreadable: 1 } },
  { mta: 'exim', name: 'recipient count 99999999', build: ({ root }) => ex(root, EX1, exGood(EX1).toString('latin1').replace(/^XX\n1\n/m, 'XX\n99999999\n')), expect: { total: BASE + 1, unreadable: 1 } },
  { mta: 'exim', name: '-aclc with a length past the end', build: ({ root }) => ex(root, EX1, exGood(EX1).toString('latin1').replace('-received_protocol esmtp\n', '-aclc 1 99999999\nx\n')), expect: { total: BASE + 1 } },
  { mta: 'exim', name: 'id in the file differs from its name', build: ({ root }) => ex(root, EX1, exGood(EX2)), expect: { total: BASE + 1, unreadable: 1 } },
  { mta: 'exim', name: 'arrival 99999999999999999999', build: ({ root }) => ex(root, EX1, exGood(EX1).toString('latin1').replace(/^\d+ 0$/m, '99999999999999999999 0')), expect: { total: BASE + 1 } },
  { mta: 'exim', name: 'directory named like a -H file', build: ({ root }) => fs.mkdirSync(path.join(root, 'input', `${EX1}-H`)), expect: { total: BASE } },
  { mta: 'exim', name: 'FIFO named like a -H file (must not block)', build: ({ root }) => execFileSync('mkfifo', [path.join(root, 'input', `${EX1}-H`)]), expect: { total: BASE } },
  {
    mta: 'exim',
    name: '-H symlink to a file outside the spool',
    build: ({ root, outside }) => {
      fs.writeFileSync(path.join(outside, `${EX1}-H`), exGood(EX1, { sender: 'outside@evil.example' }));
      fs.symlinkSync(path.join(outside, `${EX1}-H`), path.join(root, 'input', `${EX1}-H`));
    },
    expect: { total: BASE, absent: ['outside@evil.example'] },
  },
  {
    mta: 'exim',
    name: 'split directory symlink pointing outside the spool',
    build: ({ root, outside }) => {
      fs.writeFileSync(path.join(outside, `${EX2}-H`), exGood(EX2, { sender: 'outside@evil.example' }));
      fs.symlinkSync(outside, path.join(root, 'input', 'Q'));
    },
    expect: { total: BASE, absent: ['outside@evil.example'] },
  },
  { mta: 'exim', name: 'symlink loop (input/a -> .)', build: ({ root }) => fs.symlinkSync('.', path.join(root, 'input', 'a')), expect: { total: BASE } },
  {
    mta: 'exim',
    name: 'mode-000 -H owned by another user (as nobody)',
    asNobody: true,
    build: ({ root }) => {
      ex(root, EX1, exGood(EX1), 0o000);
      chownNobodyOther(path.join(root, 'input', `${EX1}-H`));
    },
    expect: { unknown: /permission denied/i },
  },
  {
    mta: 'exim',
    name: 'split subdirectory mode 000 owned by another user (as nobody)',
    asNobody: true,
    walkBlocked: true,
    build: ({ root }) => {
      ex(root, EX1, exGood(EX1), 0o640, 'b');
      fs.chmodSync(path.join(root, 'input', 'b'), 0o000);
      chownNobodyOther(path.join(root, 'input', 'b'));
    },
    expect: { unknown: /cannot read the spool.*(permission denied|EACCES)/i },
  },
];
