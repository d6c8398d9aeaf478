// check-mailq-growth: how fast the queue is growing and where it is heading. Incident 004: Postfix
// retried a misconfigured relay for its 12-hour bounce threshold while the deferred queue grew
// steadily; a rate on the deferred queue would have said so within minutes.
// Each run counts the queues (the depth reader's count-only path), adds (time, total, per-queue
// counts) to the state store, and fits a least-squares line through the samples in the window.

import { metric, type CheckSpec, type Evaluation } from '../plugin/check.js';
import { aboutDuration, compactDuration } from '../plugin/duration.js';
import { UnknownError } from '../plugin/errors.js';
import { formatSignedRate, round2 } from '../plugin/numbers.js';
import type { OptionTable } from '../plugin/options.js';
import type { Range } from '../plugin/range.js';
import { boundedState, State, thresholdState, worst, type Metric } from '../plugin/result.js';
import { STATE_TABLE } from '../plugin/state.js';
import { GROWTH_CHECK_ID, readGrowth, type GrowthData, type GrowthReadOptions, type GrowthSample } from '../queue/growth-read.js';
import { describeSource, formatCount, skippedReport } from '../queue/report.js';
import { checkQueueNames, SOURCE_TABLE, sourceOptions } from '../queue/source.js';
import { MIN_SPAN, timeToReach, trend } from '../stats/trend.js';
import { VERSION } from '../version.js';

export { aboutDuration, compactDuration, MIN_SPAN };
// The reading and its state file live in lib/queue/growth-read.ts; exported here as before.
export { GROWTH_CHECK_ID, growthStateTarget, isGrowthSample, legacyGrowthStateTarget, type GrowthData, type GrowthSample } from '../queue/growth-read.js';

