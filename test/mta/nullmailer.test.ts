// nullmailer driver: the queue-file parser on files as queue.cc writes them, the walk and the
// bounded read on constructed hostile spools (the trigger FIFO, a FIFO among the queue files, files
// without the blank line, cut short, 64 MB, vanishing, tmp/), nullmailer's mailq parser, the log-line
// parser, and the real capture from Debian 12's nullmailer 1:2.2-4 in test/fixtures/mta/nullmailer
// (queue/, failed/, tmp/, mailq output, nullmailer-send's log) compared with mailq and the manifest.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  listNullmailerEntries,
  nullmailer,
  nullmailerEnvelopeEnd,
  nullmailerNameEpoch,
  nullmailerQueueDirs,
  parseNullmailerMailq,
  parseNullmailerQueueFile,
  readNullmailerMessage,
} from '../../lib/mta/nullmailer.js';
import { isNullmailerTag, NullmailerFlowParser, parseNullmailerLine, type FlowEvent } from '../../lib/log/nullmailer-lines.js';
import { scanSpools } from '../../lib/queue/scan.js';
import type { MtaDriver, QueueEntry, QueuedMessage, SpoolScanContext } from '../../lib/mta/types.js';

const driver: MtaDriver = nullmailer;
const latin1 = (s: string) => Buffer.from(s, 'latin1');
const utc = (y: number, mo: number, d: number, h: number, mi: number, s: number) => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nullmailer-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

function ctx(signal: AbortSignal = new AbortController().signal): SpoolScanContext {
  return { signal };
}

function collect(spool: string, c: SpoolScanContext = ctx()): QueueEntry[] {
  return [...listNullmailerEntries(spool, c)].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

// A queue file as nullmailer-queue writes it (queue.cc copyenv + makereceived).
function qfile(sender: string, rcpts: string[], body = 'Subject: hi\n\nhello\n', pid = 4242, uid = 0, when = 'Tue, 01 Dec 2026 13:06:11'): string {
  return `${sender}\n${rcpts.map((r) => `${r}\n`).join('')}\nReceived: (nullmailer pid ${pid} invoked by uid ${uid});\n\t${when} -0000\n${body}`;
}

let n = 0;
function makeSpool(): string {
  const s = path.join(tmp, `spool${++n}`);
  for (const d of ['queue', 'failed', 'tmp']) fs.mkdirSync(path.join(s, d), { recursive: true });
  return s;
}

describe('parseNullmailerQueueFile', () => {
  it('reads sender, recipients, envelope size and nullmailer-queue\'s Received line', () => {
    const text = qfile('cron@mx1.lab.example', ['root@lab.example', 'ops@lab.example'], undefined, 11803, 33);
    const e = parseNullmailerQueueFile(latin1(text));
    expect(e).toEqual({
      sender: 'cron@mx1.lab.example',
      recipients: ['root@lab.example', 'ops@lab.example'],
      envelopeBytes: 'cron@mx1.lab.example\nroot@lab.example\nops@lab.example\n\n'.length,
      envelopeComplete: true,
      malformed: false,
      queuePid: 11803,
      submitterUid: 33,
      queuedAt: utc(2026, 12, 1, 13, 6, 11),
    });
  });

  it('the null sender is an empty first line', () => {
    const e = parseNullmailerQueueFile(latin1(qfile('', ['promo@bulk.example'])));
    expect(e.sender).toBe('');
    expect(e.recipients).toEqual(['promo@bulk.example']);
    expect(e.malformed).toBe(false);
    expect(nullmailerEnvelopeEnd(latin1(qfile('', ['a@b.example'])), 100)).toBe('\na@b.example\n\n'.length);
  });

  it('decodes UTF-8 addresses, keeps latin1 bytes, keeps a CR (getline splits at LF only)', () => {
    const e = parseNullmailerQueueFile(Buffer.concat([Buffer.from('jörg@example.de\n', 'utf8'), latin1('caf\xe9@x.example\r\n\n')]));
    expect(e.sender).toBe('jörg@example.de');
    expect(e.recipients).toEqual(['caf\xe9@x.example\r']);
  });

  it.each([
    ['no blank line (whole file)', 'a@b.example\nc@d.example\n', { envelopeComplete: false, malformed: true, recipients: ['c@d.example'] }],
    ['cut inside a recipient', 'a@b.example\nc@d.exa', { envelopeComplete: false, malformed: true, recipients: [] }],
    ['empty file', '', { envelopeComplete: false, malformed: true, recipients: [] }],
    ['sender only, no newline', 'a@b.example', { envelopeComplete: false, malformed: true, sender: 'a@b.example' }],
    ['no recipients', 'a@b.example\n\nbody\n', { envelopeComplete: true, malformed: true, recipients: [] }],
  ])('%s', (_what, text, want) => {
    expect(parseNullmailerQueueFile(latin1(text))).toMatchObject(want);
  });

  it('a read cut short is not malformed, and a cut line is not taken', () => {
    const e = parseNullmailerQueueFile(latin1('a@b.example\nc@d.example\ne@f.exa'), undefined, false);
    expect(e).toMatchObject({ sender: 'a@b.example', recipients: ['c@d.example'], envelopeComplete: false, malformed: false });
  });

  it('never throws on random bytes', () => {
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let k = 0; k < 300; k++) {
      const buf = Buffer.alloc(k % 97);
      for (let i = 0; i < buf.length; i++) buf[i] = rnd() % 3 === 0 ? 10 : rnd();
      expect(() => parseNullmailerQueueFile(buf, buf.length, k % 2 === 0)).not.toThrow();
    }
  });

  it('file names: <epoch>.<pid>', () => {
    expect(nullmailerNameEpoch('1796130398.14081')).toBe(1796130398);
    expect(nullmailerNameEpoch('14081')).toBeUndefined();
    expect(nullmailerNameEpoch('x.1')).toBeUndefined();
  });
});

