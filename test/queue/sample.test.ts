// Sampling and intervals, without the file system: the reservoir is uniform, the interval is the
// Wilson score interval with the finite population correction, it covers the truth about 95% of
// the time (a property over many seeds), and the verdict rule reads the interval honestly.
import { describe, expect, it } from 'vitest';
import { makeMessage, rng } from '../../bench/gen/model.js';
import { postfixWriter } from '../../bench/gen/postfix.js';
import { alerts, parseRange } from '../../lib/plugin/range.js';
import { State, thresholdState } from '../../lib/plugin/result.js';
import {
  EXACT_MARGIN,
  exactReadOnCourse,
  intervalState,
  MAX_SILENT_SHARE,
  MIN_PROGRESS_FILES,
  projectedFinishMs,
  proportionInterval,
  rangeOverlap,
  Reservoir,
  sampleOf,
  seededRandom,
  Z95,
} from '../../lib/queue/sample.js';

/** The textbook Wilson score interval (no finite population correction), written independently. */
function textbookWilson(x: number, n: number, z = Z95): [number, number] {
  const p = x / n;
  const z2 = z * z;
  const mid = p + z2 / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [(mid - spread) / (1 + z2 / n), (mid + spread) / (1 + z2 / n)];
}

describe('seededRandom', () => {
  it('is reproducible for a seed, differs between seeds, stays in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    // Roughly uniform: each tenth of [0, 1) gets 100 ± 40 of 1000 draws.
    const bins = new Array(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]++;
    for (const n of bins) expect(Math.abs(n - 100)).toBeLessThan(40);
  });
});

describe('Reservoir', () => {
  it('keeps everything while the population fits, then exactly `size` distinct items', () => {
    const r = new Reservoir<number>(5, seededRandom(1));
    for (let i = 0; i < 5; i++) r.offer(i);
    expect(r.complete).toBe(true);
    expect([...r.items].sort()).toEqual([0, 1, 2, 3, 4]);
    for (let i = 5; i < 1000; i++) r.offer(i);
    expect(r.complete).toBe(false);
    expect(r.seen).toBe(1000);
    expect(new Set(r.items).size).toBe(5);
    expect(r.shuffled().sort((x, y) => x - y)).toEqual([...r.items].sort((x, y) => x - y));
  });

  it('rejects a size that is not a positive integer', () => {
    expect(() => new Reservoir(0, Math.random)).toThrow(RangeError);
    expect(() => new Reservoir(2.5, Math.random)).toThrow(RangeError);
  });

  it('gives every item the same chance, early or late in the listing, and any position in the shuffled order', () => {
    const N = 40;
    const k = 8;
    const runs = 20_000;
    const chosen = new Array(N).fill(0);
    const first = new Array(N).fill(0);
    const random = seededRandom(12345);
    for (let run = 0; run < runs; run++) {
      const { sample, population } = sampleOf(Array.from({ length: N }, (_, i) => i), k, random);
      expect(population).toBe(N);
      for (const i of sample) chosen[i]++;
      first[sample[0]]++;
    }
    // Binomial(runs, k/N): expectation 4,000, sd 56.6; 5 sd either side.
    const sdChosen = Math.sqrt(runs * (k / N) * (1 - k / N));
    for (const c of chosen) expect(Math.abs(c - (runs * k) / N)).toBeLessThan(5 * sdChosen);
    // The first of the shuffled sample is uniform over the population: Binomial(runs, 1/N).
    const sdFirst = Math.sqrt(runs * (1 / N) * (1 - 1 / N));
    for (const c of first) expect(Math.abs(c - runs / N)).toBeLessThan(5 * sdFirst);
    // Items listed first are not favoured over items listed last (a classic off-by-one).
    const early = chosen.slice(0, N / 2).reduce((a, b) => a + b, 0);
    const late = chosen.slice(N / 2).reduce((a, b) => a + b, 0);
    expect(Math.abs(early - late)).toBeLessThan(5 * Math.sqrt(2) * Math.sqrt(N / 2) * sdChosen);
  });
});

