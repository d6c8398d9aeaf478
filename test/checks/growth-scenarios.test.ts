// check-mailq-growth run after run as a scheduler runs it (issue 15): every queue shape of
// growth-scenarios.ts at 10 s, 30 s, 1 m and 5 m intervals, without and with +-10% jitter (seeded),
// through evaluateGrowth with the state carried over as the real run carries it. Each row: the
// expected verdict sequence, state changes counted (0 for a steady condition), the rate within 10%
// of the generator's true rate from the third sample in the regime on.
import { describe, expect, it } from 'vitest';
import { State } from '../../lib/plugin/result.js';
import { drive, flaps, growthOptions, judgeRuns, schedule, shapes, type Verdict } from './growth-scenarios.js';

const INTERVALS = [10, 30, 60, 300];
const JITTERS = [0, 0.1];
const LENGTH = 2400;

const rows: { name: string; interval: number; jitter: number; v: Verdict }[] = [];

describe.each(shapes(15).map((s) => [s.name, s] as const))('%s', (_name, shape) => {
  it.each(INTERVALS.flatMap((i) => JITTERS.map((j) => [i, j] as const)))('every %ss, jitter %s', (interval, jitter) => {
    const times = schedule(interval, jitter, shape.length ?? LENGTH, 1000 + interval + Math.round(jitter * 100), shape.gap);
    const runs = drive(shape, times);
    const v = judgeRuns(shape, runs, interval);
    rows.push({ name: shape.name, interval, jitter, v });
    expect(v.why).toEqual([]);
  });
});

describe('the issue 15 example: every 30 s +-3 s, --queue deferred -w 50 -c 1000, four quiet minutes, then +100/min', () => {
  it.each([1, 2, 3, 4, 5])('seed %i: WARNING from within 3 runs of onset, never back to OK, rate within 10%%', (seed) => {
    const onset = 240;
    const shape = { ...shapes(seed)[1], y: (s: number) => 200 + Math.max(0, s - onset) * (100 / 60), rate: (s: number) => (s > onset ? 100 : 0), onset, expect: { kind: 'alert' as const, from: onset, within: 3 } };
    const runs = drive(shape, schedule(30, 0.1, onset + 900, seed));
    const after = runs.filter((r) => r.s > onset);
    const first = after.findIndex((r) => r.state === State.WARNING);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(3);
    expect(after.slice(first).every((r) => r.state === State.WARNING)).toBe(true);
    // One change (OK to WARNING), or none when the baseline (one queue run, 5m) ends after the onset.
    expect(flaps(runs)).toBeLessThanOrEqual(1);
    for (const r of after.slice(2)) expect(Math.abs(r.rate! - 100)).toBeLessThanOrEqual(10);
    expect(judgeRuns(shape, runs, 30).why).toEqual([]);
  });
});

describe('hysteresis', () => {
  const steady = (perMin: number) => ({ ...shapes(1)[1], y: (s: number) => 200 + Math.max(0, s - 600) * (perMin / 60) });
  it('a rate just past the threshold, then just under it (45/min, inside the 20% margin): stays WARNING', () => {
    const shape = { ...steady(0), y: (s: number) => 200 + (s < 600 ? 0 : s < 1200 ? (s - 600) * (60 / 60) : 600 + (s - 1200) * (45 / 60)) };
    const runs = drive(shape, schedule(30, 0.1, 2400, 7));
    const after = runs.filter((r) => r.s > 700);
    expect(after.every((r) => r.state === State.WARNING)).toBe(true);
    expect(after.at(-1)!.summary).toMatch(/held until below \+40\/min/);
  });
  it('recovery is prompt: a rise that stops is OK within 3 runs, and stays OK', () => {
    const shape = { ...steady(0), y: (s: number) => 200 + (s < 600 ? 0 : Math.min(s - 600, 600) * (100 / 60)) };
    const runs = drive(shape, schedule(30, 0.1, 2400, 8));
    const stop = runs.filter((r) => r.s > 1200);
    const ok = stop.findIndex((r) => r.state === State.OK);
    expect(ok).toBeGreaterThanOrEqual(0);
    expect(ok).toBeLessThan(3);
    expect(stop.slice(ok).every((r) => r.state === State.OK)).toBe(true);
  });
  it('a rate sitting on the threshold with noise never flaps', () => {
    const r = Array.from({ length: 400 }, (_, i) => i);
    void r;
    const shape = { ...steady(52), y: (s: number) => 200 + Math.max(0, s - 600) * (52 / 60) + 3 * Math.sin(s / 7) };
    const runs = drive(shape, schedule(30, 0.1, 3600, 9), growthOptions());
    expect(flaps(runs)).toBeLessThanOrEqual(1);
  });
});

describe('scenario table (printed for the report)', () => {
  it('ran every row', () => {
    expect(rows.length).toBe(shapes(15).length * INTERVALS.length * JITTERS.length);
    const fmt = (v: Verdict) => `${v.ok ? 'ok' : 'FAIL'} flaps=${v.flaps}${v.runsToAlert !== undefined ? ` alert@${v.runsToAlert}` : ''}${v.maxRateError !== undefined ? ` err=${(v.maxRateError * 100).toFixed(1)}%` : ''}`;
    if (process.env.SCENARIO_TABLE) for (const r of rows) console.log(`| ${r.name} | ${r.interval}s | ±${r.jitter * 100}% | ${fmt(r.v)} |${r.v.ok ? '' : ` ${r.v.why[0]}`}`);
  });
});
