// check-mailq-growth: how fast the queue is growing and where it is heading. Incident 004: Postfix
// retried a misconfigured relay for its 12-hour bounce threshold while the deferred queue grew
// steadily; a rate on the deferred queue would have said so within minutes.
// Each run counts the queues (the depth reader's count-only path), adds (time, total, per-queue
// counts, the alert it ended in) to the state store, and asks the trend engine (lib/stats/trend.ts)
// for the rate of the current regime; the verdict holds until the rate is clearly back (hysteresis).

import { metric, type CheckSpec, type Evaluation } from '../plugin/check.js';
import { aboutDuration, compactDuration } from '../plugin/duration.js';
import { UnknownError } from '../plugin/errors.js';
import { formatSignedRate, round2 } from '../plugin/numbers.js';
import type { OptionTable } from '../plugin/options.js';
import type { Range } from '../plugin/range.js';
import { boundedState, State, STATE_NAMES, thresholdState, worst, type Metric } from '../plugin/result.js';
import { STATE_TABLE } from '../plugin/state.js';
import { GROWTH_CHECK_ID, growthRetention, readGrowth, type GrowthData, type GrowthReadOptions, type GrowthSample, type HeldAlert } from '../queue/growth-read.js';
import { describeSource, formatCount, skippedReport } from '../queue/report.js';
import { checkQueueNames, SOURCE_TABLE, sourceOptions } from '../queue/source.js';
import { HOLD_MARGIN, heldState, holdRange } from '../stats/hysteresis.js';
import { median } from '../stats/theil-sen.js';
import { MIN_SPAN, timeToReach, trend, type TrendOptions } from '../stats/trend.js';
import { VERSION } from '../version.js';

export { aboutDuration, compactDuration, MIN_SPAN };
// The reading and its state file live in lib/queue/growth-read.ts; exported here as before.
export { GROWTH_CHECK_ID, growthStateTarget, heldBefore, isGrowthSample, legacyGrowthStateTarget, type GrowthData, type GrowthSample, type HeldAlert } from '../queue/growth-read.js';

export interface GrowthOptions extends GrowthReadOptions {
  minSamples: number;
  limit?: number;
  warning?: Range;
  critical?: Range;
  /** Ranges on the eta in seconds ("7200:" = alert below 2h). */
  etaWarning?: Range;
  etaCritical?: Range;
  /** Seconds between the MTA's queue runs (a healthy deferred queue is a sawtooth of this period); 0: none. */
  queueRun?: number;
  timeout: number;
}

/** Ranges on a rate: a bare "N" means "~:N" here, since a shrinking queue has a negative rate and "N" would alert on it. */
export function rateRange(r: Range | undefined): Range | undefined {
  if (!r || r.inside || r.text.includes(':')) return r;
  return { text: `~:${r.text}`, start: -Infinity, end: r.end, inside: false };
}

function inWindow(samples: GrowthSample[], now: number, window: number): GrowthSample[] {
  return samples.filter((s) => s.t <= now + 1e-6 && s.t > now - window);
}

/** Runs the judged window holds at least: with 5-minute runs a 15m window would hold 3 samples, too few
 *  to tell one odd sample from a trend. */
export const WINDOW_RUNS = 6;

/** The window judged: --window, or six of the usual intervals between runs when that is longer (up to
 *  the samples kept, lib/queue/growth-read.ts GROWTH_RETAIN). */
export function judgedWindow(samples: readonly GrowthSample[], now: number, window: number): number {
  const kept = samples.filter((s) => s.t <= now + 1e-6 && s.t > now - growthRetention(window));
  if (kept.length < 3) return window;
  const steps = kept.slice(1).map((s, i) => s.t - kept[i].t);
  return Math.min(growthRetention(window), Math.max(window, WINDOW_RUNS * median(steps)));
}