describe('listEntries / readMessage on constructed spools', () => {
  it('walks queue/ and failed/, not tmp/, and skips dot files', () => {
    const s = makeSpool();
    fs.writeFileSync(path.join(s, 'queue', '1796130000.100'), qfile('a@x.example', ['b@y.example']));
    fs.writeFileSync(path.join(s, 'queue', '.hidden'), qfile('a@x.example', ['b@y.example']));
    fs.writeFileSync(path.join(s, 'failed', '1796120000.99'), qfile('', ['c@y.example']));
    fs.writeFileSync(path.join(s, 'tmp', '4242'), qfile('a@x.example', ['b@y.example']).slice(0, 20));
    const es = collect(s);
    expect(es.map((e) => [e.queue, e.id])).toEqual([
      ['failed', '1796120000.99'],
      ['queue', '1796130000.100'],
    ]);
    const ms = es.map((e) => readNullmailerMessage(e)!);
    expect(ms[0]).toMatchObject({ id: '1796120000.99', queue: 'failed', sender: '', recipients: ['c@y.example'], arrival: 1796120000 });
    expect(ms[1]).toMatchObject({ queue: 'queue', sender: 'a@x.example', client: 'local uid=0', arrival: 1796130000 });
    expect(ms[1].flags).toBeUndefined();
  });

  it('never opens the trigger FIFO, nor a FIFO among the queue files, and the scan returns', async () => {
    const s = makeSpool();
    execFileSync('mkfifo', ['-m', '0622', path.join(s, 'trigger')]);
    execFileSync('mkfifo', [path.join(s, 'queue', '1796130000.7')]);
    fs.writeFileSync(path.join(s, 'queue', '1796130001.8'), qfile('a@x.example', ['b@y.example']));
    const opened: string[] = [];
    const real = fs.openSync;
    vi.spyOn(fs, 'openSync').mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
      opened.push(String(p));
      return (real as (...a: unknown[]) => number)(p, ...rest);
    }) as typeof fs.openSync);
    // Synchronous walk and reads: a blocking open of a FIFO would never return from here.
    const es = collect(s);
    expect(es.map((e) => e.id)).toEqual(['1796130001.8']);
    const r = await scanSpools(driver, [s], { countOnly: false, signal: new AbortController().signal });
    expect(r.summary.total).toBe(1);
    expect(r.summary.byQueue).toEqual({ queue: 1, failed: 0 });
    expect(opened.some((p) => p.endsWith('1796130001.8'))).toBe(true); // the spy sees the driver's opens
    expect(opened.some((p) => p.endsWith('/trigger'))).toBe(false);
    expect(opened.some((p) => p.endsWith('1796130000.7'))).toBe(false);
    // Even handed the FIFO directly, the read neither blocks nor reads it.
    expect(readNullmailerMessage({ id: '1796130000.7', queue: 'queue', path: path.join(s, 'queue', '1796130000.7') })).toBeNull();
    expect(readNullmailerMessage({ id: 'trigger', queue: 'queue', path: path.join(s, 'trigger') })).toBeNull();
  });

  it('a symlink in the queue is not followed', () => {
    const s = makeSpool();
    fs.writeFileSync(path.join(tmp, 'outside'), qfile('a@x.example', ['b@y.example']));
    fs.symlinkSync(path.join(tmp, 'outside'), path.join(s, 'queue', '1796130000.9'));
    expect(collect(s)).toEqual([]);
    expect(readNullmailerMessage({ id: '1796130000.9', queue: 'queue', path: path.join(s, 'queue', '1796130000.9') })).toBeNull();
  });

  it('counts a file without the blank line, an empty file and a cut file, flagged unreadable', () => {
    const s = makeSpool();
    fs.writeFileSync(path.join(s, 'queue', '1796130000.1'), 'a@x.example\nb@y.example\n');
    fs.writeFileSync(path.join(s, 'queue', '1796130000.2'), '');
    fs.writeFileSync(path.join(s, 'queue', '1796130000.3'), 'a@x.example\nb@y.exa');
    const ms = collect(s).map((e) => readNullmailerMessage(e)!);
    expect(ms).toHaveLength(3);
    for (const m of ms) expect(m.flags).toEqual(['unreadable']);
    expect(ms[0]).toMatchObject({ sender: 'a@x.example', recipients: ['b@y.example'], size: 24 });
    expect(ms[1]).toMatchObject({ recipients: [], size: 0, arrival: 1796130000 });
  });

  it('an envelope longer than the read cap is kept as far as read, flagged truncated', () => {
    const s = makeSpool();
    const rcpts = Array.from({ length: 500 }, (_, i) => `user${i}@example.org`);
    const f = path.join(s, 'queue', '1796130000.4');
    fs.writeFileSync(f, qfile('a@x.example', rcpts));
    const m = readNullmailerMessage({ id: '1796130000.4', queue: 'queue', path: f }, 4096)!;
    expect(m.flags).toEqual(['truncated']);
    expect(m.recipients.length).toBeGreaterThan(100);
    expect(m.recipients.length).toBeLessThan(500);
    expect(rcpts.slice(0, m.recipients.length)).toEqual(m.recipients);
    // Without the cap it is all read (growing reads past the first 16 KB).
    expect(readNullmailerMessage({ id: '1796130000.4', queue: 'queue', path: f })!.recipients).toEqual(rcpts);
  });

  it('reads a 64 MB message by its first bytes only', () => {
    const s = makeSpool();
    const f = path.join(s, 'queue', '1796130000.5');
    const head = qfile('big@x.example', ['b@y.example'], 'Subject: big\n\n');
    fs.writeFileSync(f, head);
    fs.truncateSync(f, 64 * 1024 * 1024); // sparse: no 64 MB on disk
    let bytes = 0;
    const real = fs.readSync;
    vi.spyOn(fs, 'readSync').mockImplementation(((...a: Parameters<typeof fs.readSync>) => {
      const got = (real as (...x: unknown[]) => number)(...a);
      bytes += got;
      return got;
    }) as typeof fs.readSync);
    const m = readNullmailerMessage({ id: '1796130000.5', queue: 'queue', path: f })!;
    expect(m).toMatchObject({ sender: 'big@x.example', recipients: ['b@y.example'] });
    expect(m.size).toBe(64 * 1024 * 1024 - 'big@x.example\nb@y.example\n\n'.length);
    expect(m.flags).toBeUndefined();
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(16 * 1024);
  });

  it('a file that vanishes between the walk and the read is null; one that vanishes mid-walk is skipped', () => {
    const s = makeSpool();
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(s, 'queue', `1796130000.${1000 + i}`), qfile('a@x.example', ['b@y.example']));
    const es = collect(s);
    fs.unlinkSync(es[3].path);
    expect(readNullmailerMessage(es[3])).toBeNull();
    const it = listNullmailerEntries(s, ctx());
    const first = it.next().value as QueueEntry;
    for (const name of fs.readdirSync(path.join(s, 'queue'))) if (name !== first.id) fs.unlinkSync(path.join(s, 'queue', name));
    const rest = [...it].map((e) => readNullmailerMessage(e));
    // What readdir still returns is read as gone, not as an error.
    for (const m of rest) expect(m).toBeNull();
  });

  it('a missing failed/ (or queue/) is an empty queue; a spool without either, or no spool, is an error', () => {
    const s = path.join(tmp, 'only-queue');
    fs.mkdirSync(path.join(s, 'queue'), { recursive: true });
    fs.writeFileSync(path.join(s, 'queue', '1796130000.1'), qfile('a@x.example', ['b@y.example']));
    expect(collect(s)).toHaveLength(1);
    const empty = path.join(tmp, 'not-a-spool');
    fs.mkdirSync(empty);
    expect(() => collect(empty)).toThrow(/no nullmailer queue directories/);
    expect(() => collect(path.join(tmp, 'nowhere'))).toThrow(/no such directory/);
  });

  it('--spool may name the queue directory itself', () => {
    const s = makeSpool();
    fs.writeFileSync(path.join(s, 'queue', '1796130000.1'), qfile('a@x.example', ['b@y.example']));
    fs.writeFileSync(path.join(s, 'failed', '1796130000.2'), qfile('a@x.example', ['b@y.example']));
    expect(nullmailerQueueDirs(path.join(s, 'queue') + '/')).toEqual([{ queue: 'queue', dir: path.join(s, 'queue') }]);
    expect(collect(path.join(s, 'failed')).map((e) => e.queue)).toEqual(['failed']);
  });

  it('stops when aborted', () => {
    const s = makeSpool();
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(s, 'queue', `1796130000.${i}`), 'x\ny@z.example\n\n');
    const ac = new AbortController();
    const got: QueueEntry[] = [];
    for (const e of listNullmailerEntries(s, ctx(ac.signal))) {
      got.push(e);
      if (got.length === 3) ac.abort();
    }
    expect(got).toHaveLength(3);
  });
});

