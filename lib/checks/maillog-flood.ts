// check-maillog-flood: what was appended to the mail log since the last run, and whether it is a
// flood, and of what. Incident 000: one application mailed one alias once a minute per customer
// (500,000 messages); 003: a virus scanner printed one bogus error in a tight loop until the log
// partition filled; 002: a storm of backscatter bounces. Each alert names its culprit: the repeated
// line, the sender (with the top recipient and client), the bounce source.

import path from 'node:path';
import { metric, type CheckSpec, type Evaluation } from '../plugin/check.js';
import { UnknownError } from '../plugin/errors.js';
import type { OptionTable } from '../plugin/options.js';
import { severity, State, STATE_NAMES, worst } from '../plugin/result.js';
import { formatRate } from '../plugin/numbers.js';
import { formatBytes } from '../plugin/size.js';
import { STATE_TABLE } from '../plugin/state.js';
import { applySticky, type StickyDoc } from '../plugin/sticky.js';
import { compactDuration } from '../plugin/duration.js';
import { formatCount } from '../queue/report.js';
import { culpritAlerts, floodDetails, floodMetrics, floodRates, ratesLine, who, type Alert, type FloodThresholds } from '../log/flood-report.js';
import { FLOOD_CHECK_ID, readFlood, type FloodData, type FloodReadOptions } from '../log/flood-run.js';
import { DEFAULT_MAX_LINE } from '../log/lines.js';
import { DEFAULT_LOGS } from '../log/sources.js';
import { VERSION } from '../version.js';

// Where the reading and the report live now; exported here as before.
export { FLOOD_CHECK_ID, HISTORY_SAMPLES, isFloodSample, STATE_WINDOW, type FileReport, type FloodData, type FloodSample } from '../log/flood-run.js';
export { MIN_INTERVAL, quote } from '../log/flood-report.js';
export { DEFAULT_LOGS, resolveLogs, sameFiles } from '../log/sources.js';

export interface FloodOptions extends FloodReadOptions, FloodThresholds {
  timeout: number;
}

/** The line buffer is allocated whole: a longer limit is memory, not precision. */
const MAX_LINE_LIMIT = 16 << 20;

/** `now` (epoch seconds, the runner's clock) is needed only by --sticky; `keep` is the record --sticky
 *  saves for the next run (the collector saves it: readFlood's judge). */
