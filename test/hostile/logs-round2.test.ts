// Hostile mail logs, round two (issue 13): what logrotate, clocks, writers without O_APPEND, journald
// backlogs and big reads do to check-maillog-flood. One row per behaviour; every expected count comes
// from the test's own count of what it wrote (the generator's truth, or a regex over the text), never
// from the code under test. No wall-clock limits: the deadline rows use an injected clock.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { FLOOD, MaillogGenerator, writeMaillog, type LogMta } from '../../bench/gen/maillog.js';
import { FloodAnalyser } from '../../lib/log/flood.js';
import { LogReader } from '../../lib/log/reader.js';
import { tailFile, type FileCursor } from '../../lib/log/tail.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { CHECKS, cleanup, crashes, run, tmp, type Answer } from './harness.js';

afterAll(cleanup);
const T0 = 1795432267;
const flood = CHECKS['check-maillog-flood'];
let seed = 1;

/** n ordinary Postfix messages, with their line and message counts (the generator's own truth). */
function batch(n: number, mta: LogMta = 'postfix', at = T0) {
  const g = new MaillogGenerator({ mta, start: at, seed: seed++ });
  g.normal(n, 60);
  return { text: g.take(), lines: g.truth.lines, messages: g.truth.messages };
}
const countLines = (text: string | Buffer) => text.toString().split('\n').filter((l, i, a) => l !== '' || i < a.length - 1).length;

function setup() {
  const dir = tmp('hostile-r2-');
  const log = path.join(dir, 'mail.log');
  const state = path.join(dir, 'state');
  const argv = (...extra: string[]) => ['--log', log, '--state-dir', state, '--format', 'json', '--exact-limit', '1G', ...extra];
  const go = async (at: number, ...extra: string[]): Promise<Answer> => {
    const a = await run(flood, argv(...extra), at);
    expect(crashes(a), a.out).toEqual([]);
    return a;
  };
  return { dir, log, state, go };
}
const text = (a: Answer) => `${a.json?.summary}\n${a.json?.details.join('\n')}`;