describe('parseNullmailerMailq', () => {
  const text = [
    '2026-12-01 13:06:45 2211 bytes from <>',
    '  to <m.random@victim.example>',
    '2026-12-01 13:06:45 1106 bytes from <www-data@mx1.lab.example>',
    '  to <sales@lab.example>',
    '  to <sales-archive@storage.example>',
    '1970-01-01 00:00:00 ????? bytes',
    '',
  ].join('\n');

  it('reads time, size (without the envelope), sender and recipients', () => {
    const ms = parseNullmailerMailq(text, { localToEpoch: utc });
    expect(ms).toHaveLength(3);
    expect(ms[0]).toEqual({ id: `${utc(2026, 12, 1, 13, 6, 45)}.#1`, queue: 'queue', arrival: utc(2026, 12, 1, 13, 6, 45), sender: '', recipients: ['m.random@victim.example'], size: 2211 - '\nm.random@victim.example\n\n'.length });
    expect(ms[1]).toMatchObject({ sender: 'www-data@mx1.lab.example', recipients: ['sales@lab.example', 'sales-archive@storage.example'] });
    expect(ms[2]).toMatchObject({ id: '0.#3', arrival: 0, recipients: [], flags: ['unreadable'] });
    expect(ms[2].size).toBeUndefined();
  });

  it('defaults to local time, and ignores its failure lines', () => {
    const [m] = parseNullmailerMailq('2026-12-01 13:06:45 10 bytes from <a@b.example>\n  to <c@d.example>\n');
    expect(m.arrival).toBe(new Date(2026, 11, 1, 13, 6, 45).getTime() / 1000);
    expect(parseNullmailerMailq('Cannot change directory to queue.\n')).toEqual([]);
  });

  it('is the driver\'s listing: mailq, labelled queue', () => {
    const [cmd] = nullmailer.listingCommands();
    expect(cmd).toMatchObject({ file: 'mailq', args: [] });
    expect(nullmailer.parseListing(text, cmd).map((m) => m.queue)).toEqual(['queue', 'queue', 'queue']);
  });
});

