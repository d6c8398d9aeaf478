// The state store: file per check and target, atomic writes, bounded history, the lock that keeps
// runs from stacking up (incident 001), recovery from anything broken. Real files, real processes.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { acquireLock, clockTime, lockHost, LockBusy, parseLockInfo, readLockInfo } from '../../lib/plugin/lock.js';
import {
  canonical,
  openState,
  stateBaseName,
  stateDirCandidates,
  stateKey,
  STATE_VERSION,
  tidySamples,
  userStateDir,
  writeAtomic,
  type Sample,
  type StateStoreOptions,
} from '../../lib/plugin/state.js';
import { bundleChild, Child, deadPid, fill, mountTmpfs, removeTempDirs, tempDir, unmount } from '../helpers/state-harness.js';

interface S extends Sample {
  n: number;
}
const isS = (x: unknown): x is S => !!x && typeof x === 'object' && Number.isFinite((x as S).t) && Number.isFinite((x as S).n);

const T0 = Math.floor(Date.now() / 1000);

function opts(dir: string, nowSec: number, extra: Partial<StateStoreOptions<S>> = {}): StateStoreOptions<S> {
  return {
    check: 'test_check',
    what: { mta: 'postfix', spools: ['/var/spool/postfix'] },
    label: ['postfix', '/var/spool/postfix'],
    dir,
    env: {},
    now: () => nowSec * 1000,
    window: 900,
    deadline: nowSec * 1000 + 10_000,
    isSample: isS,
    ...extra,
  };
}

/** One complete run: open, record, release. */
async function run(dir: string, nowSec: number, n: number, extra: Partial<StateStoreOptions<S>> = {}) {
  const st = await openState(opts(dir, nowSec, extra));
  try {
    await st.record({ t: nowSec, n });
    return st;
  } finally {
    await st.release();
  }
}

function readState(file: string) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

afterAll(removeTempDirs);

