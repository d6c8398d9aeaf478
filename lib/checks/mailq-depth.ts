// check-mailq-depth: how many messages wait, in which queue, for how long, and who they are
// from and to. The alert names the culprit (incident 000: one sender, one alias, 500,000 messages).

import { metric, type CheckSpec, type Evaluation } from '../plugin/check.js';
import { formatDuration } from '../plugin/duration.js';
import { UnknownError } from '../plugin/errors.js';
import type { Range } from '../plugin/range.js';
import { boundedState, State, thresholdState, worst, type Metric } from '../plugin/result.js';
import { MTAS } from '../mta/index.js';
import type { MtaName } from '../mta/types.js';
import { arrivedText, describeSource, estimatedShare, formatCount, pct, roundTo, skippedReport, topLines, type NameView } from '../queue/report.js';
import { checkQueueNames, collectQueue, type QueueData, SOURCE_TABLE, type SourceChoice, sourceOptions } from '../queue/source.js';
import { STATE_TABLE } from '../plugin/state.js';
import type { OptionTable } from '../plugin/options.js';
import { shapeTable, type ShapeBy } from '../queue/shape.js';
import { VERSION } from '../version.js';

export interface DepthOptions extends SourceChoice {
  queues: string[];
  warning?: Range;
  critical?: Range;
  ageWarning?: Range;
  ageCritical?: Range;
  top: number;
  countOnly: boolean;
  timeout: number;
  /** Keep envelopes between runs; false with --no-cache. */
  cache?: boolean;
  stateDir?: string;
  /** Read Sendmail/Exim message sizes (a stat of each data file): the bytes metric. */
  sizes?: boolean;
  /** --shape: domains by age in the long output and JSON (qshape's view), with this many rows. */
  shape?: ShapeBy;
  shapeRows?: number;
}