describe('parseNullmailerLine', () => {
  it.each([
    ['Rescanning queue.', { kind: 'rescan' }],
    ['Trigger pulled.', { kind: 'trigger' }],
    ['Starting delivery, 30 message(s) in queue.', { kind: 'run-start', queued: 30 }],
    ['Delivery complete, 28 message(s) remain.', { kind: 'run-end', remain: 28 }],
    ['Starting delivery: host: 127.0.0.1 protocol: smtp file: 1796130405.14617', { kind: 'attempt', host: '127.0.0.1', protocol: 'smtp', file: '1796130405.14617' }],
    // the order Debian's logcheck rules expect
    ['Starting delivery: protocol: smtp host: relay.example file: 1796130405.1', { kind: 'attempt', host: 'relay.example', protocol: 'smtp', file: '1796130405.1' }],
    ['From: <> to: <promo@bulk.example>', { kind: 'envelope', sender: '', recipients: ['promo@bulk.example'] }],
    ['From: <a@b.example> to: <c@d.example>, <e@f.example>', { kind: 'envelope', sender: 'a@b.example', recipients: ['c@d.example', 'e@f.example'] }],
    ['smtp: Failed: Connect failed', { kind: 'protocol', protocol: 'smtp', ok: false, text: 'Connect failed' }],
    ['smtp: Succeeded: 250 2.0.0 Ok: queued as 4F1C21A0B2', { kind: 'protocol', protocol: 'smtp', ok: true, text: '250 2.0.0 Ok: queued as 4F1C21A0B2' }],
    ['Sent file.', { kind: 'sent' }],
    ['Sending failed: Connection refused', { kind: 'send-failed', reason: 'Connection refused', permanent: false }],
    ['Sending failed: Permanent error in sending the message', { kind: 'send-failed', reason: 'Permanent error in sending the message', permanent: true }],
    ['Sending timed out, killing protocol', { kind: 'timeout' }],
    ['Moving message 1796130398.14081 into failed', { kind: 'moved-to-failed', file: '1796130398.14081' }],
    ['Generating bounce for 1796130398.14081', { kind: 'bounce', file: '1796130398.14081', generated: true }],
    ['Not generating double bounce for 1796130398.1', { kind: 'bounce', file: '1796130398.1', generated: false }],
    ['Message-ID: <capture.nullmailer.1796130398.1@mx1.lab.example>', undefined],
  ])('%s', (line, want) => {
    expect(parseNullmailerLine(line)).toEqual(want);
  });

  it('tags', () => {
    expect(isNullmailerTag('nullmailer-send')).toBe(true);
    expect(isNullmailerTag('nullmailer')).toBe(true);
    expect(isNullmailerTag('postfix/smtp')).toBe(false);
  });
});

