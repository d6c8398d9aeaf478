import { describe, expect, it } from 'vitest';
import { leastSquares, leaveOneOutSlopes, type Point } from '../../lib/stats/least-squares.js';

const line = (slope: number, intercept: number, ts: number[]): Point[] => ts.map((t) => ({ t, y: slope * t + intercept }));

describe('leastSquares', () => {
  it('recovers an exact line, r² 1, no error', () => {
    const f = leastSquares(line(2.5, -7, [0, 10, 20, 35]))!;
    expect(f.slope).toBeCloseTo(2.5, 12);
    expect(f.intercept).toBeCloseTo(-7, 9);
    expect(f.r2).toBe(1);
    expect(f.slopeError).toBeCloseTo(0, 12);
    expect(f.span).toBe(35);
    expect(f.n).toBe(4);
  });

  it('keeps its precision on epoch-second timestamps (centred before squaring)', () => {
    const t0 = 1_795_433_152.561;
    const pts = [0, 60.2, 119.9, 181, 240].map((d, i) => ({ t: t0 + d, y: 1000 + (412 / 60) * d + (i % 2 ? 0.5 : -0.5) }));
    expect(leastSquares(pts)!.slope * 60).toBeCloseTo(412, 1);
  });

  it('fits the textbook example', () => {
    // x: 1..5, y: 2,4,5,4,5 -> slope 0.6, intercept 2.2, r² 0.6
    const f = leastSquares([2, 4, 5, 4, 5].map((y, i) => ({ t: i + 1, y })))!;
    expect(f.slope).toBeCloseTo(0.6, 12);
    expect(f.intercept).toBeCloseTo(2.2, 12);
    expect(f.r2).toBeCloseTo(0.6, 12);
  });

  it('has no line through fewer than two points or a single instant', () => {
    expect(leastSquares([])).toBeUndefined();
    expect(leastSquares([{ t: 1, y: 1 }])).toBeUndefined();
    expect(leastSquares([{ t: 5, y: 1 }, { t: 5, y: 9 }])).toBeUndefined();
  });

  it('says r² 1 for a flat series (no variation to explain)', () => {
    expect(leastSquares(line(0, 40, [0, 60, 120]))!.r2).toBe(1);
  });
});

describe('leaveOneOutSlopes', () => {
  it('equals refitting without each point', () => {
    const pts = [3, 9, 4, 15, 14, 30, 22].map((y, i) => ({ t: 1_700_000_000 + i * 60 + (i % 3), y }));
    const loo = leaveOneOutSlopes(pts);
    expect(loo).toHaveLength(pts.length);
    pts.forEach((_, i) => expect(loo[i]).toBeCloseTo(leastSquares(pts.filter((_, j) => j !== i))!.slope, 9));
  });

  it('shows which single point carries a slope', () => {
    const pts = [100, 100, 100, 100, 5000].map((y, i) => ({ t: i * 60, y }));
    const loo = leaveOneOutSlopes(pts);
    expect(leastSquares(pts)!.slope).toBeGreaterThan(10);
    expect(loo[4]).toBeCloseTo(0, 12);
  });

  it('needs three points', () => {
    expect(leaveOneOutSlopes(line(1, 0, [0, 1]))).toEqual([]);
  });
});
