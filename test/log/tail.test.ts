// Rotation-safe incremental reading, scenario by scenario (as check_logfiles' t/004rotation.t), with
// an injected clock and temp dirs: no sleeps. Each batch of lines is generated with known counts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { floodCheck } from '../../lib/checks/maillog-flood.js';
import { FloodAnalyser } from '../../lib/log/flood.js';
import { LogReader } from '../../lib/log/reader.js';
import { tailFile, type FileCursor } from '../../lib/log/tail.js';
import { MaillogGenerator } from '../../bench/gen/maillog.js';
import { runSpec } from '../helpers/run.js';

const T0 = Date.UTC(2026, 10, 23, 10) / 1000;
let dir: string;
let log: string;
let state: string;
let now: number;
let seed = 1;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maillog-tail-'));
  log = path.join(dir, 'mail.log');
  state = path.join(dir, 'state');
  now = T0;
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** n ordinary messages as Postfix writes them: the text and how many lines and messages it holds. */
function batch(n: number) {
  const g = new MaillogGenerator({ start: now, seed: seed++ });
  g.normal(n, 60);
  return { text: g.take(), lines: g.truth.lines, messages: g.truth.messages };
}
const append = (file: string, text: string) => fs.appendFileSync(file, text);

interface Json {
  status: string;
  summary: string;
  lines: number;
  skipped: number;
  details: string[];
  metrics: { label: string; value: number }[];
  files: { path: string; events: string[] }[];
  stats: { messages: number };
}

async function run(args: string[] = [], advance = 300) {
  now += advance;
  // --exact-limit 1G unless the test gives its own (an option given twice is an error).
  const exact = args.includes('--exact-limit') ? [] : ['--exact-limit', '1G'];
  const r = await runSpec(floodCheck, ['--log', log, '--state-dir', state, '--format', 'json', ...exact, ...args], now);
  const j = JSON.parse(r.out) as Json;
  return { code: r.code, j, metric: (l: string) => j.metrics.find((m) => m.label === l)?.value };
}

function cursor(): FileCursor {
  const f = fs.readdirSync(state).find((n) => n.endsWith('.cursor'))!;
  return JSON.parse(fs.readFileSync(path.join(state, f), 'utf8')).files[0];
}

describe('first run and state', () => {
  it('records a baseline at the end of the log and raises nothing; the next run reads exactly what was appended', async () => {
    append(log, batch(20).text);
    const first = await run();
    expect(first.code).toBe(0);
    expect(first.j.summary).toMatch(/^baseline recorded for mail\.log/);
    expect(first.j.lines).toBe(0);
    const c = cursor();
    const st = fs.statSync(log);
    expect(c).toMatchObject({ path: log, dev: st.dev, ino: st.ino, offset: st.size, size: st.size, fpLen: 256 });
    expect(c.fp).toMatch(/^[0-9a-f]{16}$/);

    const b = batch(30);
    append(log, b.text);
    const second = await run();
    expect(second.j.lines).toBe(b.lines);
    expect(second.j.stats.messages).toBe(b.messages);
    expect(second.metric('interval')).toBe(300);
    expect(second.metric('lines_per_min')).toBeCloseTo(b.lines / 5, 1);
    const third = await run();
    expect(third.j.lines).toBe(0);
  });

  it('a state written by an earlier version (cursor inside the samples) is continued from, and not written that way again', async () => {
    append(log, batch(5).text);
    await run();
    const c = cursor();
    const cursorFile = fs.readdirSync(state).find((n) => n.endsWith('.cursor'))!;
    fs.rmSync(path.join(state, cursorFile));
    const json = path.join(state, fs.readdirSync(state).find((n) => n.endsWith('.json'))!);
    const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
    doc.samples = Array.from({ length: 50 }, (_, i) => ({ t: now - 50 + i, files: [c], lines: 0, bytes: 0, skipped: 0 }));
    fs.writeFileSync(json, JSON.stringify(doc));
    const b = batch(8);
    append(log, b.text);
    const r = await run();
    expect(r.j.lines).toBe(b.lines);
    const after = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(after.samples.length).toBeLessThanOrEqual(10);
    expect(after.samples.every((x: { files?: unknown }) => x.files === undefined)).toBe(true);
    expect(cursor().offset).toBe(fs.statSync(log).size);
  });

  it('--from-start reads the whole log on the first run', async () => {
    const b = batch(25);
    append(log, b.text);
    const r = await run(['--from-start']);
    expect(r.j.lines).toBe(b.lines);
    expect(r.j.stats.messages).toBe(b.messages);
  });

  it('state deleted: a new baseline, nothing counted twice', async () => {
    append(log, batch(10).text);
    await run();
    append(log, batch(10).text);
    fs.rmSync(state, { recursive: true });
    const r = await run();
    expect(r.j.summary).toMatch(/^baseline recorded/);
    expect(r.j.lines).toBe(0);
    const b = batch(5);
    append(log, b.text);
    expect((await run()).j.lines).toBe(b.lines);
  });

  it('an unfinished last line is left for the next run and counted once', async () => {
    append(log, batch(5).text);
    await run();
    const b = batch(5);
    const line = 'Nov 23 10:20:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n';
    append(log, b.text + line.slice(0, 20));
    expect((await run()).j.lines).toBe(b.lines);
    append(log, line.slice(20));
    expect((await run()).j.lines).toBe(1);
  });
});