/** Rewrite the saved cursor of the first file (wherever this version keeps it): a state edit standing in for inode reuse. */
function editCursor(state: string, fn: (c: FileCursor) => void): void {
  for (const f of fs.readdirSync(state)) {
    const file = path.join(state, f);
    if (f.endsWith('.cursor')) {
      const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
      fn(doc.files[0]);
      fs.writeFileSync(file, JSON.stringify(doc));
    } else if (f.endsWith('.json')) {
      const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
      const last = doc.samples?.[doc.samples.length - 1];
      if (last?.files?.[0]) {
        fn(last.files[0]);
        fs.writeFileSync(file, JSON.stringify(doc));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
describe('rotated more than once between runs', () => {
  interface RotCase {
    name: string;
    /** Rotate the log once (the generation scheme); `n` is the rotation's number. */
    rotate: (log: string, n: number) => void;
    /** After both rotations, before the run. */
    after?: (log: string, state: string) => void;
    expect: 'all' | 'said';
  }
  const numbered = (compress: boolean) => (log: string) => {
    // logrotate: shift .N -> .N+1 (compressing the one leaving .1), then the log -> .1.
    const names = fs.readdirSync(path.dirname(log)).filter((n) => /^mail\.log\.\d+(\.gz)?$/.test(n));
    for (const n of names.sort((a, b) => parseInt(b.split('.')[2]) - parseInt(a.split('.')[2]))) {
      const k = parseInt(n.split('.')[2]);
      const from = path.join(path.dirname(log), n);
      if (compress && !n.endsWith('.gz')) {
        fs.writeFileSync(`${log}.${k + 1}.gz`, zlib.gzipSync(fs.readFileSync(from)));
        fs.rmSync(from);
      } else fs.renameSync(from, `${log}.${k + 1}${n.endsWith('.gz') ? '.gz' : ''}`);
    }
    fs.renameSync(log, `${log}.1`);
    fs.writeFileSync(log, '');
  };
  const CASES: RotCase[] = [
    { name: 'numbered, delaycompress (.1 -> .2)', rotate: numbered(false), expect: 'all' },
    { name: 'numbered, compressed (.1 -> .2.gz)', rotate: numbered(true), expect: 'all' },
    { name: 'dateext (two dated files)', rotate: (l, n) => (fs.renameSync(l, `${l}-2026112${n}`), fs.writeFileSync(l, '')), expect: 'all' },
    {
      name: 'numbered, compressed, and the new log got the inode of the deleted one (not a truncation)',
      rotate: numbered(true),
      after: (l, state) => {
        const st = fs.statSync(l);
        editCursor(state, (c) => ((c.dev = st.dev), (c.ino = st.ino)));
      },
      expect: 'all',
    },
    {
      name: 'rotate 1: the generation read last run is deleted (what came between is not knowable)',
      rotate: (l) => (fs.rmSync(`${l}.1`, { force: true }), fs.renameSync(l, `${l}.1`), fs.writeFileSync(l, '')),
      expect: 'said',
    },
  ];
  it.each(CASES.map((c) => [c.name, c] as const))('%s: the flood in the middle generation is read, or the run says what was not read', async (_n, c) => {
    const { log, state, go } = setup();
    fs.writeFileSync(log, batch(5).text);
    expect((await go(T0 - 600)).code).toBe(0);
    const before = batch(10);
    fs.appendFileSync(log, before.text);
    c.rotate(log, 1);
    const g = new MaillogGenerator({ mta: 'postfix', start: T0 - 500, seed: seed++ });
    g.flood(3000, 300);
    const middle = g.take();
    fs.appendFileSync(log, middle);
    c.rotate(log, 2);
    const last = batch(7);
    fs.appendFileSync(log, last.text);
    c.after?.(log, state);
    const a = await go(T0, '--sender-critical', '100');
    if (c.expect === 'all') {
      expect(a.json!.lines, text(a)).toBe(before.lines + countLines(middle) + last.lines);
      expect(a.code).toBe(2);
      expect(a.json!.summary).toContain(`sender ${FLOOD.sender}`);
    } else {
      expect(a.code, a.out).toBeGreaterThan(0);
      expect(a.json!.summary).toMatch(/not read: .*mail\.log was rotated/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('a .gz rotated file and the deadline (injected clock)', () => {
  /** A reader whose clock moves 1 ms per look: the deadline falls after `looks` looks. */
  const reader = (looks: number) => {
    let t = 0;
    return new LogReader(new FloodAnalyser(T0), { maxBytes: 1 << 30, exactLimit: 1 << 30, deadline: looks, now: () => t++ });
  };
  async function rotatedGz() {
    const { log } = setup();
    fs.writeFileSync(log, batch(5).text);
    const r0 = await tailFile(log, undefined, reader(1e9), { firstRun: true, fromStart: false });
    const big = batch(40_000); // ~5 MB decompressed: many 256 KB inflate chunks
    fs.appendFileSync(log, big.text);
    fs.writeFileSync(`${log}.1.gz`, zlib.gzipSync(fs.readFileSync(log)));
    fs.rmSync(log);
    const live = batch(9);
    fs.writeFileSync(log, live.text);
    return { log, cursor: r0.cursor, big, live };
  }

  it('stopped inside the .gz: the next run goes on from there and then reads the live log; nothing lost or twice', async () => {
    const { log, cursor, big, live } = await rotatedGz();
    const first = reader(6);
    const r1 = await tailFile(log, cursor, first, { firstRun: false, fromStart: false });
    expect(first.stopped).toBe(true);
    expect(first.lines).toBeLessThan(big.lines);
    const second = reader(1e9);
    const r2 = await tailFile(log, r1.cursor, second, { firstRun: false, fromStart: false });
    expect(second.stopped).toBe(false);
    expect(first.lines + second.lines).toBe(big.lines + live.lines);
    expect(r2.cursor.pending ?? []).toEqual([]);
  });

  it('a .gz that cannot even be inflated up to its offset in time is given up after a few runs, said, and the live log is read', async () => {
    const { log, cursor, big, live } = await rotatedGz();
    const r1 = await tailFile(log, cursor, reader(6), { firstRun: false, fromStart: false });
    let c = r1.cursor;
    let said = '';
    for (let i = 0; i < 4 && (c.pending?.length ?? 0) > 0; i++) {
      const r = await tailFile(log, c, reader(2), { firstRun: false, fromStart: false });
      said += (r.unread ?? []).join('\n');
      c = r.cursor;
    }
    expect(said).toMatch(/mail\.log\.1\.gz from byte [\d,]+ \(.*\): inflating it up to there takes longer than -t allows/);
    const last = reader(1e9);
    await tailFile(log, c, last, { firstRun: false, fromStart: false });
    expect(last.lines).toBe(live.lines);
    void big;
  });
});

// ---------------------------------------------------------------------------------------------
describe('a journal backlog (fake journalctl printing -o json)', () => {
  it('streams under --max-bytes, keeps the cursor of the last entry read, and the next runs go on from it; nothing twice', async () => {
    const { dir } = setup();
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const N = 30_000;
    const entries = path.join(dir, 'entries.json');
    const g = new MaillogGenerator({ mta: 'postfix', start: T0 - 3600, seed: 7 });
    g.flood(Math.ceil(N / 6), 3000);
    const lines = g.take().split('\n').filter(Boolean).slice(0, N);
    expect(lines.length).toBe(N);
    fs.writeFileSync(
      entries,
      lines
        .map((l, i) => {
          const m = /^\S+ \S+ \S+ (\S+) ([^[]+)\[(\d+)\]: (.*)$/.exec(l)!;
          return JSON.stringify({ __CURSOR: `c=${i}`, __REALTIME_TIMESTAMP: String((T0 - 3600 + Math.floor(i / 10)) * 1e6), _HOSTNAME: m[1], SYSLOG_IDENTIFIER: m[2], _PID: m[3], MESSAGE: m[4] });
        })
        .join('\n') + '\n',
    );
    fs.writeFileSync(
      path.join(bin, 'journalctl'),
      `#!${process.execPath}
const fs = require('fs');
const a = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(path.join(dir, 'calls'))}, a.join(' ') + '\\n');
const all = fs.readFileSync(${JSON.stringify(entries)}, 'utf8').split('\\n').filter(Boolean);
if (a.includes('-n')) { process.stdout.write(JSON.stringify({ __CURSOR: 'c=-1', __REALTIME_TIMESTAMP: '${(T0 - 3600) * 1e6}', MESSAGE: 'start' }) + '\\n'); process.exit(0); }
const i = a.indexOf('--after-cursor');
const from = i < 0 ? 0 : Number(a[i + 1].slice(2)) + 1;
process.stdout.write(all.slice(from).join('\\n') + (from < all.length ? '\\n' : ''));
`,
      { mode: 0o755 },
    );
    const env = { PATH: `${bin}:/usr/bin:/bin` };
    const argv = ['--journal', 'postfix', '--journal', 'postfix', '--state-dir', path.join(dir, 'state'), '--format', 'json', '--max-bytes', '1M'];
    const base = await run(flood, argv, T0 - 60, env);
    expect(crashes(base), base.out).toEqual([]);
    let total = 0;
    let runs = 0;
    let firstCode = -1;
    for (; runs < 20; runs++) {
      const a = await run(flood, argv, T0 + 60 * runs, env);
      expect(crashes(a), a.out).toEqual([]);
      if (runs === 0) firstCode = a.code;
      if (a.json!.lines === 0) break;
      expect(a.json!.bytes).toBeLessThanOrEqual(1 << 20);
      total += a.json!.lines as number;
    }
    expect(total).toBe(N);
    expect(runs).toBeGreaterThan(2);
    // The first run read only part of the backlog: not OK, and it says so.
    expect(firstCode).toBe(2);
    const calls = fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n');
    expect(calls[0].match(/-u postfix/g)).toHaveLength(1);
    expect(calls[1]).toContain('--after-cursor c=-1');
    expect(calls[2]).toMatch(/--after-cursor c=\d+/);
  });
});

describe('a journalctl that stops answering (the deadline)', () => {
  it('what was read before -t counts, the cursor moves to the last entry read, the run is UNKNOWN (partial), the next run goes on from there', async () => {
    const { dir } = setup();
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    // 100 entries, then silence (a journald stuck on a hung disk). -t 2: the runner's own timer stops it
    // (a limit against a hang; nothing here measures time).
    fs.writeFileSync(
      path.join(bin, 'journalctl'),
      `#!${process.execPath}
const fs = require('fs');
const a = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(path.join(dir, 'calls'))}, a.join(' ') + '\\n');
if (a.includes('-n')) { process.stdout.write(JSON.stringify({ __CURSOR: 'c=-1', __REALTIME_TIMESTAMP: '${T0 * 1e6}', MESSAGE: 'start' }) + '\\n'); process.exit(0); }
if (a.includes('c=99')) process.exit(0);
for (let i = 0; i < 100; i++) process.stdout.write(JSON.stringify({ __CURSOR: 'c=' + i, __REALTIME_TIMESTAMP: '${T0 * 1e6}', _HOSTNAME: 'mx1', SYSLOG_IDENTIFIER: 'postfix/smtpd', _PID: '1', MESSAGE: 'connect from unknown[192.0.2.1]' }) + '\\n');
setTimeout(() => {}, 600000);
`,
      { mode: 0o755 },
    );
    const env = { PATH: `${bin}:/usr/bin:/bin` };
    const argv = ['--journal', 'postfix', '--state-dir', path.join(dir, 'state'), '--format', 'json', '-t', '2'];
    await run(flood, argv, T0 - 60, env);
    const a = await run(flood, argv, T0, env);
    expect(crashes(a), a.out).toEqual([]);
    expect(a.code).toBe(3);
    expect(a.json!.summary).toMatch(/^incomplete: read .* \(100 lines\) before the 2 s deadline/);
    const b = await run(flood, argv, T0 + 60, env);
    expect(crashes(b), b.out).toEqual([]);
    expect(b.code).toBe(0);
    const calls = fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n');
    expect(calls[calls.length - 1]).toContain('--after-cursor c=99');
  });
});

// ---------------------------------------------------------------------------------------------
describe('one log under two names', () => {
  it.each([
    ['a hard link', (l: string, d: string) => fs.linkSync(l, path.join(d, 'mail2.log'))],
    ['a symlink the glob matches too', (l: string, d: string) => fs.symlinkSync(l, path.join(d, 'mailcurrent.log'))],
  ])('%s: read once, and said', async (_n, link) => {
    const { dir, log, state } = setup();
    const b = batch(20);
    fs.writeFileSync(log, b.text);
    link(log, dir);
    const a = await run(flood, ['--log', path.join(dir, 'mail*.log'), '--state-dir', state, '--format', 'json', '--from-start'], T0);
    expect(crashes(a), a.out).toEqual([]);
    expect(a.json!.lines).toBe(b.lines);
    expect(text(a)).toMatch(/is the same file as .*mail\.log \(hard link or symlink\): read once/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('clock steps', () => {
  it('stepped back: the lines counted last run are not read again; the rate is said to be unknown', async () => {
    const { log, go } = setup();
    fs.writeFileSync(log, batch(5).text);
    await go(T0 - 600);
    const a = batch(10);
    fs.appendFileSync(log, a.text);
    expect((await go(T0)).json!.lines).toBe(a.lines);
    const b = batch(4);
    fs.appendFileSync(log, b.text);
    const back = await go(T0 - 300);
    expect(back.json!.lines).toBe(b.lines);
    expect(back.json!.summary).toMatch(/clock moved back .*rates are unknown/);
  });

  it('a jump forward and back: no appended line is lost', async () => {
    const { log, go } = setup();
    fs.writeFileSync(log, batch(5).text);
    await go(T0 - 600);
    const a = batch(6);
    fs.appendFileSync(log, a.text);
    const ahead = await go(T0 + 40 * 86400);
    expect(ahead.json!.lines).toBe(a.lines);
    const b = batch(3);
    fs.appendFileSync(log, b.text);
    const back = await go(T0);
    expect(back.json!.lines).toBe(b.lines);
    const c = batch(2);
    fs.appendFileSync(log, c.text);
    const after = await go(T0 + 300);
    expect(after.json!.lines).toBe(c.lines);
    expect(after.code).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
describe('copytruncate under a writer without O_APPEND', () => {
  it('the NUL-filled hole is skipped and said ("copytruncate hole"), not a flood; the real lines after it are read', async () => {
    const { log, go } = setup();
    fs.writeFileSync(log, batch(50).text);
    await go(T0 - 300);
    const a = batch(7);
    fs.appendFileSync(log, a.text);
    fs.copyFileSync(log, `${log}.1`);
    fs.truncateSync(log, 0);
    // The writer goes on at its own offset: 300 MB in (a sparse hole before it, over --max-bytes' 256 MB).
    const b = batch(3);
    const fd = fs.openSync(log, 'r+');
    fs.writeSync(fd, Buffer.from(b.text), 0, Buffer.byteLength(b.text), 300 << 20);
    fs.closeSync(fd);
    const r = await go(T0);
    expect(r.json!.lines, text(r)).toBe(a.lines + b.lines);
    expect(r.json!.skipped).toBe(0);
    expect(r.code).toBeLessThan(2);
    expect(r.json!.summary).toMatch(/copytruncate hole of 300 MB skipped/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('sampled scan past --exact-limit (default 8M) on real Postfix lines', () => {
  const postfix = fixtureCases().find((c) => c.name === 'postfix')!;
  const real = fs.readFileSync(path.join(postfix.dir, 'log', 'postfix.log'), 'latin1');
  // Counted here, by regex, not by the code under test: a message is received when its qmgr from=
  // line follows a cleanup message-id= line of the same queue ID (a retry's qmgr line is not).
  function truth(t: string) {
    const born = new Set<string>();
    let received = 0;
    let deferrals = 0;
    for (const l of t.split('\n')) {
      let m = / postfix\/cleanup\[\d+\]: (\w+): message-id=/.exec(l);
      if (m) born.add(m[1]);
      m = / postfix\/qmgr\[\d+\]: (\w+): from=<[^>]*>, size=/.exec(l);
      if (m && born.delete(m[1])) received++;
      if (/ postfix\/smtp\[\d+\]: \w+: to=<[^>]*>,.* status=deferred /.test(l)) deferrals++;
    }
    return { received, deferrals };
  }

  it('arrivals in the first 8 MB, retries after: the estimate is unbiased and its 95% interval holds the truth', async () => {
    const { log } = setup();
    // First part: the capture as it is (arrivals and first attempts), to ~9 MB; then its retry lines
    // only (qmgr from= and deferred attempts, no cleanup), to ~24 MB: a queue run after an outage.
    const retries = real.split('\n').filter((l) => / postfix\/(qmgr|smtp)\[/.test(l)).join('\n') + '\n';
    const first = real.repeat(Math.ceil((9 << 20) / real.length));
    const second = retries.repeat(Math.ceil((15 << 20) / retries.length));
    fs.writeFileSync(log, first + second, 'latin1');
    const want = truth(first + second);
    // The estimate on line one (an OK answer's summary): no default thresholds to turn it into alerts.
    const r = await run(flood, ['--log', log, '--state-dir', path.join(path.dirname(log), 's'), '--format', 'json', '--from-start', '--no-default-thresholds'], T0);
    expect(crashes(r), r.out).toEqual([]);
    const s = r.json!.stats as { messages: number; deferrals: number; intervals: Record<string, { low: number; high: number }> };
    expect(Math.abs(s.messages - want.received) / want.received).toBeLessThan(0.03);
    expect(Math.abs(s.deferrals - want.deferrals) / want.deferrals).toBeLessThan(0.03);
    for (const [k, v] of [['messages', want.received], ['deferrals', want.deferrals]] as const) {
      expect(s.intervals[k].low, k).toBeLessThanOrEqual(v);
      expect(s.intervals[k].high, k).toBeGreaterThanOrEqual(v);
    }
    // Line one says ~N and the interval; the JSON has it.
    expect(r.json!.summary).toMatch(/~[\d,.]+ msg\/min \(95% [\d,.]+-[\d,.]+\/min\)/);
    expect(r.json!.intervals).toBeDefined();
  });
});

describe('sampled scan on a long generated log (rounds of floods, bounce storms, scanner loops)', () => {
  it.each(['postfix', 'exim', 'sendmail'] as LogMta[])('%s: every flow count within its 95% interval of the truth the generator wrote', async (mta) => {
    const { log } = setup();
    // Bursty and periodic: a fixed 64 KB piece per MB aliased with the rounds (+63% deferrals) or missed bursts (-28%).
    const t = writeMaillog(log, 24 << 20, { mta });
    const r = await run(flood, ['--log', log, '--state-dir', path.join(path.dirname(log), 's'), '--format', 'json', '--from-start'], T0);
    expect(crashes(r), r.out).toEqual([]);
    const s = r.json!.stats as Record<string, number> & { intervals: Record<string, { low: number; high: number }> };
    expect(r.json!.lines).toBe(t.lines);
    for (const k of ['messages', 'bounces', 'deferrals'] as const) {
      expect(s.intervals[k].low, `${k} ${s[k]} vs ${t[k]}`).toBeLessThanOrEqual(t[k]);
      expect(s.intervals[k].high, `${k} ${s[k]} vs ${t[k]}`).toBeGreaterThanOrEqual(t[k]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('culprits: ~2,100 bounces and 2,000 flood messages in one interval', () => {
  /** The interval: ordinary mail, a flood from one sender, a bounce storm (so <> is the top sender). */
  const storm = async (mta: LogMta) => {
    const { log, go } = setup();
    const g = new MaillogGenerator({ mta, start: T0 - 900, seed: 5 });
    g.normal(20, 60);
    fs.writeFileSync(log, g.take());
    await go(T0 - 300);
    g.normal(100, 300);
    g.t -= 300;
    g.flood(2000, 300);
    g.t -= 300;
    g.bounceStorm(2800, 300);
    fs.appendFileSync(log, g.take());
    return go;
  };

  it.each(['postfix', 'sendmail', 'exim'] as LogMta[])('%s: with a bounce threshold (the defaults), <> is the bounce family\'s: the flood sender leads the sender family, the bounce domain the bounce alert', async (mta) => {
    const go = await storm(mta);
    const r = await go(T0, '--sender-critical', '100');
    expect(r.code).toBe(2);
    const line = r.json!.summary;
    expect(line).not.toMatch(/sender <> \(MAILER-DAEMON\)/);
    expect(line).toMatch(new RegExp(`sender ${FLOOD.sender.replace(/\./g, '\\.')} [^;]*top recipient ${FLOOD.recipient.replace(/\./g, '\\.')}`));
    expect(line).toMatch(/bounces \(null sender\) [\d,.]+\/min[^;]*to \S+ \d/);
    // The sender metric judges the same sender as the alert: the flood's ~400/min, not <>'s.
    const m = r.json!.metrics.find((x) => x.label === 'top_sender_per_min')!;
    expect(m.value).toBeGreaterThan(300);
    expect(m.value).toBeLessThan(500);
    const bounces = r.json!.metrics.find((x) => x.label === 'bounces_per_min')!;
    expect(bounces.value).toBeGreaterThan(m.value);
  });

  it.each(['postfix', 'sendmail', 'exim'] as LogMta[])('%s: without a bounce threshold, both senders on line one, each with its own top recipient', async (mta) => {
    const go = await storm(mta);
    const r = await go(T0, '--sender-critical', '100', '--no-default-thresholds');
    expect(r.code).toBe(2);
    const line = r.json!.summary;
    const bounce = /sender <> \(MAILER-DAEMON\) [^;]*/.exec(line);
    const sender = new RegExp(`sender ${FLOOD.sender.replace(/\./g, '\\.')} [^;]*`).exec(line);
    expect(bounce, line).not.toBeNull();
    expect(sender, line).not.toBeNull();
    // The flood's recipient got none of the bounces: it must not be named with <>.
    expect(bounce![0]).not.toContain(FLOOD.recipient);
    // The first sender named in full ("top recipient R"), the next ones shorter ("to R").
    expect(bounce![0]).toMatch(/(top recipient|, to) \S+@lab\.example/);
    expect(sender![0]).toMatch(new RegExp(`(top recipient|, to) ${FLOOD.recipient.replace(/\./g, '\\.')}`));
  });
});

// ---------------------------------------------------------------------------------------------
describe('the flood state stays small', () => {
  it('a 100-file glob: the state does not grow with the number of runs (one cursor per file)', async () => {
    const { dir, state } = setup();
    const logs = path.join(dir, 'logs');
    fs.mkdirSync(logs);
    for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(logs, `m${i}.log`), 'Nov 23 11:11:03 mx1 app[1]: x\n');
    const argv = ['--log', path.join(logs, '*.log'), '--state-dir', state];
    const size = () => fs.readdirSync(state).reduce((n, f) => n + fs.statSync(path.join(state, f)).size, 0);
    let at3 = 0;
    for (let k = 1; k <= 20; k++) {
      const a = await run(flood, argv, T0 + 60 * k);
      expect(crashes(a), a.out).toEqual([]);
      if (k === 3) at3 = size();
    }
    expect(size()).toBeLessThan(at3 * 1.2);
  });
});

// sparse files need a filesystem that has holes; tmpfs and ext4 both do.
void execFileSync;
