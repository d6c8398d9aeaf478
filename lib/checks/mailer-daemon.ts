// check-mailer-daemon: the share of bounces (null envelope sender <>, MAILER-DAEMON in mailq) in
// the queue, and where they are going. Incident 001: over half of a 500,000-message Sendmail queue
// was MAILER-DAEMON messages; incident 002: backscatter from spam forged with the site's own domain.
// On a huge queue it reads a uniform random sample of the queue files and reports a 95% interval.

import { parseCount } from '../plugin/options.js';
import { metric, type CheckSpec, type CollectContext, type Evaluation } from '../plugin/check.js';
import { UnknownError } from '../plugin/errors.js';
import type { Range } from '../plugin/range.js';
import { State, type Metric } from '../plugin/result.js';
import { AUTO_SAMPLE, MAX_SAMPLE, MIN_SAMPLE, readBounces } from '../queue/bounce-read.js';
import type { BounceData, BounceReadOptions } from '../queue/bounces.js';
import { formatCount, skippedReport, topLines } from '../queue/report.js';
import { intervalState, proportionInterval, rangeOverlap, type Interval } from '../queue/sample.js';
import { SOURCE_TABLE, sourceOptions } from '../queue/source.js';
import { STATE_TABLE } from '../plugin/state.js';
import type { OptionTable } from '../plugin/options.js';
import { VERSION } from '../version.js';

// Where the reading and the tally live now; exported here as before.
export { AUTO_SAMPLE, collectFromSpool, MAX_SAMPLE, MIN_SAMPLE, PROBE_FILES, type SpoolResult } from '../queue/bounce-read.js';
export { emptyTally, tallyMessage, type BounceData, type BounceTally } from '../queue/bounces.js';

export interface BounceOptions extends BounceReadOptions {
  minMessages: number;
  top: number;
  warning?: Range;
  critical?: Range;
  timeout: number;
}

export const collectBounces: (o: BounceOptions, ctx: CollectContext) => Promise<BounceData> = readBounces;

// ---------------------------------------------------------------------------------------------
// Evaluating

/** A percentage (0-100) for people: 82.1%, 0.35%, 0%. */
export function percent(v: number): string {
  if (v === 0) return '0%';
  return `${v < 1 ? v.toFixed(2) : v.toFixed(1)}%`;
}

/**
 * "52.1% ±0.9%" when the interval is nearly symmetric (the wider side is shown, never the
 * narrower), else the bounds, "1.20% (0.85%-1.69%)": near 0% the Wilson interval is lopsided.
 */
export function intervalText(iv: Interval): string {
  const p = iv.estimate * 100;
  const up = (iv.high - iv.estimate) * 100;
  const down = (iv.estimate - iv.low) * 100;
  const wide = Math.max(up, down);
  const pm = (v: number) => (v < 0.1 ? v.toFixed(2) : v.toFixed(1));
  if (wide === 0) return percent(p);
  if (Math.min(up, down) >= wide / 1.25) return `${percent(p)} ±${pm(wide)}%`;
  return `${percent(p)} (${percent(iv.low * 100)}-${percent(iv.high * 100)})`;
}

