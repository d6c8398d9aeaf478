// Where the current regime of a series began. A queue that was quiet and now rises at 100/min is two
// regimes; a rate fitted over both (the whole window) is diluted by the quiet part and creeps up run
// after run, which is what made the old readings take turns. Here the series is cut into straight
// pieces by optimal partitioning (least squares per piece, a penalty per cut scaled by the noise, so
// noise alone never pays for a cut), and the rate is fitted over the last piece only.
// Before that, single-sample spikes are set aside (a burst that came and went in one sample), and the
// noise scale is measured from how far each sample lies from the line through its two neighbours.

import type { Point } from './least-squares.js';

/** How far each inner sample lies from the straight line through its two neighbours (0 at the ends). */
export function neighbourResiduals(p: readonly Point[]): number[] {
  const r = new Array<number>(p.length).fill(0);
  for (let i = 1; i < p.length - 1; i++) {
    const w = (p[i].t - p[i - 1].t) / (p[i + 1].t - p[i - 1].t);
    r[i] = p[i].y - (p[i - 1].y + w * (p[i + 1].y - p[i - 1].y));
  }
  return r;
}

/**
 * Noise scale (one standard deviation of a sample about the local line), robust: from the median of
 * the neighbour residuals, or their lower quartile when steps, drops or spikes are so much of a short
 * series that they move the median (a step among 6 samples puts 2 of 4 residuals off). Never below `floor`
 * (counts move in whole messages: a noiseless queue still has half a message of uncertainty).
 */
export function noiseScale(p: readonly Point[], floor: number): number {
  if (p.length < 3) return floor;
  const r = Float64Array.from(neighbourResiduals(p).slice(1, -1), Math.abs).sort();
  const q = r[Math.floor((r.length - 1) / 4)];
  const m = r.length % 2 ? r[(r.length - 1) / 2] : (r[r.length / 2 - 1] + r[r.length / 2]) / 2;
  // |N(0,1)| has its lower quartile at 0.3186 and its median at 0.6745; a neighbour residual of
  // independent noise has variance (1 + w^2 + (1-w)^2) sigma^2, 1.5 sigma^2 at w = 1/2. The median is
  // the steadier of the two; the quartile is taken when it says the median is disturbed (it is less
  // than a quarter of what the median says: pure noise rarely does that).
  const fromQ = q / 0.3186 / Math.sqrt(1.5);
  const fromM = m / 0.6745 / Math.sqrt(1.5);
  return Math.max(floor, fromQ < 0.25 * fromM ? fromQ : fromM);
}

/**
 * Indexes of single-sample spikes: a sample far off the line its two earlier neighbours draw (more
 * than `k` noise scales, allowing for the extrapolation's own noise), and far off the line through its
 * two neighbours, while the sample after it is back on the earlier line. A step (the level moves and
 * stays) or the knee of a rise (the next sample moves on too) is no spike; nor is a queue run's drop.
 * The newest sample is never one: it has no sample after it yet (the engine waits for a third).
 */
export function spikes(p: readonly Point[], sigma: number, k = 4): Set<number> {
  const out = new Set<number>();
  const r = neighbourResiduals(p);
  const line = (a: Point, b: Point) => (t: number) => a.y + ((b.y - a.y) * (t - a.t)) / (b.t - a.t);
  for (let i = 1; i < p.length - 1; i++) {
    // Earlier neighbours when there are two, else the two after it (the oldest samples).
    const from = i >= 2 ? line(p[i - 2], p[i - 1]) : p.length > i + 2 ? line(p[i + 1], p[i + 2]) : undefined;
    if (!from) continue;
    const check = i >= 2 ? p[i + 1] : p[i - 1];
    const dev = p[i].y - from(p[i].t);
    // Extrapolating two noisy samples by a step adds about sqrt(5) of their noise: 2.45 sigma in all.
    const off = k * 2.45 * sigma;
    if (Math.abs(dev) <= off || Math.abs(r[i]) <= k * sigma) continue;
    const back = check.y - from(check.t);
    if (Math.abs(back) <= Math.max(off * 1.5, Math.abs(dev) / 3)) out.add(i);
  }
  return out;
}

/**
 * Start indexes of the straight pieces that explain the series best: least squares within each
 * piece, plus `penalty` (in noise variances) per piece. A piece may be a single sample (the oldest
 * sample of a regime that ended, or a regime that has only just begun). O(n^2).
 */
export function segments(p: readonly Point[], sigma: number, penalty = 5 * Math.log(Math.max(p.length, 3)) + 10): number[] {
  const n = p.length;
  if (n < 4) return [0];
  // Costs from running centred sums (Welford's updates), one start at a time: a disk's 5e10 bytes with
  // 50 bytes of noise would lose a piece's cost in the rounding of plain prefix sums of squares.
  const t0 = p[0].t;
  const F = new Float64Array(n + 1).fill(Infinity);
  const from = new Int32Array(n + 1);
  F[0] = -penalty;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(F[i])) continue;
    let m = 0;
    let mt = 0;
    let my = 0;
    let ctt = 0;
    let cty = 0;
    let cyy = 0;
    const yi = p[i].y;
    for (let j = i + 1; j <= n; j++) {
      const t = p[j - 1].t - t0;
      const y = (p[j - 1].y - yi) / sigma;
      m++;
      const dt = t - mt;
      mt += dt / m;
      const dy = y - my;
      my += dy / m;
      ctt += dt * (t - mt);
      cty += dt * (y - my);
      cyy += dy * (y - my);
      const cost = m <= 2 ? 0 : Math.max(0, ctt > 1e-12 ? cyy - (cty * cty) / ctt : cyy);
      const v = F[i] + cost + penalty;
      // On a tie the later cut wins: the newest regime is as short as the samples allow.
      if (v <= F[j] + 1e-9) {
        F[j] = v;
        from[j] = i;
      }
    }
  }
  const starts: number[] = [];
  for (let j = n; j > 0; j = from[j]) starts.unshift(from[j]);
  return starts;
}