describe('rotation', () => {
  async function rotatedScenario(rotate: (a: string) => void, expectRotatedName: RegExp) {
    append(log, batch(10).text);
    await run();
    const a = batch(15);
    append(log, a.text);
    rotate(log);
    const b = batch(12);
    append(log, b.text);
    const r = await run();
    expect(r.code).toBe(0);
    expect(r.j.lines).toBe(a.lines + b.lines);
    expect(r.j.stats.messages).toBe(a.messages + b.messages);
    expect(r.j.files[0].events).toContain('rotated');
    expect(r.j.details.join('\n')).toMatch(expectRotatedName);
    expect(r.j.summary).toContain('(mail.log rotated)');
    // And the next run continues in the new file only.
    const c = batch(3);
    append(log, c.text);
    expect((await run()).j.lines).toBe(c.lines);
  }

  it('rename to .1 (delaycompress): finishes mail.log.1, then reads the new mail.log', () =>
    rotatedScenario((p) => fs.renameSync(p, `${p}.1`), /finished .*mail\.log\.1 from byte/));

  it('rename, create, then gzip (.1.gz): finishes the compressed file by streaming it', () =>
    rotatedScenario((p) => {
      fs.renameSync(p, `${p}.1`);
      fs.writeFileSync(p, ''); // logrotate's "create" comes before the compression
      fs.writeFileSync(`${p}.1.gz`, zlib.gzipSync(fs.readFileSync(`${p}.1`)));
      fs.rmSync(`${p}.1`);
    }, /finished .*mail\.log\.1\.gz from byte/));

  it('log deleted and a new one created on the same inode number: seen by its first bytes, the compressed copy finished', async () => {
    append(log, batch(10).text);
    await run();
    const a = batch(15);
    append(log, a.text);
    fs.writeFileSync(`${log}.1.gz`, zlib.gzipSync(fs.readFileSync(log)));
    fs.rmSync(log);
    const b = batch(12);
    append(log, b.text);
    const r = await run();
    expect(r.j.lines).toBe(a.lines + b.lines);
    expect(r.j.details.join('\n')).toMatch(/finished .*mail\.log\.1\.gz from byte/);
  });

  it('dateext (mail.log-20261123): finishes the dated file', () =>
    rotatedScenario((p) => fs.renameSync(p, `${p}-20261123`), /finished .*mail\.log-20261123 from byte/));

  it('rotated file not found: says what was lost and reads the new file', async () => {
    append(log, batch(10).text);
    await run();
    append(log, batch(10).text);
    fs.renameSync(log, path.join(dir, 'elsewhere.log'));
    const b = batch(7);
    append(log, b.text);
    const r = await run();
    expect(r.j.lines).toBe(b.lines);
    expect(r.j.summary).toContain('rotated file not found');
    expect(r.j.details.join('\n')).toMatch(/lines written between the last run and the rotation were not read/);
  });

  it('copytruncate: finishes the copy (same first bytes), then reads the truncated file from 0 and says so', async () => {
    append(log, batch(10).text);
    await run();
    const a = batch(15);
    append(log, a.text);
    fs.copyFileSync(log, `${log}.1`);
    fs.truncateSync(log, 0);
    const b = batch(4);
    append(log, b.text);
    const r = await run();
    expect(r.j.lines).toBe(a.lines + b.lines);
    expect(r.j.files[0].events).toContain('truncated');
    expect(r.j.summary).toContain('mail.log truncated, read from the start');
    expect(r.j.details.join('\n')).toMatch(/copied first \(copytruncate\)/);
  });

  it('truncated to zero (no copy): reads from 0; and a rewrite past the old offset is seen by its first bytes', async () => {
    append(log, batch(10).text);
    await run();
    fs.truncateSync(log, 0);
    const b = batch(3);
    append(log, b.text);
    const r = await run();
    expect(r.j.lines).toBe(b.lines);
    expect(r.j.files[0].events).toContain('truncated');
    // Rewritten: same inode, longer than the offset, other first bytes.
    const big = batch(40);
    fs.writeFileSync(log, big.text); // O_TRUNC on the same inode
    const r2 = await run();
    expect(r2.j.lines).toBe(big.lines);
    expect(r2.j.details.join('\n')).toMatch(/rewritten \(its first bytes changed\)/);
  });

  it('log deleted: UNKNOWN naming the file; rotated away and not recreated: the rest is read, then the new file from 0', async () => {
    append(log, batch(5).text);
    await run();
    fs.rmSync(log);
    const gone = await run();
    expect(gone.code).toBe(3);
    expect(gone.j.summary).toContain(`${log} is gone`);

    fs.rmSync(state, { recursive: true });
    append(log, batch(5).text);
    await run();
    const a = batch(6);
    append(log, a.text);
    fs.renameSync(log, `${log}.1`);
    const r = await run();
    expect(r.code).toBe(0);
    expect(r.j.lines).toBe(a.lines);
    expect(r.j.summary).toContain('rotated, not yet recreated');
    const b = batch(2);
    append(log, b.text);
    const r2 = await run();
    expect(r2.j.lines).toBe(b.lines);
    expect(r2.j.files[0].events).toContain('recreated');
  });
});

