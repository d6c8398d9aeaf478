// OpenSMTPD driver: envelope and offline-file parsing, the `smtpctl show queue` parser, the spool
// walk and reader on the real spool captured from Debian's opensmtpd 6.8.0p2 (test/fixtures/mta/opensmtpd),
// compared with smtpd's own listing and the capture's manifest, hostile spools built from that
// capture, and the log-line parser on the capture's log.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OpensmtpdFlow, parseOpensmtpdLine, type FlowSink } from '../../lib/log/opensmtpd-lines.js';
import {
  OPENSMTPD_QUEUES,
  listOpensmtpdEntries,
  opensmtpd,
  opensmtpdOfflineArrival,
  parseOpensmtpdEnvelope,
  parseOpensmtpdOffline,
  parseShowQueue,
  parseShowQueueLine,
  readOpensmtpdMessage,
  readOpensmtpdMessageDir,
} from '../../lib/mta/opensmtpd.js';
import type { QueueEntry, QueuedMessage, SpoolScanContext } from '../../lib/mta/types.js';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/mta/opensmtpd');
const SPOOL = path.join(FIX, 'spool');

interface Submitted {
  from: string;
  to: string[];
  queueHint: string;
  subject: string;
  messageId: string;
}
interface Manifest {
  capturedAt: number;
  submitted: Submitted[];
  expected: { total: number; byQueue: Record<string, number>; nullSender: number; recipients: number };
  listingCounts: { total: number; byQueue: Record<string, number>; nullSender: number; recipients: number };
}
const manifest = JSON.parse(fs.readFileSync(path.join(FIX, 'manifest.json'), 'utf8')) as Manifest;
const showQueue = fs.readFileSync(path.join(FIX, 'listing/show-queue.txt'), 'utf8');
const showQueueOffline = fs.readFileSync(path.join(FIX, 'listing/show-queue-offline.txt'), 'utf8');
const listedLines = showQueue.split('\n').map(parseShowQueueLine).filter((l) => l !== undefined);
// A one-recipient null-sender message of the capture, and its envelope file.
const NULL_EVP = listedLines.find((l) => l.sender === '' && listedLines.filter((x) => x.msgid === l.msgid).length === 1)!;
const ID = NULL_EVP.msgid;
const EVP_REL = `queue/${ID.slice(0, 2)}/${ID}/${NULL_EVP.evpid}`;

function ctx(): SpoolScanContext & { vanished: string[] } {
  const vanished: string[] = [];
  return { signal: new AbortController().signal, onVanished: (p) => vanished.push(p), vanished };
}

function scan(spool: string): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  for (const e of listOpensmtpdEntries(spool, ctx())) {
    const m = readOpensmtpdMessage(e);
    if (m) out.push(m);
  }
  return out;
}

/** Message-ID of a queued message, read from its `message` file (the test's own reading, not the driver's). */
function messageIdOf(file: string, skipFirstLine = false): string | undefined {
  let text = fs.readFileSync(file, 'latin1');
  if (skipFirstLine) text = text.slice(text.indexOf('\n') + 1);
  return /^Message-ID: <([^>]+)>/im.exec(text)?.[1];
}

// The local recipient of the partly delivered message got it (mbox) and its envelope is gone.
const LAB_HOST = 'mx1.lab.example';
const pending = (s: Submitted) => s.to.filter((r) => !r.endsWith(`@${LAB_HOST}`));
// Refused for good (550 from a loopback server): gone from the queue, replaced by smtpd's own
// bounce (null sender, to the refused message's sender).
const refused = manifest.submitted.filter((s) => s.queueHint === 'bounced');

