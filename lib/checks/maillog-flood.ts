// check-maillog-flood: what was appended to the mail log since the last run, and whether it is a
// flood, and of what. Incident 000: one application mailed one alias once a minute per customer
// (500,000 messages); 003: a virus scanner printed one bogus error in a tight loop until the log
// partition filled; 002: a storm of backscatter bounces. Each alert names its culprit: the repeated
// line, the sender (with the top recipient and client), the bounce source.

import { formatRate, round2, shareText } from '../plugin/numbers.js';
import fs from 'node:fs';
import path from 'node:path';
import { metric, type CheckSpec, type CollectStatus, type Evaluation } from '../plugin/check.js';
import { formatDuration } from '../plugin/duration.js';
import { errorCode, UnknownError } from '../plugin/errors.js';
import type { Range } from '../plugin/range.js';
import { severity, State, STATE_NAMES, thresholdState, worst, type Metric } from '../plugin/result.js';
import { formatBytes } from '../plugin/size.js';
import { openState, STATE_TABLE } from '../plugin/state.js';
import { formatCount } from '../queue/report.js';
import type { TopEntry } from '../queue/topk.js';
import { FloodAnalyser, type FloodStats, type FlowKey, type SenderCulprit } from '../log/flood.js';
import { isJournalCursor, readJournal, type JournalCursor } from '../log/journal.js';
import { DEFAULT_MAX_LINE } from '../log/lines.js';
import { LogReader } from '../log/reader.js';
import { isFileCursor, tailFile, type FileCursor, type FileEvent } from '../log/tail.js';
import { cursorFileOf, loadCursor, saveCursor, type CursorDoc } from '../log/cursor.js';
import type { OptionTable } from '../plugin/options.js';
import { VERSION } from '../version.js';

export const FLOOD_CHECK_ID = 'maillog_flood';
export const DEFAULT_LOGS = ['/var/log/mail.log', '/var/log/maillog', '/var/log/exim4/mainlog'];
/** Rates over a shorter interval than this are computed over this (a manual re-run seconds later is not a flood). */
export const MIN_INTERVAL = 30;
/** How long a cursor is kept without a run before the next run starts a new baseline. */
export const STATE_WINDOW = 30 * 86400;
/** Quoted templates in the summary are cut here. */
const QUOTE_MAX = 110;

export interface FloodOptions {
  logs: string[];
  logsGiven: boolean;
  journal: string[];
  journalDirectory?: string;
  fromStart: boolean;
  maxBytes: number;
  exactLimit: number;
  maxLine: number;
  top: number;
  warning?: Range;
  critical?: Range;
  repeatWarning?: Range;
  repeatCritical?: Range;
  repeatMinRate: number;
  senderWarning?: Range;
  senderCritical?: Range;
  bounceWarning?: Range;
  bounceCritical?: Range;
  deferralWarning?: Range;
  deferralCritical?: Range;
  stateDir?: string;
  timeout: number;
}

/** Runs kept in the state file's history (lines, bytes per run; the cursor is kept apart). */
export const HISTORY_SAMPLES = 10;

/** One run's record in the state file. */
export interface FloodSample {
  t: number;
  /** Only in states written by earlier versions (the cursor is in its own file now: lib/log/cursor.ts). */
  files?: FileCursor[];
  journal?: JournalCursor;
  lines: number;
  bytes: number;
  skipped: number;
}

export function isFloodSample(x: unknown): x is FloodSample {
  if (!x || typeof x !== 'object') return false;
  const s = x as FloodSample;
  return (
    Number.isFinite(s.t) &&
    (s.files === undefined || (Array.isArray(s.files) && s.files.every(isFileCursor))) &&
    (s.journal === undefined || isJournalCursor(s.journal)) &&
    Number.isFinite(s.lines) &&
    Number.isFinite(s.bytes) &&
    Number.isFinite(s.skipped)
  );
}

export interface FileReport {
  path: string;
  events: FileEvent[];
  read: number;
  skipped: number;
  headline?: string;
}

