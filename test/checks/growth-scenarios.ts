// Queue shapes for check-mailq-growth, as a scheduler runs it: each scenario is the true deferred count
// as a function of time (and its true rate), sampled at a scheduler interval with seeded jitter, gaps
// and clock steps. `drive` runs evaluateGrowth run after run exactly as the real run does: the samples
// kept by the state store (lib/plugin/state.ts tidySamples: the window, samples from the future dropped),
// the previous run's alert carried in its sample. Expected values are the generator's parameters.
import { evaluateGrowth, rateRange, type GrowthData, type GrowthOptions, type GrowthSample, type HeldAlert } from '../../lib/checks/mailq-growth.js';
import { parseRange } from '../../lib/plugin/range.js';
import { State } from '../../lib/plugin/result.js';
import { tidySamples } from '../../lib/plugin/state.js';
import { growthRetention } from '../../lib/queue/growth-read.js';
import { POSTFIX_QUEUES } from '../../lib/mta/postfix.js';
import { emptySummary } from '../../lib/queue/summary.js';
import { prng } from '../helpers/prng.js';

export const T0 = 1_795_000_000;
/** The queue-run interval of the sawtooth scenarios (Postfix queue_run_delay). */
export const QUEUE_RUN = 300;

export type Expect =
  /** Never WARNING or worse, on any run after the baseline. */
  | { kind: 'never' }
  /** WARNING or worse within `within` runs of `from`, then on every run to the end (until `until`). */
  | { kind: 'alert'; from: number; within: number; until?: number; within_s?: number }
  /** May alert from onset; OK within `within` runs after `end` and from then on. */
  | { kind: 'recover'; end: number; within: number };

export interface Shape {
  name: string;
  /** True deferred count at true time s (seconds after the start). */
  y(s: number): number;
  /** True rate (messages/min) at s, for the tolerance; undefined: not a line there (a sawtooth's flank). */
  rate(s: number): number | undefined;
  /** When the regime the tolerance applies to began (seconds after the start). */
  onset: number;
  expect: Expect;
  /** Seconds (true time) with no run (the scheduler was down). */
  gap?: [number, number];
  /** The check's clock minus true time, from a true time on (a clock step). */
  clock?: (s: number) => number;
  /** Runs whose rate is judged against `rate` start this long after the onset (default: 3 runs). */
  settle?: (interval: number) => number;
  /** Relative rate tolerance. */
  tol?: number;
  /** How long the scenario lasts (seconds). */
  length?: number;
  /** A clock step or the end of a gap (true time): for three runs after it the rate only has to stay
   *  within 100% of the truth (never a huge fake rate), then within `tol` again. */
  disturb?: number;
}

const LEAD = 600;
const saw = (s: number, perMin: number, phase = 37) => (perMin / 60) * ((((s - phase) % QUEUE_RUN) + QUEUE_RUN) % QUEUE_RUN);

