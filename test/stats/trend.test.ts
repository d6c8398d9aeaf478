// The trend engine (lib/stats/trend.ts) and its parts, on seeded random lines: the expected slope is
// the generator's, never the code's. Then the sequences the engine must read right.
import { describe, expect, it } from 'vitest';
import { neighbourResiduals, noiseScale, segments, spikes } from '../../lib/stats/changepoint.js';
import { heldState, holdRange } from '../../lib/stats/hysteresis.js';
import { mad, median, theilSen } from '../../lib/stats/theil-sen.js';
import { cleanSeries, timeToReach, trend } from '../../lib/stats/trend.js';
import { parseRange } from '../../lib/plugin/range.js';
import { State } from '../../lib/plugin/result.js';
import { prng } from '../helpers/prng.js';

const T = 1_795_000_000;
// precision: a rate known to 1/min is known well enough (growth passes 10% of -w).
const O = { minSamples: 3, minSpan: 60, resolution: 1, precision: 1 / 60 };

/** n samples of slope (per second) + noise, at interval +- jitter, one outlier at `outlierAt` when given. */
function line(seed: number, n: number, slope: number, sd: number, interval = 30, outlierAt?: number, outlier = 5000) {
  const r = prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const t = T + i * interval + r.uniform(-0.1, 0.1) * interval;
    return { t, y: 1000 + slope * (t - T) + r.gauss(sd) + (i === outlierAt ? outlier : 0) };
  });
}

describe('Theil-Sen, median, MAD (seeded properties)', () => {
  it('median and MAD of known values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(mad([1, 1, 1, 1, 100])).toBe(0);
    expect(mad([1, 2, 3, 4, 5])).toBeCloseTo(1.4826, 4);
  });

  it('a noisy line with one wild sample anywhere: the slope within 10% of the true one, 200 seeds', () => {
    let worst = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const r = prng(seed);
      const slope = r.uniform(0.5, 5); // 30 to 300 per minute
      const pts = line(seed, 20, slope, 3, 30, Math.floor(r.uniform(0, 20)));
      const est = theilSen(pts)!;
      worst = Math.max(worst, Math.abs(est - slope) / slope);
    }
    expect(worst).toBeLessThan(0.1);
  });

  it('invariant under reordering of the samples, shifts of time and level, and scaling', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const r = prng(seed);
      const pts = line(seed, 15, r.uniform(-3, 3), 5);
      const base = theilSen(pts)!;
      expect(theilSen(r.shuffle(pts))).toBeCloseTo(base, 9);
      expect(theilSen(pts.map((p) => ({ t: p.t + 86400, y: p.y + 12345 })))!).toBeCloseTo(base, 9);
      expect(theilSen(pts.map((p) => ({ t: p.t, y: p.y * 7 })))!).toBeCloseTo(base * 7, 9);
      expect(theilSen(pts.map((p) => ({ t: p.t, y: -p.y })))!).toBeCloseTo(-base, 9);
    }
  });

  it('is exact on a noiseless line, however irregular the times', () => {
    const r = prng(9);
    const pts = Array.from({ length: 12 }, () => r.uniform(0, 900)).map((s) => ({ t: T + s, y: 40 + 1.75 * s }));
    expect(theilSen(pts)).toBeCloseTo(1.75, 8);
  });
});

describe('noise scale, spikes, change points', () => {
  it('the noise scale finds the noise a generator put in (within 45%, over 50 seeds of 60 samples)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const sd = prng(seed).uniform(2, 20);
      const s = noiseScale(line(seed, 60, 1.3, sd), 0.5);
      expect(Math.abs(s - sd) / sd).toBeLessThan(0.45);
    }
  });

  it('one spike is found and nothing else; a step and the knee of a rise are no spikes', () => {
    const flat = line(3, 20, 0, 0.001, 30, 9, 800);
    expect([...spikes(flat, 0.5)]).toEqual([9]);
    const step = Array.from({ length: 12 }, (_, i) => ({ t: T + 30 * i, y: i < 6 ? 100 : 600 }));
    expect(spikes(step, 0.5).size).toBe(0);
    const knee = Array.from({ length: 12 }, (_, i) => ({ t: T + 30 * i, y: 100 + Math.max(0, i - 6) * 50 }));
    expect(spikes(knee, 0.5).size).toBe(0);
    expect(neighbourResiduals(knee)[6]).toBeCloseTo(-25, 9);
  });

  it('the change point of "flat, then a rise" is where the rise began', () => {
    const pts = Array.from({ length: 20 }, (_, i) => ({ t: T + 30 * i, y: 100 + Math.max(0, i - 12) * 50 }));
    const starts = segments(pts, 0.5);
    expect(starts.at(-1)).toBeGreaterThanOrEqual(12);
    expect(starts.at(-1)).toBeLessThanOrEqual(13);
  });

  it('noise alone is not cut into regimes (200 seeds)', () => {
    let cut = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const pts = line(seed, 30, 0, 8);
      if (segments(pts, noiseScale(pts, 0.5)).length > 1) cut++;
    }
    // A few percent of pure-noise windows show a cut; the merge of cuts that noise could have made
    // (lib/stats/trend.ts differs) takes most of those back.
    expect(cut).toBeLessThan(20);
  });
});

