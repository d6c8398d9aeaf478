// Postfix driver: queue-file records on buffers built here, then the real captured spools
// (test/fixtures/mta/postfix*) walked by the driver and checked against `postqueue -j` of the
// same spool, and the `postqueue -p` text parser checked against the JSON one.

// The fixtures were captured on a host running in UTC: postqueue -p prints local time.
const savedTz = process.env.TZ;
process.env.TZ = 'UTC';

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  listPostfixEntries,
  parsePostfixListing,
  parsePostqueueJson,
  parsePostqueueText,
  parseQueueFile,
  postfix,
  resolvePostfixSpools,
} from '../../lib/mta/postfix.js';
import type { QueueEntry, QueuedMessage } from '../../lib/mta/types.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/mta');

// ---------------------------------------------------------------------------------------------
// A small record writer: type byte, length in 7-bit groups (low first, high bit = more), payload.

function rec(type: string, payload: string | Buffer = ''): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const len: number[] = [];
  let n = body.length;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b += 128;
    len.push(b);
  } while (n > 0);
  return Buffer.concat([Buffer.from([type.charCodeAt(0)]), Buffer.from(len), body]);
}

const sizeRec = (fields: number[]) => rec('C', fields.map((f) => String(f).padStart(15)).join(' '));
const ptr = (offset: number) => rec('p', String(offset).padStart(15));

/**
 * A file as cleanup(8) leaves it: C (with the real offsets), envelope, M, content, X, extracted, E,
 * then an optional heap. The C record has a fixed width, so offsets are computed with a dummy one.
 */
function cleanupFile(envelope: Buffer[], content: Buffer[], extracted: Buffer[] = [], heap: Buffer[] = []): Buffer {
  const head = Buffer.concat([sizeRec([0, 0, 0, 0, 0, 0]), ...envelope, rec('M')]);
  const body = Buffer.concat(content);
  const dataOffset = head.length;
  const dataSize = body.length;
  const rcpts = [...envelope, ...extracted].filter((r) => r[0] === 0x52).length;
  const c = sizeRec([dataSize, dataOffset, rcpts, 0, dataSize - 10, 0]);
  return Buffer.concat([c, head.subarray(c.length), body, rec('X'), ...extracted, rec('E'), ...heap]);
}

const lines = (n: number, width = 70) => Array.from({ length: n }, (_, i) => rec('N', `line ${i} `.padEnd(width, 'x')));