export function evaluateDepth(data: QueueData, o: DepthOptions, now: number): Evaluation {
  const s = data.summary;
  // --count-only on Exim: frozen messages are counted in input/ (the flag is inside the -H file), so
  // the two are one figure, said as "input+frozen", never as input N, frozen 0.
  const together = s.detailed ? [] : (MTAS[data.mta].driver.countedTogether ?? []);
  const queueNames = together.length
    ? [...Object.keys(s.byQueue).filter((q) => !together.includes(q)), together.join('+')]
    : Object.keys(s.byQueue);
  const queueCount = (q: string) => (together.length && q === together.join('+') ? together.reduce((n, t) => n + (s.byQueue[t] ?? 0), 0) : s.byQueue[q]);
  const selected = o.queues.length ? o.queues : undefined;
  const measured = selected ? selected.reduce((n, q) => n + (s.byQueue[q] ?? 0), 0) : s.total;
  // An incomplete run (deadline): counts are exact once the listing finished, lower bounds before;
  // the oldest age is exact when every listed message's arrival is known, a lower bound otherwise.
  const countsExact = data.countsExact ?? !data.partial;
  const estimated = s.estimate !== undefined;
  const needsReading = MTAS[data.mta].driver.needsReading ?? [];
  // Exim's frozen messages sit in input/: unread envelopes leave frozen a lower bound, input an upper one.
  const queueExact = (q: string) => countsExact && !(estimated && needsReading.length && (needsReading.includes(q) || q === 'input'));
  const measuredExact = selected ? selected.every(queueExact) : countsExact;
  const ageExact = !data.partial || (countsExact && s.oldestExact === true);
  // With --queue, the age thresholds judge the oldest message of those queues only (incident 004:
  // the deferred queue ages; mail someone put on hold for days must not page).
  const oldest = selected
    ? selected.map((q) => s.oldestByQueue[q]).filter((x) => x !== undefined).sort((a, b) => a.arrival - b.arrival)[0]
    : s.oldestArrival !== undefined
      ? { arrival: s.oldestArrival, id: s.oldestId ?? '?', precision: s.oldestPrecision }
      : undefined;
  // An arrival known to the minute (exim -bp, mailq, when the queue ID does not give the second) is
  // an age to the minute: said "~2h 5m (to the minute)", never with seconds it does not have.
  const precision = oldest?.precision;
  const oldestAge = oldest ? roundTo(Math.max(0, Math.floor(now - oldest.arrival)), precision) : undefined;
  const approx = precision ? '~' : '';
  const precisionNote = precision ? ` (to the ${precision >= 86400 ? 'day' : precision >= 3600 ? 'hour' : 'minute'})` : '';

  const countState = measuredExact ? thresholdState(measured, o.warning, o.critical) : boundedState(measured, Infinity, o.warning, o.critical);
  const ageState = !o.ageWarning && !o.ageCritical
    ? State.OK
    : oldestAge === undefined
      ? ageExact ? State.OK : undefined
      : ageExact
        ? thresholdState(oldestAge, o.ageWarning, o.ageCritical)
        : boundedState(oldestAge, Infinity, o.ageWarning, o.ageCritical);
  const decided = worst(...[countState, ageState].filter((x): x is State => x !== undefined));
  // Something undecided: only a CRITICAL, or "at least WARNING", is already the answer.
  // An OK is decided only by exact figures: a lower bound never proves that nothing alerts
  // (a listing killed after 0 lines is not "at least 0 queued, OK").
  const ageJudged = Boolean(o.ageWarning || o.ageCritical);
  const undecided = countState === undefined || ageState === undefined || (data.partial !== undefined && !(measuredExact && (ageExact || !ageJudged)));
  const state = undecided && decided === State.OK ? State.UNKNOWN : decided;

  const atLeast = (exact: boolean) => (exact ? '' : 'at least ');
  // A queue only reading tells apart (Exim frozen) is a lower bound; the one its messages are
  // listed in (input) an upper bound.
  const queueBound = (q: string) => (queueExact(q) ? '' : needsReading.includes(q) || !countsExact ? 'at least ' : 'at most ');
  const nonEmpty = queueNames.filter((q) => queueCount(q) > 0);
  let summary = selected
    ? `${atLeast(measuredExact)}${formatCount(measured)} in ${selected.join('+')} of ${atLeast(countsExact)}${formatCount(s.total)} queued`
    : `${atLeast(countsExact)}${formatCount(s.total)} message${s.total === 1 ? '' : 's'} queued`;
  if (!selected && nonEmpty.length) summary += ` (${nonEmpty.map((q) => `${q} ${queueBound(q)}${formatCount(queueCount(q))}`).join(', ')})`;
  if (oldestAge !== undefined) summary += `, oldest ${ageExact ? '' : 'at least '}${approx}${formatDuration(oldestAge)}${precisionNote}`;
  // With --queue every name on line one comes from the selected queues (the selection's figures).
  const view: NameView = selected && s.selection ? s.selection : s;
  const viewEstimated = view.estimate !== undefined;
  if (s.detailed && view.total > 0) {
    const [sender] = view.senders.top(1);
    const [rcpt] = view.recipientAddresses.top(1);
    const share = (key: string, count: number) =>
      viewEstimated && countsExact && view.estimate!.sampled > 0 ? estimatedShare(view, key, count) : pct(count, view.total);
    if (sender) summary += `; top sender ${sender.key === '<>' ? '<> (MAILER-DAEMON)' : sender.key} ${share(sender.key, sender.count)}`;
    if (rcpt) summary += `, top recipient ${rcpt.key} ${viewEstimated ? pct(rcpt.count, view.recipients).replace('(', '(~') : pct(rcpt.count, view.recipients)}`;
  }
  // Counted, but their age and sender are unknown: said on line one, not only in the long output.
  if (s.unreadable) summary += `; ${formatCount(s.unreadable)} unreadable queue file${s.unreadable === 1 ? '' : 's'} (counted)`;
  const skipped = skippedReport(data.skipped ?? [], data.mta, data.spools);
  if (skipped.summary) summary += `; ${skipped.summary}`;
  if (data.partial) summary += `; scan incomplete: ${data.partial}`;

  const thresholded = (q: string): Pick<Metric, 'warn' | 'crit'> =>
    (selected?.length === 1 && selected[0] === q) || (!selected && q === 'total') ? { warn: o.warning, crit: o.critical } : {};
  // An incomplete run emits only what it knows exactly: a lower bound or an estimate graphed next to
  // exact values would look like a sudden drop. A cut listing emits nothing.
  const metrics: Metric[] = [];
  if (countsExact) {
    metrics.push(metric('total', s.total, { min: 0, family: 'messages', integer: true, ...thresholded('total') }));
    for (const q of queueNames) if (queueExact(q) && !q.includes('+')) metrics.push(metric(q, s.byQueue[q], { min: 0, family: 'queue_messages', dims: { queue: q }, integer: true, ...thresholded(q) }));
    if (selected && selected.length > 1 && measuredExact) metrics.push(metric('selected', measured, { min: 0, integer: true, warn: o.warning, crit: o.critical }));
  }
  if (s.detailed && countsExact) {
    // Bytes only when every counted message's size is known (Sendmail/Exim: --sizes).
    if (!estimated && !s.sizesUnknown) metrics.push(metric('bytes', s.bytes, { uom: 'B', min: 0 }));
    if (ageExact) metrics.push(metric('oldest_age', oldestAge ?? 0, { uom: 's', min: 0, integer: true, warn: o.ageWarning, crit: o.ageCritical }));
    if (!estimated) {
      metrics.push(metric('recipients', s.recipients, { min: 0, integer: true }));
      metrics.push(metric('bounces', s.nullSender, { min: 0, integer: true }));
      metrics.push(metric('unreadable', s.unreadable, { min: 0, integer: true }));
    }
  }

  const details: string[] = [`queues: ${queueNames.map((q) => `${q} ${queueBound(q)}${formatCount(queueCount(q))}`).join(', ')}`];
  if (oldestAge !== undefined)
    details.push(
      `oldest${selected ? ` in ${selected.join('+')}` : ''}: ${ageExact ? '' : 'at least '}${approx}${formatDuration(oldestAge)}${precisionNote} (${oldest?.id}, arrived ${arrivedText(oldest?.arrival ?? 0, precision)})`,
    );
  if (s.idArrivalDistrusted)
    details.push(
      `queue IDs' times not used: ${formatCount(s.idArrivalDistrusted.off)} of ${formatCount(s.idArrivalDistrusted.compared)} read disagree with their file by more than 10 minutes (the oldest is the oldest read)`,
    );
  if (s.estimate)
    details.push(
      `estimated: envelopes of ${formatCount(s.estimate.unread)} messages were not read before the deadline; the ${formatCount(s.estimate.sampled)} read this run, a uniform random sample of those not in the cache, stand for them (sender, recipient, bounce and size figures below are estimates)`,
    );
  if (s.detailed && selected && s.selection && s.selection.total > 0) {
    const sel = s.selection;
    const inSel = ` in ${selected.join('+')}`;
    details.push(...topLines(`top senders${inSel}`, sel.senders, sel.total, o.top));
    details.push(...topLines(`top recipient domains${inSel}`, sel.recipientDomains, sel.recipients, o.top));
    details.push(...topLines(`top recipients${inSel}`, sel.recipientAddresses, sel.recipients, o.top));
    if (sel.clients.distinct > 0) details.push(...topLines(`top clients${inSel}`, sel.clients, sel.total, o.top));
  }
  if (s.detailed && s.total > 0) {
    const all = selected ? ' (all queues)' : '';
    details.push(...topLines(`top senders${all}`, s.senders, s.total, o.top));
    details.push(...topLines(`top recipient domains${all}`, s.recipientDomains, s.recipients, o.top));
    details.push(...topLines(`top recipients${all}`, s.recipientAddresses, s.recipients, o.top));
    if (s.clients.distinct > 0) details.push(...topLines(`top clients${all}`, s.clients, s.total, o.top));
    details.push(`null sender (bounces): ${formatCount(s.nullSender)} ${pct(s.nullSender, s.total)}`);
  }
  if (s.unreadable)
    details.push(
      `${formatCount(s.unreadable)} queue file(s) could not be parsed (counted): ${s.unreadableIds.join(', ')}${s.unreadable > s.unreadableIds.length ? `, and ${formatCount(s.unreadable - s.unreadableIds.length)} more` : ''}`,
    );
  if (s.detailed && s.sizesUnknown && MTAS[data.mta].driver.sizeNeedsStat && data.source === 'spool')
    details.push(`sizes: not read (${formatCount(s.sizesUnknown)} messages): give --sizes for the bytes metric (a stat of each data file)`);
  if (s.incomplete) details.push(`${formatCount(s.incomplete)} queue file(s) still being written (counted)`);
  if (s.shape) details.push(...shapeLines(s.shape, o, selected));
  details.push(describeSource(data));
  details.push(...skipped.details);
  details.push(...(data.notes ?? []));

  return {
    state,
    summary,
    metrics,
    details,
    partialHandled: true,
    facts: {
      mta: data.mta,
      source: data.source,
      spools: data.spools,
      commands: data.commands,
      countOnly: !s.detailed,
      ...(data.reads ? { reads: data.reads } : {}),
      ...(data.partial ? { countsExact, ageExact, estimated } : {}),
      ...(s.shape ? { shape: s.shape } : {}),
    },
  };
}

