// Estimating a share of a huge queue from a few thousand of its files: a uniform random sample
// chosen from the directory listing (reservoir sampling: O(k) memory, whatever the queue size),
// a 95% interval for the proportion (Wilson score with the finite population correction: 10,000
// files out of 12,000 say much more than 10,000 out of 5,000,000), and the rule that turns an
// interval into an alert. Pure: no file system, and the random numbers come from a seed.

import { randomInt } from 'node:crypto';
import { rangeOverlap, type Range } from '../plugin/range.js';
export { rangeOverlap, type Overlap } from '../plugin/range.js';
import { State } from '../plugin/result.js';

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** mulberry32: small and fast; a seed makes a sampled run reproducible (--seed). */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh seed for runs without --seed (printed in the long output so a run can be replayed). */
export function randomSeed(): number {
  return randomInt(0, 2 ** 32 - 1);
}

/**
 * Reservoir sampling (Vitter's algorithm R): offer every item once, in any order; afterwards
 * `items` is a uniform random subset of min(size, seen) of them. Memory is O(size).
 */
export class Reservoir<T> {
  readonly items: T[] = [];
  /** How many items were offered: the population size once the listing is complete. */
  seen = 0;
  constructor(
    readonly size: number,
    private readonly random: Random,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`reservoir size must be a positive integer, not ${size}`);
  }

  offer(item: T): void {
    const i = this.seen++;
    if (i < this.size) {
      this.items.push(item);
      return;
    }
    const j = Math.floor(this.random() * (i + 1));
    if (j < this.size) this.items[j] = item;
  }

  /** offer() without the item: where to put it (items[at] = item), or -1 when it is not taken, so
   *  a listing of 1,000,000 files makes an object only for the few thousand it keeps. */
  take(): number {
    const i = this.seen++;
    if (i < this.size) return i;
    const j = Math.floor(this.random() * (i + 1));
    return j < this.size ? j : -1;
  }

  /** Whether the reservoir holds every item offered (the "sample" is the whole population). */
  get complete(): boolean {
    return this.seen <= this.size;
  }

  /**
   * The sample in uniformly random order (Fisher-Yates). Any prefix of it is itself a uniform
   * random sample, so reading it in this order can stop at a deadline without biasing the estimate.
   */
  shuffled(): T[] {
    const a = [...this.items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

/** A uniform random sample of k items of any iterable, in random order. */
export function sampleOf<T>(items: Iterable<T>, k: number, random: Random): { sample: T[]; population: number } {
  const r = new Reservoir<T>(k, random);
  for (const it of items) r.offer(it);
  return { sample: r.shuffled(), population: r.seen };
}

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** A proportion and its interval, all in [0, 1]. */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

/**
 * 95% interval for the share of a finite population with some property, from a simple random
 * sample without replacement: `hits` of the `n` sampled items have it, out of `population` items.
 *
 * Wilson score interval (good coverage near 0% and 100% and for small n, where the textbook
 * p ± z·sqrt(p(1-p)/n) collapses to a point), with the sampling variance p(1-p)/n scaled by the
 * finite population correction f = (N-n)/(N-1): solving (p̂-p)² = z²·f·p(1-p)/n for p gives
 *
 *   p = (p̂ + k/2 ± sqrt(k·p̂(1-p̂) + k²/4)) / (1 + k),   k = z²·f/n
 *
 * When the sample is the whole population f = 0 and the interval is the exact share. The result
 * is finally clipped to what the sample proves: at least `hits` and at most N - (n - hits) items
 * of the population have the property.
 */
export function proportionInterval(hits: number, n: number, population: number, z = Z95): Interval {
  if (!(n >= 0 && hits >= 0 && hits <= n)) throw new RangeError(`invalid sample: ${hits} of ${n}`);
  const N = Math.max(population, n);
  if (n === 0) return { estimate: 0, low: 0, high: 1 };
  const p = hits / n;
  const f = N > 1 ? Math.max(0, (N - n) / (N - 1)) : 0;
  const k = (z * z * f) / n;
  const center = (p + k / 2) / (1 + k);
  const half = Math.sqrt(k * p * (1 - p) + (k * k) / 4) / (1 + k);
  const floor = hits / N;
  const ceiling = (N - (n - hits)) / N;
  return {
    estimate: p,
    low: Math.min(p, Math.max(0, floor, center - half)),
    high: Math.max(p, Math.min(1, ceiling, center + half)),
  };
}

/**
 * The verdict from an interval (the documented rule): CRITICAL only when every value in the
 * interval is in the critical range (the page needs proof); WARNING when the interval reaches into
 * the critical range or into the warning range (it may be bad: look); OK otherwise. An exact
 * value is the interval [v, v], which gives the plain Nagios rule, CRITICAL checked first.
 */
export function intervalState(low: number, high: number, warn?: Range, crit?: Range): State {
  const c = rangeOverlap(crit, low, high);
  if (c === 'all') return State.CRITICAL;
  if (c === 'some' || rangeOverlap(warn, low, high) !== 'none') return State.WARNING;
  return State.OK;
}

/** Where an exact read stands, for --sample auto's decision to carry on or read the sample instead. */
export interface ScanProgress {
  /** Queue files in the listing. */
  population: number;
  /** Files read so far by the exact read, and the time that took. */
  files: number;
  elapsedMs: number;
  /** Time left before the deadline now, and when the exact read began. */
  remainingMs: number;
  budgetMs: number;
  /** Time to keep for reading the sample instead (measured on the first sampled files). */
  reserveMs: number;
}

/** Files read before the rate of an exact read is trusted (start-up and JIT costs come first)... */
export const MIN_PROGRESS_FILES = 1024;
/** ...unless it has already used this share of the time it had: a slow disk must be caught early. */
export const MAX_SILENT_SHARE = 0.1;
/** The projection must fit with this margin: rates drift as the cache runs cold. */
export const EXACT_MARGIN = 1.25;

/** Projected milliseconds until an exact read finishes, at its rate so far. */
export function projectedFinishMs(p: ScanProgress): number {
  return p.files > 0 ? (p.elapsedMs / p.files) * Math.max(0, p.population - p.files) : Infinity;
}

/** Should the exact read go on? Yes until there is enough evidence that it would not finish in time. */
export function exactReadOnCourse(p: ScanProgress): boolean {
  if (p.files < MIN_PROGRESS_FILES && p.elapsedMs < MAX_SILENT_SHARE * p.budgetMs) return true;
  return projectedFinishMs(p) * EXACT_MARGIN <= p.remainingMs - p.reserveMs;
}
