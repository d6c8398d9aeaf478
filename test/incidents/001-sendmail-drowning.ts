// Incident 001: a Sendmail relay on RHEL 5 whose /var filled up: a 13 GB mqueue and a 2 GB maillog,
// over 500,000 messages, more than half of them MAILER-DAEMON. `mailq` did not return in 30 minutes,
// `grep qf*` died with "argument list too long", the cron queue check stacked up on itself, and the
// hand-written check tested WARN before CRIT, so CRIT could never fire.
//
// Two replays:
// - In time (in-process, injected clock): /var is a 160 MB tmpfs holding spool/mqueue, log/maillog and
//   40 MB of older logs. One hour of ordinary traffic (300 queued, 5% bounces), then the relay stops
//   delivering: 700 new messages every 15 minutes, 55% of them bounces, until /var is full (about
//   five hours). Checks every 15 minutes, as a relay's Sensu schedule would.
// - At size (real processes, the built checks): a Sendmail queue of 500,000 messages (INCIDENT_FULL=1;
//   50,000 by default), 55% bounces, generated in bulk on a tmpfs. Each check answers (its -t deadline
//   cuts the read, and the answer says so, when the machine is too slow for the whole queue), and a
//   second run started while the first holds its lock answers UNKNOWN without waiting for it. Wall
//   times are recorded for the incident table, never asserted: a run that does not end is killed by
//   HANG_GUARD_MS and fails; speed is `npm run bench`'s business.
// Without root (no tmpfs) the time replay is skipped and the bulk queue is written to an ordinary
// directory.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type GenSummary } from '../../bench/gen-spool.js';
import { readLockInfo } from '../../lib/plugin/lock.js';
import { buildChecks, mountTmpfs, tempDir, unmount } from '../helpers/state-harness.js';
import { defaultsPass } from './defaults.js';
import { head300, measured, replayed, perfdata, timings } from './harness.js';
import { BOUNCE_SHARE, PRE, run001, STEP } from './001-world.js';

export { ONSET_001 } from './001-world.js';
export const FULL = process.env.INCIDENT_FULL === '1';
export const BULK = FULL ? 500_000 : 50_000;
const MB = 1024 * 1024;

/** Kills a built check that has not ended: six times the longest -t used here. A guard against a hang. */
const HANG_GUARD_MS = 120_000;

/** Run a built check as a real process; its output and wall time (for the table). Throws when it had to be killed. */
function runBuilt(dist: string, bin: string, args: string[]): { code: number; out: string; wall: number } {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(dist, `${bin}.js`), ...args], { encoding: 'utf8', timeout: HANG_GUARD_MS });
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.signal) throw new Error(`${bin} did not end (killed by ${r.signal} after ${HANG_GUARD_MS / 1000} s): ${r.stdout.slice(0, 300)}`);
  if (r.stderr) throw new Error(`${bin} wrote to stderr: ${r.stderr}`);
  return { code: r.status ?? -1, out: r.stdout, wall };
}