describe('parseOpensmtpdEnvelope', () => {
  const captured = fs.readFileSync(path.join(SPOOL, EVP_REL));

  it('reads a captured envelope: null sender "@", recipient, arrival, error line', () => {
    const e = parseOpensmtpdEnvelope(captured);
    expect(e).toMatchObject({
      version: 3,
      type: 'mta',
      dispatcher: 'relay',
      sender: '',
      rcpt: NULL_EVP.rcpt,
      dest: NULL_EVP.dest,
      sockaddr: 'local',
      retry: 1,
      errorline: 'Network error on destination MXs',
      format: 'ascii',
      malformed: false,
      unknownVersion: false,
    });
    expect(e.flags).toEqual(['authenticated']);
    // ctime is the arrival smtpctl lists for the same envelope.
    const listed = listedLines.find((l) => l.evpid === NULL_EVP.evpid);
    expect(e.ctime).toBe(listed?.ctime);
  });

  it('ignores the cut last line of a capped read and flags nothing else', () => {
    const cut = captured.indexOf('rcpt:') + 8;
    const e = parseOpensmtpdEnvelope(captured, cut, false);
    expect(e.sender).toBe('');
    expect(e.rcpt).toBeUndefined();
    expect(e.malformed).toBe(false);
  });

  it('a whole file cut mid-line keeps what it has; a line without "key:" is malformed', () => {
    const text = captured.toString('latin1');
    const e = parseOpensmtpdEnvelope(Buffer.from(text.slice(0, text.indexOf('rcpt:') + 9), 'latin1'));
    expect(e.rcpt).toBe(NULL_EVP.rcpt.slice(0, 3));
    expect(e.cut).toBe(true);
    expect(parseOpensmtpdEnvelope(Buffer.from('version: 3\nsender: a@b\ngarbage\n')).malformed).toBe(true);
    expect(parseOpensmtpdEnvelope(Buffer.from('version: 3\n\nsender: a@b\n')).malformed).toBe(true);
    expect(parseOpensmtpdEnvelope(Buffer.from('version: 3\nnew-field: x\n')).malformed).toBe(true);
    expect(parseOpensmtpdEnvelope(Buffer.from('sender: a@b\n')).malformed).toBe(true); // no version
  });

  it('flags an unknown version, and compressed or encrypted queues', () => {
    const v4 = parseOpensmtpdEnvelope(Buffer.from(captured.toString('latin1').replace('version: 3', 'version: 4'), 'latin1'));
    expect(v4).toMatchObject({ version: 4, unknownVersion: true, sender: '' });
    expect(parseOpensmtpdEnvelope(Buffer.from([0x1f, 0x8b, 8, 0])).format).toBe('gzip');
    expect(parseOpensmtpdEnvelope(Buffer.from([0x01, 0x99, 0x42])).format).toBe('encrypted');
  });

  it('keys are case-insensitive, spaces around ":" are allowed (envelope_buffer_to_dict)', () => {
    const e = parseOpensmtpdEnvelope(Buffer.from('Version : 3\nSENDER:x@y.example\nflags: bounce internal\n'));
    expect(e).toMatchObject({ version: 3, sender: 'x@y.example', malformed: false });
    expect(e.flags).toEqual(['bounce', 'internal']);
  });
});

describe('parseOpensmtpdOffline', () => {
  it("reads a captured offline file: -f '<>' saved as '-f|<' is the null sender", () => {
    const dir = path.join(SPOOL, 'offline');
    const recs = fs.readdirSync(dir).map((n) => parseOpensmtpdOffline(fs.readFileSync(path.join(dir, n))));
    const offline = manifest.submitted.filter((s) => s.queueHint === 'offline');
    expect(recs.map((r) => r.sender).sort()).toEqual(offline.map((s) => s.from).sort());
    expect(recs.map((r) => r.recipients.join(' ')).sort()).toEqual(offline.map((s) => s.to.join(' ')).sort());
    expect(recs.every((r) => r.complete && !r.fromHeaders)).toBe(true);
  });

  it('reads getopt forms: attached values, bundled flags, -t, operands without --', () => {
    expect(parseOpensmtpdOffline(Buffer.from('-odq|-fops@x.example|a@b.example|c@d.example\nbody'))).toMatchObject({
      sender: 'ops@x.example',
      recipients: ['a@b.example', 'c@d.example'],
    });
    expect(parseOpensmtpdOffline(Buffer.from('-ti|-F|Ops Team|-r|<bounce@x.example>\n'))).toMatchObject({
      sender: 'bounce@x.example',
      recipients: [],
      fromHeaders: true,
    });
    expect(parseOpensmtpdOffline(Buffer.from('a@b.example\n')).sender).toBeUndefined();
    // A first line cut by the read cap: its last (maybe cut) recipient is not taken.
    expect(parseOpensmtpdOffline(Buffer.from('-f|x@y|--|a@b.example|c@d.exa'))).toMatchObject({ complete: false, recipients: ['a@b.example'] });
  });

  it('dates an offline file from its name', () => {
    expect(opensmtpdOfflineArrival('1796130542.XXXXK3Ehfr')).toBe(1796130542);
    expect(opensmtpdOfflineArrival('078f5d96')).toBeUndefined();
    expect(opensmtpd.idArrival?.('1796130542.XXXXK3Ehfr', 0)).toBe(1796130542);
  });
});