describe('NullmailerFlowParser', () => {
  const feed = (p: NullmailerFlowParser, lines: [number | undefined, string][]): FlowEvent[] => [...lines.flatMap(([t, l]) => p.line(l, t)), ...p.end()];

  it('a sent message and a permanent failure', () => {
    const ev = feed(new NullmailerFlowParser(), [
      [100, 'Rescanning queue.'],
      [100, 'Starting delivery: host: r protocol: smtp file: 100.1'],
      [100, 'From: <a@b.example> to: <c@d.example>'],
      [100, 'smtp: Succeeded: 250 ok'],
      [100, 'Sent file.'],
      [100, 'Starting delivery: host: r protocol: smtp file: 100.2'],
      [100, 'From: <a@b.example> to: <x@d.example>'],
      [100, 'Sending failed: Server refused the message'],
      [100, 'Moving message 100.2 into failed'],
    ]);
    expect(ev).toEqual([
      { kind: 'message', sender: 'a@b.example', qid: '100.1' },
      { kind: 'attempt', rcpt: 'c@d.example', status: 'sent', qid: '100.1' },
      { kind: 'message', sender: 'a@b.example', qid: '100.2' },
      { kind: 'attempt', rcpt: 'x@d.example', status: 'failed', qid: '100.2' },
    ]);
  });

  it('a retry of mail older than the first pass is not a new message; without times the first attempt counts', () => {
    const lines: [number | undefined, string][] = [
      [1000, 'Rescanning queue.'],
      [1000, 'Starting delivery: host: r protocol: smtp file: 500.1'],
      [1000, 'From: <old@b.example> to: <c@d.example>'],
      [1000, 'Sending failed: Connection refused'],
    ];
    expect(feed(new NullmailerFlowParser(), lines).map((e) => e.kind)).toEqual(['attempt']);
    expect(feed(new NullmailerFlowParser(), lines.map(([, l]) => [undefined, l])).map((e) => e.kind)).toEqual(['message', 'attempt']);
    expect(feed(new NullmailerFlowParser({ retrySlackSeconds: 600 }), lines).map((e) => e.kind)).toEqual(['message', 'attempt']);
  });

  it('on the next pass, files written before the previous pass are retries, later ones new', () => {
    const ev = feed(new NullmailerFlowParser(), [
      [1000, 'Rescanning queue.'],
      [1000, 'Starting delivery, 0 message(s) in queue.'],
      [5000, 'Rescanning queue.'],
      [5000, 'Starting delivery: host: r protocol: smtp file: 900.1'],
      [5000, 'From: <a@b.example> to: <c@d.example>'],
      [5000, 'Sending failed: Connection refused'],
      [5000, 'Starting delivery: host: r protocol: smtp file: 1200.1'],
      [5000, 'From: <a@b.example> to: <c@d.example>'],
      [5000, 'Sending failed: Connection refused'],
    ]);
    expect(ev.filter((e) => e.kind === 'message').map((e) => e.qid)).toEqual(['1200.1']);
    expect(ev.filter((e) => e.kind === 'attempt').map((e) => e.kind === 'attempt' && e.status)).toEqual(['deferred', 'deferred']);
  });
});