export function evaluateGrowth(data: GrowthData, o: GrowthOptions, now: number): Evaluation {
  const ev = evaluateComplete(data, o, now);
  if (!data.partial) return ev;
  // A count cut short by the deadline would graph as a sudden drop: none of it is graphed. But it is
  // a lower bound, so the growth since the last run is at least (count - last) / elapsed: when that
  // already lies in an alert range, that is the answer; otherwise the runner says UNKNOWN.
  const metrics = ev.metrics.filter((m) => m.label === 'samples');
  const selected = o.queues.length ? o.queues : undefined;
  const s = data.queue.summary;
  const atLeast = selected ? selected.reduce((n, q) => n + (s.byQueue[q] ?? 0), 0) : s.total;
  const last = inWindow(data.samples, now, o.window).at(-1);
  if (last && now - last.t >= MIN_SPAN) {
    const before = selected ? selected.reduce((n, q) => n + (last.queues[q] ?? 0), 0) : last.total;
    const rateLow = (atLeast - before) / ((now - last.t) / 60);
    const state = boundedState(rateLow, Infinity, o.warning, o.critical);
    if (state === State.CRITICAL || state === State.WARNING) {
      const subject = selected ? selected.join('+') : 'queue';
      return {
        state,
        summary: `${subject} growing at least ${formatSignedRate(rateLow)}/min since the run ${compactDuration(Math.round(now - last.t))} ago, now at least ${formatCount(atLeast)}; scan incomplete: ${data.partial}`,
        metrics,
        details: ev.details,
        partialHandled: true,
        facts: ev.facts,
      };
    }
  }
  return { ...ev, metrics };
}

/** The trend options a growth check judges with: the queue-run cycle is at most half the window (a
 *  2m window cannot wait for a 5m cycle). */
export function growthTrendOptions(o: Pick<GrowthOptions, 'minSamples' | 'queueRun' | 'window' | 'warning' | 'critical'>, judgedBefore = false): TrendOptions {
  // A rate is known well enough at 10% of the smallest threshold (5/min for -w 50), else 1/min.
  const bounds = [o.warning, o.critical].flatMap((r) => (r ? [r.start, r.end] : [])).filter((b) => Number.isFinite(b) && b !== 0).map(Math.abs);
  const precision = (bounds.length ? Math.max(0.5, 0.1 * Math.min(...bounds)) : 1) / 60;
  return { minSamples: o.minSamples, minSpan: MIN_SPAN, cycle: Math.min(o.queueRun ?? 0, o.window / 2), resolution: 1, precision, judgedBefore };
}

