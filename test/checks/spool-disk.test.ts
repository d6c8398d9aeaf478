// check-spool-disk: sizes, verdicts on sample sequences (pure), then real tmpfs filesystems filled
// between in-process runs with a fake clock, cross-checked against df and du.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../bench/gen-spool.js';
import {
  evaluateSpoolDisk,
  mountLabel,
  pctText,
  spoolDiskCheck,
  spoolDiskStateTarget,
  spoolUsage,
  type DiskSample,
  type Filesystem,
  type SpoolDiskData,
  type SpoolDiskOptions,
} from '../../lib/checks/spool-disk.js';
import { parseRange } from '../../lib/plugin/range.js';
import { stateBaseName, stateKey } from '../../lib/plugin/state.js';
import { State } from '../../lib/plugin/result.js';
import { formatByteRate, formatBytes, parseSize } from '../../lib/plugin/size.js';
import { buildChecks, bundleChild, Child, fill, metricOf, mountExt4, mountTmpfs, removeTempDirs, runAt, tempDir, unmount, type RunResult } from '../helpers/state-harness.js';

const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;
const T0 = 1_795_000_000;

afterAll(removeTempDirs);

describe('sizes', () => {
  it.each([
    ['500M', 500 * MB],
    ['2G', 2 * GB],
    ['2g', 2 * GB],
    ['2GB', 2 * GB],
    ['2GiB', 2 * GB],
    ['1.5T', 1.5 * 1024 * GB],
    ['10k', 10 * KB],
    ['4096', 4096],
    ['4096B', 4096],
    [' 1 M ', MB],
  ])('parses %j', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(['', undefined])('no size for %j', (text) => expect(parseSize(text)).toBeUndefined());

  it.each(['5X', '-1G', 'G', '1..5G', '2 G B', 'lots'])('rejects %j naming it', (text) => {
    expect(() => parseSize(text, 'free-warning')).toThrow(`invalid free-warning '${text}'`);
  });

  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1536, '1.5 KB'],
    [420 * MB, '420 MB'],
    [1.8 * GB, '1.8 GB'],
    [13 * GB, '13 GB'],
    [1023.7 * KB, '1 MB'],
    [-12 * KB, '-12 KB'],
  ])('formats %d as %j', (n, text) => expect(formatBytes(n)).toBe(text));

  it('formats a fill rate per hour', () => {
    expect(formatByteRate((420 * MB) / 3600)).toBe('+420 MB/h');
    expect(formatByteRate((-5 * MB) / 3600)).toBe('-5 MB/h');
  });

  it('never shows a nearly full filesystem as 100%', () => {
    expect(pctText(99.97)).toBe('99.9%');
    expect(pctText(100)).toBe('100%');
    expect(pctText(0.04)).toBe('<0.1%');
    expect(pctText(93.506)).toBe('94%');
    expect(pctText(7.25)).toBe('7.3%');
  });

  it('labels mounts for metric names', () => {
    expect(mountLabel('/')).toBe('root');
    expect(mountLabel('/var')).toBe('var');
    expect(mountLabel('/var/spool/mail.d')).toBe('var_spool_mail_d');
  });
});

// ---------------------------------------------------------------------------------------------
// Pure verdicts

function fsys(mount: string, size: number, used: number, extra: Partial<Filesystem> = {}): Filesystem {
  return {
    mount,
    label: mountLabel(mount),
    dev: 1,
    spools: [],
    paths: [],
    size,
    used,
    avail: size - used,
    inodes: 1_000_000,
    inodesFree: 900_000,
    spoolUsage: {},
    ...extra,
  };
}

/** Samples of used bytes (one per `step` seconds, the last now) for one mount. */
function history(mount: string, used: number[], step = 600, size = 20 * GB): DiskSample[] {
  return used.map((u, i) => ({ t: T0 + i * step, fs: { [mount]: { used: u, avail: size - u, iused: 100_000, iavail: 900_000 } } }));
}

function opts(extra: Partial<SpoolDiskOptions> = {}): SpoolDiskOptions {
  return { mta: 'postfix', paths: [], window: 3600, minSamples: 3, spoolSize: true, timeout: 10, ...extra };
}