// ---------------------------------------------------------------------------------------------
// The real capture: test/fixtures/mta/nullmailer (see test/fixtures/README.md).

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'mta', 'nullmailer');

interface Manifest {
  capturedAt: number;
  submitted: { from: string; to: string[]; queueHint: string; generatedBy?: string; file?: string }[];
  expected: { total: number; byQueue: Record<string, number>; nullSender: number; recipients: number };
  listingCounts: { total: number; byQueue: Record<string, number>; nullSender: number; recipients: number };
}

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return m;
}

function top(counts: Map<string, number>): [string, number] {
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
}

describe('real capture (Debian 12 nullmailer 1:2.2-4) vs mailq and the manifest', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(FIX, 'manifest.json'), 'utf8')) as Manifest;
  const mailqText = fs.readFileSync(path.join(FIX, 'listing', 'mailq.txt'), 'latin1');
  const spoolDir = path.join(FIX, 'spool');
  let entries: QueueEntry[] = [];
  let spool: QueuedMessage[] = [];
  // The capture machine ran in UTC (manifest notes): mailq's local time is UTC.
  const listed = parseNullmailerMailq(mailqText, { localToEpoch: utc });
  const key = (m: QueuedMessage) => `${m.arrival}|${m.size}|${m.sender}|${m.recipients.join(',')}`;

  beforeAll(async () => {
    const [root] = await nullmailer.resolveSpools([spoolDir]);
    entries = collect(root);
    spool = entries.map((e) => readNullmailerMessage(e)).filter((m): m is QueuedMessage => m !== null);
  });

  it('counts what the manifest planned and mailq listed, per queue; tmp/ is not counted', () => {
    expect(spool).toHaveLength(entries.length);
    expect(spool).toHaveLength(manifest.expected.total);
    expect(Object.fromEntries(countBy(spool, (m) => m.queue))).toEqual(manifest.expected.byQueue);
    expect(spool.filter((m) => m.queue === 'queue')).toHaveLength(listed.length);
    expect(listed).toHaveLength(manifest.listingCounts.byQueue.queue);
    // the crashed submission left in tmp/ is there, and not a message
    expect(fs.readdirSync(path.join(spoolDir, 'tmp'))).toHaveLength(1);
    // (relative to the spool: a checkout under /tmp has "/tmp/" in every path)
    expect(entries.some((e) => path.relative(spoolDir, e.path).split(path.sep)[0] === 'tmp')).toBe(false);
  });

  it('reads each queue/ file as mailq shows it: time, size, sender, recipients in order', () => {
    const q = spool.filter((m) => m.queue === 'queue');
    expect(countBy(q, key)).toEqual(countBy(listed, key));
    for (const m of spool) expect(m.flags, m.id).toBeUndefined();
  });

  it('arrival is the name\'s epoch, the Received line\'s time, and not after the capture', () => {
    for (const m of spool) {
      const buf = fs.readFileSync(path.join(spoolDir, m.queue, m.id));
      const env = parseNullmailerQueueFile(buf);
      expect(m.arrival, m.id).toBe(nullmailer.idArrival!(m.id, manifest.capturedAt));
      expect(env.queuedAt, m.id).toBe(m.arrival);
      expect(env.queuePid, m.id).toBe(Number(m.id.split('.')[1]));
      expect(m.arrival!, m.id).toBeLessThanOrEqual(manifest.capturedAt);
      expect(m.size, m.id).toBe(buf.length - env.envelopeBytes!);
    }
  });

  it('null senders, recipients, top sender and the failed messages as submitted', () => {
    expect(spool.filter((m) => m.sender === '')).toHaveLength(manifest.expected.nullSender);
    expect(spool.reduce((k, m) => k + m.recipients.length, 0)).toBe(manifest.expected.recipients);
    const submitted = countBy(manifest.submitted, (s) => `${s.queueHint}|${s.from}|${s.to.join(',')}`);
    expect(countBy(spool, (m) => `${m.queue}|${m.sender}|${m.recipients.join(',')}`)).toEqual(submitted);
    const t = top(countBy(spool, (m) => m.sender!));
    expect(t).toEqual(['app@qa.example', 10]);
    expect(t).toEqual(top(countBy(manifest.submitted, (s) => s.from)));
    expect(t).toEqual(top(countBy(listed, (m) => m.sender!)));
    // nullmailer-dsn's bounces: null sender, to the failed messages' sender, written by uid mail (8)
    for (const s of manifest.submitted.filter((x) => x.generatedBy)) {
      const m = spool.find((x) => x.id === s.file)!;
      expect(m).toMatchObject({ queue: 'queue', sender: '', recipients: ['promo@bulk.example'], client: 'local uid=8' });
    }
  });

  it('the scanner counts the capture per queue', async () => {
    const r = await scanSpools(driver, [spoolDir], { countOnly: false, signal: new AbortController().signal });
    expect(r.summary.total).toBe(manifest.expected.total);
    expect(r.summary.byQueue).toEqual(manifest.expected.byQueue);
    expect(r.summary.nullSender).toBe(manifest.expected.nullSender);
    expect(r.summary.recipients).toBe(manifest.expected.recipients);
  });

  it('the log parser on nullmailer-send\'s captured log: two passes, every attempt, each message once', () => {
    const log = fs.readFileSync(path.join(FIX, 'log', 'nullmailer.log'), 'latin1').split('\n').filter(Boolean);
    const year = new Date(manifest.capturedAt * 1000).getUTCFullYear();
    const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const p = new NullmailerFlowParser();
    const ev: FlowEvent[] = [];
    for (const line of log) {
      const m = /^([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) mx1 ([\w-]+)\[(\d+)\]: (.*)$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(isNullmailerTag(m![6])).toBe(true);
      ev.push(...p.line(m![8], utc(year, MON.indexOf(m![1]) + 1, Number(m![2].trim()), +m![3], +m![4], +m![5])));
    }
    ev.push(...p.end());
    const msgs = ev.filter((e) => e.kind === 'message');
    const attempts = ev.filter((e): e is Extract<FlowEvent, { kind: 'attempt' }> => e.kind === 'attempt');
    // Every message submitted or generated is counted once (32), the bounces among them by their null sender.
    expect(msgs).toHaveLength(manifest.expected.total);
    expect(msgs.filter((e) => e.kind === 'message' && e.sender === '')).toHaveLength(manifest.expected.nullSender);
    // Pass 1 tried the 30 submitted (40 recipients), pass 2 the 30 in queue/ (everything but failed/).
    const rc = (f: (s: Manifest['submitted'][number]) => boolean) => manifest.submitted.filter(f).reduce((k, s) => k + s.to.length, 0);
    const pass1 = rc((s) => !s.generatedBy);
    const pass2 = rc((s) => s.queueHint === 'queue');
    expect(attempts).toHaveLength(pass1 + pass2);
    expect(attempts.filter((a) => a.status === 'failed')).toHaveLength(rc((s) => s.queueHint === 'failed'));
    expect(attempts.filter((a) => a.status === 'deferred')).toHaveLength(pass1 + pass2 - rc((s) => s.queueHint === 'failed'));
    expect(new Set(attempts.filter((a) => a.status === 'failed').map((a) => a.qid))).toEqual(new Set(fs.readdirSync(path.join(spoolDir, 'failed'))));
    // the log's own counts agree
    const runs = log.map((l) => /Starting delivery, (\d+) message/.exec(l)?.[1]).filter(Boolean).map(Number);
    expect(runs).toEqual([manifest.expected.total - manifest.expected.byQueue.failed, manifest.expected.byQueue.queue]);
  });

  it('spool.tsv records the trigger FIFO, which the copy leaves out', () => {
    const tsv = fs.readFileSync(path.join(FIX, 'spool.tsv'), 'utf8').split('\n');
    expect(tsv).toContainEqual(expect.stringMatching(/^p\t0622\tmail:root\t0\t\d+\ttrigger$/));
    expect(fs.existsSync(path.join(spoolDir, 'trigger'))).toBe(false);
  });
});