describe('smtpctl show queue parser (captured listings)', () => {
  const listed = parseShowQueue(showQueue);
  const queued = manifest.submitted.filter((s) => s.queueHint !== 'offline' && s.queueHint !== 'bounced');

  it('counts what the capture counted from the same listing', () => {
    const byQueue: Record<string, number> = {};
    for (const m of listed) byQueue[m.queue] = (byQueue[m.queue] ?? 0) + 1;
    const lc = manifest.listingCounts;
    expect(listed.length).toBe(lc.total - lc.byQueue.offline);
    expect(byQueue).toEqual({ queue: lc.byQueue.deferred, suspended: lc.byQueue.suspended });
    expect(refused.length).toBe(1);
    expect(listed.filter((m) => m.sender === '').length).toBe(queued.filter((s) => s.from === '').length + refused.length);
    expect(listed.reduce((n, m) => n + m.recipients.length, 0)).toBe(queued.reduce((n, s) => n + pending(s).length, 0) + refused.length);
    expect(listed.reduce((n, m) => n + m.recipients.length, 0)).toBe(showQueue.trim().split('\n').length);
  });

  it('the suspended messages are the paused promo@bulk.example ones', () => {
    const s = listed.filter((m) => m.queue === 'suspended');
    expect(s.map((m) => m.sender)).toEqual(['promo@bulk.example', 'promo@bulk.example']);
    expect(s.every((m) => m.flags?.includes('suspended'))).toBe(true);
  });

  it('the offline listing (smtpd stopped) lists the same envelopes, none suspended', () => {
    const off = parseShowQueue(showQueueOffline);
    const key = (ms: QueuedMessage[]) => ms.map((m) => `${m.id} ${m.sender} ${[...m.recipients].sort().join(',')} ${m.arrival}`).sort();
    expect(key(off)).toEqual(key(listed));
    expect(off.every((m) => m.queue === 'queue')).toBe(true);
  });

  it('parses one line: run state in two fields, an error line with "|" kept whole', () => {
    const l = parseShowQueueLine('8224a64920a6e85f|inet4|mta|bounce,suspend|@|a@b.example|c@d.example|100|200|150|3|inflight|7|421 4.7.0 try | later');
    expect(l).toMatchObject({ msgid: '8224a649', source: 'inet4', flags: ['bounce', 'suspend'], sender: '', rcpt: 'a@b.example', dest: 'c@d.example', ctime: 100, expire: 200, retry: 3, runstate: 'inflight', runvalue: 7, errorline: '421 4.7.0 try | later' });
    expect(parseShowQueueLine('smtpctl: smtpd doesn\'t seem to be running')).toBeUndefined();
    expect(parseShowQueueLine('')).toBeUndefined();
  });

  it('the driver uses it for the listing, as root runs smtpctl show queue', () => {
    expect(opensmtpd.listingCommands()).toEqual([{ file: 'smtpctl', args: ['show', 'queue'] }]);
    expect(opensmtpd.parseListing(showQueue, { file: 'smtpctl', args: ['show', 'queue'], label: 'x' }).every((m) => m.queue === 'x')).toBe(true);
  });
});

