// check-maillog-flood: what was appended to the mail log since the last run, and whether it is a
// flood, and of what. Incident 000: one application mailed one alias once a minute per customer
// (500,000 messages); 003: a virus scanner printed one bogus error in a tight loop until the log
// partition filled; 002: a storm of backscatter bounces. Each alert names its culprit: the repeated
// line, the sender (with the top recipient and client), the bounce source.

import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { metric, type CheckSpec, type CollectStatus, type Evaluation } from '../plugin/check.js';
import { formatDuration } from '../plugin/duration.js';
import { UnknownError } from '../plugin/errors.js';
import { parseRange, type Range } from '../plugin/range.js';
import { State, STATE_NAMES, thresholdState, worst, type Metric } from '../plugin/result.js';
import { formatBytes, parseSize } from '../plugin/size.js';
import { openState, STATE_OPTIONS } from '../plugin/state.js';
import { formatCount } from '../queue/report.js';
import type { TopEntry } from '../queue/topk.js';
import { FloodAnalyser, type FloodStats } from '../log/flood.js';
import { isJournalCursor, readJournal, type JournalCursor } from '../log/journal.js';
import { DEFAULT_MAX_LINE } from '../log/lines.js';
import { LogReader } from '../log/reader.js';
import { isFileCursor, tailFile, type FileCursor, type FileEvent } from '../log/tail.js';
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

/** One run's record in the state file; the newest one is the cursor. */
export interface FloodSample {
  t: number;
  files: FileCursor[];
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
    Array.isArray(s.files) &&
    s.files.every(isFileCursor) &&
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
  /** Logs that cannot be read: the run is UNKNOWN. */
  errors: string[];
  stateFile?: string;
}

/** An option given twice arrives as an array: the last one wins, as in most command lines. */
function one(raw: unknown): string | undefined {
  const v = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  return v === undefined ? undefined : String(v);
}

function range(raw: unknown, what: string): Range | undefined {
  return parseRange(one(raw), what);
}

function size(raw: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = parseSize(one(raw), what)!;
  if (!(n >= min)) throw new UnknownError(`invalid --${what} '${String(raw)}'`, `give at least ${formatBytes(min)}`);
  if (n > max) throw new UnknownError(`invalid --${what} '${String(raw)}'`, `give at most ${formatBytes(max)}`);
  return n;
}

/** The line buffer is allocated whole: a longer limit is memory, not precision. */
const MAX_LINE_LIMIT = 16 << 20;

// ---------------------------------------------------------------- evaluate (pure)

const perMin = (n: number, seconds: number) => (n * 60) / seconds;

/** "4,210", "12", "0.4" */
export function formatRate(x: number): string {
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  if (x >= 10) return x.toFixed(0);
  return x.toFixed(1).replace(/\.0$/, '');
}

