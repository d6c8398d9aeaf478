// The one trend engine: where a series (a queue's count, a disk's used bytes) is heading, from the
// samples a check kept between runs. Used by check-mailq-growth (rate, eta) and check-spool-disk
// (time to full). Pure. Steps, in a mail admin's words:
//   1. noise: how much the samples wobble about a straight line, robustly (lib/stats/changepoint.ts);
//   2. spikes: a sample far off where its neighbours put it is set aside (a burst that came and went);
//   3. queue runs: a drop far beyond the noise is a queue run, not a change of regime. When drops recur
//      (or one was seen and the MTA's queue-run interval is known), the series is a sawtooth and is
//      judged over whole cycles: the median slope between samples one, two, ... cycles apart, so the
//      rise between two queue runs is not growth, and a sawtooth that climbs still is;
//   4. otherwise the onset of the current regime (change point) is found, and the rate is the
//      Theil-Sen slope (median of pairwise slopes) of the samples since then. A new regime is believed
//      once it has three samples and its slope is known well enough (twice its standard error under
//      `precision` or 10% of the slope); until then it is fitted together with the regime before, so one
//      or two new samples (an outlier among them) move the rate little, and the third gives the new rate.
// Before any verdict the samples must span `minSpan` and, when a queue-run interval is given, one
// whole cycle: before the check has seen a queue run, the rise of a sawtooth looks like growth.

import { leastSquares, type Fit, type Point } from './least-squares.js';
import { noiseScale, segments, spikes } from './changepoint.js';
import { median, theilSen } from './theil-sen.js';

/** Samples closer together than this say nothing about a rate per minute. */
export const MIN_SPAN = 60;

export interface TrendOptions {
  /** Samples needed before any verdict (the baseline). */
  minSamples: number;
  /** Seconds the samples must span before any verdict: runs fired in a quick burst say nothing. */
  minSpan: number;
  /** The MTA's queue-run interval in seconds (Postfix queue_run_delay, 300): the period of a healthy
   *  sawtooth. The baseline spans one cycle. 0 or undefined: none known (a disk). */
  cycle?: number;
  /** The smallest step of y (1 for message counts): the noise scale is never below half of it. */
  resolution?: number;
  /** y units per second a rate needs to be known to (growth: 10% of -w): a new regime is believed once
   *  twice its slope's standard error is below this or below 10% of the slope, and it has 3 samples. */
  precision?: number;
  /** No verdict until the window's slope is known to 10% or `precision`. */
  steadyBaseline?: boolean;
  /** The last run already judged this series (it spanned a cycle then): a shorter span now (after a gap
   *  or a clock step) only needs `minSpan`. */
  judgedBefore?: boolean;
}

export type TrendBasis = 'regime' | 'cycles';