describe('spool reader on the captured spool', () => {
  const messages = scan(SPOOL);
  const listed = parseShowQueue(showQueue);
  const byId = new Map(messages.map((m) => [m.id, m]));

  it('counts per queue as smtpd listed them (pauses are not on disk: suspended ones are in queue/)', () => {
    const lc = manifest.listingCounts;
    const byQueue: Record<string, number> = {};
    for (const m of messages) byQueue[m.queue] = (byQueue[m.queue] ?? 0) + 1;
    expect(messages.length).toBe(lc.total);
    expect(byQueue).toEqual({ queue: lc.byQueue.deferred + lc.byQueue.suspended, offline: lc.byQueue.offline });
    expect(messages.filter((m) => m.sender === '').length).toBe(lc.nullSender);
    expect(messages.reduce((n, m) => n + m.recipients.length, 0)).toBe(lc.recipients);
    expect(OPENSMTPD_QUEUES).toContain('suspended');
  });

  it('agrees with smtpctl show queue message by message: sender, recipients, arrival, error', () => {
    for (const l of listed) {
      const m = byId.get(l.id);
      expect(m, l.id).toBeDefined();
      expect(m?.sender).toBe(l.sender);
      expect([...(m?.recipients ?? [])].sort()).toEqual([...l.recipients].sort());
      expect(m?.arrival).toBe(l.arrival);
      expect(m?.reason).toBe(l.reason);
      expect(m?.flags).toBeUndefined();
    }
  });

  it('agrees with the manifest: each submitted message, found by its Message-ID', () => {
    const entries = [...listOpensmtpdEntries(SPOOL, ctx())];
    const byMid = new Map<string, QueuedMessage>();
    for (const e of entries) {
      const file = e.queue === 'offline' ? e.path : path.join(e.path, 'message');
      const mid = messageIdOf(file, e.queue === 'offline');
      const m = byId.get(e.id);
      if (mid && m) byMid.set(mid, m);
    }
    // Every submitted message but the refused one, plus smtpd's bounce for it (its own Message-ID).
    expect(byMid.size).toBe(manifest.submitted.length);
    for (const s of manifest.submitted) {
      if (s.queueHint === 'bounced') {
        expect(byMid.get(s.messageId)).toBeUndefined();
        continue;
      }
      const m = byMid.get(s.messageId);
      expect(m, s.messageId).toBeDefined();
      expect(m?.sender).toBe(s.from);
      expect([...(m?.recipients ?? [])].sort()).toEqual(pending(s).sort());
      expect(m?.queue).toBe(s.queueHint === 'offline' ? 'offline' : 'queue');
      // The Message-ID carries the second it was made (capture.opensmtpd.<epoch>.<n>): arrival within a second.
      const made = Number(s.messageId.split('.')[2]);
      expect(Math.abs((m?.arrival ?? 0) - made)).toBeLessThanOrEqual(1);
      expect(m?.size).toBeGreaterThan(0);
    }
  });

  it("the refused message is gone; smtpd's bounce for it is queued with the null sender", () => {
    const entries = [...listOpensmtpdEntries(SPOOL, ctx())].filter((e) => e.queue === 'queue');
    for (const r of refused) {
      // The bounce quotes the refused message's headers: find it by them, then check what the driver says.
      const dsn = entries.filter((e) => fs.readFileSync(path.join(e.path, 'message'), 'latin1').includes(`<${r.messageId}>`));
      expect(dsn.length).toBe(1);
      const text = fs.readFileSync(path.join(dsn[0].path, 'message'), 'latin1');
      expect(text).toMatch(/^Subject: Delivery status notification: failed$/m);
      const m = byId.get(dsn[0].id);
      expect(m).toMatchObject({ sender: '', recipients: [r.from], queue: 'queue' });
      expect(m?.flags).toBeUndefined(); // 6.8.0p2 writes no "flags: bounce" on its own DSNs
      expect(m?.arrival).toBeGreaterThanOrEqual(Number(r.messageId.split('.')[2]));
    }
  });

  it('the partly delivered message keeps only its deferred recipient', () => {
    const partial = manifest.submitted.find((s) => s.queueHint === 'partial');
    const m = messages.find((x) => x.sender === partial?.from && x.recipients.includes('oncall@pager.example') && x.recipients.length === 1);
    expect(partial?.to.length).toBe(2);
    expect(m).toBeDefined();
  });

  it('top sender is app@qa.example with 10 messages', () => {
    const count = new Map<string, number>();
    for (const m of messages) count.set(m.sender ?? '?', (count.get(m.sender ?? '?') ?? 0) + 1);
    const top = [...count].sort((a, b) => b[1] - a[1])[0];
    expect(top).toEqual(['app@qa.example', manifest.submitted.filter((s) => s.from === 'app@qa.example').length]);
    expect(top[1]).toBe(10);
  });

  it('message sizes are the message files; offline sizes leave out the argv line', () => {
    const big = messages.filter((m) => (m.size ?? 0) > 150_000);
    expect(big.length).toBe(2);
    const e = [...listOpensmtpdEntries(SPOOL, ctx())].find((x) => x.queue === 'offline') as QueueEntry;
    const whole = fs.statSync(e.path).size;
    const first = fs.readFileSync(e.path, 'latin1').indexOf('\n') + 1;
    expect(readOpensmtpdMessage(e)?.size).toBe(whole - first);
    expect(readOpensmtpdMessage(e, { sizes: false })?.size).toBeUndefined();
  });
});