describe('reading', () => {
  it('appended while reading: stops at the size seen at the start; the next run gets the rest, nothing twice', async () => {
    const a = batch(6000); // > 1 MiB: several chunks
    fs.writeFileSync(log, a.text);
    const prev: FileCursor = { path: log, ...(() => { const s = fs.statSync(log); return { dev: s.dev, ino: s.ino }; })(), offset: 0, size: 0, fp: '', fpLen: 0 };
    const b = batch(50);
    let appended = false;
    const analyser = new FloodAnalyser(now);
    const reader = new LogReader(analyser, {
      maxBytes: 1 << 30,
      exactLimit: 1 << 30,
      deadline: Infinity,
      now: () => now * 1000,
      onChunk: () => {
        if (!appended) append(log, b.text);
        appended = true;
      },
    });
    const out = await tailFile(log, prev, reader, { firstRun: false, fromStart: false });
    expect(appended).toBe(true);
    expect(reader.lines).toBe(a.lines);
    expect(out.cursor.offset).toBe(Buffer.byteLength(a.text));
    const reader2 = new LogReader(new FloodAnalyser(now), { maxBytes: 1 << 30, exactLimit: 1 << 30, deadline: Infinity, now: () => now * 1000 });
    await tailFile(log, out.cursor, reader2, { firstRun: false, fromStart: false });
    expect(reader2.lines).toBe(b.lines);
  });

  it('--max-bytes: reads the first part, skips the rest forward, CRITICAL with the amount and the top line', async () => {
    append(log, batch(5).text);
    await run();
    const big = batch(12000);
    append(log, big.text);
    // --max-bytes alone (12,000 lines in 5 minutes are also past the default -w 2000 lines/min).
    const r = await run(['--max-bytes', '1M', '--no-default-thresholds']);
    expect(r.code).toBe(2);
    expect(r.j.summary).toMatch(/^log flood: [\d.]+ MB appended in 5m, over --max-bytes 1 MB: [\d.]+ (MB|KB) skipped unread; \d+% of lines: "/);
    const total = Buffer.byteLength(big.text);
    expect(r.j.skipped + (r.metric('bytes_per_min')! * 5 - r.j.skipped)).toBeCloseTo(total, -2);
    expect(r.j.skipped).toBeGreaterThan(total - (1 << 20) - 1);
    expect(r.j.skipped).toBeLessThan(total - (1 << 20) + 64 * 1024);
    expect(r.metric('skipped_bytes')).toBe(r.j.skipped);
    // The estimate of lines/min covers the skipped part too.
    expect(r.metric('lines_per_min')! * 5).toBeGreaterThan(big.lines * 0.95);
    expect(r.metric('lines_per_min')! * 5).toBeLessThan(big.lines * 1.05);
    const after = await run(['--max-bytes', '1M']);
    expect(after.code).toBe(0);
    expect(after.j.lines).toBe(0);
  });

  it('samples past --exact-limit: every line counted, templates and mail flow scaled', async () => {
    append(log, batch(5).text);
    await run();
    const big = batch(20000);
    append(log, big.text);
    const r = await run(['--exact-limit', '256K']);
    expect(r.j.lines).toBe(big.lines);
    expect(r.j.summary).toMatch(/^~/);
    expect(r.j.details.join('\n')).toMatch(/sampled: the first 256 KB \(--exact-limit, [\d,]+ lines\) counted exactly/);
    expect(r.metric('messages_per_min')! * 5).toBeGreaterThan(big.messages * 0.85);
    expect(r.metric('messages_per_min')! * 5).toBeLessThan(big.messages * 1.15);
  });

  it('a glob reads the live logs it matches, not their rotated siblings; a file that appears later is read from its start', async () => {
    append(log, batch(3).text);
    fs.writeFileSync(`${log}.1`, batch(3).text);
    fs.writeFileSync(`${log}.2.gz`, zlib.gzipSync(batch(3).text));
    const other = path.join(dir, 'mail.err');
    append(other, batch(2).text);
    const args = ['--log', path.join(dir, 'mail.*'), '--state-dir', state, '--format', 'json'];
    now += 300;
    const first = JSON.parse((await runSpec(floodCheck, args, now)).out);
    expect(first.files.map((f: { path: string }) => path.basename(f.path))).toEqual(['mail.err', 'mail.log']);
    const late = path.join(dir, 'mail.warn');
    const b = batch(4);
    append(late, b.text);
    now += 300;
    const second = JSON.parse((await runSpec(floodCheck, args, now)).out);
    expect(second.lines).toBe(b.lines);
    expect(second.files.find((f: { path: string }) => f.path === late).events).toEqual(['new']);
  });
});
