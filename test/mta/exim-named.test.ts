// Exim named queues (Exim >= 4.88: ACL `queue = bulk`, <spool>/bulk/input/), on the real spools
// captured from Debian 12's exim4 4.96 (test/fixtures/mta/exim-named, flat; exim-named-split,
// split_spool_directory), compared with what Exim itself listed at capture time: `exim -bp` (the
// default queue only) and `exim -bp -qGbulk` (the named queue), `exim -bpc [-qGbulk]`, and
// `exim -bP spool_directory`. Then the driver's rules on constructed spools: what is and is not a
// named queue, a queue that vanishes mid-scan, symlinked queues, the bound, no stat per message.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { growthCheck } from '../../lib/checks/mailq-growth.js';
import {
  checkEximConfig,
  exim,
  eximListingCommands,
  locateEximSpools,
  eximSpoolLayout,
  MAX_NAMED_QUEUES,
  parseEximBp,
  parseEximBpc,
  parseEximSpoolDirectory,
  resolveEximSpools,
} from '../../lib/mta/exim.js';
import type { SkippedPath } from '../../lib/mta/skipped.js';
import type { QueueEntry, QueuedMessage, SpoolScanContext } from '../../lib/mta/types.js';
import { collectQueue } from '../../lib/queue/source.js';
import { fixtureCases, type FixtureCase } from '../helpers/fixtures.js';
import { runSpec } from '../helpers/run.js';

const never = new AbortController().signal;
const CASES = fixtureCases().filter((c) => c.name === 'exim-named' || c.name === 'exim-named-split');

function walk(spool: string, extra: Partial<SpoolScanContext> = {}) {
  const skipped: SkippedPath[] = [];
  const queues: string[] = [];
  const entries: QueueEntry[] = [...exim.listEntries(spool, { signal: never, onSkipped: (s) => skipped.push(s), onQueue: (q) => queues.push(q), ...extra })];
  return { entries, skipped, queues };
}

const json = async (argv: string[], nowSec: number) => {
  const r = await runSpec(depthCheck, ['--format', 'json', ...argv], nowSec);
  return { ...JSON.parse(r.out), code: r.code } as { status: string; code: number; summary: string; details: string[]; metrics: { label: string; value: number }[] };
};
const metric = (o: { metrics: { label: string; value: number }[] }, label: string) => o.metrics.find((m) => m.label === label)?.value;

it('the named-queue captures are there', () => {
  expect(CASES.map((c) => c.name)).toEqual(['exim-named', 'exim-named-split']);
  for (const c of CASES) expect(c.namedQueues).toEqual(['bulk']);
});