function evaluateComplete(data: GrowthData, o: GrowthOptions, now: number): Evaluation {
  const s = data.queue.summary;
  const selected = o.queues.length ? o.queues : undefined;
  const subject = selected ? selected.join('+') : 'queue';
  const measure = (counts: Record<string, number>, total: number) => (selected ? selected.reduce((n, q) => n + (counts[q] ?? 0), 0) : total);
  const current = measure(s.byQueue, s.total);
  const window = judgedWindow(data.samples, now, o.window);
  const samples = inWindow(data.samples, now, window);
  const held = data.held ?? {};
  const topt = growthTrendOptions({ ...o, window }, !!(held.rate || held.eta));
  const tr = trend(
    samples.map((x) => ({ t: x.t, y: measure(x.queues, x.total) })),
    topt,
  );
  const win = compactDuration(window);
  const details: string[] = [];
  const metrics: Metric[] = [];
  const facts = { mta: data.queue.mta, source: data.queue.source, spools: data.queue.spools, stateFile: data.stateFile, samples: tr.n, notes: data.notes };
  const tail = () => {
    details.push(...data.notes);
    if (data.stateFile) details.push(`state: ${data.stateFile} (${tr.n} sample${tr.n === 1 ? '' : 's'} in the ${win} window)`);
    details.push(describeSource(data.queue));
    details.push(...skipped.details);
  };
  const skipped = skippedReport(data.queue.skipped ?? [], data.queue.mta, data.queue.spools);
  const withSkipped = (summary: string) => (skipped.summary ? `${summary}; ${skipped.summary}` : summary);

  if (!tr.ready || tr.rate === undefined) {
    const queued = selected ? `${formatCount(current)} in ${subject}` : `${formatCount(current)} queued`;
    const summary =
      tr.n < o.minSamples
        ? `collecting baseline (${tr.n} of ${o.minSamples} samples), ${queued}`
        : `collecting baseline (${tr.n} samples over ${compactDuration(tr.span)}; a rate needs ${tr.needs}), ${queued}`;
    details.push(`a rate needs ${o.minSamples} samples spanning at least ${tr.needs && tr.n >= o.minSamples ? tr.needs : compactDuration(Math.max(MIN_SPAN, topt.cycle ?? 0))} within the ${win} window; have ${tr.n} over ${compactDuration(tr.span)}`);
    tail();
    metrics.push(metric('total', s.total, { min: 0, family: 'messages', integer: true }), metric('samples', tr.n, { min: 0, integer: true }));
    // Too few samples left after a gap or a clock step, while the last run alerted: that verdict holds
    // (said so) until a rate can be judged again, so missed runs do not flap the alert.
    const keep = worst(held.rate ?? State.OK, held.eta ?? State.OK) as State;
    if (keep !== State.OK) details.unshift(`holding ${STATE_NAMES[keep]} from the last run until a rate can be judged again`);
    return {
      state: keep,
      summary: withSkipped(keep !== State.OK ? `${summary}; holding ${STATE_NAMES[keep]} from the last run` : summary),
      metrics,
      details,
      facts: { ...facts, held: keep !== State.OK ? held : {} },
    };
  }

  const perMin = (x: number) => x * 60;
  const rate = perMin(tr.rate);
  const lsRate = perMin(tr.fit!.slope);
  const regimeRate = perMin(tr.regimeRate ?? tr.rate);
  const eta = o.limit !== undefined ? timeToReach(current, o.limit, tr.rate) : undefined;

  const rateState = heldState(rate, o.warning, o.critical, held.rate);
  const etaState = eta !== undefined ? heldState(eta, o.etaWarning, o.etaCritical, held.eta) : State.OK;
  const state = worst(rateState, etaState);
  const holding = rateState !== thresholdState(rate, o.warning, o.critical);
  const nextHeld: HeldAlert = {};
  if (rateState !== State.OK) nextHeld.rate = rateState;
  if (etaState !== State.OK) nextHeld.eta = etaState;

  const verb = Math.abs(rate) < 0.05 ? 'steady' : rate > 0 ? 'growing' : 'shrinking';
  const ago = (t: number) => compactDuration(Math.max(0, Math.round(now - t)));
  let basis: string;
  if (tr.basis === 'cycles') basis = `over whole queue-run cycles of ~${compactDuration(Math.round(tr.period!))}, ${tr.n} samples`;
  else if (tr.unconfirmed || tr.regimeSamples === tr.n - tr.outliers) basis = `${win} window, ${tr.n} samples`;
  else basis = `since a change ${ago(tr.onset!)} ago, ${tr.regimeSamples} samples`;
  if (tr.unconfirmed) basis += `; ${tr.fresh} new sample${tr.fresh === 1 ? ' is' : 's are'} no trend yet`;
  if (tr.outliers) basis += `; ${tr.outliers} outlying sample${tr.outliers === 1 ? '' : 's'} set aside`;
  let summary = `${subject} ${verb} ${formatSignedRate(rate)}/min (${basis}), now ${formatCount(current)}`;
  if (o.limit !== undefined) {
    if (eta === 0) summary += `; at or above the limit ${formatCount(o.limit)}`;
    else if (eta !== undefined) summary += `; reaches ${formatCount(o.limit)} in ~${aboutDuration(eta)}`;
    else summary += `; not heading for ${formatCount(o.limit)}`;
  } else if (state !== State.OK && rate > 0) {
    summary += `; heading for ~${formatCount(Math.round(current + rate * 60))} in 1h`;
  }
  if (holding) summary += `; held until below ${formatSignedRate(holdBound(rateState === State.CRITICAL ? o.critical : o.warning))}/min`;

  details.push(
    tr.basis === 'cycles'
      ? `rate: ${formatSignedRate(rate)}/min, the median slope between samples whole queue-run cycles apart (${tr.drops} queue run${tr.drops === 1 ? '' : 's'} seen, ~${compactDuration(Math.round(tr.period!))} apart): the rise between two runs is not growth`
      : `rate: ${formatSignedRate(rate)}/min, the median slope between the samples ${tr.unconfirmed ? 'of the last two regimes (the newest has fewer than 3 samples)' : `since the last change of regime (${ago(tr.onset!)} ago, ${tr.regimeSamples} samples)`}`,
    `window: ${formatSignedRate(lsRate)}/min least squares over ${tr.n} samples in the ${win} window (spanning ${compactDuration(tr.span)}, r² ${tr.fit!.r2.toFixed(2)}); noise ±${round2(tr.noise)}${tr.outliers ? `; ${tr.outliers} spike${tr.outliers === 1 ? '' : 's'} set aside` : ''}`,
    `rate judged: ${formatSignedRate(rate)}/min${o.warning || o.critical ? ` against -w ${o.warning?.text ?? '-'} -c ${o.critical?.text ?? '-'}` : ''}${held.rate ? ` (the last run ended ${STATE_NAMES[held.rate as State]}: it holds until the rate is ${Math.round(HOLD_MARGIN * 100)}% inside the threshold)` : ''}`,
  );
  const queueNames = Object.keys(s.byQueue);
  const queueRates: Record<string, number> = {};
  for (const q of queueNames) {
    const qt = trend(
      samples.map((x) => ({ t: x.t, y: x.queues[q] ?? 0 })),
      topt,
    );
    queueRates[q] = perMin(qt.rate ?? 0);
  }
  details.push(`per queue: ${queueNames.map((q) => `${q} ${formatSignedRate(queueRates[q])}/min (${formatCount(s.byQueue[q])})`).join(', ')}`);
  if (o.limit !== undefined)
    details.push(
      eta === 0
        ? `limit ${formatCount(o.limit)}: already reached (${formatCount(current)})`
        : eta !== undefined
          ? `limit ${formatCount(o.limit)}: reached in ~${aboutDuration(eta)} at ${formatSignedRate(rate)}/min`
          : `limit ${formatCount(o.limit)}: not reached at ${formatSignedRate(rate)}/min`,
    );
  tail();

  metrics.push(metric('rate', round2(rate), { warn: o.warning, crit: o.critical }));
  metrics.push(metric('rate_window', round2(lsRate)));
  metrics.push(metric('rate_recent', round2(regimeRate)));
  for (const q of queueNames) metrics.push(metric(`rate_${q}`, round2(queueRates[q]), { family: 'queue_rate', dims: { queue: q } }));
  metrics.push(metric('total', s.total, { min: 0, family: 'messages', integer: true }), metric('samples', tr.n, { min: 0, integer: true }));
  if (o.limit !== undefined && eta !== undefined) metrics.push(metric('eta', Math.round(eta), { uom: 's', min: 0, integer: true, warn: o.etaWarning, crit: o.etaCritical }));

  return {
    state,
    summary: withSkipped(summary),
    metrics,
    details,
    facts: { ...facts, rate, lsRate, regimeRate, basis: tr.basis, onset: tr.onset, regimeSamples: tr.regimeSamples, period: tr.period, eta, held: nextHeld },
  };
}