export interface FloodData extends CollectStatus {
  /** Nothing measured: this run recorded where the logs end. */
  baseline: boolean;
  /** Seconds the measures cover. */
  interval: number;
  /** Where the interval comes from. */
  intervalFrom: 'last run' | 'log timestamps' | 'none';
  previousRun?: number;
  /** Every line read (exact). */
  lines: number;
  bytes: number;
  skipped: number;
  /** Lines seen per line analysed (> 1 when sampling). */
  scale: number;
  sampledBytes: number;
  stats: FloodStats;
  files: FileReport[];
  journal?: { units: string[]; entries: number; command: string };
  notes: string[];
  /** What could not be read this run (phrases for line one): WARNING at least. */
  unread: string[];
  /** NUL-filled holes skipped (copytruncate under a writer without O_APPEND). */
  holes?: { bytes: number; where: string[] };
  /** Set when the clock stepped since the last run: the interval, and so the rates, are unknown. */
  rateUnknown?: string;
  /** The journal had more than --max-bytes after the cursor: the cursor stops at what was read. */
  backlog?: boolean;
  /** Logs that cannot be read: the run is UNKNOWN. */
  errors: string[];
  stateFile?: string;
}

/** An option given twice arrives as an array: the last one wins, as in most command lines. */
/** The line buffer is allocated whole: a longer limit is memory, not precision. */
const MAX_LINE_LIMIT = 16 << 20;

// ---------------------------------------------------------------- evaluate (pure)

const perMin = (n: number, seconds: number) => (n * 60) / seconds;

export function quote(template: string, max = QUOTE_MAX): string {
  const t = template.length > max ? `${template.slice(0, max - 1)}…` : template;
  return `"${t}"`;
}

const who = (k: string) => (k === '<>' ? '<> (MAILER-DAEMON)' : k);

interface Alert {
  state: State;
  text: string;
}