describe.each(CASES.map((c) => [c.name, c] as const))('%s: the driver vs exim -bp and exim -bp -qGbulk', (_name, c: FixtureCase) => {
  const root = c.spools[0];
  const text = (f: string) => fs.readFileSync(path.join(c.dir, 'listing', f), 'latin1');
  const now = c.capturedAt * 1000;
  const listedDefault = parseEximBp(text('exim-bp.txt'), { now });
  const listedBulk = parseEximBp(text('exim-bp-qGbulk.txt'), { now, label: 'bulk' });
  const truth = c.manifest.listingCounts ?? c.manifest.expected;
  let entries: QueueEntry[] = [];
  let read: QueuedMessage[] = [];

  beforeAll(() => {
    entries = walk(root).entries;
    read = entries.map((e) => exim.readMessage(e)).filter((m): m is QueuedMessage => m !== null);
  });

  it('lists the IDs of each queue that Exim lists for it, as many as exim -bpc counts', () => {
    const ids = (q: string) => entries.filter((e) => e.queue === q).map((e) => e.id).sort();
    expect(ids('input')).toEqual(listedDefault.map((m) => m.id).sort());
    expect(ids('bulk')).toEqual(listedBulk.map((m) => m.id).sort());
    expect(ids('input')).toHaveLength(parseEximBpc(text('exim-bpc.txt'))!);
    expect(ids('bulk')).toHaveLength(parseEximBpc(text('exim-bpc-qGbulk.txt'))!);
    // The old driver's view: `exim -bp` alone, the named queue unseen.
    expect(listedDefault.length).toBeLessThan(truth.total);
  });

  it('reads sender, recipients, frozen mark and arrival as the listings show them', () => {
    const listed = new Map([...listedDefault, ...listedBulk].map((m) => [m.id, m]));
    expect(read).toHaveLength(listed.size);
    for (const m of read) {
      const l = listed.get(m.id)!;
      expect(m.sender, m.id).toBe(l.sender);
      expect(m.recipients, m.id).toEqual(l.recipients);
      expect(m.queue, m.id).toBe(l.queue); // frozen wherever it is; else input or bulk
      expect(Math.abs(m.arrival! - l.arrival!), m.id).toBeLessThanOrEqual(l.arrivalPrecision ?? 0);
    }
    expect(read.filter((m) => m.queue === 'frozen')).toHaveLength(truth.byQueue.frozen);
  });

  it('spool and command mode count every queue as the capture listed it', async () => {
    const opts = { signal: never, deadline: Infinity, now: () => now, timeout: 10 };
    const spool = await collectQueue({ mta: 'exim', source: 'spool', spools: [root], countOnly: false }, opts);
    const command = await collectQueue({ mta: 'exim', source: 'command', spools: [root], countOnly: false, listingFiles: c.listingFiles }, opts);
    const want = { input: truth.byQueue.deferred, frozen: truth.byQueue.frozen, bulk: truth.byQueue.bulk };
    expect(spool.summary.byQueue).toEqual(want);
    expect(command.summary.byQueue).toEqual(want);
    expect(command.commands).toEqual(['exim -bp', 'exim -bp -qGbulk']);
    expect(command.partial).toBeUndefined();
    for (const s of [spool.summary, command.summary]) {
      expect(s.total).toBe(truth.total);
      expect(s.nullSender).toBe(truth.nullSender);
      expect(s.recipients).toBe(truth.recipients);
    }
    expect(spool.summary.senders.top(50)).toEqual(command.summary.senders.top(50));
    expect(spool.summary.recipientAddresses.top(50)).toEqual(command.summary.recipientAddresses.top(50));
  });

  it('--queue bulk thresholds the named queue alone and names its own top sender', async () => {
    const bulk = listedBulk.filter((m) => m.queue === 'bulk');
    for (const source of ['spool', 'command']) {
      const files = source === 'command' ? ['--source', 'command', ...c.listingFiles.flatMap((f) => ['--listing-file', f])] : [];
      const o = await json(['--mta', 'exim', '--spool', root, ...files, '--queue', 'bulk', '-w', String(bulk.length - 1)], c.capturedAt);
      expect(o.status, source).toBe('WARNING');
      expect(metric(o, 'bulk')).toBe(bulk.length);
      expect(o.summary).toContain(`${bulk.length} in bulk of ${truth.total} queued`);
      const senders = new Map<string, number>();
      for (const m of bulk) senders.set(m.sender || '<>', (senders.get(m.sender || '<>') ?? 0) + 1);
      const most = Math.max(...senders.values());
      const named = /top sender (\S+)/.exec(o.summary)?.[1];
      expect(senders.get(named === '<>' ? '<>' : named!)).toBe(most);
    }
  });

  it('--count-only counts the named queue (its frozen message included) and the default queue as input+frozen', async () => {
    const o = await json(['--mta', 'exim', '--spool', root, '--count-only'], c.capturedAt);
    expect(metric(o, 'total')).toBe(truth.total);
    expect(metric(o, 'bulk')).toBe(listedBulk.length);
    expect(o.summary).toContain(`input+frozen ${listedDefault.length}`);
    const sel = await json(['--mta', 'exim', '--spool', root, '--count-only', '--queue', 'bulk', '-c', String(listedBulk.length - 1)], c.capturedAt);
    expect(sel.status).toBe('CRITICAL');
    expect(metric(sel, 'bulk')).toBe(listedBulk.length);
  });

  it('check-mailq-growth takes --queue bulk', async () => {
    const r = await runSpec(growthCheck, ['--format', 'json', '--mta', 'exim', '--spool', root, '--queue', 'bulk'], c.capturedAt);
    const o = JSON.parse(r.out);
    expect(o.status, o.summary).not.toBe('UNKNOWN');
    expect(o.details.join('\n')).toContain(`bulk`);
    const typo = await runSpec(growthCheck, ['--mta', 'exim', '--spool', root, '--queue', 'blk'], c.capturedAt);
    expect(typo.code).toBe(3);
    expect(typo.out).toMatch(/no exim queue 'blk' found/);
  });

  it('exim -bP spool_directory as captured names the live spool', () => {
    expect(parseEximSpoolDirectory(text('exim-bP-spool_directory.txt'))).toBe((c.manifest as unknown as { liveSpool: string }).liveSpool);
  });
});