describe('state key and file name', () => {
  it('depends on the check and what is measured, not on key order', () => {
    const a = stateKey('mailq_growth', { mta: 'postfix', spools: ['/a'] });
    expect(stateKey('mailq_growth', { spools: ['/a'], mta: 'postfix' })).toBe(a);
    expect(stateKey('mailq_growth', { mta: 'postfix', spools: ['/b'] })).not.toBe(a);
    expect(stateKey('spool_disk', { mta: 'postfix', spools: ['/a'] })).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(canonical({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
  });

  it('has a readable prefix', () => {
    expect(stateBaseName('mailq_growth', ['postfix', '/var/spool/postfix'], 'abc123abc123')).toBe('mailq_growth-postfix-var_spool_postfix-abc123abc123');
  });

  it('prefers --state-dir, then the env override, then the default and the per-user dir', () => {
    expect(stateDirCandidates('/x', { MAILQ_CHECKS_STATE_DIR: '/y' }).map((c) => c.dir)).toEqual(['/x']);
    expect(stateDirCandidates(undefined, { MAILQ_CHECKS_STATE_DIR: '/y' }).map((c) => c.dir)).toEqual(['/y']);
    expect(stateDirCandidates(undefined, { HOME: '/home/sensu' }).map((c) => c.dir)).toEqual(['/var/lib/mailq-checks', '/home/sensu/.local/state/mailq-checks']);
    expect(userStateDir({ XDG_STATE_HOME: '/xdg', HOME: '/home/sensu' })).toBe('/xdg/mailq-checks');
  });
});

describe('samples kept between runs', () => {
  it('starts a baseline, writes a versioned 0600 file in a 0700 dir, and removes its lock', async () => {
    const dir = path.join(tempDir(), 'state');
    const st = await run(dir, T0, 5);
    expect(st.notes).toContain('no earlier samples: starting a baseline');
    const doc = readState(st.file);
    expect(doc).toMatchObject({ version: STATE_VERSION, check: 'test_check', what: { mta: 'postfix' }, samples: [{ t: T0, n: 5 }] });
    expect(fs.statSync(st.file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(dir)).toEqual([path.basename(st.file)]);
  });

  it('accumulates samples across runs, oldest first', async () => {
    const dir = tempDir();
    for (let i = 0; i < 4; i++) await run(dir, T0 + i * 60, i);
    const st = await openState(opts(dir, T0 + 240));
    await st.release();
    expect(st.samples.map((s) => s.n)).toEqual([0, 1, 2, 3]);
    expect(st.notes).toEqual([]);
  });

  it('is a bounded ring: only the newest maxSamples are kept', async () => {
    const dir = tempDir();
    for (let i = 0; i < 8; i++) await run(dir, T0 + i * 10, i, { maxSamples: 5 });
    const st = await run(dir, T0 + 80, 8, { maxSamples: 5 });
    expect(readState(st.file).samples.map((s: S) => s.n)).toEqual([4, 5, 6, 7, 8]);
  });

  it('drops samples older than the window, and says when the gap ate them all', async () => {
    const dir = tempDir();
    for (let i = 0; i < 3; i++) await run(dir, T0 + i * 300, i);
    const partly = await openState(opts(dir, T0 + 1000));
    await partly.release();
    expect(partly.samples.map((s) => s.n)).toEqual([1, 2]);
    const gap = await openState(opts(dir, T0 + 3 * 3600));
    await gap.release();
    expect(gap.samples).toEqual([]);
    expect(gap.notes.join('\n')).toMatch(/last sample was 3h ago, older than the window: starting a new baseline/);
  });

  it('drops samples from the future when the clock went back, and keeps going', async () => {
    const dir = tempDir();
    for (let i = 0; i < 4; i++) await run(dir, T0 + i * 60, i);
    const st = await run(dir, T0 + 90, 9);
    expect(st.notes.join('\n')).toMatch(/clock moved back: dropped 2 sample\(s\) newer than now/);
    expect(readState(st.file).samples.map((s: S) => [s.t - T0, s.n])).toEqual([
      [0, 0],
      [60, 1],
      [90, 9],
    ]);
  });

  it('never keeps two samples at the same time (no zero or negative intervals)', () => {
    const r = tidySamples<S>(
      [
        { t: 100, n: 1 },
        { t: 50, n: 0 },
        { t: 100, n: 2 },
        { t: 200, n: 3 },
      ],
      200,
      900,
      500,
    );
    expect(r.samples.map((s) => [s.t, s.n])).toEqual([
      [50, 0],
      [100, 2],
      [200, 3],
    ]);
  });
});

describe('broken state files are moved aside, never a crash', () => {
  const cases: [string, (file: string) => void, RegExp][] = [
    ['truncated JSON', (f) => fs.writeFileSync(f, '{"version":1,"check":"test_check","samp'), /not valid JSON/],
    ['an empty file', (f) => fs.writeFileSync(f, ''), /was empty/],
    ['a newer format', (f) => fs.writeFileSync(f, JSON.stringify({ version: 7, samples: [] })), /written by a newer version \(format 7\)/],
    ['another check', (f) => fs.writeFileSync(f, JSON.stringify({ version: 1, check: 'other', key: 'x', samples: [] })), /belongs to other/],
    ['bad samples', (f) => fs.writeFileSync(f, JSON.stringify({ ...readState(f), samples: [{ t: 'soon' }] })), /malformed samples/],
    ['a directory in its place', (f) => (fs.rmSync(f), fs.mkdirSync(f)), /unreadable \(a directory, not a regular file\)/],
    // A FIFO would block open() (then the process, past -t) until someone writes it: refused unopened.
    ['a FIFO in its place', (f) => (fs.rmSync(f), execFileSync('mkfifo', [f])), /unreadable \(a FIFO, not a regular file\)/],
    // Never followed: a root-run check does not read what an attacker points it at.
    ['a symlink in its place', (f) => (fs.rmSync(f), fs.symlinkSync('/etc/passwd', f)), /unreadable \(ELOOP\)/],
  ];
  it.each(cases)('%s', async (_name, breakIt, why) => {
    const dir = tempDir();
    const first = await run(dir, T0, 1);
    await run(dir, T0 + 60, 2);
    breakIt(first.file);
    const st = await run(dir, T0 + 120, 3);
    const note = st.notes.find((n) => n.startsWith('state file was'))!;
    expect(note).toMatch(why);
    expect(note).toMatch(new RegExp(`moved aside to ${path.basename(first.file)}\\.corrupt-${T0 + 120}; starting a fresh baseline`));
    expect(fs.existsSync(`${first.file}.corrupt-${T0 + 120}`)).toBe(true);
    expect(readState(st.file).samples.map((s: S) => s.n)).toEqual([3]);
  });
});

describe('atomic writes', () => {
  it('leaves the old state whole when the write fails before the rename', async () => {
    const dir = tempDir();
    await run(dir, T0, 1);
    const st = await run(dir, T0 + 60, 2, {
      beforeRename: () => {
        throw Object.assign(new Error('simulated'), { code: 'EIO' });
      },
    });
    expect(st.notes.join('\n')).toMatch(/could not save state .* \(EIO\): this sample is not kept/);
    expect(readState(st.file).samples.map((s: S) => s.n)).toEqual([1]);
    expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('writeAtomic replaces the whole file', async () => {
    const f = path.join(tempDir(), 'x.json');
    fs.writeFileSync(f, 'old'.repeat(1000));
    await writeAtomic(f, 'new');
    expect(fs.readFileSync(f, 'utf8')).toBe('new');
  });
});

describe('the lock', () => {
  it('answers at once that the previous run is still in progress, with its start and pid', async () => {
    const dir = tempDir();
    const first = await openState(opts(dir, T0));
    try {
      // "At once": acquireLock never waits or retries on a live lock; it throws on the first look.
      const err = await openState(opts(dir, T0 + 5)).catch((e) => e);
      expect(err).toBeInstanceOf(LockBusy);
      expect(err.line()).toMatch(new RegExp(`^previous run still in progress since ${clockTime(T0 * 1000)} \\(pid ${process.pid}\\)`));
      expect(err.line()).toContain(`${first.file.replace(/\.json$/, '.lock')}`);
    } finally {
      await first.release();
    }
    const again = await openState(opts(dir, T0 + 6));
    await again.release();
  });

  it('takes over a lock whose process is gone, and says so', async () => {
    const dir = tempDir();
    const st0 = await run(dir, T0, 1);
    const lockFile = st0.file.replace(/\.json$/, '.lock');
    const pid = deadPid();
    fs.writeFileSync(lockFile, JSON.stringify({ pid, host: os.hostname(), started: (T0 + 10) * 1000, deadline: (T0 + 20) * 1000, token: 'dead' }));
    const st = await run(dir, T0 + 15, 2);
    expect(st.notes).toContain(`took over a stale lock from pid ${pid} (started ${clockTime((T0 + 10) * 1000)}; that process is gone)`);
    expect(readState(st.file).samples.map((s: S) => s.n)).toEqual([1, 2]);
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('takes over a lock past its deadline even when its pid exists (frozen run, pid reused)', async () => {
    const dir = tempDir();
    const holder = await openState(opts(dir, T0, { deadline: (T0 + 10) * 1000 }));
    // Within the deadline plus grace it is a live run.
    await expect(openState(opts(dir, T0 + 30))).rejects.toBeInstanceOf(LockBusy);
    const later = await openState(opts(dir, T0 + 60));
    expect(later.notes.join('\n')).toMatch(new RegExp(`took over a stale lock from pid ${process.pid} \\(started ${clockTime(T0 * 1000)}, past its deadline\\)`));
    await later.record({ t: T0 + 60, n: 60 });
    // The frozen run wakes up: it must not overwrite what the later run saved.
    await holder.record({ t: T0 + 1, n: 1 });
    expect(holder.notes).toContain('lock was taken over by a later run: this sample was not saved');
    expect(readState(later.file).samples.map((s: S) => s.n)).toEqual([60]);
    await holder.release();
    // The later run's lock (taken at T0 + 60) is still there: the frozen one removed only its own.
    expect(readLockInfo(later.file.replace(/\.json$/, '.lock'))?.started).toBe((T0 + 60) * 1000);
    await later.release();
  });

  it('treats a lock file it cannot parse as being written, until it is old', async () => {
    const dir = tempDir();
    const lockFile = path.join(dir, 'x.lock');
    fs.writeFileSync(lockFile, '');
    const err = await acquireLock(lockFile, { now: () => Date.now(), deadline: Date.now() + 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(LockBusy);
    expect(err.line()).toMatch(/being written/);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lockFile, old, old);
    const l = await acquireLock(lockFile, { now: () => Date.now(), deadline: Date.now() + 1000 });
    expect(l.notes).toEqual(['took over an unreadable lock file']);
    expect(readLockInfo(lockFile)?.pid).toBe(process.pid);
    await l.release();
  });

  it('clears a takeover guard left by a run killed mid-takeover', async () => {
    const dir = tempDir();
    const lockFile = path.join(dir, 'x.lock');
    fs.writeFileSync(lockFile, JSON.stringify({ pid: deadPid(), host: os.hostname(), started: Date.now(), deadline: Date.now() + 1000, token: 't' }));
    fs.writeFileSync(`${lockFile}.takeover`, '');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(`${lockFile}.takeover`, old, old);
    const l = await acquireLock(lockFile, { now: () => Date.now(), deadline: Date.now() + 1000 });
    expect(l.notes[0]).toMatch(/took over a stale lock from pid \d+/);
    expect(fs.existsSync(`${lockFile}.takeover`)).toBe(false);
    await l.release();
  });

  it('clears at once a fresh takeover guard whose taker (this host) is gone: no 10 s of "still in progress"', async () => {
    const dir = tempDir();
    const lockFile = path.join(dir, 'x.lock');
    fs.writeFileSync(lockFile, JSON.stringify({ pid: deadPid(), host: os.hostname(), started: Date.now(), deadline: Date.now() + 1000, token: 't' }));
    // The guard as a run killed between taking it and removing it leaves it: just now, naming its pid.
    fs.symlinkSync(`${deadPid()}:${lockHost(os.hostname())}`, `${lockFile}.takeover`);
    const l = await acquireLock(lockFile, { now: () => Date.now(), deadline: Date.now() + 1000 });
    expect(l.notes[0]).toMatch(/took over a stale lock from pid \d+/);
    expect(fs.existsSync(`${lockFile}.takeover`)).toBe(false);
    await l.release();
  });

  it('a fresh takeover guard of a live taker is respected: busy, the guard left alone', async () => {
    const dir = tempDir();
    const lockFile = path.join(dir, 'x.lock');
    fs.writeFileSync(lockFile, JSON.stringify({ pid: deadPid(), host: os.hostname(), started: Date.now(), deadline: Date.now() + 1000, token: 't' }));
    fs.symlinkSync(`${process.pid}:${lockHost(os.hostname())}`, `${lockFile}.takeover`);
    const err = await acquireLock(lockFile, { now: () => Date.now(), deadline: Date.now() + 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(LockBusy);
    expect(fs.lstatSync(`${lockFile}.takeover`).isSymbolicLink()).toBe(true);
  });

  it('is a symlink whose target (under 60 bytes: an ext4 fast symlink, no data block) says who holds it', async () => {
    const lockFile = path.join(tempDir(), 'x.lock');
    const l = await acquireLock(lockFile, { now: () => T0 * 1000, deadline: (T0 + 10) * 1000, host: 'a-very-long-host-name.with.many.labels.lab.example' });
    expect(fs.lstatSync(lockFile).isSymbolicLink()).toBe(true);
    const target = fs.readlinkSync(lockFile);
    expect(target.length).toBeLessThan(60);
    expect(parseLockInfo(target)).toEqual({ pid: process.pid, started: T0 * 1000, deadline: (T0 + 10) * 1000, token: l.info.token, host: 'a-very-long-host' });
    // Pointing nowhere: following it opens nothing.
    expect(fs.existsSync(lockFile)).toBe(false);
    await l.release();
    expect(fs.readdirSync(path.dirname(lockFile))).toEqual([]);
  });

  it('is taken, and keeps a second run out, when no file data can be written (every write fails with ENOSPC: a full /var)', async () => {
    const dir = tempDir();
    const enospc = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    const probe = await fsp.open(path.join(dir, 'probe'), 'w');
    const handle = Object.getPrototypeOf(probe) as { writeFile: () => Promise<void>; write: () => Promise<void> };
    await probe.close();
    fs.rmSync(path.join(dir, 'probe'));
    const spies = [vi.spyOn(handle, 'writeFile').mockImplementation(enospc), vi.spyOn(handle, 'write').mockImplementation(enospc), vi.spyOn(fsp, 'writeFile').mockImplementation(enospc)];
    try {
      const first = await openState(opts(dir, T0));
      expect(first.writable).toBe(true);
      await expect(openState(opts(dir, T0 + 5))).rejects.toBeInstanceOf(LockBusy);
      await first.record({ t: T0, n: 1 });
      expect(first.writable).toBe(false);
      expect(first.notes.join('\n')).toMatch(/state not saved this run: .* \(ENOSPC\)/);
      await first.release();
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('takes over at once whatever else is in its place (a FIFO is never opened)', async () => {
    const lockFile = path.join(tempDir(), 'x.lock');
    execFileSync('mkfifo', [lockFile]);
    const l = await acquireLock(lockFile, { now: () => Date.now(), deadline: Date.now() + 1000 });
    expect(l.notes).toEqual(['took over a FIFO in place of the lock file']);
    expect(readLockInfo(lockFile)?.pid).toBe(process.pid);
    await l.release();
  });

  it("still respects an earlier version's lock file (JSON) while its run is alive", async () => {
    const lockFile = path.join(tempDir(), 'x.lock');
    fs.writeFileSync(lockFile, JSON.stringify({ pid: process.pid, host: os.hostname(), started: Date.now(), deadline: Date.now() + 60_000, token: 'legacy' }));
    const err = await acquireLock(lockFile, { now: () => Date.now(), deadline: Date.now() + 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(LockBusy);
    expect(err.line()).toMatch(new RegExp(`previous run still in progress since \\d\\d:\\d\\d:\\d\\d \\(pid ${process.pid}\\)`));
  });
});

describe('with real processes', () => {
  let child: string;
  beforeAll(async () => {
    child = await bundleChild();
  });
  const target = (dir: string) => ({ dir, check: 'test_check', what: { mta: 'postfix', spools: ['/var/spool/postfix'] }, label: ['postfix', '/var/spool/postfix'] });

  it('a second process answers busy at once while the first holds the lock, and runs after it let go', async () => {
    const dir = tempDir();
    const a = new Child(child, ['hold', JSON.stringify(target(dir))]);
    expect((await a.next()).event).toBe('locked');
    // "At once" = without waiting: a holds the lock until a.finish() below, so a b that waited
    // for it would never say 'busy' (the test's timeout is the guard against that hang).
    const b = new Child(child, ['hold', JSON.stringify(target(dir))]);
    const busy = await b.next();
    expect(busy.event).toBe('busy');
    expect(busy.message).toMatch(new RegExp(`^previous run still in progress since \\d\\d:\\d\\d:\\d\\d \\(pid ${a.pid}\\)`));
    expect((await b.exited).code).toBe(3);
    // And this process too.
    await expect(openState(opts(dir, Date.now() / 1000))).rejects.toThrow(`(pid ${a.pid})`);
    a.finish();
    expect((await a.next()).event).toBe('released');
    expect((await a.exited).code).toBe(0);
    const c = new Child(child, ['hold', JSON.stringify(target(dir))]);
    expect((await c.next()).event).toBe('locked');
    c.finish();
    await c.exited;
  });

  it('exactly one of six processes started together gets the lock', async () => {
    const lockFile = path.join(tempDir(), 'race.lock');
    const kids = Array.from({ length: 6 }, () => new Child(child, ['lock', JSON.stringify({ path: lockFile })]));
    const first = await Promise.all(kids.map((k) => k.next()));
    expect(first.filter((e) => e.event === 'locked')).toHaveLength(1);
    expect(first.filter((e) => e.event === 'busy')).toHaveLength(5);
    kids.forEach((k) => k.finish());
    await Promise.all(kids.map((k) => k.exited));
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('removes its lock when the run ends by exit() (the runner hard deadline)', async () => {
    const dir = tempDir();
    const a = new Child(child, ['exit', JSON.stringify(target(dir))]);
    const ev = await a.next();
    expect(ev.event).toBe('locked');
    expect((await a.exited).code).toBe(3);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.lock'))).toEqual([]);
  });

  it('a crash between write and rename leaves the old state; the next run takes over and carries on', async () => {
    const dir = tempDir();
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 3; i++) await run(dir, now - 300 + i * 60, i);
    const file = (await openState(opts(dir, now)).then(async (s) => (await s.release(), s.file)))!;
    const before = fs.readFileSync(file, 'utf8');

    const k = new Child(child, ['crash', JSON.stringify({ ...target(dir), sample: { t: now, n: 99 } })]);
    const ev = await k.next();
    expect(ev.event).toBe('renaming');
    expect((await k.exited).signal).toBe('SIGKILL');
    // The new state was fully written to the temp file, but the old file is what is there, whole.
    expect(JSON.parse(fs.readFileSync(ev.tmp as string, 'utf8')).samples.map((s: S) => s.n)).toEqual([0, 1, 2, 99]);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    expect(readLockInfo(file.replace(/\.json$/, '.lock'))?.pid).toBe(k.pid);

    const st = await run(dir, now + 60, 3);
    expect(st.notes.join('\n')).toMatch(new RegExp(`took over a stale lock from pid ${k.pid} .*that process is gone`));
    expect(readState(file).samples.map((s: S) => s.n)).toEqual([0, 1, 2, 3]);
    expect(fs.readdirSync(dir).sort()).toEqual([path.basename(file)]);
  });
});

describe('where the state lives', () => {
  it('falls back to the per-user dir when the default is not writable, and says so', async () => {
    const blocker = path.join(tempDir(), 'a-file');
    fs.writeFileSync(blocker, '');
    const xdg = tempDir();
    const st = await run('', T0, 1, { dir: undefined, defaultDir: path.join(blocker, 'mailq-checks'), env: { XDG_STATE_HOME: xdg } });
    expect(st.dir).toBe(path.join(xdg, 'mailq-checks'));
    expect(st.notes[0]).toMatch(new RegExp(`^state dir ${blocker}/mailq-checks \\((ENOTDIR|EEXIST)\\) not writable: using ${xdg}/mailq-checks$`));
  });

  it('uses MAILQ_CHECKS_STATE_DIR', async () => {
    const d = tempDir();
    const st = await run('', T0, 1, { dir: undefined, env: { MAILQ_CHECKS_STATE_DIR: d } });
    expect(path.dirname(st.file)).toBe(d);
  });

  it('is UNKNOWN naming the dir when an explicit state dir cannot be used', async () => {
    const blocker = path.join(tempDir(), 'a-file');
    fs.writeFileSync(blocker, '');
    await expect(run(path.join(blocker, 'sub'), T0, 1)).rejects.toThrow(/cannot use state dir .*a-file\/sub from --state-dir \((ENOTDIR|EEXIST)\)/);
  });

  describe('on a full filesystem', () => {
    const m = mountTmpfs(1);
    afterAll(() => {
      if ('dir' in m) unmount(m.dir);
    });
    it.skipIf('skip' in m)(`still reads the history and answers, without saving ${'skip' in m ? `(skipped: ${m.skip})` : ''}`, async () => {
      const dir = (m as { dir: string }).dir;
      for (let i = 0; i < 3; i++) await run(dir, T0 + i * 60, i);
      try {
        fill(path.join(dir, 'ballast'), 2 << 20);
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ENOSPC');
      }
      const st = await run(dir, T0 + 180, 3);
      expect(st.writable).toBe(false);
      expect(st.notes[0]).toMatch(/^state not saved this run: .* \(ENOSPC\)/);
      expect(st.samples.map((s) => s.n)).toEqual([0, 1, 2, 3]);
      expect(readState(st.file).samples.map((s: S) => s.n)).toEqual([0, 1, 2]);
      expect(fs.readdirSync(dir).filter((n) => n.endsWith('.lock'))).toEqual([]);
    });
  });
});