describe('hostile spools (copies of the capture)', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'osmtpd-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  const copy = (): string => {
    const d = path.join(tmp, `s${n++}`);
    fs.cpSync(SPOOL, d, { recursive: true });
    // git keeps no empty directory: put back the ones the capture had (manifest emptyDirs).
    for (const e of (manifest as unknown as { emptyDirs?: string[] }).emptyDirs ?? []) fs.mkdirSync(path.join(d, e), { recursive: true });
    return d;
  };
  const entryOf = (spool: string, id: string) => [...listOpensmtpdEntries(spool, ctx())].find((e) => e.id === id) as QueueEntry;
  const MULTI = showQueue.split('\n').map(parseShowQueueLine).find((l) => l?.sender === 'newsletter@news.example')?.msgid as string;

  it('a truncated envelope (cut mid-line) is read as far as it goes and flagged', () => {
    const s = copy();
    const f = path.join(s, EVP_REL);
    const text = fs.readFileSync(f, 'latin1');
    fs.writeFileSync(f, text.slice(0, text.indexOf('rcpt:') + 10), 'latin1');
    const m = readOpensmtpdMessage(entryOf(s, ID));
    expect(m?.sender).toBe('');
    expect(m?.recipients).toEqual([NULL_EVP.rcpt.slice(0, 4)]); // the cut rcpt: what is there, flagged
    expect(m?.flags).toEqual(['truncated']);
    fs.writeFileSync(f, text.slice(0, text.indexOf('rcpt:') + 5), 'latin1');
    expect(readOpensmtpdMessage(entryOf(s, ID))).toMatchObject({ recipients: [], flags: ['truncated', 'unreadable'] }); // "rcpt:" empty
  });

  it('an envelope over the read cap is flagged truncated', () => {
    const text = fs.readFileSync(path.join(SPOOL, EVP_REL), 'latin1');
    const m = readOpensmtpdMessageDir(entryOf(SPOOL, ID), true, text.indexOf('rcpt:') + 3);
    expect(m?.flags).toContain('truncated');
    expect(m?.sender).toBe('');
  });

  it('a message directory without envelopes (or without its message file) is incomplete', () => {
    const s = copy();
    fs.rmSync(path.join(s, EVP_REL));
    const m = readOpensmtpdMessage(entryOf(s, ID));
    expect(m).toMatchObject({ id: ID, recipients: [], flags: ['incomplete'] });
    expect(m?.sender).toBeUndefined();
    const other = entryOf(s, MULTI);
    fs.rmSync(path.join(other.path, 'message'));
    const m2 = readOpensmtpdMessage(other);
    expect(m2?.flags).toEqual(['incomplete']);
    expect(m2?.recipients.length).toBe(3);
    expect(m2?.size).toBeUndefined();
  });

  it('a message that vanishes mid-scan is null; an envelope that vanishes is one recipient less', () => {
    const s = copy();
    const entries = [...listOpensmtpdEntries(s, ctx())];
    const gone = entries.find((e) => e.id === ID) as QueueEntry;
    fs.rmSync(gone.path, { recursive: true });
    expect(readOpensmtpdMessage(gone)).toBeNull();
    const multi = entries.find((e) => e.id === MULTI) as QueueEntry;
    const envs = fs.readdirSync(multi.path).filter((x) => x !== 'message');
    fs.rmSync(path.join(multi.path, envs[0]));
    const m = readOpensmtpdMessage(multi);
    expect(m?.recipients.length).toBe(2);
    expect(m?.flags).toBeUndefined();
    // An offline file picked up by smtpd meanwhile.
    const off = entries.find((e) => e.queue === 'offline') as QueueEntry;
    fs.rmSync(off.path);
    expect(readOpensmtpdMessage(off)).toBeNull();
  });

  it('an unknown envelope version is read but flagged', () => {
    const s = copy();
    const f = path.join(s, EVP_REL);
    fs.writeFileSync(f, fs.readFileSync(f, 'latin1').replace('version: 3', 'version: 7'), 'latin1');
    const m = readOpensmtpdMessage(entryOf(s, ID));
    expect(m?.flags).toEqual(['unreadable', 'unknown-version']);
    expect(m?.recipients).toEqual([NULL_EVP.dest]);
  });

  it('a compressed envelope is unreadable, not a crash', () => {
    const s = copy();
    fs.writeFileSync(path.join(s, EVP_REL), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]));
    expect(readOpensmtpdMessage(entryOf(s, ID))?.flags).toEqual(['unreadable', 'compressed']);
  });

  it('names smtpd would skip are skipped; symlinks are not followed; purge/ is not mail', () => {
    const s = copy();
    fs.mkdirSync(path.join(s, 'queue/zz/12345678'), { recursive: true });
    const bucket = path.join(s, 'queue', ID.slice(0, 2));
    fs.mkdirSync(path.join(bucket, 'not-a-msgid'));
    fs.writeFileSync(path.join(bucket, ID, 'notes.txt'), 'x');
    fs.writeFileSync(path.join(bucket, ID, `${ID}.bak`), 'x');
    // A bucket name no message uses, as a symlink to a real bucket.
    const free = [...Array(256).keys()].map((i) => i.toString(16).padStart(2, '0')).find((b) => !fs.existsSync(path.join(s, 'queue', b)))!;
    fs.symlinkSync(bucket, path.join(s, 'queue', free));
    fs.mkdirSync(path.join(s, 'purge/0a1b2c3d'));
    fs.writeFileSync(path.join(s, 'purge/0a1b2c3d/message'), 'x');
    const ms = scan(s);
    expect(ms.length).toBe(manifest.listingCounts.total);
    expect(ms.find((m) => m.id === ID)?.recipients).toEqual([NULL_EVP.dest]);
  });

  it('incoming/ and temporary/ are read as messages in flight', () => {
    const s = copy();
    fs.mkdirSync(path.join(s, 'incoming/0badcafe'));
    const env = fs.readFileSync(path.join(s, EVP_REL), 'latin1');
    fs.writeFileSync(path.join(s, 'incoming/0badcafe/0badcafe00000001'), env, 'latin1');
    fs.writeFileSync(path.join(s, 'temporary/0badbeef'), 'Subject: half\n');
    const ms = scan(s);
    expect(ms.find((m) => m.queue === 'incoming')).toMatchObject({ id: '0badcafe', sender: '', recipients: [NULL_EVP.dest], flags: ['incomplete'] });
    expect(ms.find((m) => m.queue === 'temporary')).toMatchObject({ id: '0badbeef', recipients: [], size: 14, flags: ['incomplete'] });
  });

  it('an offline file the check may not read (0600, the submitter\'s) is counted and dated, not an error', () => {
    const e = [...listOpensmtpdEntries(SPOOL, ctx())].find((x) => x.queue === 'offline') as QueueEntry;
    // As opensmtpq: offline/ is 0770 root:opensmtpq (listable), its files 0600 owned by the submitter.
    const spy = vi.spyOn(fs, 'openSync').mockImplementation(() => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    });
    try {
      expect(readOpensmtpdMessage(e)).toEqual({ id: e.id, queue: 'offline', recipients: [], arrival: opensmtpdOfflineArrival(e.id), flags: ['unreadable'] });
      // An envelope in queue/ the check may not read is the remedy's business: thrown.
      expect(() => readOpensmtpdMessage(entryOf(SPOOL, ID))).toThrow(/cannot read queue file .*: permission denied/);
    } finally {
      spy.mockRestore();
    }
  });

  it('a spool with no queue directory is refused; missing queues are empty', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    expect(() => [...listOpensmtpdEntries(empty, ctx())]).toThrow(/no OpenSMTPD queue directories/);
    expect(() => [...listOpensmtpdEntries(path.join(tmp, 'nope'), ctx())]).toThrow(/no such directory/);
    const onlyOffline = path.join(tmp, 'only-offline');
    fs.mkdirSync(path.join(onlyOffline, 'offline'), { recursive: true });
    expect([...listOpensmtpdEntries(onlyOffline, ctx())]).toEqual([]);
  });

  it('stops walking when the deadline passes', () => {
    const ac = new AbortController();
    const it = listOpensmtpdEntries(SPOOL, { signal: ac.signal });
    expect(it.next().done).toBe(false);
    ac.abort();
    expect(it.next().done).toBe(true);
  });
});