export function shapes(seed: number): Shape[] {
  // The noise at a time depends on the seed and the time only (not on which scenario asked first).
  const n = (s: number, sd: number) => prng((seed * 7919) ^ Math.round(s * 1000)).gauss(sd);
  const on = LEAD;
  const rise = (s: number, perMin: number) => Math.max(0, s - on) * (perMin / 60);
  return [
    { name: 'quiet', y: () => 200, rate: () => 0, onset: 0, expect: { kind: 'never' } },
    { name: 'steady rise', y: (s) => 200 + rise(s, 100), rate: (s) => (s > on ? 100 : 0), onset: on, expect: { kind: 'alert', from: on, within: 3 } },
    { name: 'step', y: (s) => (s >= on ? 700 : 200), rate: (s) => (s > on ? 0 : 0), onset: on, expect: { kind: 'never' } },
    {
      name: 'ramp',
      // The rate climbs from 0 to 300/min over 20 minutes: it crosses 55/min (-w 50 plus 10%) at +3m40s.
      y: (s) => 200 + (s > on ? ((300 / 1200) * (s - on) ** 2) / 2 / 60 : 0),
      rate: (s) => (s > on ? (300 * Math.min(s - on, 1200)) / 1200 : 0),
      // The tolerance applies from the crossing on.
      onset: on + 220,
      // A rise that keeps speeding up is followed a few samples late: each new piece of it needs its
      // three samples. Measured: alert 1-2 runs after the crossing at 10 s and 30 s, 4 at 1 m and 5 m.
      expect: { kind: 'alert', from: on + 220, within: 4 },
      tol: 0.8,
      length: on + 1200,
    },
    {
      name: 'burst then quiet',
      y: (s) => 200 + Math.min(Math.max(0, s - on), 240) * (400 / 60),
      rate: (s) => (s > on + 240 ? 0 : undefined),
      onset: on + 240,
      expect: { kind: 'recover', end: on + 240, within: 3 },
    },
    { name: 'sawtooth', y: (s) => 100 + saw(s, 90), rate: () => undefined, onset: 0, expect: { kind: 'never' } },
    {
      name: 'rising sawtooth',
      y: (s) => 100 + saw(s, 90) + rise(s, 100),
      rate: (s) => (s > on ? 100 : undefined),
      onset: on,
      // Judged over whole cycles: it alerts within two queue runs of onset, the rate right after three.
      expect: { kind: 'alert', from: on, within: 3, within_s: 2 * QUEUE_RUN },
      settle: () => 3 * QUEUE_RUN,
      tol: 0.1,
    },
    // Noise of +-8 messages: a short run of it can pass for a regime of +-10/min (20% of -w 50), never an alert.
    { name: 'noise', y: (s) => Math.max(0, Math.round(200 + n(s, 8))), rate: () => 0, onset: 0, expect: { kind: 'never' }, tol: 0.2 },
    {
      name: 'one outlier',
      y: (s) => 200 + rise(s, 100) + (Math.abs(s - (on + 400)) < 1e-9 ? 3000 : 0),
      rate: (s) => (s > on ? 100 : 0),
      onset: on,
      expect: { kind: 'alert', from: on, within: 3 },
    },
    {
      name: 'gap',
      y: (s) => 200 + rise(s, 100),
      rate: (s) => (s > on ? 100 : 0),
      onset: on,
      gap: [on + 480, on + 1080],
      disturb: on + 1080,
      expect: { kind: 'alert', from: on, within: 3 },
    },
    {
      name: 'clock step back 2m',
      y: (s) => 200 + rise(s, 100),
      rate: (s) => (s > on ? 100 : 0),
      onset: on,
      clock: (s) => (s >= on + 600 ? -120 : 0),
      disturb: on + 600,
      expect: { kind: 'alert', from: on, within: 3 },
    },
    {
      name: 'clock step forward 10m',
      y: (s) => 200 + rise(s, 100),
      rate: (s) => (s > on ? 100 : 0),
      onset: on,
      clock: (s) => (s >= on + 600 ? 600 : 0),
      disturb: on + 600,
      expect: { kind: 'alert', from: on, within: 3 },
    },
  ];
}

export interface RunRecord {
  /** True time (seconds after the start) and the check's clock. */
  s: number;
  t: number;
  state: State;
  rate?: number;
  summary: string;
  baseline: boolean;
}

export function growthOptions(extra: Partial<GrowthOptions> = {}): GrowthOptions {
  return {
    mta: 'postfix',
    source: 'spool',
    queues: ['deferred'],
    window: 900,
    minSamples: 3,
    queueRun: QUEUE_RUN,
    timeout: 10,
    warning: rateRange(parseRange('50')),
    critical: rateRange(parseRange('1000')),
    ...extra,
  };
}

/** Run times (true seconds after the start): every `interval` +- jitter (a share of it), seeded. */
export function schedule(interval: number, jitter: number, length: number, seed: number, gap?: [number, number]): number[] {
  const r = prng(seed);
  const out: number[] = [];
  for (let k = 0; k * interval <= length; k++) {
    const s = k * interval + (k ? r.uniform(-jitter, jitter) * interval : 0);
    if (gap && s >= gap[0] && s < gap[1]) continue;
    out.push(s);
  }
  return out;
}

/** One check run after another, with the state carried over as the real run carries it. */
export function drive(shape: Shape, times: number[], o: GrowthOptions = growthOptions()): RunRecord[] {
  let kept: GrowthSample[] = [];
  const runs: RunRecord[] = [];
  for (const s of times) {
    const t = T0 + s + (shape.clock?.(s) ?? 0);
    const deferred = Math.max(0, Math.round(shape.y(s)));
    kept = tidySamples(kept, t, growthRetention(o.window), 500).samples;
    const held: HeldAlert | undefined = kept.length ? kept[kept.length - 1].alert : undefined;
    const sample: GrowthSample = { t, total: deferred + 3, queues: { deferred, active: 3 } };
    const summary = { ...emptySummary(POSTFIX_QUEUES, false), total: sample.total, byQueue: { ...sample.queues } };
    const data: GrowthData = {
      queue: { mta: 'postfix', source: 'spool', spools: ['/var/spool/postfix'], summary, files: sample.total, vanished: 0, commands: [] },
      samples: [...kept, sample],
      notes: [],
      held,
    };
    const ev = evaluateGrowth(data, o, t);
    const alert = ev.facts?.held as HeldAlert | undefined;
    if (alert && Object.keys(alert).length) sample.alert = alert;
    kept.push(sample);
    const rate = ev.metrics.find((m) => m.label === 'rate')?.value;
    runs.push({ s, t, state: ev.state, rate, summary: ev.summary, baseline: rate === undefined });
  }
  return runs;
}