export function evaluateFlood(d: FloodData, o: FloodOptions): Evaluation {
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

  const secs = Math.max(d.interval, MIN_INTERVAL);
  // The counts in stats are estimates of every line read (lib/log/flood.ts: the exact stratum as
  // counted, the sampled one scaled by its own factor). Lines in skipped bytes are estimated at the
  // density of what was read, and every count is extended to them by the same ratio.
  const estSkippedLines = d.skipped > 0 && d.bytes > 0 ? (d.skipped * d.lines) / d.bytes : 0;
  const scale = d.lines > 0 ? (d.lines + estSkippedLines) / d.lines : 1;
  const sampled = s.sampling !== undefined;
  const linesPerMin = perMin(d.lines + estSkippedLines, secs);
  const bytesPerMin = perMin(d.bytes + d.skipped, secs);
  const top = s.templates[0];
  const share = (count: number) => (s.lines ? (100 * count) / s.lines : 0);
  const topShare = top ? share(top.count) : 0;
  const rate = (n: number) => perMin(n * scale, secs);
  const topPerMin = top ? rate(top.count) : 0;
  const msgPerMin = rate(s.messages);
  const sender = s.culprits[0] as SenderCulprit | undefined;
  const senderPerMin = sender ? rate(sender.count) : 0;
  const bouncesPerMin = rate(s.bounces);
  const deferralsPerMin = rate(s.deferrals);
  const rejectsPerMin = rate(s.rejects);
  const approx = sampled || d.skipped > 0 ? '~' : '';
  /** " (95% 1,200-1,400/min)" after a sampled flow rate. */
  const within = (k: FlowKey) => {
    const iv = s.intervals?.[k];
    if (!iv) return '';
    return iv.high === null ? ` (95% interval unknown, at least ${formatRate(rate(iv.low))}/min)` : ` (95% ${formatRate(rate(iv.low))}-${formatRate(rate(iv.high))}/min)`;
  };

  const lineOf = (t: { template: string; count: number }) => `${shareText(t.count, s.lines)} of lines: ${quote(t.template)}`;
  const topLine = top ? lineOf(top) : '';

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
  const linesState = thresholdState(linesPerMin, o.warning, o.critical);
  // Every template over the repeat threshold is named, not only the first.
  const repeated = s.templates
    .map((t) => ({ t, state: rate(t.count) >= o.repeatMinRate ? thresholdState(share(t.count), o.repeatWarning, o.repeatCritical) : State.OK }))
    .filter((r) => r.state !== State.OK);
  const repeatState = worst(State.OK, ...repeated.map((r) => r.state));
  const quotedLater = linesState !== State.OK || repeatState !== State.OK;
  if (d.skipped > 0)
    alerts.push({
      state: State.CRITICAL,
      text: `log flood: ${formatBytes(d.bytes + d.skipped)} appended in ${formatDuration(secs)}, over --max-bytes ${formatBytes(o.maxBytes)}: ${formatBytes(d.skipped)} skipped unread${topLine && !quotedLater ? `; ${topLine}` : ''}`,
    });
  if (d.backlog)
    alerts.push({ state: State.CRITICAL, text: `log flood: more than --max-bytes ${formatBytes(o.maxBytes)} since the last run in the journal; the rest is read next run` });
  const repeatText = (t: { template: string; count: number }) => `${lineOf(t)} (${approx}${formatRate(rate(t.count))}/min)`;
  // A line flood and a repeated line are usually the same event: one alert, quoting the line once.
  if (linesState !== State.OK) {
    const first = repeated[0];
    alerts.push({ state: worst(linesState, repeatState), text: `${approx}${formatRate(linesPerMin)} lines/min${topLine ? `, ${first ? repeatText(first.t) : topLine}` : ''}` });
    for (const r of repeated.slice(1)) alerts.push({ state: r.state, text: repeatText(r.t) });
  } else for (const r of repeated) alerts.push({ state: r.state, text: repeatText(r.t) });
  // Every sender over its threshold, each with its own top recipient and client.
  // The first in full; the others shorter ("(19%), to R, from C"), so line one keeps every culprit
  // and stays short enough for a page (test/integration/pagerduty.test.ts).
  let senderState: State = State.OK;
  let named = 0;
  for (const c of s.culprits) {
    const st = thresholdState(rate(c.count), o.senderWarning, o.senderCritical);
    if (st === State.OK) continue;
    senderState = worst(senderState, st);
    const full = named++ === 0;
    const parts = [`sender ${who(c.key)} ${approx}${formatRate(rate(c.count))} msg/min (${shareText(c.count, s.messages)}${full ? ' of messages' : ''})`];
    if (c.recipient) parts.push(`${full ? 'top recipient' : 'to'} ${c.recipient.key}`);
    if (c.client) parts.push(`${full ? 'top client' : 'from'} ${c.client.key}`);
    alerts.push({ state: st, text: parts.join(', ') });
  }
  const bounceState = thresholdState(bouncesPerMin, o.bounceWarning, o.bounceCritical);
  if (bounceState !== State.OK) {
    // Backscatter goes to many forged addresses in one domain; a bounce loop comes from one client.
    const dom = s.bounceDomains[0];
    const bdTotal = s.bounceDomains.reduce((n, r) => n + r.count, 0);
    const bc = s.bounceClients[0];
    const parts = [`bounces (null sender) ${approx}${formatRate(bouncesPerMin)}/min${within('bounces')} (${shareText(s.bounces, s.messages)} of messages)`];
    if (dom) parts.push(`to ${dom.key} ${shareText(dom.count, bdTotal)} (${approx}${formatCount(Math.round(s.bounceRecipients * scale))} distinct recipients)`);
    if (bc) parts.push(`top bounce client ${bc.key} ${shareText(bc.count, s.bounces)}`);
    if (rejectsPerMin >= 0.05) parts.push(`${approx}${formatRate(rejectsPerMin)} rejects/min`);
    alerts.push({ state: bounceState, text: parts.join(', ') });
  }
  const deferralState = thresholdState(deferralsPerMin, o.deferralWarning, o.deferralCritical);
  const deferred = s.deferredRecipients[0];
  if (deferralState !== State.OK)
    alerts.push({ state: deferralState, text: `deferrals ${approx}${formatRate(deferralsPerMin)}/min${within('deferrals')}${deferred ? `, top deferred recipient ${deferred.key}` : ''}` });

  // CRITICAL first, then WARNING: the culprit of the worst alert leads the summary.
  alerts.sort((x, y) => severity(y.state) - severity(x.state));
  const state = worst(...alerts.map((x) => x.state));
  void senderState;

  const context = `${approx}${formatRate(linesPerMin)} lines/min, ${approx}${formatRate(msgPerMin)} msg/min${within('messages')}, ${approx}${formatRate(bouncesPerMin)} bounces/min${within('bounces')}, ${approx}${formatRate(deferralsPerMin)} deferrals/min${within('deferrals')} over ${formatDuration(secs)}`;
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

  // ---- long output ----
  const when = (t?: number) => (t === undefined ? '?' : new Date(t * 1000).toISOString().replace('.000Z', 'Z'));
  details.push(
    d.intervalFrom === 'last run'
      ? `interval: ${formatDuration(d.interval)} since the last run at ${when(d.previousRun)}${d.interval < MIN_INTERVAL ? ` (rates over ${MIN_INTERVAL}s)` : ''}`
      : `interval: ${formatDuration(secs)} from the first line read (no earlier run)`,
  );
  if (s.firstTime !== undefined) details.push(`lines dated ${when(s.firstTime)} to ${when(s.lastTime ?? s.firstTime)}${s.peak ? `; busiest minute ${s.peak.minute} with ${approx}${formatCount(Math.round(s.peak.lines * scale * (s.analysedLines ? s.lines / s.analysedLines : 1)))} lines` : ''}`);
  details.push(
    `read ${formatBytes(d.bytes)} (${formatCount(d.lines)} lines)${d.skipped ? `, skipped ${formatBytes(d.skipped)} over --max-bytes ${formatBytes(o.maxBytes)}` : ''}${s.longLines ? `; ${formatCount(s.longLines)} line(s) longer than ${formatBytes(o.maxLine)} analysed by their start` : ''}`,
  );
  if (s.sampling)
    details.push(
      `sampled: the first ${formatBytes(o.exactLimit)} (--exact-limit, ${formatCount(s.sampling.exactLines)} lines) counted exactly; past it 64 KB of each MB was analysed (${formatCount(s.sampling.analysedLines)} of ${formatCount(s.sampling.sampledLines)} lines in ${formatCount(s.sampling.blocks)} blocks), and only that part is scaled, by ${s.sampling.factor.toFixed(1)}; counts marked ~ are estimates, intervals are 95%`,
    );
  for (const f of d.files) details.push(`  ${f.path}: ${f.events.join(', ')}; ${formatBytes(f.read)} read${f.skipped ? `, ${formatBytes(f.skipped)} skipped` : ''}`);
  if (d.journal) details.push(`  ${d.journal.command}: ${formatCount(d.journal.entries)} entries`);
  details.push(...d.notes);
  if (s.templates.length && o.top > 0) {
    details.push(`top lines (${formatCount(s.distinctTemplates)} distinct templates${s.templatesApproximate ? ', approximate' : ''}):`);
    for (const t of s.templates.slice(0, o.top))
      details.push(`  ${shareText(t.count, s.lines).padStart(4)} ${approx}${formatCount(Math.round(t.count * scale))} (${approx}${formatRate(rate(t.count))}/min) ${quote(t.template, 200)}`);
  }
  details.push(
    `mail flow: ${approx}${formatCount(Math.round(s.messages * scale))} messages, ${approx}${formatCount(Math.round(s.bounces * scale))} bounces (null sender), ${approx}${formatCount(Math.round(s.deliveries * scale))} delivery attempts (${approx}${formatCount(Math.round(s.deferrals * scale))} deferred, ${approx}${formatCount(Math.round(s.failures * scale))} failed), ${approx}${formatCount(Math.round(s.rejects * scale))} rejects`,
  );
  const list = (title: string, rows: TopEntry[], whole: number) => {
    if (!rows.length || o.top <= 0) return;
    details.push(`${title}:`);
    for (const r of rows.slice(0, o.top)) details.push(`  ${who(r.key)} ${approx}${formatCount(Math.round(r.count * scale))} (${shareText(r.count, whole)}, ${approx}${formatRate(rate(r.count))}/min)`);
  };
  list('top senders', s.senders, s.messages);
  for (const c of s.culprits.slice(0, o.top))
    if (c.recipient || c.client) details.push(`  ${who(c.key)}: top recipient ${c.recipient?.key ?? '-'}, top client ${c.client?.key ?? '-'}`);
  list('top recipients (delivery attempts)', s.recipients, s.deliveries);
  list('top deferred recipients', s.deferredRecipients, s.deferrals);
  list('top clients', s.clients, s.clients.reduce((n, r) => n + r.count, 0));
  if (s.bounces) {
    list('bounces by recipient domain', s.bounceDomains, s.bounceDomains.reduce((n, r) => n + r.count, 0));
    list('bounces by client', s.bounceClients, s.bounces);
  }
  if (s.unrecognised) details.push(`${formatCount(s.unrecognised)} line(s) in no known format (templated whole)`);
  if (d.stateFile) details.push(`state: ${d.stateFile}`);

  const metrics: Metric[] = [
    metric('lines_per_min', round2(linesPerMin), { min: 0, warn: o.warning, crit: o.critical }),
    metric('bytes_per_min', Math.round(bytesPerMin), { uom: 'B', min: 0 }),
    metric('top_template_share', round2(topShare), { uom: '%', min: 0, max: 100, warn: o.repeatWarning, crit: o.repeatCritical }),
    metric('top_template_per_min', round2(topPerMin), { min: 0 }),
    metric('messages_per_min', round2(msgPerMin), { min: 0 }),
    metric('top_sender_per_min', round2(senderPerMin), { min: 0, warn: o.senderWarning, crit: o.senderCritical }),
    metric('bounces_per_min', round2(bouncesPerMin), { min: 0, warn: o.bounceWarning, crit: o.bounceCritical }),
    metric('deferrals_per_min', round2(deferralsPerMin), { min: 0, warn: o.deferralWarning, crit: o.deferralCritical }),
    metric('rejects_per_min', round2(rejectsPerMin), { min: 0 }),
    metric('skipped_bytes', d.skipped, { uom: 'B', min: 0 }),
    metric('interval', Math.round(d.interval), { uom: 's', min: 0 }),
  ];
  return {
    state,
    summary,
    metrics,
    details,
    facts: {
      ...facts,
      alerts: alerts.map((a) => ({ state: STATE_NAMES[a.state], text: a.text })),
      rates: { linesPerMin, bytesPerMin, topShare, topPerMin, msgPerMin, senderPerMin, bouncesPerMin, deferralsPerMin, rejectsPerMin },
      stats: s,
    },
  };
}