describe('a 12,488-message queue (check_mailq bug #1796 reported it as 0)', () => {
  it('is counted exactly, per queue, with the sender mix of the copies', async () => {
    const src = path.join(FIX, 'spool');
    const files = ['queue', 'failed'].flatMap((q) => fs.readdirSync(path.join(src, q)).map((f) => path.join(src, q, f)));
    const s = makeSpool();
    execFileSync('mkfifo', ['-m', '0622', path.join(s, 'trigger')]);
    const N = 12_488;
    const FAILED = 488;
    const isNull = files.map((f) => fs.readFileSync(f)[0] === 10);
    let nulls = 0;
    for (let i = 0; i < N; i++) {
      const from = files[i % files.length];
      if (isNull[i % files.length]) nulls++;
      // Hard links: renamed copies at no disk cost. Names as queue.cc makes them: <epoch>.<pid>.
      fs.linkSync(from, path.join(s, i < FAILED ? 'failed' : 'queue', `${1796000000 + (i >> 4)}.${10000 + i}`));
    }
    const count = await scanSpools(driver, [s], { countOnly: true, signal: new AbortController().signal });
    expect(count.summary.total).toBe(N);
    expect(count.summary.byQueue).toEqual({ queue: N - FAILED, failed: FAILED });
    const full = await scanSpools(driver, [s], { countOnly: false, signal: new AbortController().signal });
    expect(full.summary.total).toBe(N);
    expect(full.summary.byQueue).toEqual({ queue: N - FAILED, failed: FAILED });
    expect(full.summary.nullSender).toBe(nulls);
    expect(full.summary.oldestArrival).toBe(1796000000);
    expect(full.summary.unreadable).toBe(0);
  });
});