function pctText(part: number, whole: number): string {
  if (whole <= 0) return '0%';
  const p = (100 * part) / whole;
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

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
    sampled: d.scale > 1,
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
  // Lines in skipped bytes are estimated at the density of what was read; every count from the
  // analysed lines is scaled to all lines (sampled and skipped ones).
  const estSkippedLines = d.skipped > 0 && d.bytes > 0 ? (d.skipped * d.lines) / d.bytes : 0;
  const scale = s.lines > 0 ? (d.lines + estSkippedLines) / s.lines : d.scale;
  const linesPerMin = perMin(d.lines + estSkippedLines, secs);
  const bytesPerMin = perMin(d.bytes + d.skipped, secs);
  const top = s.templates[0];
  const topShare = top && s.lines ? (100 * top.count) / s.lines : 0;
  const topPerMin = top ? perMin(top.count * scale, secs) : 0;
  const msgPerMin = perMin(s.messages * scale, secs);
  const sender = s.senders[0] as TopEntry | undefined;
  const senderPerMin = sender ? perMin(sender.count * scale, secs) : 0;
  const bouncesPerMin = perMin(s.bounces * scale, secs);
  const deferralsPerMin = perMin(s.deferrals * scale, secs);
  const rejectsPerMin = perMin(s.rejects * scale, secs);
  const rcpt = s.recipients[0];
  const client = s.clients[0];
  const approx = scale > 1 || d.skipped > 0 ? '~' : '';

  const topLine = top ? `${pctText(top.count, s.lines)} of lines: ${quote(top.template)}` : '';
  const culpritMail = () => {
    const parts: string[] = [];
    if (rcpt) parts.push(`top recipient ${rcpt.key}`);
    if (client) parts.push(`top client ${client.key}`);
    return parts.join(', ');
  };

  const alerts: Alert[] = [];
  const linesState = thresholdState(linesPerMin, o.warning, o.critical);
  const repeatState = top && topPerMin >= o.repeatMinRate ? thresholdState(topShare, o.repeatWarning, o.repeatCritical) : State.OK;
  const quotedLater = linesState !== State.OK || repeatState !== State.OK;
  if (d.skipped > 0)
    alerts.push({
      state: State.CRITICAL,
      text: `log flood: ${formatBytes(d.bytes + d.skipped)} appended in ${formatDuration(secs)}, over --max-bytes ${formatBytes(o.maxBytes)}: ${formatBytes(d.skipped)} skipped unread${topLine && !quotedLater ? `; ${topLine}` : ''}`,
    });
  const repeatText = `${topLine} (${approx}${formatRate(topPerMin)}/min)`;
  // A line flood and a repeated line are usually the same event: one alert, quoting the line once.
  if (linesState !== State.OK)
    alerts.push({ state: worst(linesState, repeatState), text: `${approx}${formatRate(linesPerMin)} lines/min${topLine ? `, ${repeatState !== State.OK ? repeatText : topLine}` : ''}` });
  else if (repeatState !== State.OK) alerts.push({ state: repeatState, text: repeatText });
  const senderState = sender ? thresholdState(senderPerMin, o.senderWarning, o.senderCritical) : State.OK;
  if (senderState !== State.OK && sender)
    alerts.push({
      state: senderState,
      text: `sender ${who(sender.key)} ${approx}${formatRate(senderPerMin)} msg/min (${pctText(sender.count, s.messages)} of messages)${culpritMail() ? `, ${culpritMail()}` : ''}`,
    });
  const bounceState = thresholdState(bouncesPerMin, o.bounceWarning, o.bounceCritical);
  if (bounceState !== State.OK) {
    // Backscatter goes to many forged addresses in one domain; a bounce loop comes from one client.
    const dom = s.bounceDomains[0];
    const bdTotal = s.bounceDomains.reduce((n, r) => n + r.count, 0);
    const bc = s.bounceClients[0];
    const parts = [`bounces (null sender) ${approx}${formatRate(bouncesPerMin)}/min (${pctText(s.bounces, s.messages)} of messages)`];
    if (dom) parts.push(`to ${dom.key} ${pctText(dom.count, bdTotal)} (${approx}${formatCount(Math.round(s.bounceRecipients * scale))} distinct recipients)`);
    if (bc) parts.push(`top bounce client ${bc.key} ${pctText(bc.count, s.bounces)}`);
    if (rejectsPerMin >= 0.05) parts.push(`${approx}${formatRate(rejectsPerMin)} rejects/min`);
    alerts.push({ state: bounceState, text: parts.join(', ') });
  }
  const deferralState = thresholdState(deferralsPerMin, o.deferralWarning, o.deferralCritical);
  if (deferralState !== State.OK)
    alerts.push({ state: deferralState, text: `deferrals ${approx}${formatRate(deferralsPerMin)}/min${rcpt ? `, top recipient ${rcpt.key}` : ''}` });

  // CRITICAL first, then WARNING: the culprit of the worst alert leads the summary.
  const rank = (x: State) => (x === State.CRITICAL ? 0 : x === State.WARNING ? 1 : 2);
  alerts.sort((a, b) => rank(a.state) - rank(b.state));
  const state = worst(...alerts.map((a) => a.state));

  const context = `${approx}${formatRate(linesPerMin)} lines/min, ${approx}${formatRate(msgPerMin)} msg/min, ${approx}${formatRate(bouncesPerMin)} bounces/min, ${approx}${formatRate(deferralsPerMin)} deferrals/min over ${formatDuration(secs)}`;
  let summary: string;
  // An alert pages someone: its culprit alone makes the first line (under 200 characters); the
  // overall rates follow in the long output and the perfdata.
  if (alerts.length) {
    summary = alerts.map((a) => a.text).join('; ');
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
  if (s.firstTime !== undefined) details.push(`lines dated ${when(s.firstTime)} to ${when(s.lastTime ?? s.firstTime)}${s.peak ? `; busiest minute ${s.peak.minute} with ${formatCount(Math.round(s.peak.lines * scale))} lines` : ''}`);
  details.push(
    `read ${formatBytes(d.bytes)} (${formatCount(d.lines)} lines)${d.skipped ? `, skipped ${formatBytes(d.skipped)} over --max-bytes ${formatBytes(o.maxBytes)}` : ''}${s.longLines ? `; ${formatCount(s.longLines)} line(s) longer than ${formatBytes(o.maxLine)} analysed by their start` : ''}`,
  );
  if (scale > 1)
    details.push(
      `sampled: past the first ${formatBytes(o.exactLimit)} (--exact-limit), 64 KB of each MB was analysed (${formatCount(s.lines)} of ${formatCount(d.lines)} lines); counts marked ~ are scaled by ${scale.toFixed(1)}`,
    );
  for (const f of d.files) details.push(`  ${f.path}: ${f.events.join(', ')}; ${formatBytes(f.read)} read${f.skipped ? `, ${formatBytes(f.skipped)} skipped` : ''}`);
  if (d.journal) details.push(`  ${d.journal.command}: ${formatCount(d.journal.entries)} entries`);
  details.push(...d.notes);
  if (s.templates.length && o.top > 0) {
    details.push(`top lines (${formatCount(s.distinctTemplates)} distinct templates${s.templatesApproximate ? ', approximate' : ''}):`);
    for (const t of s.templates.slice(0, o.top))
      details.push(`  ${pctText(t.count, s.lines).padStart(4)} ${approx}${formatCount(Math.round(t.count * scale))} (${approx}${formatRate(perMin(t.count * scale, secs))}/min) ${quote(t.template, 200)}`);
  }
  details.push(
    `mail flow: ${approx}${formatCount(Math.round(s.messages * scale))} messages, ${approx}${formatCount(Math.round(s.bounces * scale))} bounces (null sender), ${approx}${formatCount(Math.round(s.deliveries * scale))} delivery attempts (${approx}${formatCount(Math.round(s.deferrals * scale))} deferred, ${approx}${formatCount(Math.round(s.failures * scale))} failed), ${approx}${formatCount(Math.round(s.rejects * scale))} rejects`,
  );
  const list = (title: string, rows: TopEntry[], whole: number) => {
    if (!rows.length || o.top <= 0) return;
    details.push(`${title}:`);
    for (const r of rows.slice(0, o.top)) details.push(`  ${who(r.key)} ${approx}${formatCount(Math.round(r.count * scale))} (${pctText(r.count, whole)}, ${approx}${formatRate(perMin(r.count * scale, secs))}/min)`);
  };
  list('top senders', s.senders, s.messages);
  list('top recipients (delivery attempts)', s.recipients, s.deliveries);
  list('top clients', s.clients, s.clients.reduce((n, r) => n + r.count, 0));
  if (s.bounces) {
    list('bounces by recipient domain', s.bounceDomains, s.bounceDomains.reduce((n, r) => n + r.count, 0));
    list('bounces by client', s.bounceClients, s.bounces);
  }
  if (s.unrecognised) details.push(`${formatCount(s.unrecognised)} line(s) in no known format (templated whole)`);
  if (d.stateFile) details.push(`state: ${d.stateFile}`);

  const metrics: Metric[] = [
    metric('lines_per_min', round(linesPerMin), { min: 0, warn: o.warning, crit: o.critical }),
    metric('bytes_per_min', Math.round(bytesPerMin), { uom: 'B', min: 0 }),
    metric('top_template_share', round(topShare), { uom: '%', min: 0, max: 100, warn: o.repeatWarning, crit: o.repeatCritical }),
    metric('top_template_per_min', round(topPerMin), { min: 0 }),
    metric('messages_per_min', round(msgPerMin), { min: 0 }),
    metric('top_sender_per_min', round(senderPerMin), { min: 0, warn: o.senderWarning, crit: o.senderCritical }),
    metric('bounces_per_min', round(bouncesPerMin), { min: 0, warn: o.bounceWarning, crit: o.bounceCritical }),
    metric('deferrals_per_min', round(deferralsPerMin), { min: 0, warn: o.deferralWarning, crit: o.deferralCritical }),
    metric('rejects_per_min', round(rejectsPerMin), { min: 0 }),
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

function round(x: number): number {
  return Math.round(x * 100) / 100;
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

export const floodCheck: CheckSpec<FloodOptions, FloodData> = {
  name: 'check-maillog-flood',
  service: 'MAILLOG_FLOOD',
  id: FLOOD_CHECK_ID,
  version: VERSION,
  description: 'log lines, repeated lines, senders, bounces and deferrals per minute, from what was appended to the mail log since the last run',
  options: (y: Argv) =>
    y
      .option('log', {
        type: 'string',
        array: true,
        describe: `mail log to read (repeatable; globs allowed) [default: the first of ${DEFAULT_LOGS.join(', ')} that exists]`,
      })
      .option('journal', { type: 'string', array: true, describe: 'read the journal of this systemd unit instead (repeatable), e.g. postfix@-.service' })
      .option('journal-directory', { type: 'string', hidden: true, describe: 'journalctl --directory (a copied journal)' })
      .option('from-start', { type: 'boolean', default: false, describe: 'first run: read the whole log instead of recording a baseline' })
      .option('max-bytes', { type: 'string', default: '256M', describe: 'read at most this much per run; more is skipped forward and is CRITICAL' })
      .option('exact-limit', { type: 'string', default: '8M', describe: 'analyse every line of the first this-much of a run; past it, 64 KB of each MB (all lines still counted)' })
      .option('max-line', { type: 'string', default: String(DEFAULT_MAX_LINE), describe: 'longer lines are counted once and analysed by their start' })
      .option('repeat-warning', { type: 'string', describe: "WARNING range on the top template's share of lines, in percent (e.g. 50)" })
      .option('repeat-critical', { type: 'string', describe: "CRITICAL range on the top template's share of lines, in percent" })
      .option('repeat-min-rate', { type: 'string', default: '10', describe: 'no repeat alert while the top template logs fewer lines per minute than this' })
      .option('sender-warning', { type: 'string', describe: "WARNING range on the busiest sender's messages per minute" })
      .option('sender-critical', { type: 'string', describe: "CRITICAL range on the busiest sender's messages per minute" })
      .option('bounce-warning', { type: 'string', describe: 'WARNING range on bounces (null-sender messages) per minute' })
      .option('bounce-critical', { type: 'string', describe: 'CRITICAL range on bounces per minute' })
      .option('deferral-warning', { type: 'string', describe: 'WARNING range on deferred delivery attempts per minute' })
      .option('deferral-critical', { type: 'string', describe: 'CRITICAL range on deferred delivery attempts per minute' })
      .option('top', { type: 'string', default: '5', describe: 'how many top lines, senders, recipients and clients to list' })
      .options(STATE_OPTIONS),
  examples: [
    ['check-maillog-flood -w 2000 -c 10000 --repeat-critical 50 --sender-warning 30 --sender-critical 120 --bounce-critical 60', 'the incidents: a flood of lines, one line repeated, one sender, bounces'],
    ["check-maillog-flood --log '/var/log/mail*.log' --format graphite", 'rates for Graphite from every live mail log'],
    ['check-maillog-flood --journal postfix@-.service --sender-critical 100', 'hosts without a mail log file'],
  ],
  validate(a, common) {
    const top = Number(one(a.top));
    if (!Number.isInteger(top) || top < 0 || top > 100) throw new UnknownError(`invalid --top '${String(a.top)}'`, 'give a whole number from 0 to 100');
    const repeatMinRate = Number(one(a.repeatMinRate));
    if (!Number.isFinite(repeatMinRate) || repeatMinRate < 0) throw new UnknownError(`invalid --repeat-min-rate '${String(a.repeatMinRate)}'`, 'give lines per minute, e.g. 10');
    const logsGiven = Array.isArray(a.log) && (a.log as string[]).length > 0;
    const journal = ((a.journal as string[] | undefined) ?? []).flatMap((u) => u.split(',')).filter(Boolean);
    for (const u of journal)
      if (!/^[\w@.:\\-]+$/.test(u)) throw new UnknownError(`invalid --journal unit '${u}'`, 'give a systemd unit name, e.g. postfix@-.service');
    if (logsGiven && journal.length) throw new UnknownError('--log and --journal both given', 'watch a file or a journal with one check, not both');
    return {
      logs: logsGiven ? (a.log as string[]) : [],
      logsGiven,
      journal,
      journalDirectory: one(a.journalDirectory),
      fromStart: Boolean(a.fromStart),
      maxBytes: size(a.maxBytes, 'max-bytes', 4096),
      exactLimit: size(a.exactLimit, 'exact-limit', 0),
      maxLine: size(a.maxLine, 'max-line', 256, MAX_LINE_LIMIT),
      top,
      warning: common.warning,
      critical: common.critical,
      repeatWarning: range(a.repeatWarning, 'repeat-warning'),
      repeatCritical: range(a.repeatCritical, 'repeat-critical'),
      repeatMinRate,
      senderWarning: range(a.senderWarning, 'sender-warning'),
      senderCritical: range(a.senderCritical, 'sender-critical'),
      bounceWarning: range(a.bounceWarning, 'bounce-warning'),
      bounceCritical: range(a.bounceCritical, 'bounce-critical'),
      deferralWarning: range(a.deferralWarning, 'deferral-warning'),
      deferralCritical: range(a.deferralCritical, 'deferral-critical'),
      stateDir: one(a.stateDir),
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
      maxSamples: 50,
      deadline: ctx.now() + ctx.timeout * 1000,
      isSample: isFloodSample,
    });
    try {
      const nowSec = ctx.now() / 1000;
      const prev = st.samples[st.samples.length - 1];
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
      const notes = [...st.notes];
      const errors: string[] = [];
      const files: FileReport[] = [];
      const cursors: FileCursor[] = [];
      let journalCursor: JournalCursor | undefined;
      let journalInfo: FloodData['journal'];
      let baseline = firstRun && !o.fromStart;

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
      } else {
        const resolved = await resolveLogs(patterns);
        errors.push(...resolved.errors);
        const byPath = new Map((prev?.files ?? []).map((c) => [c.path, c]));
        for (const file of resolved.files) {
          const r = await tailFile(file, byPath.get(file), reader, { firstRun, fromStart: o.fromStart });
          cursors.push(r.cursor);
          files.push({ path: file, events: r.events, read: r.read, skipped: r.skipped, headline: r.headline });
          notes.push(...r.notes);
          if (r.error) errors.push(r.error);
          if (reader.stopped) break;
        }
        // Files not reached before the deadline keep their old cursor.
        for (const c of prev?.files ?? []) if (!cursors.some((x) => x.path === c.path) && resolved.files.includes(c.path)) cursors.push(c);
      }

      const stats = analyser.stats(Math.max(o.top, 1));
      const interval = prev ? nowSec - prev.t : stats.firstTime !== undefined ? Math.max(0, nowSec - stats.firstTime) : 0;
      await st.record({ t: nowSec, files: cursors, journal: journalCursor, lines: reader.lines, bytes: reader.bytes, skipped: reader.skipped });
      notes.push(...st.notes.filter((n) => !notes.includes(n)));
      return {
        baseline,
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