function share(part: number, whole: number): string {
  if (whole <= 0 || part <= 0) return '0%';
  const v = (100 * part) / whole;
  return v < 1 ? '<1%' : `${Math.round(v)}%`;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** What the interval says that the point estimate alone would hide (sampled runs). */
function samplingNote(iv: Interval, o: BounceOptions): string | undefined {
  const [p, lo, hi] = [iv.estimate * 100, iv.low * 100, iv.high * 100];
  const span = `95% interval ${percent(lo)}-${percent(hi)}`;
  if (rangeOverlap(o.critical, lo, hi) === 'some') {
    return intervalState(p, p, o.warning, o.critical) === State.CRITICAL
      ? `not CRITICAL: only part of the ${span} is in the critical range ${o.critical?.text}`
      : `may be CRITICAL: the ${span} reaches the critical range ${o.critical?.text}`;
  }
  if (intervalState(p, p, o.warning, o.critical) === State.OK && intervalState(lo, hi, o.warning, o.critical) === State.WARNING)
    return `the ${span} reaches the warning range ${o.warning?.text}`;
  return undefined;
}

export function evaluateBounces(d: BounceData, o: BounceOptions): Evaluation {
  const t = d.tally;
  const N = d.population;
  const n = t.messages;
  // Stratified (--exact cut by the deadline): K messages known exactly, the sample stands for the other M.
  const K = d.known?.messages ?? 0;
  const Kb = d.known?.bounces ?? 0;
  const M = N - K;
  const part = d.sampled ? proportionInterval(t.bounces, n, M) : undefined;
  const iv: Interval = part
    ? { estimate: (Kb + M * part.estimate) / N, low: (Kb + M * part.low) / N, high: (Kb + M * part.high) / N }
    : { estimate: n ? t.bounces / n : 0, low: n ? t.bounces / n : 0, high: n ? t.bounces / n : 0 };
  // Sampled counts are scaled up to the part they stand for: M * (hits / n).
  const scale = d.sampled && n > 0 ? M / n : 1;
  const estimate = (k: number, exact = 0) => exact + Math.round(k * scale);
  const bounces = estimate(t.bounces, Kb);
  const [topDomain] = t.domains.top(1);
  const queuesWithBounces = Object.keys(t.bouncesByQueue)
    .filter((q) => t.bouncesByQueue[q] > 0)
    .sort((a, b) => t.bouncesByQueue[b] - t.bouncesByQueue[a]);

  let state: State;
  let summary: string;
  const ratioText = d.sampled ? intervalText(iv) : percent(iv.estimate * 100);
  const where = topDomain ? `, ${share(topDomain.count, t.bounces)} of them to ${topDomain.key}` : '';
  const sampledText = d.sampled ? `sampled ${formatCount(n)} of ${formatCount(d.known ? M : N)}${d.known ? ` not in the cache, ${formatCount(K)} known` : ''}` : '';
  if (d.partial && n === 0) {
    // The deadline came before any message was read: nothing to judge (the runner says UNKNOWN).
    state = State.UNKNOWN;
    summary = N ? `${formatCount(N)} queue files listed, none read` : 'no queue file read';
  } else if (N === 0) {
    state = State.OK;
    summary = 'no message queued';
  } else if (N < o.minMessages) {
    state = State.OK;
    summary =
      `${formatCount(N)} queued, ${formatCount(bounces)} bounce${bounces === 1 ? '' : 's'} (${ratioText})${sampledText ? `, ${sampledText}` : ''}` +
      `${where}: fewer than --min-messages ${o.minMessages}, not judged`;
  } else if (d.sampled && n === 0) {
    state = State.UNKNOWN;
    summary = `${formatCount(N)} queued, no queue file read (${sampledText})`;
  } else {
    state = intervalState(iv.low * 100, iv.high * 100, o.warning, o.critical);
    const inQueue =
      !d.sampled && queuesWithBounces.length > 0 ? `, ${share(t.bouncesByQueue[queuesWithBounces[0]], t.bounces)} in ${queuesWithBounces[0]}` : '';
    summary = `${ratioText} of ${formatCount(N)} queued are bounces (${d.sampled ? sampledText : formatCount(bounces)}${inQueue})${where}`;
    const note = d.sampled ? samplingNote(iv, o) : undefined;
    if (note) summary += `; ${note}`;
  }
  const skipped = skippedReport(d.skipped ?? [], d.mta, d.spools);
  if (skipped.summary) summary += `; ${skipped.summary}`;

  const metrics: Metric[] = [
    metric('ratio', round3(iv.estimate * 100), { uom: '%', warn: o.warning, crit: o.critical, min: 0, max: 100 }),
    metric('ratio_low', round3(iv.low * 100), { uom: '%', min: 0, max: 100 }),
    metric('ratio_high', round3(iv.high * 100), { uom: '%', min: 0, max: 100 }),
    metric('bounces', bounces, { min: 0, integer: true }),
    metric('total', N, { min: 0, family: 'messages', integer: true }),
  ];
  for (const q of Object.keys(t.bouncesByQueue)) metrics.push(metric(`bounces_${q}`, estimate(t.bouncesByQueue[q], d.known?.bouncesByQueue[q] ?? 0), { min: 0, family: 'queue_bounces', dims: { queue: q }, integer: true }));
  metrics.push(metric('sampled', d.sampled ? 1 : 0, { min: 0, max: 1, integer: true }), metric('sample_size', n, { min: 0, integer: true }));

  const inSample = d.sampled ? ' (in the sample)' : '';
  const details: string[] = [];
  if (t.bounces > 0) {
    details.push(`bounces by queue${inSample}: ${queuesWithBounces.map((q) => `${q} ${formatCount(t.bouncesByQueue[q])} (${share(t.bouncesByQueue[q], t.bounces)})`).join(', ')}`);
    details.push(...topLines(`top bounce recipient domains${inSample}`, t.domains, t.bounces, o.top));
    // Backscatter goes to random addresses (each about once: not worth listing); a bounce loop
    // hammers one. Listed when one address gets at least 1% of the bounces (and more than one).
    const [topRcpt] = t.recipients.top(1);
    if (topRcpt && topRcpt.count > 1 && topRcpt.count >= 0.01 * t.bounces) details.push(...topLines(`top bounce recipients${inSample}`, t.recipients, t.bounces, o.top));
  }
  if (d.sampled) {
    details.push(
      `95% interval ${percent(iv.low * 100)}-${percent(iv.high * 100)} (Wilson score, finite population): ${formatCount(t.bounces)} bounces in ` +
        `${formatCount(n)} files read at random of ${formatCount(N)} listed, about ${formatCount(bounces)} bounces in the queue (seed ${d.seed})`,
    );
    details.push('sampled verdict: CRITICAL only when the whole interval is in the critical range; WARNING when it reaches the critical or warning range');
  }
  details.push(`mode: ${d.why}`);
  if (d.known) details.push(`known exactly: ${formatCount(Kb)} bounces in ${formatCount(K)} messages (envelope cache and first reads)`);
  details.push(...(d.notes ?? []));
  if (t.unknownSender) details.push(`${formatCount(t.unknownSender)} message(s) with an unreadable sender (counted, not as bounces)`);
  if (d.source === 'spool') {
    const v = d.vanished ? `, ${formatCount(d.vanished)} vanished before they were read` : '';
    details.push(`source: ${d.mta} spool ${d.spools.join(', ')} (${formatCount(d.files)} queue files${v})`);
    details.push(...skipped.details);
  } else {
    details.push(`source: ${d.mta} command ${d.commands.map((c) => `'${c}'`).join(', ')}${d.fallbackReason ? `; ${d.fallbackReason}` : ''}`);
  }

  return {
    state,
    summary,
    metrics,
    details,
    facts: {
      mta: d.mta,
      source: d.source,
      spools: d.spools,
      commands: d.commands,
      sampled: d.sampled,
      why: d.why,
      ratio: { estimate: round6(iv.estimate * 100), low: round6(iv.low * 100), high: round6(iv.high * 100), confidence: d.sampled ? 0.95 : 1 },
      sample: d.sampled ? { read: n, requested: d.requested, population: N, bounces: t.bounces, seed: d.seed } : null,
      topBounceDomain: topDomain?.key ?? null,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The check

const BOUNCE_TABLE = {
  ...SOURCE_TABLE,
  warning: {
    kind: 'range',
    alias: 'w',
    family: 'ratio',
    thresholdDefault: { value: '20', why: 'incident 002: backscatter; a quiet queue of 100 or more has a few percent bounces' },
    describe: 'WARNING range on the percentage of queued messages that are bounces',
  },
  critical: {
    kind: 'range',
    alias: 'c',
    family: 'ratio',
    thresholdDefault: { value: '50', why: 'incident 001: over half of 500,000 queued were MAILER-DAEMON' },
    describe: 'CRITICAL range on the bounce percentage (evaluated before WARNING)',
  },
  sample: {
    kind: 'text',
    default: 'auto',
    describe: `read a uniform random sample of N queue files (${MIN_SAMPLE}-${formatCount(MAX_SAMPLE)}); auto: sample ${formatCount(AUTO_SAMPLE)} only when an exact read would not fit in -t`,
  },
  exact: { kind: 'flag', default: false, describe: 'read every queue file, however long it takes (up to -t)' },
  'min-messages': { kind: 'count', default: '100', describe: 'with fewer messages queued the check is OK and says why' },
  top: { kind: 'count', min: 0, max: 100, default: '5', describe: 'how many bounce destinations to list' },
  seed: { kind: 'count', max: 2 ** 32 - 1, hidden: true, describe: 'random seed of the sample (tests, replaying a run)' },
  cache: { kind: 'flag', default: true, describe: '--exact keeps envelopes between runs so a run reads only new queue files (--no-cache: stateless)' },
  ...STATE_TABLE,
} as const satisfies OptionTable;

export const mailerDaemonCheck: CheckSpec<BounceOptions, BounceData, typeof BOUNCE_TABLE> = {
  name: 'check-mailer-daemon',
  service: 'MAILER-DAEMON',
  id: 'mailer_daemon',
  version: VERSION,
  description: 'share of bounces (null sender, MAILER-DAEMON) in the queue and where they go; exact or sampled with a 95% interval',
  table: BOUNCE_TABLE,
  examples: [
    ['check-mailer-daemon -w 20 -c 50', 'WARNING above 20% bounces, CRITICAL above 50%'],
    ['check-mailer-daemon -w 20 -c 50 --sample 10000 -t 5', 'a huge queue: 10,000 files read at random, verdict from the 95% interval'],
    ['check-mailer-daemon --exact --format graphite', 'every file read, metrics for Graphite'],
  ],
  incidents: [
    { id: '001', what: 'Sendmail relay drowning, over half the queue MAILER-DAEMON', command: 'check-mailer-daemon --mta sendmail', fires: 'WARNING at +15m (40% bounces), CRITICAL at +1h (over half)' },
    { id: '002', what: 'backscatter queued on a secondary MX', command: 'check-mailer-daemon --mta exim', fires: 'CRITICAL at +1m: 66.7% bounces, 99% of them to lab.example' },
  ],
  validate(a, common) {
    // --sample is a count or the word auto: the count kind's parser, called here.
    const auto = a.sample.toLowerCase() === 'auto';
    const sampleSize = auto ? AUTO_SAMPLE : parseCount(a.sample, '--sample', MIN_SAMPLE, MAX_SAMPLE);
    if (a.exact && !auto) throw new UnknownError(`--exact and --sample ${a.sample} contradict each other`, 'give one of them');
    if (!auto && a.source === 'command')
      throw new UnknownError(`--sample ${a.sample} needs the spool`, 'the listing command lists every message: drop --sample or --source command');
    return {
      ...sourceOptions(a),
      mode: a.exact ? 'exact' : auto ? 'auto' : 'sample',
      sampleSize,
      minMessages: a.minMessages,
      top: a.top,
      seed: a.seed,
      warning: common.warning,
      critical: common.critical,
      timeout: common.timeout,
      cache: a.cache,
      stateDir: a.stateDir,
    };
  },
  collect: collectBounces,
  evaluate: (d, o) => evaluateBounces(d, o),
};
