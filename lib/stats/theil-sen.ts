// Robust pieces of the trend engine: the median, the median absolute deviation (a noise scale that
// one wild sample does not move), and the Theil-Sen slope: the median of the slopes between every
// pair of samples. Up to 29% of the samples can be anything and the slope still follows the rest.

import type { Point } from './least-squares.js';

/** Median of the values (NaN when empty). Sorts a copy. */
export function median(values: ArrayLike<number>): number {
  const n = values.length;
  if (!n) return NaN;
  const a = Float64Array.from(values as ArrayLike<number>).sort();
  return n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

/** 1.4826 x the median absolute deviation from the median: the standard deviation for Gaussian noise. */
export function mad(values: ArrayLike<number>): number {
  const m = median(values);
  const dev = Array.from(values as ArrayLike<number>, (v) => Math.abs(v - m));
  return 1.4826 * median(dev);
}

/**
 * The median of (y_j - y_i) / (t_j - t_i) over the pairs that `keep` accepts (all by default; `keep`
 * gets the pair's time apart and its indexes), in any order of the points;
 * undefined when no pair has a spread in time. O(n^2) pairs: 500 samples are 125,000 slopes.
 */
export function theilSen(points: readonly Point[], keep?: (dt: number, i: number, j: number) => boolean): number | undefined {
  const n = points.length;
  const slopes = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const dt = points[j].t - points[i].t;
      // Any order of points: the pair's slope does not depend on which comes first.
      if (dt === 0 || (keep && !keep(Math.abs(dt), i, j))) continue;
      slopes[k++] = (points[j].y - points[i].y) / dt;
    }
  return k ? median(slopes.subarray(0, k)) : undefined;
}