describe('proportionInterval', () => {
  it('is the textbook Wilson interval when the population is practically infinite', () => {
    for (const [x, n] of [[52, 100], [0, 50], [50, 50], [3, 1000], [5210, 10_000]]) {
      const iv = proportionInterval(x, n, 1e15);
      const [lo, hi] = textbookWilson(x, n);
      expect(iv.estimate).toBe(x / n);
      expect(iv.low).toBeCloseTo(Math.max(0, lo), 9);
      expect(iv.high).toBeCloseTo(Math.min(1, hi), 9);
    }
  });

  it('always contains the estimate, stays in [0, 1] and never claims less than the sample proves', () => {
    const random = seededRandom(3);
    for (let i = 0; i < 2000; i++) {
      const N = 1 + Math.floor(random() * 10_000);
      const n = 1 + Math.floor(random() * N);
      const x = Math.floor(random() * (n + 1));
      const iv = proportionInterval(x, n, N);
      expect(iv.low).toBeGreaterThanOrEqual(0);
      expect(iv.high).toBeLessThanOrEqual(1);
      expect(iv.low).toBeLessThanOrEqual(iv.estimate);
      expect(iv.high).toBeGreaterThanOrEqual(iv.estimate);
      // At least x bounces and at most N - (n - x) are certain.
      expect(iv.low * N).toBeGreaterThanOrEqual(x - 1e-6);
      expect(iv.high * N).toBeLessThanOrEqual(N - (n - x) + 1e-6);
    }
  });

  it('collapses to the exact share when the sample is the whole queue', () => {
    const iv = proportionInterval(6, 30, 30);
    expect(iv).toEqual({ estimate: 0.2, low: 0.2, high: 0.2 });
  });

  it('narrows by the finite population correction: half the queue read is worth more than the same sample of a huge queue', () => {
    const n = 400;
    const x = 120;
    const huge = proportionInterval(x, n, 1e12);
    const half = proportionInterval(x, n, 2 * n);
    const f = (2 * n - n) / (2 * n - 1);
    const ratio = (half.high - half.low) / (huge.high - huge.low);
    expect(ratio).toBeLessThan(1);
    // For p far from 0 and 1 the width scales with about sqrt(f).
    expect(ratio).toBeCloseTo(Math.sqrt(f), 1);
  });

  it('an empty sample says nothing', () => {
    expect(proportionInterval(0, 0, 1000)).toEqual({ estimate: 0, low: 0, high: 1 });
    expect(() => proportionInterval(5, 4, 10)).toThrow(RangeError);
  });
});

/** Coverage of the 95% interval over `runs` seeded samples of size n from a population of booleans. */
function coverage(population: boolean[], n: number, runs: number, seed: number): number {
  const truth = population.filter(Boolean).length / population.length;
  let covered = 0;
  for (let run = 0; run < runs; run++) {
    const { sample } = sampleOf(population, n, seededRandom(seed + run));
    const hits = sample.filter(Boolean).length;
    const iv = proportionInterval(hits, sample.length, population.length);
    if (iv.low <= truth && truth <= iv.high) covered++;
  }
  return covered / runs;
}

describe('the 95% interval covers the true ratio about 95% of the time', () => {
  // A generated queue, in memory: the same message mix the spool generator writes (flood, bounces, ...).
  const generated = (() => {
    const random = rng(2024);
    return Array.from({ length: 20_000 }, (_, i) => makeMessage(i, postfixWriter, 1_795_000_000, random).sender === '');
  })();

  it('on a generated queue of 20,000 (N = 400, 1,000 seeds)', () => {
    const truth = generated.filter(Boolean).length / generated.length;
    expect(truth).toBeGreaterThan(0.2); // the generator's bounce storm is there
    const c = coverage(generated, 400, 1000, 1);
    expect(c).toBeGreaterThanOrEqual(0.92);
    expect(c).toBeLessThanOrEqual(0.98);
  });

  for (const share of [0.01, 0.1, 0.5, 0.85]) {
    it(`at ${share * 100}% bounces (N = 400 of 20,000, 400 seeds)`, () => {
      const pop = Array.from({ length: 20_000 }, (_, i) => i < share * 20_000);
      const c = coverage(pop, 400, 400, 1000 + share * 1e4);
      expect(c).toBeGreaterThanOrEqual(0.92);
      expect(c).toBeLessThanOrEqual(0.98);
    });
  }

  it('when the sample is half the queue (without the finite population correction it would be ~99.5%)', () => {
    const pop = Array.from({ length: 800 }, (_, i) => i % 10 < 3);
    const c = coverage(pop, 400, 1000, 77);
    expect(c).toBeGreaterThanOrEqual(0.92);
    expect(c).toBeLessThanOrEqual(0.98);
  });
});