/** The value a held alert on this rate range must come back past (the upper bound shrunk by the margin). */
function holdBound(r: Range | undefined): number {
  if (!r) return 0;
  const h = holdRange(r);
  return Number.isFinite(h.end) ? h.end : h.start;
}

/** The verdict's settings as given (they key the state file with the alert it keeps): only those set. */
export function judgedBy(o: GrowthOptions): Record<string, string> {
  const out: Record<string, string> = {};
  if (o.warning) out.warning = o.warning.text;
  if (o.critical) out.critical = o.critical.text;
  if (o.limit !== undefined) out.limit = String(o.limit);
  if (o.etaWarning) out.etaWarning = o.etaWarning.text;
  if (o.etaCritical) out.etaCritical = o.etaCritical.text;
  return out;
}

const GROWTH_TABLE = {
  ...SOURCE_TABLE,
  ...STATE_TABLE,
  warning: {
    kind: 'range',
    alias: 'w',
    family: 'rate',
    thresholdDefault: { value: '30', why: 'incidents 003 (+50/min as scanning stopped) and 004 (+200/min deferred); a quiet queue is level within a few/min' },
    describe: 'WARNING range on messages/min (a bare N is ~:N: a shrinking queue never alerts)',
  },
  critical: {
    kind: 'range',
    alias: 'c',
    family: 'rate',
    thresholdDefault: { value: '300', why: 'incident 000: +600/min to one alias, 500,000 overnight' },
    describe: 'CRITICAL range on messages/min (evaluated before WARNING)',
  },
  queue: { kind: 'text', list: true, describe: 'measure these queues only, e.g. deferred [default: all]' },
  window: { kind: 'duration', min: 2 * MIN_SPAN, default: '15m', describe: 'fit the rate over the samples of this long (90s, 15m, 1h)' },
  'min-samples': { kind: 'count', min: 2, max: 500, default: '3', describe: 'samples needed in the window before any verdict (the baseline)' },
  'queue-run': {
    kind: 'duration',
    min: 0,
    max: 86400,
    default: '5m',
    describe: 'how often the MTA retries deferred mail (Postfix queue_run_delay, sendmail -q, exim -q): the queue is a sawtooth of this period, judged over whole cycles; 0: no queue runs',
  },
  limit: { kind: 'count', min: 1, describe: 'queue size to project to: "reaches N in ~X" and the eta metric' },
  'eta-warning': { kind: 'duration', threshold: 'below', describe: 'WARNING when the queue would reach --limit sooner than this (30m, 2h)' },
  'eta-critical': { kind: 'duration', threshold: 'below', describe: 'CRITICAL when the queue would reach --limit sooner than this' },
} as const satisfies OptionTable;