// ---------------------------------------------------------------- collect (I/O)

const GLOB = /[*?[\]{}]/;
/** Rotated siblings a glob like /var/log/mail* also matches: read through their live file instead. */
const ROTATED_NAME = /(\.\d+|-\d{8}(\d{2})?)(\.gz)?$|\.gz$/;

/** Expand --log values: literal paths as given, globs to the live files they match (no rotated ones). */
export async function resolveLogs(patterns: string[]): Promise<{ files: string[]; errors: string[] }> {
  const files: string[] = [];
  const errors: string[] = [];
  for (const p of patterns) {
    if (!GLOB.test(p)) {
      files.push(path.resolve(p));
      continue;
    }
    const { default: fg } = await import('fast-glob');
    const matches = fg
      .sync(p, { absolute: true, onlyFiles: true, dot: true, suppressErrors: true })
      .filter((m) => !ROTATED_NAME.test(path.basename(m)))
      .sort();
    if (!matches.length) errors.push(`no log file matches ${p}`);
    files.push(...matches);
  }
  return { files: [...new Set(files)], errors };
}

/**
 * One log under two names (a hard link, a glob matching a symlink too) is read once: files are told
 * apart by dev:ino. The name kept is the one with a saved cursor, else the first.
 */
export function sameFiles(files: string[], withCursor: Map<string, unknown>): { files: string[]; notes: string[] } {
  const groups = new Map<string, string[]>();
  const order: string[] = [];
  for (const f of files) {
    let id: string;
    try {
      const s = fs.statSync(f);
      id = `${s.dev}:${s.ino}`;
    } catch {
      id = `path:${f}`; // gone or unreadable: tailFile says so
    }
    const g = groups.get(id);
    if (g) g.push(f);
    else {
      groups.set(id, [f]);
      order.push(id);
    }
  }
  const notes: string[] = [];
  const out: string[] = [];
  for (const id of order) {
    const g = groups.get(id)!;
    const keep = g.find((f) => withCursor.has(f)) ?? g[0];
    out.push(keep);
    for (const f of g) if (f !== keep) notes.push(`${f} is the same file as ${keep} (hard link or symlink): read once`);
  }
  return { files: out, notes };
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
  'from-start': { kind: 'flag', default: false, describe: 'first run: read the whole log instead of recording a baseline' },
  'max-bytes': { kind: 'size', min: 4096, default: '256M', describe: 'read at most this much per run; more is skipped forward and is CRITICAL' },
  'exact-limit': { kind: 'size', default: '8M', describe: 'analyse every line of the first this-much of a run; past it, sixteen 4 KB windows of each MB (all lines still counted)' },
  'max-line': { kind: 'size', min: 256, max: MAX_LINE_LIMIT, default: String(DEFAULT_MAX_LINE), describe: 'longer lines are counted once and analysed by their start' },
  'repeat-warning': { kind: 'range', describe: "WARNING range on the top template's share of lines, in percent (e.g. 50)" },
  'repeat-critical': { kind: 'range', describe: "CRITICAL range on the top template's share of lines, in percent" },
  'repeat-min-rate': { kind: 'number', default: '10', describe: 'no repeat alert while the top template logs fewer lines per minute than this' },
  'sender-warning': { kind: 'range', describe: "WARNING range on the busiest sender's messages per minute" },
  'sender-critical': { kind: 'range', describe: "CRITICAL range on the busiest sender's messages per minute" },
  'bounce-warning': { kind: 'range', describe: 'WARNING range on bounces (null-sender messages) per minute' },
  'bounce-critical': { kind: 'range', describe: 'CRITICAL range on bounces per minute' },
  'deferral-warning': { kind: 'range', describe: 'WARNING range on deferred delivery attempts per minute' },
  'deferral-critical': { kind: 'range', describe: 'CRITICAL range on deferred delivery attempts per minute' },
  top: { kind: 'count', min: 0, max: 100, default: '5', describe: 'how many top lines, senders, recipients and clients to list' },
  ...STATE_TABLE,
} as const satisfies OptionTable;