const below = (v: number) => ({ text: `${v}:`, start: v, end: Infinity, inside: false });

function evalAt(filesystems: Filesystem[], samples: DiskSample[], o: SpoolDiskOptions, now = samples.length ? samples[samples.length - 1].t : T0) {
  const data: SpoolDiskData = { mta: 'postfix', filesystems, samples, notes: [], stateFile: '/var/lib/mailq-checks/x.json' };
  return evaluateSpoolDisk(data, o, now);
}

describe('verdicts on sample sequences', () => {
  const size = 20 * GB;
  const nowUsed = size - 1330 * MB;
  const steady = Array.from({ length: 7 }, (_, i) => nowUsed - (6 - i) * 70 * MB); // +420 MB/h
  const fills = { fillWarning: below(24 * 3600), fillCritical: below(4 * 3600) };

  it('first run: no projection yet, says so', () => {
    const ev = evalAt([fsys('/var', size, nowUsed)], history('/var', [nowUsed]), opts(fills));
    expect(ev.state).toBe(State.OK);
    expect(ev.summary).toBe('/var 94% used (1.3 GB free)');
    expect(ev.details).toContain('  space: collecting baseline (1 of 3 samples)');
    expect(ev.metrics.map((m) => m.label)).toEqual(['used_pct', 'free_bytes', 'inodes_used_pct']);
  });

  it('steady fill: "full in ~3h10m at +420 MB/h", CRITICAL under --fill-critical 4h', () => {
    const ev = evalAt([fsys('/var', size, nowUsed)], history('/var', steady), opts(fills));
    expect(ev.summary).toBe('/var 94% used (1.3 GB free), full in ~3h10m at +420 MB/h');
    expect(ev.state).toBe(State.CRITICAL);
    const ttf = ev.metrics.find((m) => m.label === 'time_to_full')!;
    expect(ttf.value).toBe(11_400);
    expect(ttf.crit?.text).toBe('14400:');
    expect(ev.metrics.find((m) => m.label === 'fill_bytes_per_hour')!.value).toBe(420 * MB);
  });

  it('the same fill, slower: WARNING under --fill-warning 24h only', () => {
    const slow = steady.map((u, i) => nowUsed - (6 - i) * 7 * MB); // +42 MB/h: full in ~31h40m
    const ev = evalAt([fsys('/var', size, nowUsed)], history('/var', slow), opts({ fillWarning: below(48 * 3600), fillCritical: below(4 * 3600) }));
    expect(ev.summary).toBe('/var 94% used (1.3 GB free), full in ~1d7h at +42 MB/h');
    expect(ev.state).toBe(State.WARNING);
  });

  it('shrinking: no time to full', () => {
    const ev = evalAt([fsys('/var', size, nowUsed)], history('/var', [...steady].reverse()), opts(fills));
    expect(ev.summary).toBe('/var 94% used (1.3 GB free)');
    expect(ev.state).toBe(State.OK);
    expect(ev.metrics.find((m) => m.label === 'fill_bytes_per_hour')!.value).toBeLessThan(0);
    expect(ev.metrics.find((m) => m.label === 'time_to_full')).toBeUndefined();
  });

  it('bursty: one big file in the newest sample is no fill rate', () => {
    const flatUsed = Array.from({ length: 6 }, () => 10 * GB);
    const ev = evalAt([fsys('/var', size, 15 * GB)], history('/var', [...flatUsed, 15 * GB]), opts(fills));
    expect(ev.state).toBe(State.OK);
    expect(ev.summary).toBe('/var 75% used (5 GB free)');
  });

  it('a gap longer than the window: back to a baseline', () => {
    const h = history('/var', steady);
    const ev = evalAt([fsys('/var', size, nowUsed)], h, opts(fills), h[6].t + 2 * 3600);
    expect(ev.summary).toBe('/var 94% used (1.3 GB free)');
    expect(ev.details).toContain('  space: collecting baseline (0 of 3 samples)');
  });

  it('the clock went back: samples from the future are not used', () => {
    const h = history('/var', steady);
    const ev = evalAt([fsys('/var', size, nowUsed)], h, opts(fills), h[1].t);
    expect(ev.details).toContain('  space: collecting baseline (2 of 3 samples)');
    expect(ev.state).toBe(State.OK);
  });

  it('used percent ranges, CRITICAL before WARNING', () => {
    const o = opts({ warning: parseRange('80'), critical: parseRange('90') });
    expect(evalAt([fsys('/var', 100 * GB, 79 * GB)], [], o).state).toBe(State.OK);
    expect(evalAt([fsys('/var', 100 * GB, 85 * GB)], [], o).state).toBe(State.WARNING);
    expect(evalAt([fsys('/var', 100 * GB, 95 * GB)], [], o).state).toBe(State.CRITICAL);
  });

  it('free space thresholds as sizes', () => {
    const o = opts({ freeWarning: below(2 * GB), freeCritical: below(500 * MB) });
    expect(evalAt([fsys('/var', 100 * GB, 97 * GB)], [], o).state).toBe(State.OK);
    expect(evalAt([fsys('/var', 100 * GB, 98.5 * GB)], [], o).state).toBe(State.WARNING);
    const crit = evalAt([fsys('/var', 100 * GB, 99.9 * GB)], [], o);
    expect(crit.state).toBe(State.CRITICAL);
    expect(crit.metrics.find((m) => m.label === 'free_bytes')!.crit?.text).toBe(`${500 * MB}:`);
  });

  it('inode thresholds, named in the summary when they alert', () => {
    const o = opts({ inodeWarning: parseRange('80'), inodeCritical: parseRange('95') });
    const ev = evalAt([fsys('/var', 100 * GB, 10 * GB, { inodes: 1000, inodesFree: 30 })], [], o);
    expect(ev.state).toBe(State.CRITICAL);
    expect(ev.summary).toBe('/var 10% used (90 GB free), inodes 97% used');
  });

  it('several filesystems: labels per mount, the worst first in the summary', () => {
    const o = opts({ warning: parseRange('80'), critical: parseRange('90') });
    const ev = evalAt([fsys('/', 100 * GB, 40 * GB), fsys('/var', 100 * GB, 95 * GB)], [], o);
    expect(ev.state).toBe(State.CRITICAL);
    expect(ev.summary).toBe('/var 95% used (5 GB free); / 40% used (60 GB free)');
    expect(ev.metrics.map((m) => m.label)).toEqual(['used_pct_root', 'free_bytes_root', 'inodes_used_pct_root', 'used_pct_var', 'free_bytes_var', 'inodes_used_pct_var']);
  });

  it('the spool and its share of the used space', () => {
    const f = fsys('/var', 20 * GB, 15 * GB, {
      spools: ['/var/spool/mqueue'],
      spoolUsage: { '/var/spool/mqueue': { bytes: 13 * GB, apparent: 12 * GB, files: 1_000_000, dirs: 1, unreadable: 0 } },
    });
    const ev = evalAt([f], [], opts());
    expect(ev.summary).toBe('/var 75% used (5 GB free), spool 13 GB (87% of used)');
    expect(ev.metrics.find((m) => m.label === 'spool_bytes')!.value).toBe(13 * GB);
    expect(ev.metrics.find((m) => m.label === 'spool_share_pct')!.value).toBe(86.67);
    f.spoolUsage['/var/spool/mqueue'].stopped = 'walk stopped at the 10 s deadline after 1,000,000 files';
    const cut = evalAt([f], [], opts());
    expect(cut.summary).toBe('/var 75% used (5 GB free), spool at least 13 GB (87% of used)');
    expect(cut.metrics.find((m) => m.label === 'spool_bytes')).toBeUndefined();
    expect(cut.details.join('\n')).toContain('walk stopped at the 10 s deadline after 1,000,000 files; use a longer -t or --no-spool-size');
  });
});