describe('trend', () => {
  const at = (ys: number[], step = 60) => ys.map((y, i) => ({ t: T + i * step, y }));
  const rateOf = (ys: number[], step = 60, o = O) => (trend(at(ys, step), o).rate ?? NaN) * 60;

  it('no verdict before the baseline: too few samples, too short a span, less than one queue-run cycle', () => {
    expect(trend(at([1, 2]), O)).toMatchObject({ ready: false, n: 2 });
    expect(trend(at([1, 50, 900], 10), O)).toMatchObject({ ready: false, n: 3, span: 20, needs: '1m' });
    expect(trend(at([1, 2, 3]), O).ready).toBe(true);
    expect(trend(at([1, 2, 3, 4, 5]), { ...O, cycle: 300 })).toMatchObject({ ready: false, needs: '5m (one queue run)' });
    expect(trend(at([1, 2, 3, 4, 5, 6]), { ...O, cycle: 300 }).ready).toBe(true);
    // A run that already judged needs the minimum span only (a gap left fewer samples).
    expect(trend(at([1, 2, 3]), { ...O, cycle: 300, judgedBefore: true }).ready).toBe(true);
  });

  it('steady growth and shrinking: the true slope', () => {
    expect(rateOf([1000, 1412, 1824, 2236, 2648])).toBeCloseTo(412, 9);
    expect(rateOf([5000, 4800, 4600, 4400])).toBeCloseTo(-200, 9);
  });

  it('a rise after a quiet spell: the rate of the rise from its third sample, not the window average', () => {
    const ys = [...Array(10).fill(1000), 1200, 1400, 1600];
    const t = trend(at(ys), O);
    expect(t.rate! * 60).toBeCloseTo(200, 9);
    expect(t.fit!.slope * 60).toBeLessThan(100);
    expect(t.onset).toBeLessThanOrEqual(T + 10 * 60);
    // One new sample is no trend yet; the rate stays near the old regime's.
    expect(Math.abs(rateOf([...Array(10).fill(1000), 1200]))).toBeLessThan(5);
  });

  it('a burst in the newest sample, or one that drained, is not growth', () => {
    expect(Math.abs(rateOf([100, 104, 98, 101, 99, 102, 100, 5000]))).toBeLessThan(15);
    expect(Math.abs(rateOf([100, 104, 98, 101, 99, 5000, 100, 102]))).toBeLessThan(15);
    expect(trend(at([100, 100, 100, 100, 100, 5000, 100, 100]), O).outliers).toBe(1);
  });

  it('a step is no growth once it has three samples, and none before', () => {
    for (let k = 1; k <= 5; k++) expect(rateOf([...Array(10).fill(200), ...Array(k).fill(700)])).toBeLessThan(10);
  });

  it('a sawtooth of queue runs (in-cycle +90/min, dropping every 5m) is flat; a climbing one climbs', () => {
    const saw = (drift: number) => Array.from({ length: 60 }, (_, i) => ({ t: T + 15 * i, y: 100 + 1.5 * ((15 * i + 40) % 300) + drift * 15 * i }));
    const flat = trend(saw(0), { ...O, cycle: 300 });
    expect(flat.basis).toBe('cycles');
    expect(Math.abs(flat.rate! * 60)).toBeLessThan(5);
    const up = trend(saw(100 / 60), { ...O, cycle: 300 });
    expect(up.basis).toBe('cycles');
    expect(up.rate! * 60).toBeGreaterThan(90);
    expect(up.rate! * 60).toBeLessThan(110);
  });

  it('a flat series is 0, not 1e-17 (which would project to the year 10^16)', () => {
    expect(trend(at([2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2400]), O).rate).toBe(0);
    expect(trend(at([7, 7, 7, 7]), O).fit!.slope).toBe(0);
  });

  it('a gap in the middle: real times', () => {
    const pts = [0, 60, 120, 600, 660].map((d) => ({ t: T + d, y: 500 + d }));
    expect(trend(pts, O).rate! * 60).toBeCloseTo(60, 9);
  });

  it('ignores negative and zero intervals (clock jumps, duplicate runs)', () => {
    expect(cleanSeries([{ t: 3, y: 1 }, { t: 1, y: 0 }, { t: 3, y: 2 }, { t: 2, y: NaN }]).map((p) => [p.t, p.y])).toEqual([
      [1, 0],
      [3, 2],
    ]);
  });
});

describe('hysteresis', () => {
  const w = parseRange('~:50')!;
  const c = parseRange('~:1000')!;
  it('holds an alert until the value is 20% inside the bound, then recovers', () => {
    expect(holdRange(w).end).toBe(40);
    expect(heldState(45, w, c, State.OK)).toBe(State.OK);
    expect(heldState(45, w, c, State.WARNING)).toBe(State.WARNING);
    expect(heldState(39, w, c, State.WARNING)).toBe(State.OK);
    expect(heldState(900, w, c, State.CRITICAL)).toBe(State.CRITICAL);
    expect(heldState(700, w, c, State.CRITICAL)).toBe(State.WARNING);
    expect(heldState(30, w, c, State.CRITICAL)).toBe(State.OK);
  });
  it('a "below" range (an eta of 2h: alert under 7200 s) holds until 20% above it', () => {
    const eta = parseRange('7200:')!;
    expect(heldState(8000, eta, undefined, State.WARNING)).toBe(State.WARNING);
    expect(heldState(8700, eta, undefined, State.WARNING)).toBe(State.OK);
  });
});

describe('timeToReach', () => {
  it('projects, or says there is nothing to project', () => {
    expect(timeToReach(10_000, 50_000, 400 / 60)).toBeCloseTo(6000, 9);
    expect(timeToReach(50_000, 50_000, 1)).toBe(0);
    expect(timeToReach(10, 50, 0)).toBeUndefined();
    expect(timeToReach(10, 50, -3)).toBeUndefined();
    expect(timeToReach(10, 50, undefined)).toBeUndefined();
    expect(timeToReach(2400, 50_000, 1e-17)).toBeUndefined();
    expect(timeToReach(0, 400 * 86400, 1)).toBeUndefined();
  });
});