/** State changes between consecutive runs after the baseline. */
export function flaps(runs: RunRecord[]): number {
  let n = 0;
  const judged = runs.filter((r) => !r.baseline);
  for (let i = 1; i < judged.length; i++) if (judged[i].state !== judged[i - 1].state) n++;
  return n;
}

export interface Verdict {
  ok: boolean;
  why: string[];
  flaps: number;
  /** Runs after `from` until the first alert (1 = the first run after it). */
  runsToAlert?: number;
  /** Largest relative rate error over the runs that are judged against the true rate. */
  maxRateError?: number;
}

export function judgeRuns(shape: Shape, runs: RunRecord[], interval: number): Verdict {
  const why: string[] = [];
  const alerting = (r: RunRecord) => r.state === State.WARNING || r.state === State.CRITICAL;
  const e = shape.expect;
  let runsToAlert: number | undefined;
  if (e.kind === 'never') {
    const bad = runs.filter(alerting);
    if (bad.length) why.push(`alerted ${bad.length} time(s), first at ${Math.round(bad[0].s - shape.onset)}s: ${bad[0].summary}`);
  } else if (e.kind === 'alert') {
    const after = runs.filter((r) => r.s > e.from);
    const first = after.findIndex(alerting);
    runsToAlert = first < 0 ? undefined : first + 1;
    // Within so many runs, or (a sawtooth, judged over whole cycles) within so many seconds.
    const within = e.within_s !== undefined ? Math.max(e.within, Math.ceil(e.within_s / interval)) : e.within;
    if (first < 0 || first >= within) why.push(`first alert ${first < 0 ? 'never' : `on run ${first + 1}`} after onset (want within ${within})`);
    if (first >= 0) {
      const later = after.slice(first).filter((r) => r.s <= (e.until ?? Infinity));
      const back = later.find((r) => !alerting(r));
      if (back) why.push(`back to OK at +${Math.round(back.s - e.from)}s: ${back.summary}`);
    }
  } else {
    const late = runs.filter((r) => r.s > e.end);
    const idx = late.findIndex((r) => !alerting(r));
    if (idx < 0 || idx >= e.within) why.push(`not OK within ${e.within} runs after the burst (${idx < 0 ? 'never' : `run ${idx + 1}`})`);
    else {
      const again = late.slice(idx).find(alerting);
      if (again) why.push(`alerted again at +${Math.round(again.s - e.end)}s: ${again.summary}`);
    }
  }
  // The rate, once the regime has had its samples, within the tolerance of the truth.
  const settle = shape.settle?.(interval) ?? 0;
  const tol = shape.tol ?? 0.1;
  let maxRateError: number | undefined;
  const inRegime = runs.filter((r) => r.s > shape.onset && !r.baseline);
  inRegime.forEach((r, i) => {
    const truth = shape.rate(r.s);
    if (truth === undefined || r.rate === undefined) return;
    if (i < 2 || r.s - shape.onset < settle) return; // the third sample in the regime on
    // Measured on the check's clock: a clock step is not the queue's rate.
    const err = Math.abs(r.rate - truth) / Math.max(Math.abs(truth), 50);
    const disturbed = shape.disturb !== undefined && r.s > shape.disturb && r.s <= shape.disturb + 3 * interval * 1.1;
    if (!disturbed) maxRateError = Math.max(maxRateError ?? 0, err);
    if (err > (disturbed ? 1 : tol)) why.push(`rate ${r.rate}/min at +${Math.round(r.s - shape.onset)}s, true ${Math.round(truth)}/min (${(err * 100).toFixed(0)}% > ${tol * 100}%): ${r.summary}`);
  });
  const f = flaps(runs);
  const allowed = e.kind === 'recover' ? 2 : e.kind === 'alert' ? 1 : 0;
  if (f > allowed) why.push(`${f} state changes (at most ${allowed})`);
  return { ok: why.length === 0, why, flaps: f, runsToAlert, maxRateError };
}