describe('log lines (captured mail.log)', () => {
  const lines = fs
    .readFileSync(path.join(FIX, 'log/mail.log'), 'latin1')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ smtpd\[\d+\]: /, ''));
  const inQueue = manifest.submitted.filter((s) => s.queueHint !== 'offline');

  function flow() {
    const senders = new Map<string, number>();
    const got = { messages: 0, bounces: 0, sent: 0, deferred: 0, failed: 0, rejects: 0, clients: new Set<string | undefined>(), rcpts: [] as string[] };
    const sink: FlowSink = {
      message(sender, client) {
        got.messages++;
        if (sender === '') got.bounces++;
        senders.set(sender, (senders.get(sender) ?? 0) + 1);
        got.clients.add(client);
      },
      attempt(rcpt, status) {
        got.rcpts.push(rcpt);
        if (status === 'sent') got.sent++;
        else if (status === 'deferred') got.deferred++;
        else if (status === 'failed') got.failed++;
      },
      reject() {
        got.rejects++;
      },
    };
    const f = new OpensmtpdFlow(sink);
    for (const l of lines) f.line(l);
    return { got, senders };
  }

  it('counts each message once, with its sender; bounces are the null-sender ones', () => {
    const { got, senders } = flow();
    // The offline ones were never seen by a running smtpd; smtpd's own bounce came in like a message.
    expect(got.messages).toBe(inQueue.length + refused.length);
    expect(got.bounces).toBe(inQueue.filter((s) => s.from === '').length + refused.length);
    expect(senders.get('app@qa.example')).toBe(10);
    expect([...got.clients]).toEqual(['local']);
  });

  it('counts one attempt per envelope tried: the local delivery sent, the refused one failed, every queued one deferred', () => {
    const { got } = flow();
    expect(got.sent).toBe(1);
    expect(got.rcpts).toContain(`labmbox@${LAB_HOST}`);
    expect(got.deferred).toBe(showQueue.trim().split('\n').length);
    expect(got.failed).toBe(refused.length);
    for (const r of refused) expect(got.rcpts).toContain(r.to[0]);
  });

  it('parses each kind of line', () => {
    expect(parseOpensmtpdLine('b1daa4b2426d24e7 smtp connected address=192.0.2.7 host=mail.example.org')).toEqual({
      kind: 'connect',
      session: 'b1daa4b2426d24e7',
      address: '192.0.2.7',
      host: 'mail.example.org',
    });
    expect(parseOpensmtpdLine('b1daa4b2426d24e7 smtp message msgid=47d86046 size=1336 nrcpt=1 proto=ESMTP')).toMatchObject({ kind: 'message', msgid: '47d86046', size: 1336, nrcpt: 1 });
    expect(parseOpensmtpdLine('0000000000000000 mta delivery evpid=3af4c35160f686af from=<> to=<alice@partner.example> rcpt=<-> source="-" relay="127.0.0.1" delay=11s result="TempFail" stat="Network error on destination MXs"')).toMatchObject({
      kind: 'delivery',
      agent: 'mta',
      msgid: '3af4c351',
      sender: '',
      rcpt: 'alice@partner.example',
      status: 'deferred',
      relay: '127.0.0.1',
      stat: 'Network error on destination MXs',
    });
    expect(parseOpensmtpdLine('1a2b3c4d5e6f7081 mta delivery evpid=3af4c35160f686af from=<a@b> to=<c@d> rcpt=<-> source="192.0.2.1" relay="mx.d (192.0.2.9)" delay=2d result="PermFail" stat="550 5.1.1 no such user"')).toMatchObject({ status: 'failed', relay: 'mx.d (192.0.2.9)' });
    expect(parseOpensmtpdLine('1a2b3c4d5e6f7081 smtp failed-command command="RCPT TO:<x@example.org>" result="550 Invalid recipient: <x@example.org>"')).toMatchObject({ kind: 'reject', code: '550', command: 'RCPT TO:<x@example.org>' });
    expect(parseOpensmtpdLine('1a2b3c4d5e6f7081 smtp failed-command command="DATA" result="354 go"')).toBeUndefined();
    expect(parseOpensmtpdLine('smtp-out: Disabling route [] <-> 127.0.0.1 (localhost) for 15s')).toBeUndefined();
    expect(parseOpensmtpdLine('info: OpenSMTPD 6.8.0p2 starting')).toBeUndefined();
  });

  it('clients from the session, rejects counted, loopback hand-offs not attempts', () => {
    const seen: string[] = [];
    let rejects = 0;
    let attempts = 0;
    const f = new OpensmtpdFlow({ message: (s, c) => seen.push(`${s} ${c}`), attempt: () => attempts++, reject: () => rejects++ });
    f.line('aaaaaaaaaaaaaaaa smtp connected address=192.0.2.7 host=mail.example.org');
    f.line('aaaaaaaaaaaaaaaa smtp failed-command command="RCPT TO:<x@example.org>" result="550 Invalid recipient"');
    f.line('aaaaaaaaaaaaaaaa smtp message msgid=11111111 size=10 nrcpt=2 proto=ESMTP');
    f.line('aaaaaaaaaaaaaaaa smtp envelope evpid=1111111100000001 from=<> to=<a@lab.example>');
    f.line('aaaaaaaaaaaaaaaa smtp envelope evpid=1111111100000002 from=<> to=<b@lab.example>');
    f.line('bbbbbbbbbbbbbbbb mta delivery evpid=1111111100000001 from=<> to=<a@lab.example> rcpt=<-> source="127.0.0.1" relay="127.0.0.1" delay=0s result="Ok" stat="250 2.0.0 queued as X"');
    expect(seen).toEqual([' mail.example.org [192.0.2.7]']); // null sender, client
    expect(rejects).toBe(1);
    expect(attempts).toBe(0);
  });
});