/** --shape in the long output: qshape's table, indented, and what it was counted from. */
function shapeLines(shape: NonNullable<QueueData['summary']['shape']>, o: DepthOptions, selected: string[] | undefined): string[] {
  const rows = o.shapeRows ?? 20;
  const what = shape.by === 'sender' ? 'sender domains (a message each)' : 'recipient domains (a recipient each)';
  const lines = [`queue shape: ${what} by age in minutes, as qshape; ${selected ? selected.join('+') : 'all queues'}, ${formatCount(shape.messages)} messages:`];
  lines.push(...shapeTable(shape, rows).map((l) => `  ${l}`));
  if (shape.domains > rows) lines.push(`  (${formatCount(shape.domains - rows)} more domains; --shape-rows N shows more)`);
  if (shape.known) lines.push(`  counted from the ${formatCount(shape.known.envelopes)} of ${formatCount(shape.known.listed)} messages whose envelope was read before the deadline`);
  if (shape.ageUnknown) lines.push(`  ${formatCount(shape.ageUnknown)} messages without an arrival time: counted in T only`);
  return lines;
}

const DEPTH_TABLE = {
  ...SOURCE_TABLE,
  warning: {
    kind: 'range',
    alias: 'w',
    family: 'depth',
    thresholdDefault: { value: '1000', why: 'incident 000/001: 500,000 queued; a quiet relay holds tens to a few hundred' },
    describe: 'WARNING range on messages queued (Nagios syntax: 10, 10:, ~:10, 10:20, @10:20)',
  },
  critical: {
    kind: 'range',
    alias: 'c',
    family: 'depth',
    thresholdDefault: { value: '5000', why: 'incident 001: its cron check warned at 500 and could never go CRITICAL' },
    describe: 'CRITICAL range on messages queued (evaluated before WARNING)',
  },
  queue: { kind: 'text', list: true, describe: 'apply -w/-c and --age-* to these queues only, e.g. deferred' },
  // No default age: a healthy deferred queue holds mail retried for days (Postfix's
  // maximal_queue_lifetime is 5d), so any default would page a quiet relay; incident 004 is caught
  // within minutes by the count here and by check-mailq-growth.
  'age-warning': {
    kind: 'duration',
    threshold: 'above',
    family: 'age',
    describe: 'WARNING when the oldest message is older (90, 15m, 12h, 2d) [no default: a healthy deferred queue holds mail retried for days]',
  },
  'age-critical': {
    kind: 'duration',
    threshold: 'above',
    family: 'age',
    describe: 'CRITICAL when the oldest message is older',
  },
  top: { kind: 'count', min: 0, max: 100, default: '5', describe: 'how many top senders/recipients to list' },
  'count-only': { kind: 'flag', default: false, describe: 'fastest: count directory entries, read no file' },
  sizes: { kind: 'flag', default: false, describe: 'Sendmail/Exim: also stat each data file for the bytes metric (Postfix has sizes for free)' },
  shape: {
    kind: 'enum',
    choices: ['recipient', 'sender'],
    implicit: 'recipient',
    describe: "long output and JSON: the queue's shape as qshape shows it, recipient (or sender) domains by age",
  },
  'shape-rows': { kind: 'count', min: 1, max: 100, default: '20', describe: 'domains shown by --shape' },
  cache: { kind: 'flag', default: true, describe: 'keep envelopes between runs so a run reads only new queue files (--no-cache: stateless)' },
  ...STATE_TABLE,
} as const satisfies OptionTable;