describe('queue file records', () => {
  it('reads arrival, sender, recipients and the C record of a cleanup file', () => {
    const buf = cleanupFile(
      [rec('T', '1763895300 412345'), rec('A', 'rewrite_context=local'), rec('S', 'alice@lab.example'), rec('O', 'bob@x'), rec('R', 'bob@victim.example')],
      lines(30),
      [rec('R', 'carol@victim.example')],
    );
    const info = parseQueueFile(buf);
    expect(info.error).toBeUndefined();
    expect(info.complete).toBe(true);
    expect(info.arrival).toBe(1763895300);
    expect(info.sender).toBe('alice@lab.example');
    expect(info.recipients).toEqual(['bob@victim.example', 'carol@victim.example']);
    expect(info.sizeRecord?.rcptCount).toBe(2);
    // Size is the content segment the C record announces, as mailq prints it, not the file size.
    const dataSize = lines(30).reduce((s, b) => s + b.length, 0);
    expect(info.size).toBe(dataSize);
    expect(info.sizeRecord?.contentLength).toBe(dataSize - 10);
    expect(buf.length).toBeGreaterThan(dataSize);
  });

  it('takes the seconds of a T record without microseconds, and only the first T/S/C', () => {
    const buf = cleanupFile([rec('T', '1700000000'), rec('T', '1800000000 1'), rec('S', 'a@x'), rec('S', 'b@x'), rec('R', 'c@x')], lines(2));
    const info = parseQueueFile(buf);
    expect(info.arrival).toBe(1700000000);
    expect(info.sender).toBe('a@x');
  });

  it('an empty S record is the null sender', () => {
    const info = parseQueueFile(cleanupFile([rec('T', '1'), rec('S', ''), rec('R', 'x@y')], lines(1)));
    expect(info.sender).toBe('');
  });

  it('skips delivered (D) and cancelled (/) recipients', () => {
    const buf = cleanupFile(
      [rec('T', '1'), rec('S', 'a@x'), rec('D', 'done1@x'), rec('R', 'todo1@x'), rec('/', 'cancel@x')],
      lines(3),
      [rec('D', 'done2@x'), rec('R', 'todo2@x')],
    );
    const info = parseQueueFile(buf);
    expect(info.recipients).toEqual(['todo1@x', 'todo2@x']);
    expect(info.done).toBe(3);
  });

  it('decodes multi-byte lengths (2 and 3 length bytes)', () => {
    const long = `${'l'.repeat(200)}@victim.example`; // 215 bytes: 2 length bytes
    const big = rec('N', Buffer.alloc(20000, 0x41)); // 3 length bytes, content walked in maildrop
    expect(big.length).toBe(20000 + 4);
    const buf = Buffer.concat([rec('T', '5 0'), rec('S', 'a@x'), rec('R', long), rec('M'), big, rec('X'), rec('R', 'after@x'), rec('E')]);
    const info = parseQueueFile(buf);
    expect(info.recipients).toEqual([long, 'after@x']);
    expect(info.complete).toBe(true);
  });

  it('follows pointer records into the heap after E (recipients added by a milter)', () => {
    // Dummy pointer after the last recipient, patched to point past E; the heap jumps back.
    const env = [rec('T', '1'), rec('S', 'a@x'), rec('R', 'first@x')];
    const probe = cleanupFile([...env, ptr(0)], lines(4));
    const heapAt = probe.length;
    const afterPtr = probe.indexOf(rec('M')); // where the heap jumps back to: the M record
    const withPtr = cleanupFile([...env, ptr(heapAt)], lines(4), [], [rec('R', 'added1@x'), rec('R', 'added2@x'), ptr(afterPtr)]);
    expect(withPtr.length).toBeGreaterThan(heapAt);
    const info = parseQueueFile(withPtr);
    expect(info.error).toBeUndefined();
    expect(info.recipients).toEqual(['first@x', 'added1@x', 'added2@x']);
    // The dummy pointer alone changes nothing.
    expect(parseQueueFile(probe).recipients).toEqual(['first@x']);
  });

  it('stops on a pointer loop instead of spinning', () => {
    const head = Buffer.concat([rec('T', '1'), rec('S', 'a@x'), rec('R', 'r@x')]);
    const buf = Buffer.concat([head, ptr(head.length), rec('E')]); // p points at itself
    const info = parseQueueFile(buf);
    expect(info.complete).toBe(false);
    expect(info.error).toMatch(/pointer loop/);
    expect(info.recipients).toEqual(['r@x']);
  });

  it('walks the content when the C record does not point at an X record', () => {
    const good = cleanupFile([rec('T', '1'), rec('S', 'a@x'), rec('R', 'r1@x')], lines(5), [rec('R', 'r2@x')]);
    // Corrupt the content size field (first field): the jump lands inside the content.
    const bad = Buffer.from(good);
    const field = String(Number(good.subarray(2, 17).toString().trim()) - 20).padStart(15);
    bad.write(field, 2, 'latin1');
    const info = parseQueueFile(bad);
    expect(info.recipients).toEqual(['r1@x', 'r2@x']);
    expect(info.complete).toBe(true);
  });

  it('reads a maildrop file: no final C record, recipients after the content (sendmail -t)', () => {
    const content = [...lines(10), rec('N', Buffer.from('binary X\0 in content')), ...lines(3)];
    const buf = Buffer.concat([
      rec('T', '1795431786 503199'),
      sizeRec([-1, -1, -1, -1, -1, 0]), // sendmail's preliminary C record
      rec('A', 'rewrite_context=local'),
      rec('F', 'nobody'),
      rec('S', 'www-data@mx1.lab.example'),
      rec('R', 'cmdline@x'),
      rec('M'),
      ...content,
      rec('X'),
      rec('R', 'from-to-header@x'),
      rec('E'),
    ]);
    const info = parseQueueFile(buf);
    expect(info.complete).toBe(true);
    expect(info.arrival).toBe(1795431786);
    expect(info.sender).toBe('www-data@mx1.lab.example');
    expect(info.recipients).toEqual(['cmdline@x', 'from-to-header@x']);
    expect(info.size).toBe(buf.length); // no usable C record: the file size
  });

  it('reads the client from the smtpd attributes', () => {
    const env = [rec('T', '1'), rec('A', 'client_address=192.0.2.7'), rec('A', 'log_message_origin=mail.example.net[192.0.2.7]'), rec('S', 'a@x'), rec('R', 'r@x')];
    expect(parseQueueFile(cleanupFile(env, lines(1))).client).toBe('mail.example.net[192.0.2.7]');
    const onlyAddr = [rec('T', '1'), rec('A', 'client_address=192.0.2.7'), rec('S', 'a@x'), rec('R', 'r@x')];
    expect(parseQueueFile(cleanupFile(onlyAddr, lines(1))).client).toBe('192.0.2.7');
    expect(parseQueueFile(cleanupFile([rec('T', '1'), rec('S', 'a@x')], lines(1))).client).toBeUndefined();
  });

  it('never throws on a truncated file, and keeps what it read', () => {
    const buf = cleanupFile([rec('T', '1700000000 0'), rec('S', 'a@x'), rec('R', 'r1@x'), rec('R', 'r2@x')], lines(20), [rec('R', 'r3@x')]);
    const r2End = buf.indexOf('r2@x') + 4;
    for (let cut = 0; cut < buf.length; cut++) {
      const info = parseQueueFile(buf.subarray(0, cut));
      expect(info.complete).toBe(false);
      expect(info.error).toBeTruthy();
      if (cut >= r2End) expect(info.recipients.slice(0, 2)).toEqual(['r1@x', 'r2@x']);
    }
    expect(parseQueueFile(buf).complete).toBe(true);
  });

  it('never throws on garbage', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 300; i++) {
      const junk = Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)));
      const info = parseQueueFile(junk);
      expect(info.complete && junk[junk.length - 2] !== 0x45).toBe(false);
    }
    expect(parseQueueFile(Buffer.from('From: someone\n\nhello\n')).error).toMatch(/unknown record type|truncated|length/);
    expect(parseQueueFile(Buffer.from([0x52, 0xff, 0xff, 0xff, 0xff, 0x01])).error).toMatch(/malformed record length/);
    expect(parseQueueFile(Buffer.alloc(0)).error).toMatch(/no end record/);
  });
});