// ---------------------------------------------------------------------------------------------
// Real filesystems

/** What df says about a directory's filesystem, in bytes. */
function df(dir: string): { used: number; avail: number; pct: number } {
  const [used, avail] = execFileSync('df', ['-B1', '--output=used,avail', dir], { encoding: 'utf8' }).trim().split('\n')[1].trim().split(/\s+/).map(Number);
  return { used, avail, pct: (100 * used) / (used + avail) };
}

/** What du says the spool takes (st_blocks, one filesystem). */
function du(dir: string): number {
  return Number(execFileSync('du', ['-s', '-B1', '-x', dir], { encoding: 'utf8' }).split(/\s+/)[0]);
}

const a = mountTmpfs(8);
const b = mountTmpfs(4);
const tiny = mountTmpfs(1, 'nr_inodes=64');
afterAll(() => {
  for (const m of [a, b, tiny]) if ('dir' in m) unmount(m.dir);
});
const skip = 'skip' in a ? a.skip : 'skip' in b ? b.skip : 'skip' in tiny ? tiny.skip : '';

describe.skipIf(skip)(`on real tmpfs filesystems being filled${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const A = (a as { dir: string }).dir;
  const B = (b as { dir: string }).dir;
  const stateDir = path.join(tempDir('disk-state-'), 'state');
  const spool = path.join(A, 'spool');
  const logs = path.join(A, 'log');
  const runs: RunResult[] = [];
  const base = ['--mta', 'postfix', '--spool', spool, '--path', logs, '--state-dir', stateDir, '-w', '60', '-c', '90', '--fill-warning', '1h', '--fill-critical', '20m', '--format', 'json'];

  beforeAll(() => {
    generate({ mta: 'postfix', count: 300, out: spool, seed: 11, now: T0 });
    fs.mkdirSync(logs);
  });

  it('reports what df reports, and the spool as du sizes it, on the one filesystem both paths are on', async () => {
    fill(path.join(logs, 'mail.log'), 1 * MB);
    const r = await runAt(spoolDiskCheck, base, T0);
    runs.push(r);
    const d = df(A);
    expect(r.json!.status).toBe('OK');
    expect(metricOf(r, 'used_pct')).toBeCloseTo(d.pct, 2);
    expect(metricOf(r, 'free_bytes')).toBe(d.avail);
    expect(metricOf(r, 'spool_bytes')).toBe(du(spool));
    expect(metricOf(r, 'spool_share_pct')).toBeCloseTo((100 * du(spool)) / d.used, 2);
    expect(r.json!.summary).toMatch(new RegExp(`^${A} \\d+(\\.\\d)?% used \\([\\d.]+ MB free\\), spool [\\d.]+ (KB|MB) \\(\\d+% of used\\)$`));
    const facts = r.json!.filesystems as { mount: string; spools: string[]; paths: string[] }[];
    expect(facts).toHaveLength(1);
    expect(facts[0]).toMatchObject({ mount: A, spools: [spool], paths: [logs] });
    expect(r.json!.details).toContain('  space: collecting baseline (1 of 3 samples)');
  });

  it('projects time to full from the fill between runs, and alerts as it nears', async () => {
    // +1 MB every 10 minutes: 6 MB/h.
    for (let i = 1; i <= 2; i++) {
      fill(path.join(logs, 'mail.log'), 1 * MB);
      runs.push(await runAt(spoolDiskCheck, base, T0 + i * 600));
    }
    const r = runs[2];
    const avail = df(A).avail;
    const expected = avail / (MB / 600);
    expect(metricOf(r, 'time_to_full')).toBeGreaterThan(expected * 0.97);
    expect(metricOf(r, 'time_to_full')).toBeLessThan(expected * 1.03);
    expect(metricOf(r, 'fill_bytes_per_hour')).toBeCloseTo(6 * MB, -5);
    expect(r.json!.summary).toMatch(/, full in ~\d+m at \+6 MB\/h/);
    // Under an hour to go: WARNING; the used percent is still below -w 60.
    expect(metricOf(r, 'used_pct')).toBeLessThan(60);
    expect(r.json!.status).toBe(expected < 1200 ? 'CRITICAL' : expected < 3600 ? 'WARNING' : 'OK');
    expect(expected).toBeLessThan(3600);

    // Fill faster: 0.8 MB every 4 minutes (12 MB/h, about 2.4 MB in all, as the 2.5 MB in one step
    // of before). One faster sample is no trend yet (the engine waits for three samples of a new
    // regime, lib/stats/trend.ts); by the third the projection is under 20 minutes.
    const fast: RunResult[] = [];
    for (let i = 1; i <= 3; i++) {
      fill(path.join(logs, 'mail.log'), Math.round(0.8 * MB));
      fast.push(await runAt(spoolDiskCheck, base, T0 + 1200 + i * 240));
    }
    expect(fast[0].json!.status).toBe('WARNING');
    expect(fast[2].json!.status).toBe('CRITICAL');
    expect(fast[2].json!.summary).toMatch(/full in ~\d+m(\d+s)? at \+12 MB\/h/);
    expect(metricOf(fast[2], 'fill_bytes_per_hour')).toBeCloseTo(12 * MB, -5);
  });

  it('full: CRITICAL on used percent, and still answers when its state cannot be saved there', async () => {
    try {
      fill(path.join(logs, 'ballast'), 16 * MB);
    } catch (err) {
      expect((err as { code?: string }).code).toBe('ENOSPC');
    }
    const inside = ['--mta', 'postfix', '--spool', spool, '--state-dir', path.join(A, 'state'), '-w', '60', '-c', '90', '--format', 'json'];
    const r = await runAt(spoolDiskCheck, inside, T0 + 2400);
    expect(r.json!.status).toBe('CRITICAL');
    expect(metricOf(r, 'used_pct')).toBe(100);
    expect(metricOf(r, 'free_bytes')).toBe(0);
    expect(r.json!.summary).toMatch(new RegExp(`^${A} 100% used \\(0 B free\\)`));
    expect(r.json!.details.join('\n')).toMatch(/state not saved this run: .*\(ENOSPC\)/);
    // And with its state elsewhere, the projection says it is full.
    const full = await runAt(spoolDiskCheck, base, T0 + 2400);
    expect(full.json!.status).toBe('CRITICAL');
    expect(full.json!.summary).toMatch(new RegExp(`^${A} 100% used \\(0 B free\\), full`));
    expect(metricOf(full, 'time_to_full')).toBe(0);
    fs.rmSync(path.join(logs, 'ballast'));
  });

  it('two filesystems: each once, metrics labelled by mount', async () => {
    const r = await runAt(spoolDiskCheck, ['--mta', 'postfix', '--spool', spool, '--path', B, '--path', logs, '--path', spool, '--state-dir', stateDir, '--format', 'json'], T0 + 3000);
    const la = mountLabel(A);
    const lb = mountLabel(B);
    expect(r.json!.metrics.map((m) => m.label)).toEqual(
      expect.arrayContaining([`used_pct_${la}`, `free_bytes_${la}`, `spool_bytes_${la}`, `used_pct_${lb}`, `free_bytes_${lb}`]),
    );
    expect(r.json!.metrics.every((m) => /^[A-Za-z0-9_.]+$/.test(m.label))).toBe(true);
    expect(metricOf(r, `free_bytes_${lb}`)).toBe(df(B).avail);
    expect((r.json!.filesystems as unknown[]).length).toBe(2);
  });

  it('inodes: a filesystem running out of files', async () => {
    const T = (tiny as { dir: string }).dir;
    // The inode thresholds alone (the spool's filesystem, filled by the tests before, is past the used-% default).
    const args = ['--mta', 'postfix', '--spool', spool, '--path', T, '--state-dir', stateDir, '--inode-warning', '50', '--inode-critical', '80', '--no-default-thresholds', '--format', 'json'];
    const l = mountLabel(T);
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(T, `f${i}`), '');
    const r = await runAt(spoolDiskCheck, args, T0);
    const st = fs.statfsSync(T);
    expect(metricOf(r, `inodes_used_pct_${l}`)).toBeCloseTo((100 * (st.files - st.ffree)) / st.files, 2);
    expect(r.json!.status).toBe('WARNING');
    expect(r.json!.summary).toMatch(new RegExp(`^${T} [\\d.<]+% used \\([\\d.]+ (KB|MB) free\\), inodes \\d+% used`));
  });
});

const ext4 = mountExt4(16);
afterAll(() => {
  if ('dir' in ext4) unmount(ext4.dir);
});

describe.skipIf('skip' in ext4)(`on a real ext4 with blocks reserved for root${'skip' in ext4 ? ` (skipped: ${ext4.skip})` : ''}`, () => {
  it('computes used percent and free space as df does, and is full when only root could still write', async () => {
    const E = (ext4 as { dir: string }).dir;
    const spool = path.join(E, 'spool');
    generate({ mta: 'exim', count: 50, out: spool, seed: 4, now: T0 });
    const args = ['--mta', 'exim', '--spool', spool, '--state-dir', tempDir(), '-w', '80', '-c', '95', '--format', 'json'];
    const r = await runAt(spoolDiskCheck, args, T0);
    const d = df(E);
    expect(metricOf(r, 'used_pct')).toBeCloseTo(d.pct, 2);
    expect(metricOf(r, 'free_bytes')).toBe(d.avail);
    expect(metricOf(r, 'spool_bytes')).toBe(du(spool));
    const st = fs.statfsSync(E);
    expect(st.bfree).toBeGreaterThan(st.bavail);
    // Root may write into the reserve; what is left for everyone else is 0.
    try {
      fill(path.join(E, 'ballast'), 32 * MB);
    } catch (err) {
      expect((err as { code?: string }).code).toBe('ENOSPC');
    }
    const full = await runAt(spoolDiskCheck, args, T0 + 600);
    expect(df(E).avail).toBe(0);
    expect(full.json!.status).toBe('CRITICAL');
    expect(metricOf(full, 'used_pct')).toBe(100);
    expect(full.json!.summary).toMatch(new RegExp(`^${E} 100% used \\(0 B free\\), spool`));
    fs.rmSync(path.join(E, 'ballast'));
    const room = (fs.statfsSync(E).bavail * fs.statfsSync(E).bsize) / 2;
    fill(path.join(E, 'ballast'), room);
    const half = await runAt(spoolDiskCheck, args, T0 + 1200);
    expect(metricOf(half, 'used_pct')).toBeCloseTo(df(E).pct, 2);
    expect(metricOf(half, 'free_bytes')).toBe(df(E).avail);
  });
});

describe('the spool walk', () => {
  const root = tempDir('disk-walk-');
  generate({ mta: 'sendmail', count: 600, out: root, seed: 2, now: T0 });

  it('sizes the spool as du does', async () => {
    const u = await spoolUsage(root, new AbortController().signal, 10);
    expect(u.bytes).toBe(du(root));
    expect(u.files).toBe(1200);
    expect(u.stopped).toBeUndefined();
  });

  it('stops at the deadline and says how far it got', async () => {
    const ac = new AbortController();
    ac.abort();
    const u = await spoolUsage(root, ac.signal, 10);
    expect(u.stopped).toBe('walk stopped at the 10 s deadline after 0 files');
    expect(u.bytes).toBeLessThan(du(root));
  });

  it('--no-spool-size skips it', async () => {
    const r = await runAt(spoolDiskCheck, ['--mta', 'sendmail', '--spool', path.join(root, 'mqueue'), '--state-dir', tempDir(), '--no-spool-size', '--format', 'json'], T0);
    expect(r.json!.status).toBe('OK');
    expect(r.json!.metrics.map((m) => m.label)).toEqual(['used_pct', 'free_bytes', 'inodes_used_pct']);
    expect(r.json!.summary).not.toContain('spool');
  });
});

describe('options and paths that cannot work: UNKNOWN', () => {
  it.each([
    [['--free-warning', '5X'], /invalid --free-warning '5X'/],
    [['--fill-critical', 'soon'], /invalid --fill-critical 'soon'/],
    [['--inode-warning', '90:80'], /invalid --inode-warning range '90:80'/],
    [['--window', '1m'], /invalid --window '1m'/],
    [['--path', '/nonexistent/log'], /--path \/nonexistent\/log not found \(ENOENT\)/],
    [['--spool', '/nonexistent/spool'], /postfix spool \/nonexistent\/spool not found \(ENOENT\): give --spool DIR/],
  ])('%j', async (argv, msg) => {
    const spool = tempDir('disk-opt-');
    const r = await runAt(spoolDiskCheck, ['--mta', 'postfix', '--spool', spool, '--state-dir', tempDir(), ...argv], T0);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(msg);
    expect(r.out.trim().split('\n')).toHaveLength(1);
  });
});

describe('two real processes (the built check)', () => {
  let dist: string;
  let child: string;
  beforeAll(async () => {
    dist = buildChecks();
    child = await bundleChild();
  });

  it('the second run answers UNKNOWN at once while the first holds the lock', async () => {
    const spool = fs.realpathSync(tempDir('disk-2proc-'));
    const stateDir = path.join(tempDir(), 'state');
    const hold = new Child(child, ['hold', JSON.stringify({ dir: stateDir, check: 'spool_disk', ...spoolDiskStateTarget([spool], [], 3600) })]);
    expect((await hold.next()).event).toBe('locked');
    const bin = path.join(dist, 'check-spool-disk.js');
    // "At once" = without waiting for the lock: the holder keeps it until finish() below, so a second
    // run that waited would never answer (killed by this 60 s guard against a hang, status null).
    const r = spawnSync(process.execPath, [bin, '--mta', 'postfix', '--spool', spool, '--state-dir', stateDir], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stdout).toBe(3);
    expect(r.stdout).toMatch(new RegExp(`^SPOOL_DISK UNKNOWN - previous run still in progress since \\d\\d:\\d\\d:\\d\\d \\(pid ${hold.pid}\\)`));
    hold.finish();
    await hold.exited;
    const again = spawnSync(process.execPath, [bin, '--mta', 'postfix', '--spool', spool, '--state-dir', stateDir], { encoding: 'utf8', timeout: 60_000 });
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^SPOOL_DISK OK - \S+ \d+(\.\d)?% used/);
  }, 150_000);
});

describe('state per --window (a 1h and a 6h check of one filesystem keep their own history)', () => {
  const spool = path.resolve('test/fixtures/mta/postfix/spool');
  const argv = (dir: string, window: string) => ['--mta', 'postfix', '--spool', spool, '--state-dir', dir, '--window', window, '--format', 'json'];
  const samples = (r: RunResult) => (r.json!.details as string[]).find((l) => /^state: /.test(l));

  it('two windows alternating: two state files, the 6h one keeps every sample', async () => {
    const dir = tempDir('sd-window-');
    for (let i = 0; i < 4; i++) {
      await runAt(spoolDiskCheck, argv(dir, '10m'), T0 + i * 600);
      await runAt(spoolDiskCheck, argv(dir, '6h'), T0 + i * 600 + 1);
    }
    const files = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
    expect(files).toHaveLength(2);
    const counts = files.map((n) => [n.includes('-10m-') ? '10m' : n.includes('-6h-') ? '6h' : n, JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')).samples.length]);
    // 10m keeps the samples in (now - 10m, now]: only the last; 6h all four.
    expect(Object.fromEntries(counts)).toEqual({ '10m': 1, '6h': 4 });
  });

  it("an upgrade: the window-less file's samples still in the window carry over, said once, that file untouched", async () => {
    const dir = tempDir('sd-upgrade-');
    // A first run keyed the way the version before this one keyed it (no window): make its file by hand.
    const what = { spools: [fs.realpathSync(spool)], paths: [] };
    const key = stateKey('spool_disk', what);
    const file = path.join(dir, `${stateBaseName('spool_disk', [fs.realpathSync(spool)], key)}.json`);
    const fsKey = (await runAt(spoolDiskCheck, argv(tempDir('sd-probe-'), '1h'), T0)).json!.filesystems as { mount: string }[];
    const s = (t: number) => ({ t, fs: { [fsKey[0].mount]: { used: 1000, avail: 5000, iused: 10, iavail: 100 } } });
    const doc = JSON.stringify({ version: 1, check: 'spool_disk', key, what, created: T0 - 7200, updated: T0 - 600, samples: [s(T0 - 7200), s(T0 - 1200), s(T0 - 600)] });
    fs.writeFileSync(file, doc, { mode: 0o600 });
    const r = await runAt(spoolDiskCheck, argv(dir, '1h'), T0);
    expect((r.json!.details as string[]).join('\n')).toContain(`started from 2 sample(s) of ${path.basename(file)}`);
    expect(samples(r)).toMatch(/\(3 samples in the 1h window\)/);
    expect(fs.readFileSync(file, 'utf8')).toBe(doc);
  });
});