export function evaluateFlood(d: FloodData, o: FloodOptions, now?: number): Evaluation & { keep?: StickyDoc } {
  const s = d.stats;
  const details: string[] = [];
  const sources = [...d.files.map((f) => f.path), ...(d.journal ? [`journal ${d.journal.units.join(', ')}`] : [])];
  const facts: Record<string, unknown> = {
    sources,
    baseline: d.baseline,
    interval: d.interval,
    lines: d.lines,
    bytes: d.bytes,
    skipped: d.skipped,
    sampled: d.stats.sampling !== undefined,
    ...(d.stats.intervals ? { intervals: d.stats.intervals } : {}),
    ...(d.unread.length ? { unread: d.unread } : {}),
    ...(d.holes ? { holes: d.holes } : {}),
    stateFile: d.stateFile,
    files: d.files,
    notes: d.notes,
  };

  if (d.errors.length) {
    details.push(...d.notes, ...d.errors);
    return {
      state: State.UNKNOWN,
      summary: d.errors.join('; '),
      metrics: [],
      details,
      facts: { ...facts, errors: d.errors },
    };
  }

  if (d.baseline) {
    const where = d.files.map((f) => path.basename(f.path));
    if (d.journal) where.push(`journal ${d.journal.units.join(',')}`);
    details.push(...d.notes);
    if (d.stateFile) details.push(`state: ${d.stateFile}`);
    return {
      state: State.OK,
      summary: `baseline recorded for ${where.join(', ')}; the next run measures what is appended`,
      metrics: [metric('lines_per_min', 0, { min: 0, warn: o.warning, crit: o.critical })],
      details,
      facts,
    };
  }

  const r = floodRates(d, o);
  const { approx, top, sender, senderPerMin, topLine } = r;

  const alerts: Alert[] = [];
  // What this run could not read (a rotated generation gone, a .gz given up at the deadline): never OK.
  if (d.unread.length) alerts.push({ state: State.WARNING, text: `not read: ${d.unread.join('; ')}` });
  if (d.rateUnknown) {
    // The clock stepped: the cursor (byte offsets) is right, this run's interval is not.
    const text = `${d.rateUnknown}: this run's rates are unknown; read ${formatCount(d.lines)} lines (${formatBytes(d.bytes)}) from the saved byte offsets`;
    if (d.skipped > 0) alerts.push({ state: State.CRITICAL, text: `${formatBytes(d.skipped)} skipped unread over --max-bytes ${formatBytes(o.maxBytes)}` });
    const state = worst(...alerts.map((x) => x.state));
    details.push(...d.notes);
    if (d.stateFile) details.push(`state: ${d.stateFile}`);
    return {
      state,
      summary: [text, ...alerts.map((x) => x.text)].join('; '),
      metrics: [metric('skipped_bytes', d.skipped, { uom: 'B', min: 0 })],
      details,
      facts: { ...facts, rateUnknown: d.rateUnknown, unread: d.unread, alerts: alerts.map((x) => ({ state: STATE_NAMES[x.state], text: x.text })), stats: s },
    };
  }
  alerts.push(...culpritAlerts(d, o, r));
  // --sticky: families that alerted within the hold and are quiet now are answered as they were.
  let keep: StickyDoc | undefined;
  let held = 0;
  if (o.sticky && now !== undefined) {
    const out = applySticky(
      d.sticky,
      alerts.flatMap((a) => (a.family ? [{ family: a.family, state: a.state, text: a.text }] : [])),
      now,
      o.sticky,
    );
    alerts.splice(0, alerts.length, ...alerts.filter((a) => !a.family), ...out.alerts);
    keep = out.next;
    held = out.held;
    details.push(...out.notes);
    const records = out.next.records;
    details.push(
      records.length
        ? `sticky (--sticky ${compactDuration(o.sticky)}): ${records.map((x) => `${x.family} ${STATE_NAMES[x.state]} since ${new Date(x.since * 1000).toISOString()}, last seen ${new Date(x.lastSeen * 1000).toISOString()}`).join('; ')}`
        : `sticky (--sticky ${compactDuration(o.sticky)}): nothing held`,
    );
  }

  // CRITICAL first, then WARNING: the culprit of the worst alert leads the summary.
  alerts.sort((x, y) => severity(y.state) - severity(x.state));
  const state = worst(...alerts.map((x) => x.state));

  const context = ratesLine(r);
  let summary: string;
  // An alert pages someone: its culprit alone makes the first line (under 200 characters); the
  // overall rates follow in the long output and the perfdata.
  if (alerts.length) {
    summary = alerts.map((x) => x.text).join('; ');
    details.push(`rates: ${context}`);
  } else {
    summary = context;
    if (top) summary += `; top line ${topLine.replace(' of lines', '')}`;
    if (sender) summary += `; top sender ${who(sender.key)} ${approx}${formatRate(senderPerMin)}/min`;
  }
  const headlines = d.files.map((f) => f.headline).filter(Boolean);
  if (headlines.length) summary += ` (${headlines.join(', ')})`;

  details.push(...floodDetails(d, o, r));
  if (d.stickyNote) details.push(d.stickyNote);
  const metrics = floodMetrics(d, o, r);
  if (o.sticky) metrics.push(metric('sticky_held', held, { min: 0 }));
  return {
    state,
    summary,
    metrics,
    details,
    ...(keep ? { keep } : {}),
    facts: {
      ...facts,
      ...(keep ? { sticky: keep.records.map((x) => ({ ...x, state: STATE_NAMES[x.state] })) } : {}),
      alerts: alerts.map((a) => ({ state: STATE_NAMES[a.state], text: a.text })),
      rates: { linesPerMin: r.linesPerMin, bytesPerMin: r.bytesPerMin, topShare: r.topShare, topPerMin: r.topPerMin, msgPerMin: r.msgPerMin, senderPerMin, bouncesPerMin: r.bouncesPerMin, deferralsPerMin: r.deferralsPerMin, rejectsPerMin: r.rejectsPerMin,
        sentPerMin: r.sentPerMin, failuresPerMin: r.failuresPerMin, expiredPerMin: r.expiredPerMin, authFailuresPerMin: r.authFailuresPerMin, accountPerMin: r.accountPerMin },
      stats: s,
    },
  };
}