export const floodCheck: CheckSpec<FloodOptions, FloodData, typeof FLOOD_TABLE> = {
  name: 'check-maillog-flood',
  service: 'MAILLOG_FLOOD',
  id: FLOOD_CHECK_ID,
  version: VERSION,
  description: 'log lines, repeated lines, senders, bounces and deferrals per minute, from what was appended to the mail log since the last run',
  table: FLOOD_TABLE,
  examples: [
    ['check-maillog-flood -w 2000 -c 10000 --repeat-critical 50 --sender-warning 30 --sender-critical 120 --bounce-critical 60', 'the incidents: a flood of lines, one line repeated, one sender, bounces'],
    ["check-maillog-flood --log '/var/log/mail*.log' --format graphite", 'rates for Graphite from every live mail log'],
    ['check-maillog-flood --journal postfix@-.service --sender-critical 100', 'hosts without a mail log file'],
  ],
  validate(a, common) {
    const logs = a.log;
    const journal = a.journal;
    if (logs.length && journal.length) throw new UnknownError('--log and --journal both given', 'watch a file or a journal with one check, not both');
    return {
      logs,
      logsGiven: logs.length > 0,
      journal,
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
      stateDir: a.stateDir,
      timeout: common.timeout,
    };
  },
  async collect(o, ctx) {
    let patterns = o.logs;
    if (!o.logsGiven && !o.journal.length) {
      const found = DEFAULT_LOGS.find((p) => fs.existsSync(p));
      if (!found) throw new UnknownError(`no mail log found (looked for ${DEFAULT_LOGS.join(', ')})`, 'give --log FILE or --journal UNIT');
      patterns = [found];
    }
    const target = o.journal.length
      ? { what: { journal: o.journal, directory: o.journalDirectory }, label: ['journal', ...o.journal] }
      : { what: { logs: patterns.map((p) => (GLOB.test(p) ? p : path.resolve(p))) }, label: patterns };
    const st = await openState<FloodSample>({
      check: FLOOD_CHECK_ID,
      ...target,
      dir: o.stateDir,
      env: ctx.env,
      now: ctx.now,
      window: STATE_WINDOW,
      maxSamples: HISTORY_SAMPLES,
      deadline: ctx.now() + ctx.timeout * 1000,
      isSample: isFloodSample,
    });
    try {
      const nowSec = ctx.now() / 1000;
      const notes = [...st.notes];
      // The cursor lives in its own file, whatever the clock says (lib/log/cursor.ts); a state from
      // an earlier version had it in its newest sample.
      const cursorFile = cursorFileOf(st.file);
      const loaded = await loadCursor(cursorFile, nowSec);
      notes.push(...loaded.notes);
      const legacy = [...st.samples].reverse().find((x) => x.files?.length || x.journal);
      const prev: CursorDoc | undefined = loaded.doc ?? (legacy && !loaded.notes.length ? { version: 1, t: legacy.t, files: legacy.files ?? [], journal: legacy.journal } : undefined);
      // The history keeps no cursors from now on (they were copied into every sample).
      for (const x of st.samples) delete x.files;
      const firstRun = !prev;
      const analyser = new FloodAnalyser(nowSec);
      const reader = new LogReader(analyser, {
        maxBytes: o.maxBytes,
        exactLimit: o.exactLimit,
        maxLine: o.maxLine,
        deadline: ctx.deadline,
        now: ctx.now,
        signal: ctx.signal,
      });
      const errors: string[] = [];
      const unread: string[] = [];
      const files: FileReport[] = [];
      const cursors: FileCursor[] = [];
      let journalCursor: JournalCursor | undefined;
      let journalInfo: FloodData['journal'];
      let baseline = firstRun && !o.fromStart;
      let backlog = false;

      if (o.journal.length) {
        const j = await readJournal(o.journal, prev?.journal, reader, {
          firstRun,
          fromStart: o.fromStart,
          nowSec,
          env: ctx.env,
          signal: ctx.signal,
          timeoutMs: Math.max(500, ctx.deadline - ctx.now()),
          directory: o.journalDirectory,
        });
        journalCursor = j.cursor;
        journalInfo = { units: o.journal, entries: j.entries, command: j.command };
        notes.push(...j.notes);
        baseline = j.baseline;
        backlog = j.backlog;
      } else {
        const resolved = await resolveLogs(patterns);
        errors.push(...resolved.errors);
        const byPath = new Map((prev?.files ?? []).map((c) => [c.path, c]));
        const unique = sameFiles(resolved.files, byPath);
        notes.push(...unique.notes);
        for (const file of unique.files) {
          const r = await tailFile(file, byPath.get(file), reader, { firstRun, fromStart: o.fromStart });
          cursors.push(r.cursor);
          files.push({ path: file, events: r.events, read: r.read, skipped: r.skipped, headline: r.headline });
          notes.push(...r.notes);
          unread.push(...r.unread);
          if (r.error) errors.push(r.error);
          if (reader.stopped) break;
        }
        // Files not reached before the deadline keep their old cursor.
        for (const c of prev?.files ?? []) if (!cursors.some((x) => x.path === c.path) && unique.files.includes(c.path)) cursors.push(c);
      }

      reader.finish();
      const stats = analyser.stats(Math.max(o.top, 1));
      // The interval is the only thing the clock decides; a step is said, and the rates of this run are unknown.
      let rateUnknown: string | undefined;
      let interval = prev ? nowSec - prev.t : stats.firstTime !== undefined ? Math.max(0, nowSec - stats.firstTime) : 0;
      if (prev && interval < 0) rateUnknown = `clock moved back ${formatDuration(-interval)} since the last run (at ${new Date(prev.t * 1000).toISOString()})`;
      else if (prev && interval > STATE_WINDOW) rateUnknown = `the last run was ${formatDuration(interval)} ago by the clock (a clock step, or no run for that long)`;
      if (rateUnknown) interval = 0;
      if (st.writable) {
        try {
          await saveCursor(cursorFile, { version: 1, t: nowSec, files: cursors, ...(journalCursor ? { journal: journalCursor } : {}) });
        } catch (err) {
          notes.push(`could not save the cursor to ${cursorFile} (${errorCode(err) ?? (err as Error).message}): the next run reads this run's lines again`);
        }
      }
      await st.record({ t: nowSec, lines: reader.lines, bytes: reader.bytes, skipped: reader.skipped });
      notes.push(...st.notes.filter((n) => !notes.includes(n)));
      const holes = reader.holeBytes ? { bytes: reader.holeBytes, where: reader.holes.map((h) => `${h.file} at byte ${h.at}`) } : undefined;
      return {
        baseline: baseline && !rateUnknown,
        interval,
        intervalFrom: prev ? 'last run' : stats.firstTime !== undefined ? 'log timestamps' : 'none',
        previousRun: prev?.t,
        lines: reader.lines,
        bytes: reader.bytes,
        skipped: reader.skipped,
        scale: reader.scale,
        sampledBytes: reader.sampledBytes,
        stats,
        files,
        journal: journalInfo,
        notes,
        unread,
        holes,
        rateUnknown,
        backlog,
        errors,
        stateFile: st.writable ? st.file : undefined,
        partial: reader.stopped ? `read ${formatBytes(reader.bytes)} (${formatCount(reader.lines)} lines) before the ${ctx.timeout} s deadline; the rest is read next run` : undefined,
      };
    } finally {
      await st.release();
    }
  },
  evaluate: (d, o) => evaluateFlood(d, o),
};