export function incident001(): void {
  const varFs = mountTmpfs(160);
  const skipTime = 'skip' in varFs ? varFs.skip : '';
  // The defaults pass fills a /var of its own.
  const varFsDefaults = mountTmpfs(160);
  // The bulk queue: ~9 KB of tmpfs per message (a qf and a df page each, some bodies two).
  const bulkFs = mountTmpfs(Math.ceil((BULK * 10 * 1024) / MB) + 64);
  afterAll(() => {
    for (const m of [varFs, varFsDefaults, bulkFs]) if ('dir' in m) unmount(m.dir);
  });

  defaultsPass('001', (variant) => run001((varFsDefaults as { dir: string }).dir, variant), { skip: 'skip' in varFsDefaults ? varFsDefaults.skip : '' });

  describe.skipIf(skipTime)(`incident 001: a Sendmail relay drowning, in time${skipTime ? ` (skipped: ${skipTime})` : ''}`, () => {
    let x: Awaited<ReturnType<typeof run001>>;
    beforeAll(async () => {
      x = await run001((varFs as { dir: string }).dir);
      measured.push(...x.s.rows());
      replayed.push(x.s);
    }, 300_000);

    it('no check alerts before the onset', () => {
      for (const c of x.s.checks) {
        const before = x.s.before(c.key);
        expect(before.length).toBe(PRE + 1);
        expect(before.filter((r) => r.code !== 0).map((r) => `${r.after}s ${r.line}`)).toEqual([]);
      }
    });

    it('/var fills up: the queue stops being accepted', () => {
      expect(x.fullAt, '/var never filled').toBeDefined();
      expect(fs.statfsSync(x.varFs).bavail).toBeLessThan(64);
    });

    it('spool-disk warns on time to full hours before /var is full, then goes CRITICAL before it is', () => {
      const w = x.s.first('disk', 'WARNING')!;
      const c = x.s.first('disk', 'CRITICAL')!;
      expect(w).toBeDefined();
      expect(c).toBeDefined();
      expect(x.s.of('disk').find((r) => r.t === w.t)!.state).toBe('WARNING');
      expect(w.after).toBeLessThanOrEqual(2 * STEP);
      expect(x.fullAt! - w.t).toBeGreaterThanOrEqual(4 * 3600);
      expect(c.t).toBeLessThan(x.fullAt!);
      expect(head300(w.line)).toMatch(/^SPOOL_DISK WARNING - \/var \d+% used \([\d.]+ MB free\), full in ~\d+h\d*m? at \+\d+ MB\/h, spool [\d.]+ MB \(\d+% of used\)$/);
      expect(head300(c.line)).toMatch(/^SPOOL_DISK CRITICAL - \/var \d+% used \([\d.]+ MB free\), full in ~\d+h?\d*m? at \+\d+ MB\/h/);
    });

    it('mailer-daemon warns, then goes CRITICAL once over half the queue is bounces', () => {
      const w = x.s.first('bounces', 'WARNING')!;
      const c = x.s.first('bounces', 'CRITICAL')!;
      expect(w.after).toBe(STEP);
      expect(c.after).toBeGreaterThan(w.after);
      for (const d of [w, c]) expect(head300(d.line)).toMatch(/^MAILER-DAEMON (WARNING|CRITICAL) - \d+(\.\d)?% of [\d,]+ queued are bounces \([\d,]+, 100% in mqueue\), (6\d|7\d)% of them to itsm\.corp\.example$/);
      const run = x.s.of('bounces').find((r) => r.t === c.t)!;
      expect(perfdata(run.out).ratio).toBeGreaterThan(50);
      expect(perfdata(x.s.last('bounces').out).bounces).toBe(x.spool.count('bounce') + x.spool.count('old-bounce'));
    });

    it('depth thresholds in the right order: WARNING past 1,000, CRITICAL past 5,000 (the hand-written check never went CRITICAL)', () => {
      const runs = x.s.of('depth').filter((r) => r.after > 0);
      for (const r of runs) {
        const total = perfdata(r.out).total;
        expect(r.state, `${total} queued`).toBe(total > 5000 ? 'CRITICAL' : total > 1000 ? 'WARNING' : 'OK');
      }
      expect(runs.some((r) => r.code === 2)).toBe(true);
      expect(perfdata(x.s.last('depth').out).total).toBe(x.spool.count());
      expect(head300(x.s.first('depth', 'CRITICAL')!.line)).toMatch(/^MAILQ CRITICAL - [\d,]+ messages queued \(mqueue [\d,]+\), oldest [^;]+; top sender <> \(MAILER-DAEMON\) \(5\d%\)/);
    });

    it('maillog-flood names the bounce storm on the first run after the onset, then the deferrals', () => {
      const w = x.s.first('flood', 'WARNING')!;
      const c = x.s.first('flood', 'CRITICAL')!;
      expect(w.after).toBe(STEP);
      expect(c.after).toBe(STEP);
      expect(head300(c.line)).toMatch(/^MAILLOG_FLOOD CRITICAL - bounces \(null sender\) \d+(\.\d)?\/min \(5\d% of messages\), to corp\.example/);
      const run = x.s.of('flood').find((r) => r.t === c.t)!;
      expect(perfdata(run.out).deferrals_per_min).toBeGreaterThan(30);
    });

    it('growth warns on the second run after onset', () => {
      const w = x.s.first('growth', 'WARNING')!;
      expect(w.after).toBe(2 * STEP);
      expect(head300(w.line)).toMatch(/^MAILQ_GROWTH WARNING - queue growing \+47\/min/);
    });

    it('Graphite plaintext from the spool, as the incident fed its dashboards (servername.mqcount COUNT TIME)', () => {
      const [g] = x.graphite;
      const count = x.s.runs.find((r) => r.key === 'depth' && r.t === g.t)!;
      expect(g.depth).toContain(`relay1.mail.mailq_depth.total ${perfdata(count.out).total} ${g.t}\n`);
      for (const line of g.depth.trimEnd().split('\n')) expect(line).toMatch(/^relay1\.mail\.mailq_depth\.[a-z_]+ \d+ \d+$/);
      expect(g.bounces).toMatch(new RegExp(`^relay1\\.mail\\.mailer_daemon\\.ratio [\\d.]+ ${g.t}$`, 'm'));
    });
  });

  const bulkSkip = 'skip' in bulkFs ? ` (on disk: ${bulkFs.skip})` : '';
  describe(`incident 001 at size: ${BULK.toLocaleString('en-US')} queued messages${FULL ? '' : ' (INCIDENT_FULL=1 for 500,000)'}${bulkSkip}`, () => {
    const T = 20; // -t: the deadline of the README's production command lines (Sensu timeout 30)
    let dist: string;
    let mqueue: string;
    let logDir: string;
    let bulkDir: string;
    let truth: GenSummary;
    const state = tempDir('incident-001-bulk-state-');
    beforeAll(async () => {
      dist = buildChecks();
      const dir = 'dir' in bulkFs ? bulkFs.dir : tempDir('incident-001-bulk-');
      bulkDir = dir;
      truth = generate({ mta: 'sendmail', count: BULK, out: path.join(dir, 'spool'), seed: 500, now: Math.floor(Date.now() / 1000), mix: { flood: 0, bounce: BOUNCE_SHARE, held: 0.005, fresh: 0.01 } });
      mqueue = path.join(dir, 'spool', 'mqueue');
      logDir = path.join(dir, 'log');
      fs.mkdirSync(logDir);
    }, 600_000);

    const record = (check: string, r: { out: string; wall: number }) =>
      timings.push({
        scenario: '001',
        check,
        size: BULK.toLocaleString('en-US'),
        deadline: `${T} s`,
        wall: `${r.wall.toFixed(1)} s`,
        line: r.out.split('\n')[0].split(' | ')[0].split(bulkDir).join('/var').split(state).join('/var/lib/mailq-checks'),
      });

    it('depth with the default -t: CRITICAL naming the culprit on the first run (read cut or not) and on the repeat run (cache)', () => {
      const depthState = tempDir('incident-001-depth-state-');
      const args = ['--mta', 'sendmail', '--spool', mqueue, '--state-dir', depthState, '-w', '1000', '-c', '5000', '--age-warning', '1h', '--age-critical', '12h'];
      for (const run of ['first', 'repeat']) {
        const r = runBuilt(dist, 'check-mailq-depth', args);
        record(`check-mailq-depth (${run} run, default -t)`, r);
        expect(r.code, r.out).toBe(2);
        expect(perfdata(r.out).total).toBe(truth.total);
        // The counts come from the listing; the oldest from the queue IDs; the sender share is exact
        // or, when the deadline cut the read, an estimate with its interval.
        expect(head300(r.out.split('\n')[0])).toMatch(
          new RegExp(`^MAILQ CRITICAL - ${BULK.toLocaleString('en-US')} messages queued \\(mqueue [\\d,]+, quarantine [\\d,]+\\), oldest 1[34]h[^;]*; top sender <> \\(MAILER-DAEMON\\) \\(~?5[456]%`),
        );
        if (!/scan incomplete/.test(r.out)) expect(perfdata(r.out).bounces).toBe(truth.nullSender);
      }
    }, 2 * HANG_GUARD_MS + 10_000);

    it('depth --count-only feeds Graphite the exact total', () => {
      const r = runBuilt(dist, 'check-mailq-depth', ['--mta', 'sendmail', '--spool', mqueue, '-t', String(T), '--count-only', '--format', 'graphite', '--scheme', 'relay1.mail']);
      record('check-mailq-depth --count-only', { ...r, out: r.out.split('\n')[0] });
      expect(r.out).toMatch(new RegExp(`^relay1\\.mail\\.mailq_depth\\.total ${truth.total} \\d+$`, 'm'));
    }, HANG_GUARD_MS + 10_000);

    it('mailer-daemon says over half are bounces', () => {
      const r = runBuilt(dist, 'check-mailer-daemon', ['--mta', 'sendmail', '--spool', mqueue, '-t', String(T), '-w', '20', '-c', '50']);
      record('check-mailer-daemon', r);
      expect(r.code, r.out).toBe(2);
      expect(perfdata(r.out).ratio_low).toBeGreaterThan(50);
      // A sampled estimate: near the truth (its 95% interval misses it 1 run in 20, so not "inside it").
      expect(head300(r.out.split('\n')[0])).toMatch(/^MAILER-DAEMON CRITICAL - \d+\.\d%( ±[\d.]+%)? of [\d,]+ queued are bounces/);
      expect(Math.abs(perfdata(r.out).ratio - (100 * truth.nullSender) / truth.total)).toBeLessThan(3);
    }, HANG_GUARD_MS + 10_000);

    it('growth and spool-disk answer', () => {
      const g = runBuilt(dist, 'check-mailq-growth', ['--mta', 'sendmail', '--spool', mqueue, '-t', String(T), '--state-dir', state]);
      record('check-mailq-growth', g);
      expect(g.out).toMatch(new RegExp(`^MAILQ_GROWTH OK - collecting baseline \\(1 of 3 samples\\), ${BULK.toLocaleString('en-US')} queued`));
      const d = runBuilt(dist, 'check-spool-disk', ['--mta', 'sendmail', '--spool', mqueue, '--path', logDir, '-t', String(T), '--state-dir', state]);
      record('check-spool-disk', d);
      expect(d.code, d.out).not.toBe(3);
    }, 2 * HANG_GUARD_MS + 10_000);

    it('never stacks up: a second run while the first holds its lock answers UNKNOWN at once, and the first finishes normally', async () => {
      for (const [bin, args] of [
        ['check-mailq-growth', ['--mta', 'sendmail', '--spool', mqueue, '-t', String(T), '--state-dir', state]],
        ['check-spool-disk', ['--mta', 'sendmail', '--spool', mqueue, '--path', logDir, '-t', String(T), '--state-dir', state]],
      ] as const) {
        const before = new Set(fs.readdirSync(state));
        // The first run, paused (SIGSTOP) the moment it holds its lock: a run stuck on a full /var.
        const first = spawn(process.execPath, [path.join(dist, `${bin}.js`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out1 = '';
        first.stdout.on('data', (b) => (out1 += b));
        const exited = new Promise<number>((resolve) => first.on('exit', (c) => resolve(c ?? -1)));
        // A guard against a run that never takes its lock, not a speed limit.
        const deadline = Date.now() + 60_000;
        // Taken: the lock (a symlink whose target names its holder) exists and names the run's pid.
        const held = () => {
          const f = fs.readdirSync(state).find((n) => n.endsWith('.lock') && !before.has(n));
          return f !== undefined && readLockInfo(path.join(state, f))?.pid === first.pid;
        };
        let lock = false;
        // Polled every 5 ms, not in a setImmediate spin that would take a core from the run it waits for.
        while (!(lock = held()) && Date.now() < deadline && first.exitCode === null) await new Promise((r) => setTimeout(r, 5));
        expect(lock, `${bin} never took its lock (exit ${first.exitCode}: ${out1})`).toBe(true);
        process.kill(first.pid!, 'SIGSTOP');
        try {
          const second = runBuilt(dist, bin, [...args]);
          record(`${bin}, second run while the first holds its lock`, second);
          expect(second.code).toBe(3);
          expect(second.out).toMatch(new RegExp(`^[A-Z_]+ UNKNOWN - previous run still in progress since \\d\\d:\\d\\d:\\d\\d \\(pid ${first.pid}\\): not starting a second one`));
          // It did not wait: the first run is stopped, so a second run that waited for the lock would never answer.
        } finally {
          process.kill(first.pid!, 'SIGCONT');
        }
        expect(await exited).not.toBe(3);
        expect(out1).not.toMatch(/UNKNOWN/);
      }
    }, 2 * HANG_GUARD_MS + 70_000);
  });
}