describe('rangeOverlap and intervalState', () => {
  const RANGES = ['20', '20:', '~:20', '10:20', '@10:20', '50', '0:50', '@50:', '@~:5', '~:0'];
  const grid = Array.from({ length: 201 }, (_, i) => i / 2); // 0, 0.5, ... 100

  it('agrees with the Nagios alert rule on every value of the interval (brute force)', () => {
    for (const text of RANGES) {
      const range = parseRange(text)!;
      for (let a = 0; a < grid.length; a += 7) {
        for (let b = a; b < grid.length; b += 11) {
          const inside = grid.slice(a, b + 1);
          const hits = inside.filter((v) => alerts(range, v)).length;
          const want = hits === 0 ? 'none' : hits === inside.length ? 'all' : 'some';
          expect(rangeOverlap(range, grid[a], grid[b]), `${text} on [${grid[a]}, ${grid[b]}]`).toBe(want);
        }
      }
    }
  });

  it('for an exact value (a point) it is the plain threshold rule, CRITICAL before WARNING', () => {
    for (const [w, c] of [['20', '50'], ['50', '20'], ['@10:20', '~:5'], [undefined, '30'], ['30', undefined]]) {
      const warn = parseRange(w);
      const crit = parseRange(c);
      for (const v of grid) expect(intervalState(v, v, warn, crit), `${v} -w ${w} -c ${c}`).toBe(thresholdState(v, warn, crit));
    }
  });

  it('CRITICAL only when the whole interval is critical; WARNING when it reaches a range', () => {
    const warn = parseRange('20');
    const crit = parseRange('50');
    expect(intervalState(51, 60, warn, crit)).toBe(State.CRITICAL);
    expect(intervalState(45, 55, warn, crit)).toBe(State.WARNING);
    expect(intervalState(25, 30, warn, crit)).toBe(State.WARNING);
    expect(intervalState(15, 25, warn, crit)).toBe(State.WARNING);
    expect(intervalState(10, 19.9, warn, crit)).toBe(State.OK);
    expect(intervalState(10, 60, undefined, undefined)).toBe(State.OK);
  });
});

describe('--sample auto: is the exact read on course to finish in time?', () => {
  // 500,000 listed, 2,048 read in 200 ms: 0.1 ms a file, 497,952 to go, about 49.8 s more.
  const base = { population: 500_000, files: 2048, elapsedMs: 200, remainingMs: 8000, budgetMs: 8200, reserveMs: 500 };

  it('projects the rest of the read at its rate so far', () => {
    expect(projectedFinishMs(base)).toBeCloseTo((200 / 2048) * (500_000 - 2048), 6);
    expect(projectedFinishMs({ ...base, files: 500_000 })).toBe(0);
    expect(projectedFinishMs({ ...base, files: 0 })).toBe(Infinity);
  });

  it('gives up when the projection, with its margin, does not fit before the deadline minus the sample reserve', () => {
    expect(exactReadOnCourse(base)).toBe(false);
    // 50,000 listed: 4.7 s more, times the margin, fits in 8 s minus 0.5 s.
    const small = { ...base, population: 50_000 };
    expect(projectedFinishMs(small) * EXACT_MARGIN).toBeLessThan(small.remainingMs - small.reserveMs);
    expect(exactReadOnCourse(small)).toBe(true);
    // The same read with a bigger reserve for the sample, or less time left, does not.
    expect(exactReadOnCourse({ ...small, reserveMs: 3000 })).toBe(false);
    expect(exactReadOnCourse({ ...small, remainingMs: 6000 })).toBe(false);
  });

  it('does not judge on the first files (start-up costs) unless they already took a tenth of the time', () => {
    const early = { ...base, files: MIN_PROGRESS_FILES - 1, elapsedMs: 100 };
    expect(early.elapsedMs).toBeLessThan(MAX_SILENT_SHARE * early.budgetMs);
    expect(exactReadOnCourse(early)).toBe(true);
    // A slow disk: 256 files took 1 s of 8.2: judged at once.
    expect(exactReadOnCourse({ ...base, files: 256, elapsedMs: 1000 })).toBe(false);
  });
});