export interface GrowthOptions extends GrowthReadOptions {
  minSamples: number;
  limit?: number;
  warning?: Range;
  critical?: Range;
  /** Ranges on the eta in seconds ("7200:" = alert below 2h). */
  etaWarning?: Range;
  etaCritical?: Range;
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

function evaluateComplete(data: GrowthData, o: GrowthOptions, now: number): Evaluation {
  const s = data.queue.summary;
  const selected = o.queues.length ? o.queues : undefined;
  const subject = selected ? selected.join('+') : 'queue';
  const measure = (counts: Record<string, number>, total: number) => (selected ? selected.reduce((n, q) => n + (counts[q] ?? 0), 0) : total);
  const current = measure(s.byQueue, s.total);
  const samples = inWindow(data.samples, now, o.window);
  const tr = trend(
    samples.map((x) => ({ t: x.t, y: measure(x.queues, x.total) })),
    { minSamples: o.minSamples, minSpan: MIN_SPAN },
  );
  const win = compactDuration(o.window);
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

  if (!tr.ready || !tr.fit) {
    const queued = selected ? `${formatCount(current)} in ${subject}` : `${formatCount(current)} queued`;
    const summary =
      tr.n < o.minSamples
        ? `collecting baseline (${tr.n} of ${o.minSamples} samples), ${queued}`
        : `collecting baseline (${tr.n} samples over ${compactDuration(tr.span)}; a rate needs ${compactDuration(MIN_SPAN)}), ${queued}`;
    details.push(`a rate needs ${o.minSamples} samples spanning at least ${compactDuration(MIN_SPAN)} within the ${win} window; have ${tr.n} over ${compactDuration(tr.span)}`);
    tail();
    metrics.push(metric('total', s.total, { min: 0, family: 'messages', integer: true }), metric('samples', tr.n, { min: 0, integer: true }));
    return { state: State.OK, summary: withSkipped(summary), metrics, details, facts };
  }

  const perMin = (x: number) => x * 60;
  const rate = perMin(tr.rate!);
  const lsRate = perMin(tr.fit.slope);
  const robustRate = perMin(tr.robust!);
  const recentRate = tr.sustained !== undefined ? perMin(tr.sustained) : undefined;
  const eta = o.limit !== undefined ? timeToReach(current, o.limit, tr.rate) : undefined;
  // One sample carried most of the least-squares slope (a burst that drained): say so.
  const outlier = Math.abs(lsRate - robustRate) >= 1 && Math.abs(lsRate - robustRate) > 0.5 * Math.abs(lsRate);

  const state = worst(thresholdState(rate, o.warning, o.critical), eta !== undefined ? thresholdState(eta, o.etaWarning, o.etaCritical) : State.OK);

  const verb = Math.abs(rate) < 0.05 ? 'steady' : rate > 0 ? 'growing' : 'shrinking';
  let basis = `${win} window, ${tr.n} samples`;
  if (tr.basis === 'recent') basis = `rising in each of the last ${tr.recent} samples; ${formatSignedRate(lsRate)}/min over the ${win} window`;
  else if (outlier) basis += `; ${formatSignedRate(lsRate)}/min counting one outlying sample`;
  let summary = `${subject} ${verb} ${formatSignedRate(rate)}/min (${basis}), now ${formatCount(current)}`;
  if (o.limit !== undefined) {
    if (eta === 0) summary += `; at or above the limit ${formatCount(o.limit)}`;
    else if (eta !== undefined) summary += `; reaches ${formatCount(o.limit)} in ~${aboutDuration(eta)}`;
    else summary += `; not heading for ${formatCount(o.limit)}`;
  } else if (state !== State.OK && rate > 0) {
    summary += `; heading for ~${formatCount(Math.round(current + rate * 60))} in 1h`;
  }

  details.push(
    `window: ${formatSignedRate(lsRate)}/min least squares over ${tr.n} samples in the ${win} window (spanning ${compactDuration(tr.span)}, r² ${tr.fit.r2.toFixed(2)}, ±${Math.abs(perMin(tr.fit.slopeError)).toFixed(1)}/min); ${formatSignedRate(robustRate)}/min whichever one sample is left out`,
    recentRate !== undefined
      ? `recent: rose in each of the last ${tr.recent} samples, at least ${formatSignedRate(recentRate)}/min`
      : `recent: did not rise in each of the last ${tr.recent} samples`,
    `rate judged: ${formatSignedRate(rate)}/min (${tr.basis === 'recent' ? 'the sustained recent rise' : 'the window'})${o.warning || o.critical ? ` against -w ${o.warning?.text ?? '-'} -c ${o.critical?.text ?? '-'}` : ''}`,
  );
  const queueNames = Object.keys(s.byQueue);
  const queueRates: Record<string, number> = {};
  for (const q of queueNames) {
    const qt = trend(
      samples.map((x) => ({ t: x.t, y: x.queues[q] ?? 0 })),
      { minSamples: o.minSamples, minSpan: MIN_SPAN },
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
  metrics.push(metric('rate_recent', round2(Math.max(0, recentRate ?? 0)), { min: 0 }));
  for (const q of queueNames) metrics.push(metric(`rate_${q}`, round2(queueRates[q]), { family: 'queue_rate', dims: { queue: q } }));
  metrics.push(metric('total', s.total, { min: 0, family: 'messages', integer: true }), metric('samples', tr.n, { min: 0, integer: true }));
  if (o.limit !== undefined && eta !== undefined) metrics.push(metric('eta', Math.round(eta), { uom: 's', min: 0, integer: true, warn: o.etaWarning, crit: o.etaCritical }));

  return { state, summary: withSkipped(summary), metrics, details, facts: { ...facts, rate, lsRate, robustRate, recentRate, basis: tr.basis, eta } };
}

const GROWTH_TABLE = {
  ...SOURCE_TABLE,
  ...STATE_TABLE,
  queue: { kind: 'text', list: true, describe: 'measure these queues only, e.g. deferred [default: all]' },
  window: { kind: 'duration', min: 2 * MIN_SPAN, default: '15m', describe: 'fit the rate over the samples of this long (90s, 15m, 1h)' },
  'min-samples': { kind: 'count', min: 2, max: 500, default: '3', describe: 'samples needed in the window before any verdict (the baseline)' },
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
    'how fast the mail queue grows (messages/min, least squares over a window) and when it reaches a limit. ' +
    '-w/-c are ranges on messages/min; a bare N means ~:N, so a shrinking queue never alerts',
  table: GROWTH_TABLE,
  examples: [
    ['check-mailq-growth --queue deferred -w 50 -c 500', 'incident 004: alert when the deferred queue grows faster than 50/min'],
    ['check-mailq-growth --limit 50000 --eta-warning 2h --eta-critical 30m', 'alert on when the queue would reach 50,000'],
    ['check-mailq-growth --format graphite', 'rates for Graphite'],
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
      stateDir: a.stateDir,
      timeout: common.timeout,
    };
    if (o.mta !== 'auto') checkQueueNames(o.mta, o.queues);
    return o;
  },
  collect: readGrowth,
  evaluate: evaluateGrowth,
};
