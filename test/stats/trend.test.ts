// Sample sequences (one per minute unless said) and the rate each one should give.
import { describe, expect, it } from 'vitest';
import { cleanSeries, robustSlope, timeToReach, trend } from '../../lib/stats/trend.js';

const O = { minSamples: 3, minSpan: 60 };
const perMin = (ys: number[], step = 60) => ys.map((y, i) => ({ t: 1_795_000_000 + i * step, y }));
const rateOf = (ys: number[], step = 60) => (trend(perMin(ys, step), O).rate ?? NaN) * 60;

describe('trend', () => {
  it('gives no verdict before the baseline: too few samples, or too short a span', () => {
    const two = trend(perMin([1, 2]), O);
    expect(two).toMatchObject({ ready: false, n: 2 });
    expect(two.rate).toBeUndefined();
    expect(trend(perMin([1, 50, 900], 10), O)).toMatchObject({ ready: false, n: 3, span: 20 });
    expect(trend(perMin([1, 2, 3]), O).ready).toBe(true);
  });

  it('steady growth: the least-squares slope', () => {
    const t = trend(perMin([1000, 1412, 1824, 2236, 2648]), O);
    expect(t.basis).toBe('window');
    expect(t.rate! * 60).toBeCloseTo(412, 9);
    expect(t.fit!.r2).toBeCloseTo(1, 12);
  });

  it('shrinking: a negative rate', () => {
    expect(rateOf([5000, 4800, 4600, 4400])).toBeCloseTo(-200, 9);
  });

  it('bursty: a burst in the newest sample is not growth', () => {
    const ys = [100, 104, 98, 101, 99, 102, 100, 5000];
    expect(trend(perMin(ys), O).fit!.slope * 60).toBeGreaterThan(300);
    expect(rateOf(ys)).toBeLessThan(15);
  });

  it('bursty: a burst that drained is not growth either', () => {
    expect(Math.abs(rateOf([100, 104, 98, 101, 99, 5000, 100, 102]))).toBeLessThan(15);
  });

  it('a rise that began two runs ago shows at once (sustained), where the window slope lags', () => {
    const ys = [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1200, 1400];
    const t = trend(perMin(ys), O);
    expect(t.fit!.slope * 60).toBeLessThan(50);
    expect(t.basis).toBe('recent');
    expect(t.sustained! * 60).toBeCloseTo(200, 9);
    expect(t.rate! * 60).toBeCloseTo(200, 9);
  });

  it('sustained means every one of the last samples rose: the slowest rise counts', () => {
    const t = trend(perMin([100, 100, 110, 5000]), O);
    expect(t.sustained! * 60).toBeCloseTo(10, 9);
    expect(trend(perMin([100, 100, 90, 5000]), O).sustained).toBeUndefined();
  });

  it('a flat series left one sample out is flat, not 1e-17 (which would project to the year 10^16)', () => {
    const t = trend(perMin([2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2400]), O);
    expect(t.robust).toBe(0);
    expect(t.rate).toBe(0);
    expect(trend(perMin([7, 7, 7, 7]), O).fit!.slope).toBe(0);
  });

  it('a gap in the middle of the window: the slope uses real times', () => {
    const pts = [0, 60, 120, 600, 660].map((d) => ({ t: 1_795_000_000 + d, y: 500 + d }));
    expect(trend(pts, O).rate! * 60).toBeCloseTo(60, 9);
  });

  it('ignores negative and zero intervals (clock jumps, duplicate runs)', () => {
    expect(cleanSeries([{ t: 3, y: 1 }, { t: 1, y: 0 }, { t: 3, y: 2 }, { t: 2, y: NaN }]).map((p) => [p.t, p.y])).toEqual([
      [1, 0],
      [3, 2],
    ]);
  });
});

describe('robustSlope', () => {
  it('moves toward zero and never past it', () => {
    expect(robustSlope(5, [4, 6, 5])).toBe(4);
    expect(robustSlope(5, [-1, 6])).toBe(0);
    expect(robustSlope(-5, [-4, -6])).toBe(-4);
    expect(robustSlope(5, [])).toBe(5);
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