export const depthCheck: CheckSpec<DepthOptions, QueueData, typeof DEPTH_TABLE> = {
  name: 'check-mailq-depth',
  service: 'MAILQ',
  id: 'mailq_depth',
  version: VERSION,
  description: 'messages queued per queue, oldest age, top senders and recipients, read from the spool',
  table: DEPTH_TABLE,
  examples: [
    ['check-mailq-depth -w 1000 -c 5000', 'alert on the total queue'],
    ['check-mailq-depth --queue deferred -w 200 -c 1000 --age-warning 30m --age-critical 2h', 'the deferred queue and its oldest message'],
    ['check-mailq-depth --count-only --format graphite', 'counts for Graphite, fastest path'],
    ['check-mailq-depth --queue deferred --shape', "the 3 a.m. view: qshape's recipient domains by age for the deferred queue"],
  ],
  incidents: [
    { id: '000', what: 'notification flood, 500,000 queued to one alias', command: 'check-mailq-depth --mta postfix', fires: 'WARNING at +2m (1,550 queued), CRITICAL at +5m, naming the sender and qanotify@lab.example' },
    { id: '001', what: 'Sendmail relay drowning, 500,000 queued, /var full', command: 'check-mailq-depth --mta sendmail', fires: 'WARNING at +30m (1,700 queued), CRITICAL at +1h45m: the CRITICAL its cron check could never reach' },
    {
      id: '004',
      what: 'silent deferral, mail retried for 12 h',
      command: 'check-mailq-depth --mta postfix --queue deferred',
      fires: 'WARNING at +5m (1,085 deferred), CRITICAL at +25m (no default age: add --age-warning 10m to alert on the oldest message too)',
    },
  ],
  validate(a, common) {
    const o: DepthOptions = {
      ...sourceOptions(a),
      queues: a.queue,
      warning: common.warning,
      critical: common.critical,
      ageWarning: a.ageWarning,
      ageCritical: a.ageCritical,
      top: a.top,
      countOnly: a.countOnly,
      timeout: common.timeout,
      cache: a.cache,
      stateDir: a.stateDir,
      sizes: a.sizes,
      ...(a.shape ? { shape: a.shape, shapeRows: a.shapeRows } : {}),
    };
    if (o.countOnly && o.shape) throw new UnknownError('--shape needs every message\'s age and recipients', 'drop --count-only');
    if (o.countOnly && (o.ageWarning || o.ageCritical))
      throw new UnknownError('--age-warning/--age-critical need message ages', 'drop --count-only');
    if (o.countOnly && o.source === 'command') throw new UnknownError('--count-only reads the spool', 'drop --count-only or --source command');
    if (o.mta !== 'auto') {
      checkQueueNames(o.mta, o.queues);
      checkCountOnly(o.mta, o);
    }
    return o;
  },
  async collect(o, ctx) {
    const data = await collectQueue(
      {
        mta: o.mta,
        source: o.countOnly ? 'spool' : o.source,
        spools: o.spools,
        where: o.where,
        countOnly: o.countOnly,
        listingFiles: o.listingFiles,
        cache: o.cache ? { dir: o.stateDir } : undefined,
        sizes: o.sizes,
        selected: o.queues.length ? o.queues : undefined,
        shape: o.shape,
      },
      { signal: ctx.signal, deadline: ctx.deadline, now: ctx.now, timeout: ctx.timeout, env: ctx.env, verbose: ctx.verbose },
    );
    checkQueueNames(data.mta, o.queues);
    checkCountOnly(data.mta, o);
    return data;
  },
  evaluate: evaluateDepth,
};

/** --count-only counts directory entries: a queue that only reading the queue files tells apart
 *  (Exim's frozen messages sit in input/) cannot be thresholded that way. */
function checkCountOnly(mta: MtaName, o: DepthOptions): void {
  if (!o.countOnly) return;
  const together = MTAS[mta].driver.countedTogether ?? [];
  const blind = o.queues.filter((q) => together.includes(q));
  if (blind.length)
    throw new UnknownError(
      `--count-only cannot count ${mta}'s ${blind.join('+')} queue: frozen messages sit in input/ like the others (the flag is inside each -H file)`,
      `drop --count-only (the -H files are then read), or drop --queue ${blind.join(',')}`,
    );
}