const FLOOD_TABLE = {
  log: { kind: 'path', list: true, describe: `mail log to read (globs allowed) [default: the first of ${DEFAULT_LOGS.join(', ')} that exists]` },
  journal: {
    kind: 'text',
    list: true,
    pattern: /^[\w@.:\\-]+$/,
    hint: 'give a systemd unit name, e.g. postfix@-.service',
    describe: 'read the journal of this systemd unit instead, e.g. postfix@-.service',
  },
  'journal-directory': { kind: 'path', hidden: true, describe: 'journalctl --directory (a copied journal)' },
  instance: {
    kind: 'text',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    hint: "give the instance's syslog_name (postconf -c DIR -xh syslog_name; a postmulti instance's name by default)",
    describe: 'Postfix multi-instance: count the mail flow of lines tagged NAME/... only (its syslog_name, e.g. postfix-out) [default: every instance]',
  },
  'from-start': { kind: 'flag', default: false, describe: 'first run: read the whole log instead of recording a baseline' },
  'max-bytes': { kind: 'size', min: 4096, default: '256M', describe: 'read at most this much per run; more is skipped forward and is CRITICAL' },
  'exact-limit': { kind: 'size', default: '8M', describe: 'analyse every line of the first this-much of a run; past it, sixteen 4 KB windows of each MB (all lines still counted)' },
  'max-line': { kind: 'size', min: 256, max: MAX_LINE_LIMIT, default: String(DEFAULT_MAX_LINE), describe: 'longer lines are counted once and analysed by their start' },
  warning: {
    kind: 'range',
    alias: 'w',
    family: 'lines',
    thresholdDefault: { value: '2000', why: 'incident 003: 100,000 lines/min; the quiet captures log 28-305 a minute' },
    describe: 'WARNING range on log lines per minute',
  },
  critical: {
    kind: 'range',
    alias: 'c',
    family: 'lines',
    thresholdDefault: { value: '10000', why: 'incident 003: the loop filled the log partition' },
    describe: 'CRITICAL range on log lines per minute (evaluated before WARNING)',
  },
  'repeat-warning': {
    kind: 'range',
    family: 'repeat',
    thresholdDefault: { value: '60', why: "incident 003: one line 99% of the log; Exim's delivery line alone is 40-47% on quiet traffic" },
    describe: "WARNING range on the top template's share of lines, in percent",
  },
  'repeat-critical': {
    kind: 'range',
    family: 'repeat',
    thresholdDefault: { value: '80', why: 'incident 003: "ERROR: accept() failed" in a tight loop' },
    describe: "CRITICAL range on the top template's share of lines, in percent",
  },
  'repeat-min-rate': { kind: 'number', default: '10', describe: 'no repeat alert while the top template logs fewer lines per minute than this' },
  'sender-warning': {
    kind: 'range',
    family: 'sender',
    thresholdDefault: { value: '30', why: 'incident 000: one application, 600+/min to one alias; a quiet sender sends a few a minute' },
    describe: "WARNING range on the busiest sender's (and SASL account's) messages per minute",
  },
  'sender-critical': {
    kind: 'range',
    family: 'sender',
    thresholdDefault: { value: '120', why: 'incident 000: 500,000 messages overnight' },
    describe: "CRITICAL range on the busiest sender's (and SASL account's) messages per minute",
  },
  'bounce-warning': {
    kind: 'range',
    family: 'bounces',
    thresholdDefault: { value: '20', why: 'incident 002: backscatter at ~300/min; a quiet relay sees about one a minute' },
    describe: 'WARNING range on bounces (null-sender messages) per minute',
  },
  'bounce-critical': {
    kind: 'range',
    family: 'bounces',
    thresholdDefault: { value: '100', why: 'incident 002: the backscatter overloaded the MX and its LDAP' },
    describe: 'CRITICAL range on bounces per minute',
  },
  'deferral-warning': {
    kind: 'range',
    family: 'deferrals',
    thresholdDefault: { value: '100', why: 'incident 004: every message deferred, 200/min; the quiet captures, all deferring, peak at 73/min' },
    describe: 'WARNING range on deferred delivery attempts per minute',
  },
  'deferral-critical': {
    kind: 'range',
    family: 'deferrals',
    thresholdDefault: { value: '1000', why: 'incident 004 on a busier node: retried for 12 h, then 54,000 bounced' },
    describe: 'CRITICAL range on deferred delivery attempts per minute',
  },
  'auth-fail-warning': { kind: 'range', family: 'auth', describe: 'WARNING range on failed SMTP AUTH (SASL) attempts per minute; the alert names the top client [no default: no incident]' },
  'auth-fail-critical': { kind: 'range', family: 'auth', describe: 'CRITICAL range on failed SMTP AUTH (SASL) attempts per minute' },
  sticky: {
    kind: 'duration',
    describe: 'once a family (lines, repeat, account, sender, bounces, deferrals, auth, volume) alerts, keep answering it for this long after it was last seen, e.g. 30m [default: off]',
  },
  top: { kind: 'count', min: 0, max: 100, default: '5', describe: 'how many top lines, senders, recipients and clients to list' },
  ...STATE_TABLE,
} as const satisfies OptionTable;