describe('--queue names', () => {
  const c = CASES[0];
  it('a named queue the spool does not have is UNKNOWN, not 0 (spool and command mode)', async () => {
    const files = c.listingFiles.flatMap((f) => ['--listing-file', f]);
    for (const mode of [[], ['--source', 'command', ...files]]) {
      const o = await json(['--mta', 'exim', '--spool', c.spools[0], ...mode, '--queue', 'blk'], c.capturedAt);
      expect(o.code).toBe(3);
      expect(o.summary).toMatch(/no exim queue 'blk' found.*bulk/);
    }
  });
  it.each(['a/b', '../input', '-x', '.hidden', 'x'.repeat(65)])('refuses %j before reading anything', async (q) => {
    const o = await json(['--mta', 'exim', '--spool', '/nonexistent', `--queue=${q}`], c.capturedAt);
    expect(o.code).toBe(3);
    expect(o.summary).toContain(`unknown queue '${q}' for exim`);
  });
});

// ---------------------------------------------------------------------------------------------
// exim -bP and the listing commands

describe('spool from Exim\'s own configuration', () => {
  it('parses exim -bP output, and refuses what is no directory', () => {
    expect(parseEximSpoolDirectory('spool_directory = /var/spool/exim4\n')).toBe('/var/spool/exim4');
    expect(parseEximSpoolDirectory('spool_directory = $spool\n')).toBeUndefined();
    expect(parseEximSpoolDirectory('spool_directory = relative/x\n')).toBeUndefined();
    expect(parseEximSpoolDirectory('spool_directory is not a known option\n')).toBeUndefined();
    expect(parseEximSpoolDirectory('')).toBeUndefined();
  });

  it('asks exim, then exim4, else falls back to the Debian layout', async () => {
    const calls: string[][] = [];
    const answer = (out: string | undefined) => async (file: string, args: string[]) => {
      calls.push([file, ...args]);
      return out === undefined || file === 'exim' ? { stdout: '', failed: true } : { stdout: out, failed: false };
    };
    expect(await resolveEximSpools(undefined, answer('spool_directory = /srv/exim/spool\n'))).toEqual(['/srv/exim/spool']);
    expect(calls).toEqual([
      ['exim', '-bP', 'spool_directory'],
      ['exim4', '-bP', 'spool_directory'],
    ]);
    const fallback = exim.defaultSpools.find((s) => fs.existsSync(s)) ?? exim.defaultSpools[0];
    expect(await resolveEximSpools(undefined, answer(undefined))).toEqual([fallback]);
    expect(await resolveEximSpools(['/x'], answer('spool_directory = /y\n'))).toEqual(['/x']);
  });

  it('runs a real exim -bP (a stand-in script on PATH) and stops reading at its answer', async () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'exim-bin-'));
    const oldPath = process.env.PATH;
    try {
      // The answer, then output that never ends: the read stops at the answer and the child is killed.
      fs.writeFileSync(path.join(bin, 'exim'), '#!/bin/sh\n[ "$1 $2" = "-bP spool_directory" ] || exit 2\necho "spool_directory = /srv/exim-lab"\nexec yes "1xYQBp-0000ia-15 <x@y>"\n', { mode: 0o755 });
      process.env.PATH = `${bin}:${oldPath}`;
      expect(await resolveEximSpools()).toEqual(['/srv/exim-lab']);
      fs.writeFileSync(path.join(bin, 'exim'), '#!/bin/sh\necho "exim: permission denied" >&2\nexit 1\n', { mode: 0o755 });
      expect(await resolveEximSpools()).toEqual([exim.defaultSpools.find((d) => fs.existsSync(d)) ?? exim.defaultSpools[0]]);
    } finally {
      process.env.PATH = oldPath;
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  it('lists each named queue of the spool and each --queue name with its own exim -bp -qG<name>', () => {
    const root = CASES[0].spools[0];
    expect(eximListingCommands(root).map((c) => [c.args.join(' '), c.label])).toEqual([
      ['-bp', undefined],
      ['-bp -qGbulk', 'bulk'],
    ]);
    // A --queue name the spool does not have is not listed (exim -bp -qGnosuch prints nothing, exit 0).
    expect(eximListingCommands(root, ['news']).map((c) => c.args.join(' '))).toEqual(['-bp', '-bp -qGbulk']);
    expect(eximListingCommands('/nonexistent', ['frozen', 'news']).map((c) => c.args.join(' '))).toEqual(['-bp']);
    expect(eximListingCommands(root, [], '/etc/exim4/out.conf')[1].args).toEqual(['-C', '/etc/exim4/out.conf', '-bp', '-qGbulk']);
    expect(exim.listingGap!(root)).toBeUndefined();
    expect(exim.listingGap!('/nonexistent')).toBeUndefined(); // no spool: no queue of any name
  });

  it('--config FILE: the spool exim -C FILE -bP names; a file that names none, or is missing, is UNKNOWN', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exim-conf-'));
    try {
      const conf = path.join(dir, 'out.conf');
      fs.writeFileSync(conf, 'spool_directory = /srv/exim-out\n');
      const calls: string[][] = [];
      const run = async (file: string, args: string[]) => {
        calls.push([file, ...args]);
        return { stdout: 'spool_directory = /srv/exim-out\n', failed: false };
      };
      expect(await locateEximSpools({ config: conf }, run)).toEqual({ spools: ['/srv/exim-out'], notes: [`spool /srv/exim-out from exim -C ${conf} -bP spool_directory`] });
      expect(calls).toEqual([['exim', '-C', conf, '-bP', 'spool_directory']]);
      await expect(locateEximSpools({ config: conf }, async () => ({ stdout: '', failed: true }))).rejects.toThrow(/named no spool directory/);
      await expect(locateEximSpools({ config: path.join(dir, 'none.conf') }, run)).rejects.toThrow(/cannot read Exim configuration .*ENOENT/);
      await expect(locateEximSpools({ config: dir }, run)).rejects.toThrow(/is not a regular file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a privileged run gives exim -C only a configuration root alone can write', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exim-conf-'));
    try {
      const conf = path.join(dir, 'out.conf');
      fs.writeFileSync(conf, 'spool_directory = /srv/exim-out\n');
      fs.chmodSync(conf, 0o644);
      const asRoot = () => true;
      // Root-owned 0644 in a root-owned 0700 directory (the test runs as root; as another user the
      // file is not root's, which the next rows cover).
      if (process.getuid?.() === 0) expect(() => checkEximConfig(conf, asRoot)).not.toThrow();
      else expect(() => checkEximConfig(conf, asRoot)).toThrow(/not root's alone/);
      fs.chmodSync(conf, 0o666);
      expect(() => checkEximConfig(conf, asRoot)).toThrow(/not root's alone/);
      expect(() => checkEximConfig(conf, () => false)).not.toThrow(); // exim drops root for -C itself
      fs.chmodSync(conf, 0o644);
      fs.chmodSync(dir, 0o777);
      expect(() => checkEximConfig(conf, asRoot)).toThrow(/not root's alone/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  afterEach(() => vi.restoreAllMocks());

  it('says the named queues are unknown when the spool root cannot be listed (command mode, never a silent 0)', async () => {
    const c = CASES[0];
    const real = fs.opendirSync;
    vi.spyOn(fs, 'opendirSync').mockImplementation((p, o) => {
      if (p === c.spools[0]) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      return real(p, o);
    });
    expect(exim.listingGap!(c.spools[0])).toMatch(/^Exim named queues unknown \(cannot list .*: EACCES\)/);
    // What --queue names is listed then (exim reads the spool itself); the rest stays unknown.
    expect(eximListingCommands(c.spools[0], ['bulk', 'input']).map((x) => x.args.join(' '))).toEqual(['-bp', '-bp -qGbulk']);
    const only = c.listingFiles.filter((f) => !f.startsWith('bulk='));
    const o = await json(['--mta', 'exim', '--source', 'command', '--spool', c.spools[0], ...only.flatMap((f) => ['--listing-file', f])], c.capturedAt);
    expect(o.status).toBe('UNKNOWN');
    expect(o.summary).toMatch(/Exim named queues unknown/);
    expect(metric(o, 'total')).toBeUndefined(); // a lower bound is not graphed as the total
  });
});

// ---------------------------------------------------------------------------------------------
// Constructed spools: copies of the real one, then changed.

describe('what is a named queue, and hostile spools', () => {
  let tmp: string;
  const real = CASES[0];
  const bulkIds = () => fs.readdirSync(path.join(real.spools[0], 'bulk', 'input')).filter((n) => n.endsWith('-H'));
  const copy = (name: string) => {
    const d = path.join(tmp, name);
    fs.cpSync(real.spools[0], d, { recursive: true });
    return d;
  };
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'exim-named-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());

  it('db/, msglog/, scan/, dot-directories and directories without input/ are not queues', () => {
    const s = copy('layout');
    for (const d of ['db/input', 'msglog/input', 'scan/input', '.snap/input', 'notaqueue']) fs.mkdirSync(path.join(s, d), { recursive: true });
    fs.writeFileSync(path.join(s, 'db', 'input', '1xYQBp-0000ia-15-H'), 'x');
    fs.writeFileSync(path.join(s, 'notaqueue', 'input'), 'a file, not a directory');
    fs.mkdirSync(path.join(s, 'empty', 'input'), { recursive: true });
    expect(eximSpoolLayout(s)).toEqual({ defaultInput: true, named: ['bulk', 'empty'], skipped: [] });
    const w = walk(s);
    expect(w.queues).toEqual(['bulk', 'empty']);
    expect(w.entries.filter((e) => e.queue === 'bulk')).toHaveLength(bulkIds().length);
  });

  it('an empty named queue is counted as 0; a spool with named queues only and no input/ is no error', async () => {
    const s = copy('onlynamed');
    fs.rmSync(path.join(s, 'input'), { recursive: true });
    fs.mkdirSync(path.join(s, 'idle', 'input'), { recursive: true });
    const r = await collectQueue({ mta: 'exim', source: 'spool', spools: [s], countOnly: false }, { signal: never, deadline: Infinity, now: () => real.capturedAt * 1000, timeout: 10 });
    expect(r.summary.byQueue).toMatchObject({ input: 0, bulk: bulkIds().length - 1, frozen: 1, idle: 0 });
    const counted = await collectQueue({ mta: 'exim', source: 'spool', spools: [s], countOnly: true }, { signal: never, deadline: Infinity, now: () => real.capturedAt * 1000, timeout: 10 });
    expect(counted.summary.byQueue).toMatchObject({ bulk: bulkIds().length, idle: 0 });
    // Neither input/ nor a named queue: the wrong-spool error it always was.
    fs.mkdirSync(path.join(tmp, 'nothing'));
    expect(() => walk(path.join(tmp, 'nothing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('a named queue that vanishes mid-scan is left out, no error', () => {
    const s = copy('vanish');
    fs.cpSync(path.join(s, 'bulk'), path.join(s, 'later'), { recursive: true });
    const seen: QueueEntry[] = [];
    let removed = false;
    for (const e of exim.listEntries(s, { signal: never })) {
      seen.push(e);
      if (!removed && e.queue === 'bulk') {
        // Between the root's readdir and the walk of `later`: the queue directory goes.
        fs.rmSync(path.join(s, 'later'), { recursive: true });
        removed = true;
      }
    }
    expect(removed).toBe(true);
    expect(seen.filter((e) => e.queue === 'later')).toEqual([]);
    expect(seen.filter((e) => e.queue === 'bulk')).toHaveLength(bulkIds().length);
  });

  it('a named queue whose input/ goes between the root listing and its walk: left out, not reported as 0', () => {
    const s = copy('vanish2');
    const realOpen = fs.opendirSync;
    vi.spyOn(fs, 'opendirSync').mockImplementation((p, o) => {
      if (p === `${s}/bulk/input`) fs.rmSync(path.join(s, 'bulk'), { recursive: true, force: true });
      return realOpen(p, o);
    });
    const w = walk(s);
    expect(w.queues).toEqual([]);
    expect(w.entries.every((e) => e.queue === 'input')).toBe(true);
  });

  it('a symlinked named queue is not followed: reported as skipped (Exim follows it), on line one', async () => {
    const s = copy('linked');
    const elsewhere = path.join(tmp, 'elsewhere');
    fs.cpSync(path.join(s, 'bulk'), elsewhere, { recursive: true });
    fs.symlinkSync(elsewhere, path.join(s, 'bulk2'));
    fs.mkdirSync(path.join(s, 'bulk3'));
    fs.symlinkSync(path.join(elsewhere, 'input'), path.join(s, 'bulk3', 'input'));
    fs.symlinkSync('/nonexistent', path.join(s, 'dangling'));
    const w = walk(s);
    expect(w.queues).toEqual(['bulk']);
    expect(w.entries.some((e) => e.path.startsWith(elsewhere) || e.path.includes('/bulk2/') || e.path.includes('/bulk3/'))).toBe(false);
    expect(w.skipped).toEqual([
      { path: `${s}/bulk3/input`, why: 'symlink', files: 0, mtaSees: true, target: path.join(elsewhere, 'input') },
      { path: `${s}/bulk2`, why: 'symlink', files: 0, mtaSees: true, target: elsewhere },
    ]);
    const o = await json(['--mta', 'exim', '--spool', s], real.capturedAt);
    expect(o.summary).toMatch(/2 symlinks \(.*\) not followed: the messages there are not counted/);
    expect(o.details.join('\n')).toContain(`bulk2 -> ${elsewhere}: symlink not followed (Exim follows it: the messages there are not counted)`);
  });

  it(`counts at most ${MAX_NAMED_QUEUES} named queues a spool and says the rest are not counted`, async () => {
    const s = copy('many');
    // bulk and q000 ... q101: the first 100 by name are counted.
    for (let i = 0; i < MAX_NAMED_QUEUES + 2; i++) fs.mkdirSync(path.join(s, `q${String(i).padStart(3, '0')}`, 'input'), { recursive: true });
    const layout = eximSpoolLayout(s);
    expect(layout.named).toHaveLength(MAX_NAMED_QUEUES);
    expect(layout.named[0]).toBe('bulk');
    expect(layout.skipped.map((x) => [path.basename(x.path), x.why])).toEqual([
      ['q099', 'queue-limit'],
      ['q100', 'queue-limit'],
      ['q101', 'queue-limit'],
    ]);
    const o = await json(['--mta', 'exim', '--spool', s, '--count-only'], real.capturedAt);
    expect(o.summary).toContain('3 more named queues not read: the messages there are not counted');
    expect(metric(o, 'bulk')).toBe(bulkIds().length);
    expect(metric(o, 'q000')).toBe(0);
  });

  it('no stat per message: one lstat per spool-root subdirectory, none per queue file', () => {
    const s = copy('stats');
    const lstat = vi.spyOn(fs, 'lstatSync');
    const stat = vi.spyOn(fs, 'statSync');
    const w = walk(s);
    expect(w.entries.length).toBeGreaterThan(10);
    // bulk/input, msglog is skipped by name: one lstat, no stat.
    expect(lstat.mock.calls.map((c) => String(c[0]))).toEqual([`${s}/bulk/input`]);
    expect(stat).not.toHaveBeenCalled();
  });
});
