// Issue 15, replayed through the built binary (dist/, built by .ci/build.mjs) on a real-format Postfix
// spool that the world of the incident tests changes between runs: a healthy deferred queue is a
// sawtooth (90 deferrals a minute, all retried and delivered at each queue run, every 300 s: Postfix's
// queue_run_delay), then the next hop stops taking mail and the deferred queue grows by the same 90 a
// minute. check-mailq-growth --queue deferred -w 50 -c 1000 runs every 60 s +-10% (seeded) in
// scenario time: each run is a real process whose clock is the scenario's (a --require preload that
// offsets Date.now; nothing in the check knows). Expected values are the world's, not the check's.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../../bench/gen/model.js';
import { buildChecks, removeTempDirs, tempDir } from '../helpers/state-harness.js';
import { prng } from '../helpers/prng.js';
import { perfdata } from './harness.js';
import { ordinary, Spool } from './world.js';

afterAll(removeTempDirs, 120_000);

const ONSET = 1_795_000_000;
const PRE = 15 * 60;
const POST = 20 * 60;
const QUEUE_RUN = 300;
const PER_MIN = 90;
const INTERVAL = 60;

interface Run {
  after: number;
  code: number;
  line: string;
  rate?: number;
  deferred: number;
}

describe('check-mailq-growth, built, on a Postfix sawtooth that starts to climb (scenario clock)', () => {
  const runs: Run[] = [];
  beforeAll(async () => {
    const dist = buildChecks();
    const root = tempDir('growth-replay-');
    const state = path.join(root, 'state');
    const clock = path.join(root, 'clock.cjs');
    // The scenario's clock for a real process: Date.now() runs from FAKE_EPOCH_MS on.
    fs.writeFileSync(clock, 'const real = Date.now; const off = Number(process.env.FAKE_EPOCH_MS) - real(); Date.now = () => real() + off;\n');
    const spool = new Spool('postfix', path.join(root, 'spool'), 15);
    const random = rng(15);
    const jitter = prng(15);
    let last = ONSET - PRE - INTERVAL;
    let lastRun = Math.floor(last / QUEUE_RUN);
    for (let k = -PRE / INTERVAL; k <= POST / INTERVAL; k++) {
      const t = Math.round(ONSET + k * INTERVAL + jitter.uniform(-0.1, 0.1) * INTERVAL);
      // Deferrals since the last run, one every 60/PER_MIN s.
      const n = Math.round(((t - last) * PER_MIN) / 60);
      spool.add(n, last, t, () => ordinary(random), 'retry');
      // Queue runs since the last check run: while the next hop works, they deliver all deferred mail.
      for (let q = lastRun + 1; q * QUEUE_RUN + 37 <= t; q++) if (q * QUEUE_RUN + 37 < ONSET) spool.removeArrivedBy(q * QUEUE_RUN + 37, 'retry');
      lastRun = Math.floor((t - 37) / QUEUE_RUN);
      last = t;
      const r = spawnSync(
        process.execPath,
        ['--require', clock, path.join(dist, 'check-mailq-growth.js'), '--mta', 'postfix', '--spool', spool.spoolDir, '--state-dir', state, '--queue', 'deferred', '-w', '50', '-c', '1000'],
        { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: root, FAKE_EPOCH_MS: String(t * 1000) }, timeout: 60_000 },
      );
      expect(r.stderr).toBe('');
      const first = r.stdout.split('\n')[0];
      runs.push({ after: t - ONSET, code: r.status ?? -1, line: first.split(' | ')[0], rate: perfdata(r.stdout).rate, deferred: spool.count('retry') });
      expect(perfdata(r.stdout).total).toBe(spool.count('retry'));
    }
  }, 600_000);

  it('the healthy sawtooth never alerts (the rise between queue runs, 90/min, is not growth)', () => {
    const before = runs.filter((r) => r.after <= 0);
    expect(before.filter((r) => r.code !== 0).map((r) => `${r.after}s ${r.line}`)).toEqual([]);
    // It was a sawtooth: the count went up and down.
    const counts = before.map((r) => r.deferred);
    expect(Math.max(...counts) - Math.min(...counts)).toBeGreaterThan(300);
  });

  it('the climb warns within two queue-run cycles of its onset, and never flaps back', () => {
    const after = runs.filter((r) => r.after > 0);
    const first = after.findIndex((r) => r.code === 1);
    expect(first, after.map((r) => `${r.after}s ${r.line}`).join('\n')).toBeGreaterThanOrEqual(0);
    expect(after[first].after).toBeLessThanOrEqual(2 * QUEUE_RUN);
    expect(after.slice(first).map((r) => r.code)).toEqual(after.slice(first).map(() => 1));
    expect(after[first].line).toMatch(/^MAILQ_GROWTH WARNING - deferred growing \+\d+\/min/);
    if (process.env.SCENARIO_TABLE) console.log(runs.map((r) => `${r.after}s ${r.code} ${r.line}`).join('\n'));
  });

  it('the rate is the world\'s 90/min within 10% once three cycles of the climb are in', () => {
    const settled = runs.filter((r) => r.after > 3 * QUEUE_RUN);
    expect(settled.length).toBeGreaterThan(3);
    for (const r of settled) expect(Math.abs(r.rate! - PER_MIN), r.line).toBeLessThanOrEqual(0.1 * PER_MIN);
  });
});