// ---------------------------------------------------------------------------------------------
// The driver on disk

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postfix-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});
let n = 0;
const freshDir = () => {
  const d = path.join(tmp, `s${n++}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
};

async function collect(spool: string, signal = new AbortController().signal): Promise<QueueEntry[]> {
  const out: QueueEntry[] = [];
  for await (const e of postfix.listEntries(spool, { signal })) out.push(e);
  return out;
}

function write(file: string, data: Buffer, mode = 0o700) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  fs.chmodSync(file, mode);
}

const simple = (rcpt: string) => cleanupFile([rec('T', '1700000000 5'), rec('S', 'a@x'), rec('R', rcpt)], lines(3));

/**
 * Copy a captured spool and give every file and directory back the mode recorded in spool.tsv:
 * git keeps only the x bit, and owner-x (complete) and group-x (forced expiry) are meaningful.
 * Empty queue directories, which git drops, are recreated.
 */
function restoreSpool(fixture: string): string {
  const dst = path.join(freshDir(), 'spool');
  fs.cpSync(path.join(fixture, 'spool'), dst, { recursive: true });
  const rows = fs.readFileSync(path.join(fixture, 'spool.tsv'), 'utf8').trim().split('\n').slice(1);
  for (const row of rows) {
    const [type, mode, , , , rel] = row.split('\t');
    const p = path.join(dst, rel);
    if (type === 'd') fs.mkdirSync(p, { recursive: true });
    if (type === 'd' || type === 'f') fs.chmodSync(p, parseInt(mode, 8) & 0o777);
  }
  return dst;
}

const FIXTURE_CASES = ['postfix', 'postfix-longids'];

describe.each(FIXTURE_CASES)('captured spool %s', (name) => {
  const fixture = path.join(FIXTURES, name);
  const manifest = JSON.parse(fs.readFileSync(path.join(fixture, 'manifest.json'), 'utf8'));
  const listing = parsePostqueueJson(fs.readFileSync(path.join(fixture, 'listing/postqueue-j.txt'), 'utf8'));
  let spool: string;
  let entries: QueueEntry[];
  let messages: QueuedMessage[];
  beforeAll(async () => {
    spool = restoreSpool(fixture);
    entries = await collect(spool);
    messages = entries.map((e) => postfix.readMessage(e)).filter((m): m is QueuedMessage => m !== null);
  });

  it('finds the same queue IDs, in the same queues, as postqueue -j', () => {
    expect(listing.length).toBe(manifest.listingCounts.total);
    const key = (m: { queue: string; id: string }) => `${m.queue}/${m.id}`;
    expect(entries.map(key).sort()).toEqual(listing.map(key).sort());
    expect(messages.length).toBe(entries.length);
  });

  it('counts per queue and null senders as the capture submitted them', () => {
    const byQueue: Record<string, number> = {};
    for (const m of messages) byQueue[m.queue] = (byQueue[m.queue] ?? 0) + 1;
    expect(byQueue).toEqual(manifest.expected.byQueue);
    expect(messages.filter((m) => m.sender === '').length).toBe(manifest.expected.nullSender);
    expect(messages.reduce((s, m) => s + m.recipients.length, 0)).toBe(manifest.expected.recipients);
  });

  it('reads sender, recipients, arrival and size as showq does', () => {
    const byId = new Map(listing.map((m) => [m.id, m]));
    for (const m of messages) {
      const l = byId.get(m.id)!;
      expect({ id: m.id, sender: m.sender, arrival: m.arrival, size: m.size }).toEqual({ id: l.id, sender: l.sender, arrival: l.arrival, size: l.size });
      // showq lists recipients from the defer log first: same set, not the same order.
      expect([...m.recipients].sort()).toEqual([...l.recipients].sort());
      expect(m.flags).toBeUndefined();
    }
  });

  it('takes the arrival from the T record, not the mtime (deferred files carry the next retry)', () => {
    const deferred = entries.filter((e) => e.queue === 'deferred');
    expect(deferred.length).toBeGreaterThan(0);
    const byId = new Map(messages.map((m) => [m.id, m]));
    const rows = fs.readFileSync(path.join(fixture, 'spool.tsv'), 'utf8').split('\n');
    for (const e of deferred) {
      const row = rows.find((r) => r.endsWith(`/${e.id}`) && r.includes('deferred/'))!;
      const mtime = Number(row.split('\t')[4]);
      expect(mtime).toBeGreaterThan(byId.get(e.id)!.arrival!);
    }
  });

  it('never yields the delivery logs in defer/ (same IDs as the messages)', () => {
    expect(fs.readdirSync(path.join(spool, 'defer')).length).toBeGreaterThan(0);
    expect(entries.some((e) => e.path.includes('/defer/'))).toBe(false);
  });

  it('postqueue -p and mailq text parse to what postqueue -j says', () => {
    const now = new Date(manifest.capturedAt * 1000);
    for (const file of ['postqueue-p.txt', 'mailq.txt']) {
      const text = parsePostqueueText(fs.readFileSync(path.join(fixture, 'listing', file), 'utf8'), now);
      // The text marks only active (*) and hold (!); everything else is counted as deferred.
      const fromJson = listing.map((m) => ({
        id: m.id,
        queue: m.queue === 'active' || m.queue === 'hold' ? m.queue : 'deferred',
        sender: m.sender,
        recipients: m.recipients,
        size: m.size,
        arrival: m.arrival,
        reason: m.reason,
      }));
      const fromText = text.map((m) => ({ id: m.id, queue: m.queue, sender: m.sender, recipients: m.recipients, size: m.size, arrival: m.arrival, reason: m.reason }));
      expect(fromText).toEqual(fromJson);
      // parseListing tells the two formats apart by itself.
      expect(parsePostfixListing(fs.readFileSync(path.join(fixture, 'listing', file), 'utf8'), postfix.listingCommands()[0], now).map((m) => m.id)).toEqual(
        listing.map((m) => m.id),
      );
    }
  });
});

describe('listEntries', () => {
  it('walks hash directories to any depth where the IDs hash to (long IDs by their microseconds in hex)', async () => {
    const spool = freshDir();
    // 4jY3D101DQzBynd: microseconds 01DQ = 3350 = 00D16 in hex (as in the postfix-longids capture)
    write(`${spool}/deferred/0/0/D/4jY3D101DQzBynd`, simple('a@x'));
    write(`${spool}/deferred/B/B1C2D3E4F5`, simple('b@x'));
    write(`${spool}/hold/C0FFEE1234`, simple('c@x'));
    write(`${spool}/maildrop/ABCDEF0123`, simple('d@x'), 0o744);
    write(`${spool}/incoming/D/E/A/D/DEADBEEF12`, simple('e@x'));
    const got = (await collect(spool)).map((e) => `${e.queue} ${e.id} ${path.relative(spool, e.path)}`).sort();
    expect(got).toEqual(
      [
        'deferred 4jY3D101DQzBynd deferred/0/0/D/4jY3D101DQzBynd',
        'deferred B1C2D3E4F5 deferred/B/B1C2D3E4F5',
        'hold C0FFEE1234 hold/C0FFEE1234',
        'maildrop ABCDEF0123 maildrop/ABCDEF0123',
        'incoming DEADBEEF12 incoming/D/E/A/D/DEADBEEF12',
      ].sort(),
    );
  });

  it('skips defer/, bounce/, trace/, flush/, symlinks, fifos and names that are not queue IDs', async () => {
    const spool = freshDir();
    write(`${spool}/deferred/A/AAAA111111`, simple('a@x'));
    for (const log of ['defer', 'bounce', 'trace', 'flush']) write(`${spool}/${log}/A/AAAA111111`, Buffer.from('log'), 0o600);
    fs.symlinkSync(`${spool}/deferred/A/AAAA111111`, `${spool}/deferred/A/BBBB222222`);
    write(`${spool}/deferred/A/.nfs000123`, simple('x@x'));
    write(`${spool}/deferred/A/CCCC333333~`, simple('x@x'));
    fs.mkdirSync(`${spool}/active`);
    execFileSync('mkfifo', [`${spool}/active/DDDD444444`]);
    expect((await collect(spool)).map((e) => `${e.queue}/${e.id}`)).toEqual(['deferred/AAAA111111']);
  });

  it('throws ENOENT naming a missing spool, ENOTDIR for a file, and refuses a directory with no queue', async () => {
    const missing = path.join(tmp, 'no-such-spool');
    await expect(collect(missing)).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringContaining(missing) });
    const file = path.join(freshDir(), 'file');
    fs.writeFileSync(file, 'x');
    await expect(collect(file)).rejects.toMatchObject({ code: 'ENOTDIR', message: expect.stringContaining(file) });
    const empty = freshDir();
    await expect(collect(empty)).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringContaining(empty) });
  });

  it('skips missing queue directories', async () => {
    const spool = freshDir();
    write(`${spool}/hold/ABC123DEF0`, simple('a@x'));
    expect((await collect(spool)).map((e) => e.id)).toEqual(['ABC123DEF0']);
  });

  it('stops yielding when the signal aborts', async () => {
    const spool = freshDir();
    for (let i = 0; i < 40; i++) write(`${spool}/deferred/${'ABCD'[i % 4]}/${'ABCD'[i % 4]}D${String(i).padStart(8, '0')}`, simple('a@x'));
    const ctrl = new AbortController();
    const got: string[] = [];
    for await (const e of listPostfixEntries(spool, { signal: ctrl.signal })) {
      got.push(e.id);
      if (got.length === 7) ctrl.abort();
    }
    expect(got.length).toBe(7);
    const aborted = new AbortController();
    aborted.abort();
    expect(await collect(spool, aborted.signal)).toEqual([]);
    expect((await collect(spool)).length).toBe(40);
  });

  const canDropPrivileges = process.getuid?.() === 0 && typeof process.seteuid === 'function';
  it('can test access errors (as root: by dropping to nobody)', () => {
    expect(process.getuid?.() !== 0 || canDropPrivileges).toBe(true);
  });
  /** Run as user nobody (tests run as root, who may read anything). */
  async function asNobody<T>(fn: () => Promise<T> | T): Promise<T> {
    if (!canDropPrivileges) return fn();
    process.seteuid!(65534);
    try {
      return await fn();
    } finally {
      process.seteuid!(0);
    }
  }

  it('throws EACCES naming the path when the queue cannot be read', async () => {
    const spool = freshDir();
    write(`${spool}/deferred/A/ABC123DEF0`, simple('a@x'));
    fs.chmodSync(spool, 0o755);
    fs.chmodSync(path.dirname(spool), 0o755);
    fs.chmodSync(tmp, 0o755);
    fs.chmodSync(`${spool}/deferred`, 0o700); // as Postfix: 0700 postfix, here 0700 root
    let err: unknown;
    await asNobody(async () => {
      try {
        await collect(spool);
      } catch (e) {
        err = e;
      }
    });
    expect(err).toMatchObject({ code: 'EACCES', message: expect.stringContaining(`${spool}/deferred`) });
  });

  it('readMessage throws EACCES for a file it may not open', async () => {
    const spool = freshDir();
    const file = `${spool}/deferred/A/ABC123DEF0`;
    write(file, simple('a@x'), 0o700);
    fs.chmodSync(tmp, 0o755);
    fs.chmodSync(spool, 0o755);
    fs.chmodSync(`${spool}/deferred`, 0o755);
    fs.chmodSync(`${spool}/deferred/A`, 0o755);
    let err: unknown;
    await asNobody(() => {
      try {
        postfix.readMessage({ id: 'ABC123DEF0', queue: 'deferred', path: file });
      } catch (e) {
        err = e;
      }
    });
    expect(err).toMatchObject({ code: 'EACCES' });
  });
});

describe('readMessage', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('returns null for a file that vanished', () => {
    const spool = freshDir();
    expect(postfix.readMessage({ id: 'GONE123456', queue: 'active', path: `${spool}/active/GONE123456` })).toBeNull();
  });

  it('flags a file without owner-x as incomplete and still reads what is there', () => {
    const spool = freshDir();
    const full = simple('r@x');
    const file = `${spool}/incoming/INC1234567`;
    write(file, full.subarray(0, full.indexOf(rec('M')) + 2), 0o600); // cleanup still writing
    const m = postfix.readMessage({ id: 'INC1234567', queue: 'incoming', path: file })!;
    expect(m.flags).toEqual(['incomplete']);
    expect(m.sender).toBe('a@x');
    expect(m.recipients).toEqual(['r@x']);
  });

  it('reads only the head of a large file still being written', () => {
    const spool = freshDir();
    const file = `${spool}/incoming/INC7654321`;
    const partial = Buffer.concat([
      sizeRec([0, 0, 0, 0, 0, 0]), // cleanup fills the C record in last
      rec('T', '1700000000 1'),
      rec('S', 'a@x'),
      rec('R', 'r@x'),
      rec('M'),
      ...Array<Buffer>(5000).fill(rec('N', Buffer.alloc(1000, 0x61))),
    ]);
    write(file, partial, 0o600);
    const spy = vi.spyOn(fs, 'readSync');
    const m = postfix.readMessage({ id: 'INC7654321', queue: 'incoming', path: file })!;
    expect(m).toMatchObject({ sender: 'a@x', recipients: ['r@x'], flags: ['incomplete'] });
    expect(spy.mock.calls.length).toBe(1);
    // The same bytes in a complete file are walked to the end, and found to be truncated.
    fs.chmodSync(file, 0o700);
    expect(postfix.readMessage({ id: 'INC7654321', queue: 'incoming', path: file })!.flags).toEqual(['unreadable']);
  });

  it('returns a truncated or garbage file as unreadable, never throwing', () => {
    const spool = freshDir();
    const full = simple('r@x');
    write(`${spool}/deferred/TRUNC12345`, full.subarray(0, full.length - 30));
    write(`${spool}/corrupt/JUNK123456`, Buffer.from('\x00\xff garbage, not a queue file'), 0o400); // as Postfix leaves it
    const t = postfix.readMessage({ id: 'TRUNC12345', queue: 'deferred', path: `${spool}/deferred/TRUNC12345` })!;
    expect(t).toMatchObject({ id: 'TRUNC12345', queue: 'deferred', sender: 'a@x', recipients: ['r@x'], flags: ['unreadable'] });
    const g = postfix.readMessage({ id: 'JUNK123456', queue: 'corrupt', path: `${spool}/corrupt/JUNK123456` })!;
    expect(g).toMatchObject({ id: 'JUNK123456', queue: 'corrupt', recipients: [], flags: ['unreadable'] });
  });

  it('flags forced expiry (group-x, postsuper -e)', () => {
    const spool = freshDir();
    write(`${spool}/deferred/EXP1234567`, simple('r@x'), 0o710);
    expect(postfix.readMessage({ id: 'EXP1234567', queue: 'deferred', path: `${spool}/deferred/EXP1234567` })!.flags).toEqual(['expired']);
  });

  it('reads a 20 MB message edited by a milter in two small reads', () => {
    // A recipient added by a milter and a DKIM-Signature header inserted by one: both live in
    // the heap after E, reached through pointers (from the envelope, and from the content).
    const body = Array<Buffer>(20_000).fill(rec('N', Buffer.alloc(1000, 0x61)));
    const build = (rcptPtr: number, hdrPtr: number, backToMesg: number, backToBody: number) =>
      cleanupFile(
        [rec('T', '1700000000 1'), rec('S', 'big@x'), rec('R', 'env@x'), ptr(rcptPtr)],
        [rec('N', 'Received: by mx1'), ptr(hdrPtr), ...body],
        [rec('R', 'extracted@x')],
        [rec('R', 'milter-added@x'), ptr(backToMesg), rec('N', 'DKIM-Signature: v=1; a=rsa-sha256'), ptr(backToBody)],
      );
    const probe = build(0, 0, 0, 0); // pointers have a fixed width: offsets do not move
    const heapAt = probe.lastIndexOf(Buffer.from('E\0')) + 2;
    const mesgAt = probe.indexOf(Buffer.from('M\0'));
    const big = build(heapAt, heapAt + rec('R', 'milter-added@x').length + ptr(0).length, mesgAt, mesgAt + 2 + rec('N', 'Received: by mx1').length + ptr(0).length);
    expect(big.length).toBeGreaterThan(20_000_000);
    const spool = freshDir();
    write(`${spool}/deferred/BIG1234567`, big);
    const spy = vi.spyOn(fs, 'readSync');
    const m = postfix.readMessage({ id: 'BIG1234567', queue: 'deferred', path: `${spool}/deferred/BIG1234567` })!;
    expect(m.flags).toBeUndefined();
    expect(m.recipients).toEqual(['env@x', 'milter-added@x', 'extracted@x']);
    expect(m.size).toBe(parseQueueFile(big).sizeRecord!.dataSize);
    expect(spy.mock.calls.length).toBeLessThanOrEqual(2);
    const bytes = spy.mock.results.reduce((sum, r) => sum + (r.value as number), 0);
    expect(bytes).toBeLessThanOrEqual(16 * 1024);
  });

  it('reads a 20 MB maildrop file (no C record, sendmail -t recipients at the end) in two small reads', () => {
    const spool = freshDir();
    const chunk = rec('N', Buffer.alloc(1000, 0x61));
    const big = Buffer.concat([
      rec('T', '1700000000 1'),
      rec('S', 'php@x'),
      rec('M'),
      ...Array(20_000).fill(chunk),
      rec('X'),
      rec('R', 'to-header@x'),
      rec('R', 'cc-header@x'),
      rec('E'),
    ]);
    write(`${spool}/maildrop/DROP123456`, big, 0o744);
    const spy = vi.spyOn(fs, 'readSync');
    const m = postfix.readMessage({ id: 'DROP123456', queue: 'maildrop', path: `${spool}/maildrop/DROP123456` })!;
    expect(m.recipients).toEqual(['to-header@x', 'cc-header@x']);
    expect(m.size).toBe(big.length);
    expect(m.flags).toBeUndefined();
    expect(spy.mock.calls.length).toBeLessThanOrEqual(2);
  });
});

describe('resolveSpools', () => {
  it('uses --spool as given', async () => {
    expect(await postfix.resolveSpools(['/srv/pf1', '/srv/pf2'])).toEqual(['/srv/pf1', '/srv/pf2']);
  });
  it("asks postconf for queue_directory, then tries /usr/sbin/postconf, then the default", async () => {
    const calls: string[] = [];
    const answer = (byFile: Record<string, { stdout: string; failed: boolean }>) => async (file: string, args: string[]) => {
      calls.push([file, ...args].join(' '));
      return byFile[file] ?? { stdout: '', failed: true };
    };
    expect(await resolvePostfixSpools(undefined, answer({ postconf: { stdout: '/var/spool/postfix-out\n', failed: false } }))).toEqual(['/var/spool/postfix-out']);
    expect(calls).toEqual(['postconf -h queue_directory']);
    expect(await resolvePostfixSpools([], answer({ '/usr/sbin/postconf': { stdout: '/q\n', failed: false } }))).toEqual(['/q']);
    expect(await resolvePostfixSpools(undefined, answer({}))).toEqual(['/var/spool/postfix']);
    // Warnings or errors instead of a path are not a queue directory.
    expect(await resolvePostfixSpools(undefined, answer({ postconf: { stdout: 'postconf: fatal: open /etc/postfix/main.cf\n', failed: false } }))).toEqual([
      '/var/spool/postfix',
    ]);
  });
});

describe('listings', () => {
  it('runs postqueue -j', () => {
    expect(postfix.listingCommands()).toEqual([{ file: 'postqueue', args: ['-j'] }]);
  });

  it('maps the JSON null sender, forced expiry and the first delay reason', () => {
    const out = parsePostqueueJson(
      [
        '{"queue_name": "deferred", "queue_id": "4F1C21A0B2", "arrival_time": 1700000000, "message_size": 313, "forced_expire": true, "sender": "MAILER-DAEMON", "recipients": [{"address": "a@x", "delay_reason": "connect refused"}, {"address": "b@x"}]}',
        '{"queue_name": "active", "queue_id": "5A2B31C0D4", "arrival_time": 1700000001, "message_size": 9, "forced_expire": false, "sender": "s@x", "recipients": []}',
        '{"queue_name": "hold", "queue_id": "6B', // cut short by a timeout
        '',
      ].join('\n'),
    );
    expect(out).toEqual([
      { id: '4F1C21A0B2', queue: 'deferred', arrival: 1700000000, size: 313, sender: '', recipients: ['a@x', 'b@x'], flags: ['expired'], reason: 'connect refused' },
      { id: '5A2B31C0D4', queue: 'active', arrival: 1700000001, size: 9, sender: 's@x', recipients: [] },
    ]);
  });

  it('parses the long-ID text layout, markers, long reasons in column 1, and infers the year', () => {
    const reason = `host mx.partner.example[198.51.100.7] said: 451 4.7.1 ${'very long reason '.repeat(5)}`;
    const text = [
      '----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------',
      '4jY32z6msNzBylW*      6691 Mon Nov 23 11:03:39 promo@bulk.example',
      '                                                lead1@example.org',
      '',
      '4jY32z6ycXzBylY!#     2535 Wed Dec 31 23:59:59 MAILER-DAEMON',
      `(${reason})`,
      '                                                m.random@victim.example',
      '',
      '4jY32z5fZFzByl3       1589 Sat Nov 23 08:00:00 old@x',
      '                                                (reason unavailable)',
      '                                                r@x',
      '',
      '-- 10 Kbytes in 3 Requests.',
    ].join('\n');
    const now = new Date(Date.UTC(2026, 10, 23, 11, 5, 0)); // Monday 2026-11-23
    expect(parsePostqueueText(text, now)).toEqual([
      { id: '4jY32z6msNzBylW', queue: 'active', size: 6691, arrival: Date.UTC(2026, 10, 23, 11, 3, 39) / 1000, sender: 'promo@bulk.example', recipients: ['lead1@example.org'] },
      // Dec 31 is after "now": last year's, a Wednesday in 2025.
      { id: '4jY32z6ycXzBylY', queue: 'hold', size: 2535, arrival: Date.UTC(2025, 11, 31, 23, 59, 59) / 1000, sender: '', recipients: ['m.random@victim.example'], flags: ['expired'], reason },
      // Nov 23 on a Saturday: 2024, held for two years.
      { id: '4jY32z5fZFzByl3', queue: 'deferred', size: 1589, arrival: Date.UTC(2024, 10, 23, 8, 0, 0) / 1000, sender: 'old@x', recipients: ['r@x'] },
    ]);
  });

  it('an empty queue is no messages', () => {
    expect(parsePostqueueText('Mail queue is empty\n', new Date())).toEqual([]);
    expect(parsePostfixListing('Mail queue is empty\n', { file: 'postqueue', args: ['-p'] })).toEqual([]);
    expect(parsePostfixListing('', { file: 'postqueue', args: ['-j'] })).toEqual([]);
  });
});