export const floodCheck: CheckSpec<FloodOptions, FloodData, typeof FLOOD_TABLE> = {
  name: 'check-maillog-flood',
  service: 'MAILLOG_FLOOD',
  id: FLOOD_CHECK_ID,
  version: VERSION,
  description: 'log lines, repeated lines, senders and SASL accounts, bounces, deferrals (by destination and reason) and AUTH failures per minute, from what was appended to the mail log since the last run',
  table: FLOOD_TABLE,
  examples: [
    ['check-maillog-flood -w 2000 -c 10000 --repeat-critical 50 --sender-warning 30 --sender-critical 120 --bounce-critical 60', 'the incidents: a flood of lines, one line repeated, one sender, bounces'],
    ["check-maillog-flood --log '/var/log/mail*.log' --format graphite", 'rates for Graphite from every live mail log'],
    ['check-maillog-flood --journal postfix@-.service --sender-critical 100', 'hosts without a mail log file'],
    ['check-maillog-flood --deferral-warning 60 --deferral-critical 600 --auth-fail-warning 10 --auth-fail-critical 60', 'deferral storms by destination and reason, SMTP AUTH guessing by client'],
  ],
  incidents: [
    {
      id: '000',
      what: 'notification flood, 500,000 queued to one alias',
      command: 'check-maillog-flood --log /var/log/mail.log',
      fires: 'CRITICAL at +1m: the sender at 600 msg/min, top recipient qanotify@lab.example, top client qa-app-07.qa.example',
    },
    { id: '002', what: 'backscatter queued on a secondary MX', command: 'check-maillog-flood --log /var/log/exim4/mainlog', fires: 'CRITICAL at +1m: <> (MAILER-DAEMON) 289 msg/min, bounces to lab.example' },
    {
      id: '003',
      what: 'virus scanner in an error loop filled the log partition',
      command: 'check-maillog-flood --log /var/log/mail.log',
      fires: 'CRITICAL at +1m, quoting "clamd[<n>]: ERROR: accept() failed: Loaded <n> signatures."',
    },
  ],
  validate(a, common) {
    if (a.log.length && a.journal.length) throw new UnknownError('--log and --journal both given', 'watch a file or a journal with one check, not both');
    return {
      ...(a.instance !== undefined ? { instance: a.instance } : {}),
      logs: a.log,
      logsGiven: a.log.length > 0,
      journal: a.journal,
      journalDirectory: a.journalDirectory,
      fromStart: a.fromStart,
      maxBytes: a.maxBytes,
      exactLimit: a.exactLimit,
      maxLine: a.maxLine,
      top: a.top,
      warning: common.warning,
      critical: common.critical,
      repeatWarning: a.repeatWarning,
      repeatCritical: a.repeatCritical,
      repeatMinRate: a.repeatMinRate,
      senderWarning: a.senderWarning,
      senderCritical: a.senderCritical,
      bounceWarning: a.bounceWarning,
      bounceCritical: a.bounceCritical,
      deferralWarning: a.deferralWarning,
      deferralCritical: a.deferralCritical,
      authFailWarning: a.authFailWarning,
      authFailCritical: a.authFailCritical,
      stateDir: a.stateDir,
      ...(a.sticky ? { sticky: a.sticky } : {}),
      timeout: common.timeout,
    };
  },
  // The alerts --sticky holds are judged by the same pure evaluation and saved by the collector under
  // its lock (as check-mailq-growth keeps its verdict).
  collect: (o, ctx) => readFlood(o, ctx, (d, now) => evaluateFlood(d, o, now).keep),
  evaluate: (d, o, now) => evaluateFlood(d, o, now),
};
