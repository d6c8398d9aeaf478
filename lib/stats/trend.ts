// Where a series is heading, from the samples a check kept between runs. Two readings of the same
// samples, neither moved by one noisy sample:
//   window    the least-squares slope over every sample in the window, held to what survives
//             leaving any one sample out (a burst that lands in one sample and drains in the next
//             is not growth); steady, but it lags: a rise that began two runs ago is diluted by
//             the flat samples before it;
//   sustained the slowest per-run rise over the last few samples, when every one of them rose: a
//             steady rise shows at once (incident 004), one jump between two samples never does.
// Verdicts and projections use the steeper of the two.

import { leastSquares, leaveOneOutSlopes, type Fit, type Point } from './least-squares.js';

/** Samples closer together than this say nothing about a rate per minute. */
export const MIN_SPAN = 60;

export interface TrendOptions {
  /** Samples needed before any verdict (the baseline). */
  minSamples: number;
  /** Seconds the samples must span before any verdict: runs fired in a quick burst say nothing. */
  minSpan: number;
}

export interface Trend {
  n: number;
  /** Seconds from the first to the last sample. */
  span: number;
  /** Enough samples over enough time for a verdict. */
  ready: boolean;
  /** Least-squares over the window (when there are 2+ samples). */
  fit?: Fit;
  /** fit.slope pulled toward zero by the one sample that moves it most (equal to it with 2 samples). */
  robust?: number;
  /** y units per second: the slowest rise over the last `recent` samples, when each of them rose. */
  sustained?: number;
  /** How many samples the sustained reading looks at. */
  recent: number;
  /** y units per second to project with (only when ready): the steeper of fit.slope and sustained. */
  rate?: number;
  basis?: 'window' | 'recent';
}

/** Points sorted by time with strictly increasing t (later duplicates win): negative or zero intervals carry no rate. */
export function cleanSeries(points: readonly Point[]): Point[] {
  const sorted = [...points].filter((p) => Number.isFinite(p.t) && Number.isFinite(p.y)).sort((a, b) => a.t - b.t);
  const out: Point[] = [];
  for (const p of sorted) {
    if (out.length && p.t <= out[out.length - 1].t) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

export function trend(points: readonly Point[], o: TrendOptions): Trend {
  const pts = cleanSeries(points);
  const n = pts.length;
  const span = n ? pts[n - 1].t - pts[0].t : 0;
  const fit = leastSquares(pts);
  const recent = Math.max(o.minSamples, 3);
  let sustained: number | undefined;
  if (n >= recent) {
    const tail = pts.slice(n - recent);
    if (tail[tail.length - 1].t - tail[0].t >= o.minSpan) {
      let slowest = Infinity;
      for (let i = 1; i < tail.length; i++) slowest = Math.min(slowest, (tail[i].y - tail[i - 1].y) / (tail[i].t - tail[i - 1].t));
      if (slowest > 0) sustained = slowest;
    }
  }
  // Floating-point dust (a flat series refitted gives 1e-17, not 0) must not become a projection.
  const scale = Math.max(1, ...pts.map((p) => Math.abs(p.y)));
  const snap = (x: number) => (Math.abs(x) * Math.max(span, 1) < 1e-9 * scale ? 0 : x);
  if (fit) fit.slope = snap(fit.slope);
  const robust = fit ? snap(robustSlope(fit.slope, leaveOneOutSlopes(pts))) : undefined;
  const ready = n >= o.minSamples && span >= o.minSpan && fit !== undefined;
  if (!ready || robust === undefined) return { n, span, ready, fit, robust, sustained, recent };
  const useRecent = sustained !== undefined && sustained > robust;
  return { n, span, ready, fit, robust, sustained, recent, rate: useRecent ? sustained : robust, basis: useRecent ? 'recent' : 'window' };
}

/** The slope that holds whichever single sample is left out: the jackknife value nearest zero, never past it. */
export function robustSlope(slope: number, loo: number[]): number {
  const valid = loo.filter(Number.isFinite);
  if (!valid.length) return slope;
  return slope >= 0 ? Math.max(0, Math.min(slope, ...valid)) : Math.min(0, Math.max(slope, ...valid));
}

/** Projections further out than this are "not heading there": a year at today's rate means nothing. */
export const MAX_PROJECTION = 366 * 86400;

/** Seconds until `current` reaches `target` at `rate` per second: 0 when already there, undefined when not heading there. */
export function timeToReach(current: number, target: number, rate: number | undefined): number | undefined {
  if (current >= target) return 0;
  if (rate === undefined || !(rate > 0)) return undefined;
  const t = (target - current) / rate;
  return t <= MAX_PROJECTION ? t : undefined;
}