export interface Trend {
  n: number;
  /** Seconds from the first to the last sample. */
  span: number;
  /** Enough samples over enough time for a verdict. */
  ready: boolean;
  /** What is missing before a verdict, e.g. "5m (one queue run)". */
  needs?: string;
  /** Least squares over every sample in the window: informational (graphs, the long output). */
  fit?: Fit;
  /** y units per second to judge and project with (only when ready). */
  rate?: number;
  /** regime: the Theil-Sen slope since the change point; cycles: the sawtooth's slope over whole cycles. */
  basis?: TrendBasis;
  /** The Theil-Sen slope of the current regime (the samples since the change point), when ready. */
  regimeRate?: number;
  /** Time of the first sample of the current regime. */
  onset?: number;
  /** Samples in the current regime (the last piece, with the knee it shares with the one before). */
  regimeSamples: number;
  /** Samples after the last change point (without the shared knee). */
  fresh: number;
  /** The newest piece is not believed yet (fewer than three samples, or too noisy for its span): the
   *  rate is fitted over it and the last regime that was believed. */
  unconfirmed: boolean;
  /** One standard deviation of the samples about the local line (y units). */
  noise: number;
  /** Samples set aside as single-sample spikes. */
  outliers: number;
  /** Drops seen (queue runs) and the period judged by, when the series is a sawtooth. */
  drops: number;
  period?: number;
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

/** A drop bigger than this many noise scales between two samples is a queue run (or a flush). */
const DROP_SIGMAS = 6;
const SPIKE_SIGMAS = 5;

function describeSpan(s: number): string {
  return s % 60 === 0 ? `${s / 60}m` : `${Math.round(s)}s`;
}

export function trend(points: readonly Point[], o: TrendOptions): Trend {
  const pts = cleanSeries(points);
  const n = pts.length;
  const span = n ? pts[n - 1].t - pts[0].t : 0;
  const fit = leastSquares(pts);
  const scale = Math.max(1, ...pts.map((p) => Math.abs(p.y)));
  // Floating-point dust (a flat series refitted gives 1e-17, not 0) must not become a projection.
  const snap = (x: number) => (Math.abs(x) * Math.max(span, 1) < 1e-9 * scale ? 0 : x);
  if (fit) fit.slope = snap(fit.slope);
  const floor = Math.max((o.resolution ?? 0) / 2, 1e-9 * scale);
  const sigma = noiseScale(pts, floor);
  const base: Trend = { n, span, ready: false, fit, regimeSamples: n, fresh: n, unconfirmed: false, noise: sigma, outliers: 0, drops: 0 };
  const cycle = o.cycle ?? 0;
  const needSpan = o.judgedBefore ? o.minSpan : Math.max(o.minSpan, cycle);
  if (n < o.minSamples || !fit) return { ...base, needs: `${o.minSamples} samples` };
  if (span < needSpan) return { ...base, needs: cycle > o.minSpan ? `${describeSpan(cycle)} (one queue run)` : describeSpan(o.minSpan) };
  // A noisy series needs more samples before its rate means anything: with `steadyBaseline` the
  // baseline lasts until the window's slope is known to 10% (or to `precision`), unless the last run
  // already judged. (check-spool-disk; a growth check's baseline spans a queue-run cycle instead.)
  if (o.steadyBaseline && !o.judgedBefore && 2 * slopeError(pts, sigma) > Math.max(0.1 * Math.abs(fit.slope), o.precision ?? 0))
    return { ...base, needs: 'a steadier rate (the samples are noisy)' };

  // 2. spikes, 3. drops (queue runs) between the samples that are left.
  const spiky = spikes(pts, sigma, SPIKE_SIGMAS);
  const kept = pts.filter((_, i) => !spiky.has(i));
  const drops: number[] = [];
  for (let i = 1; i < kept.length; i++) if (kept[i].y - kept[i - 1].y < -DROP_SIGMAS * sigma) drops.push(kept[i].t);
  const gaps = drops.slice(1).map((d, i) => d - drops[i]);
  const measured = gaps.length ? median(gaps) : undefined;
  const period = measured !== undefined && measured >= MIN_SPAN ? measured : cycle > 0 && drops.length ? cycle : undefined;
  const now = kept[kept.length - 1].t;
  const recurring = period !== undefined && drops.length > 0 && now - drops[drops.length - 1] <= 1.5 * period && span >= period;
  const result = { ...base, ready: true, outliers: spiky.size, drops: drops.length };

  // 4. the current regime: the last piece, with the sample before it when that one lies on its line
  // (the knee of a rise belongs to both regimes).
  const starts = segments(kept, sigma);
  // A cut the noise could have made (same slope and level within their errors) is no change of regime.
  while (starts.length > 1 && !differs(kept.slice(starts[starts.length - 2], starts[starts.length - 1]), kept.slice(starts[starts.length - 1]), sigma)) starts.pop();
  let k = starts.length - 1;
  let last = starts[k];
  if (last > 0 && kept.length - last >= 2) {
    const s2 = kept.slice(last);
    const slope = theilSen(s2) ?? 0;
    const at = median(s2.map((p) => p.y - slope * (p.t - kept[last - 1].t)));
    if (Math.abs(kept[last - 1].y - at) <= 4 * sigma) last -= 1;
  }
  const regime = kept.slice(last);
  const se = slopeError(regime, sigma);
  const regimeSlope = theilSen(regime);
  const believed =
    regime.length >= 3 && regimeSlope !== undefined && 2 * se <= Math.max(0.1 * Math.abs(regimeSlope), o.precision ?? 0);
  const unconfirmed = !believed && k > 0;
  // Not believed yet: fitted robustly together with the last regime that was (the newest piece before
  // it with three samples or more), so one or two new samples, an outlier among them, move it little.
  // No further back than needed to outvote the new samples (a ramp is many short pieces).
  let fitted = regime;
  if (unconfirmed) {
    let j = k - 1;
    while (j >= 0 && starts[j + 1] - starts[j] < 3) j--;
    const tail = kept.length - last;
    // p older samples outvote q new ones when their pairs outnumber the pairs across: p(p-1)/2 + q(q-1)/2 > p q.
    let older = 1;
    while ((older * (older - 1)) / 2 + (tail * (tail - 1)) / 2 <= older * tail) older++;
    fitted = kept.slice(Math.max(j >= 0 ? starts[j] : 0, kept.length - tail - older));
  }
  const regimeRate = snap(sameSideSlope(fitted) ?? fit.slope);
  const common = { ...result, regimeRate, onset: regime[0].t, regimeSamples: regime.length, fresh: kept.length - starts[k], unconfirmed };

  if (recurring) {
    // Pairs about a whole number of cycles apart: the rise within a cycle cancels out.
    const step = median(kept.slice(1).map((p, i) => p.t - kept[i].t));
    const tol = Math.max(step / 2, 0.05 * period);
    let rate = theilSen(kept, (dt) => dt >= period - tol && Math.abs(dt - Math.round(dt / period) * period) <= tol);
    rate ??= theilSen(kept, (dt) => dt >= period);
    if (rate !== undefined) return { ...common, rate: snap(rate), basis: 'cycles', period };
  }
  return { ...common, rate: regimeRate, basis: 'regime' };
}

/**
 * Theil-Sen over pairs that do not straddle a gap of more than three usual intervals. Across such a gap
 * (missed runs, or the clock stepped forward) the time between two samples may not be the time that
 * passed; the pairs on either side carry the rate. All pairs when too few are left.
 */
function sameSideSlope(p: readonly Point[]): number | undefined {
  if (p.length < 3) return theilSen(p);
  const steps = p.slice(1).map((x, i) => x.t - p[i].t);
  const usual = median(steps);
  const side = new Int32Array(p.length);
  for (let i = 1; i < p.length; i++) side[i] = side[i - 1] + (steps[i - 1] > 3 * usual ? 1 : 0);
  if (side[p.length - 1] === 0) return theilSen(p);
  let pairs = 0;
  for (let i = 0; i < p.length; i++) for (let j = i + 1; j < p.length; j++) if (side[i] === side[j]) pairs++;
  return pairs >= 3 ? theilSen(p, (_dt, i, j) => side[i] === side[j]) : theilSen(p);
}

/** A robust line: Theil-Sen slope, median intercept. */
function robustLine(p: readonly Point[]): { slope: number; at: (t: number) => number } {
  const slope = p.length > 1 ? (theilSen(p) ?? 0) : 0;
  const c = median(p.map((x) => x.y - slope * x.t));
  return { slope, at: (t) => c + slope * t };
}

/** Do two neighbouring pieces differ in slope or in level where they meet, beyond 3 of their standard errors? */
function differs(before: readonly Point[], after: readonly Point[], sigma: number): boolean {
  if (before.length < 3 || after.length < 3) return true;
  const a = robustLine(before);
  const b = robustLine(after);
  const se = Math.hypot(slopeError(before, sigma), slopeError(after, sigma));
  if (Math.abs(a.slope - b.slope) > 3 * se) return true;
  // The level where they meet: each line's value at the first sample after the cut (about 2 sigma/sqrt(m) at an end).
  const t = after[0].t;
  return Math.abs(a.at(t) - b.at(t)) > 3 * 2 * sigma * Math.sqrt(1 / before.length + 1 / after.length);
}

/** Standard error of a least-squares slope through these samples with noise sigma (Infinity when no spread in time). */
function slopeError(p: readonly Point[], sigma: number): number {
  if (p.length < 2) return Infinity;
  const tm = p.reduce((a, x) => a + x.t, 0) / p.length;
  const stt = p.reduce((a, x) => a + (x.t - tm) ** 2, 0);
  return stt > 0 ? sigma / Math.sqrt(stt) : Infinity;
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