export const growthCheck: CheckSpec<GrowthOptions, GrowthData, typeof GROWTH_TABLE> = {
  name: 'check-mailq-growth',
  service: 'MAILQ_GROWTH',
  id: GROWTH_CHECK_ID,
  version: VERSION,
  description:
    'how fast the mail queue grows (messages/min, a robust slope since the last change of regime) and when it reaches a limit. ' +
    '-w/-c are ranges on messages/min; a bare N means ~:N, so a shrinking queue never alerts',
  table: GROWTH_TABLE,
  examples: [
    ['check-mailq-growth --queue deferred -w 50 -c 500', 'incident 004: alert when the deferred queue grows faster than 50/min'],
    ['check-mailq-growth --limit 50000 --eta-warning 2h --eta-critical 30m', 'alert on when the queue would reach 50,000'],
    ['check-mailq-growth --format graphite', 'rates for Graphite'],
  ],
  incidents: [
    { id: '000', what: 'notification flood, 500,000 queued to one alias', command: 'check-mailq-growth --mta postfix', fires: 'WARNING at +2m (+120/min), CRITICAL at +3m' },
    { id: '002', what: 'backscatter queued on a secondary MX', command: 'check-mailq-growth --mta exim', fires: 'WARNING at +2m (+58/min), CRITICAL at +8m' },
    { id: '003', what: 'virus scanner in an error loop, mail stalled', command: 'check-mailq-growth --mta postfix', fires: 'WARNING at +3m (+52/min)' },
    { id: '004', what: 'silent deferral, mail retried for 12 h', command: 'check-mailq-growth --mta postfix --queue deferred', fires: 'WARNING at +2m (deferred +200/min)' },
  ],
  validate(a, common) {
    if ((a.etaWarning || a.etaCritical) && a.limit === undefined)
      throw new UnknownError('--eta-warning/--eta-critical project to a queue size', 'give --limit N too');
    const o: GrowthOptions = {
      ...sourceOptions(a),
      queues: a.queue,
      window: a.window,
      minSamples: a.minSamples,
      limit: a.limit,
      warning: rateRange(common.warning),
      critical: rateRange(common.critical),
      etaWarning: a.etaWarning,
      etaCritical: a.etaCritical,
      queueRun: a.queueRun,
      stateDir: a.stateDir,
      timeout: common.timeout,
    };
    o.judgedBy = judgedBy(o);
    if (o.mta !== 'auto') checkQueueNames(o.mta, o.queues);
    return o;
  },
  collect: (o, ctx) => readGrowth(o, ctx, (data, now) => evaluateGrowth(data, o, now).facts?.held as HeldAlert | undefined),
  evaluate: evaluateGrowth,
};
