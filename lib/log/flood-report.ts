// check-maillog-flood's report, pure: the rates of one run, the alerts that name each culprit (the
// repeated line, the sender with its top recipient and client, the bounce source, the deferred
// recipient), the long output and the metrics. The check (lib/checks/maillog-flood.ts) orders and joins them.

import { metric } from '../plugin/check.js';
import { formatDuration } from '../plugin/duration.js';
import { formatRate, round2, shareText } from '../plugin/numbers.js';
import type { Range } from '../plugin/range.js';
import { State, thresholdState, worst, type Metric } from '../plugin/result.js';
import { formatBytes } from '../plugin/size.js';
import { formatCount } from '../queue/report.js';
import type { TopEntry } from '../queue/topk.js';
import type { FlowKey, SenderCulprit } from './flood.js';
import { NULL_SENDER } from './flow.js';
import type { DeliveryGroup } from './reason.js';
import type { FloodData } from './flood-run.js';

/** Rates over a shorter interval than this are computed over this (a manual re-run seconds later is not a flood). */
export const MIN_INTERVAL = 30;
/** Quoted templates in the summary are cut here. */
const QUOTE_MAX = 110;

/** The thresholds and limits the report speaks of. */
export interface FloodThresholds {
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
  authFailWarning?: Range;
  authFailCritical?: Range;
}

export interface Alert {
  state: State;
  text: string;
  /** What kind of flood (--sticky holds each family on its own); none for alerts that are not a flood. */
  family?: string;
}

const perMin = (n: number, seconds: number) => (n * 60) / seconds;

export function quote(template: string, max = QUOTE_MAX): string {
  const t = template.length > max ? `${template.slice(0, max - 1)}…` : template;
  return `"${t}"`;
}

export const who = (k: string) => (k === '<>' ? '<> (MAILER-DAEMON)' : k);

export type FloodRates = ReturnType<typeof floodRates>;

/** Every rate of the run, per minute over the interval (at least MIN_INTERVAL), scaled to what was skipped. */
/**
 * `o`: with a bounce threshold, null-sender messages are the bounce family's (its alert names the
 * bounce domain and client, the culprit of backscatter: incident 002), and the sender family, its
 * headline and its metric judge the busiest real sender.
 */
export function floodRates(d: FloodData, o?: Pick<FloodThresholds, 'bounceWarning' | 'bounceCritical'>) {
  const s = d.stats;
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
  const nullIsBounce = o !== undefined && (o.bounceWarning !== undefined || o.bounceCritical !== undefined);
  const sender = (nullIsBounce ? s.culprits.find((c) => c.key !== NULL_SENDER) : s.culprits[0]) as SenderCulprit | undefined;
  const senderPerMin = sender ? rate(sender.count) : 0;
  const bouncesPerMin = rate(s.bounces);
  const deferralsPerMin = rate(s.deferrals);
  const rejectsPerMin = rate(s.rejects);
  const sentPerMin = rate(s.sent ?? 0);
  const failuresPerMin = rate(s.failures);
  const expiredPerMin = rate(s.expired ?? 0);
  const authFailuresPerMin = rate(s.authFailures ?? 0);
  const account = s.accounts?.[0];
  const accountPerMin = account ? rate(account.count) : 0;
  const approx = sampled || d.skipped > 0 ? '~' : '';
  /** " (95% 1,200-1,400/min)" after a sampled flow rate. */
  const within = (k: FlowKey) => {
    const iv = s.intervals?.[k];
    if (!iv) return '';
    return iv.high === null ? ` (95% interval unknown, at least ${formatRate(rate(iv.low))}/min)` : ` (95% ${formatRate(rate(iv.low))}-${formatRate(rate(iv.high))}/min)`;
  };

  const lineOf = (t: { template: string; count: number }) => `${shareText(t.count, s.lines)} of lines: ${quote(t.template)}`;
  const topLine = top ? lineOf(top) : '';
  return {
    secs, scale, sampled, approx, linesPerMin, bytesPerMin, top, topShare, topPerMin, msgPerMin, nullIsBounce, sender, senderPerMin, bouncesPerMin, deferralsPerMin, rejectsPerMin,
    sentPerMin, failuresPerMin, expiredPerMin, authFailuresPerMin, account, accountPerMin, rate, share, within, lineOf, topLine,
  };
}

/** `97% to mx.partner.example[203.0.113.5]:25 "Connection timed out"`: a group and its share of `whole`. */
export function groupText(g: DeliveryGroup, whole: number): string {
  return `${shareText(g.count, whole)} to ${g.destination}${g.reason ? ` ${quote(g.reason, 90)}` : ''}`;
}

/** The alerts of a run whose interval is known, each naming its culprit, in the order they are found. */
export function culpritAlerts(d: FloodData, o: FloodThresholds, r: FloodRates): Alert[] {
  const s = d.stats;
  const { secs, scale, approx, linesPerMin, share, rate, within, lineOf, topLine, bouncesPerMin, deferralsPerMin, rejectsPerMin } = r;
  const alerts: Alert[] = [];
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
      family: 'volume',
      text: `log flood: ${formatBytes(d.bytes + d.skipped)} appended in ${formatDuration(secs)}, over --max-bytes ${formatBytes(o.maxBytes)}: ${formatBytes(d.skipped)} skipped unread${topLine && !quotedLater ? `; ${topLine}` : ''}`,
    });
  if (d.backlog)
    alerts.push({ state: State.CRITICAL, family: 'volume', text: `log flood: more than --max-bytes ${formatBytes(o.maxBytes)} since the last run in the journal; the rest is read next run` });
  const repeatText = (t: { template: string; count: number }) => `${lineOf(t)} (${approx}${formatRate(rate(t.count))}/min)`;
  // A line flood and a repeated line are usually the same event: one alert, quoting the line once.
  if (linesState !== State.OK) {
    const first = repeated[0];
    alerts.push({ state: worst(linesState, repeatState), family: 'lines', text: `${approx}${formatRate(linesPerMin)} lines/min${topLine ? `, ${first ? repeatText(first.t) : topLine}` : ''}` });
    for (const r of repeated.slice(1)) alerts.push({ state: r.state, family: 'repeat', text: repeatText(r.t) });
  } else for (const r of repeated) alerts.push({ state: r.state, family: 'repeat', text: repeatText(r.t) });
  // A compromised account sends under any envelope sender: every SASL account over the sender
  // thresholds is named as the account, with its own top sender.
  for (const a of s.accounts ?? []) {
    const st = thresholdState(rate(a.count), o.senderWarning, o.senderCritical);
    if (st === State.OK) continue;
    alerts.push({ state: st, family: 'account', text: `SASL account ${a.key} ${approx}${formatRate(rate(a.count))} msg/min (${shareText(a.count, s.messages)} of messages)${a.sender ? `, top sender ${who(a.sender.key)}` : ''}` });
  }
  // Every sender over its threshold, each with its own top recipient and client.
  // The first in full; the others shorter ("(19%), to R, from C"), so line one keeps every culprit
  // and stays short enough for a page (test/integration/pagerduty.test.ts).
  let senderState: State = State.OK;
  let named = 0;
  for (const c of s.culprits) {
    if (r.nullIsBounce && c.key === NULL_SENDER) continue;
    const st = thresholdState(rate(c.count), o.senderWarning, o.senderCritical);
    if (st === State.OK) continue;
    senderState = worst(senderState, st);
    const full = named++ === 0;
    const parts = [`sender ${who(c.key)} ${approx}${formatRate(rate(c.count))} msg/min (${shareText(c.count, s.messages)}${full ? ' of messages' : ''})`];
    if (c.recipient) parts.push(`${full ? 'top recipient' : 'to'} ${c.recipient.key}`);
    if (c.client) parts.push(`${full ? 'top client' : 'from'} ${c.client.key}`);
    alerts.push({ state: st, family: 'sender', text: parts.join(', ') });
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
    // Bounces this host writes for its own failed deliveries: where they failed and why.
    const fg = s.failureGroups?.[0];
    if (fg) parts.push(`delivery failures ${approx}${formatRate(rate(s.failures))}/min: ${groupText(fg, s.failures)}`);
    alerts.push({ state: bounceState, family: 'bounces', text: parts.join(', ') });
  }
  const deferralState = thresholdState(deferralsPerMin, o.deferralWarning, o.deferralCritical);
  const deferred = s.deferredRecipients[0];
  // The culprit of a deferral storm is a destination and a reason (incident 004), then a recipient.
  const dg = s.deferralGroups?.[0];
  if (deferralState !== State.OK)
    alerts.push({
      state: deferralState,
      family: 'deferrals',
      text: `deferrals ${approx}${formatRate(deferralsPerMin)}/min${within('deferrals')}${dg ? `: ${groupText(dg, s.deferrals)}` : ''}${deferred ? `, top deferred recipient ${deferred.key}` : ''}`,
    });
  const authState = thresholdState(r.authFailuresPerMin, o.authFailWarning, o.authFailCritical);
  if (authState !== State.OK) {
    const c = s.authClients?.[0];
    const u = s.authUsers?.[0];
    const total = s.authFailures ?? 0;
    alerts.push({
      state: authState,
      family: 'auth',
      text: `auth failures ${approx}${formatRate(r.authFailuresPerMin)}/min${within('authFailures')}${c ? `: ${shareText(c.count, total)} from ${c.key}` : ''}${u ? `, top user tried ${u.key} ${shareText(u.count, total)}` : ''}`,
    });
  }
  return alerts;
}

/** The one-line rates said when nothing alerts (and in the long output when something does). */
export function ratesLine(r: FloodRates): string {
  const { approx, linesPerMin, msgPerMin, bouncesPerMin, deferralsPerMin, within, secs } = r;
  return `${approx}${formatRate(linesPerMin)} lines/min, ${approx}${formatRate(msgPerMin)} msg/min${within('messages')}, ${approx}${formatRate(bouncesPerMin)} bounces/min${within('bounces')}, ${approx}${formatRate(deferralsPerMin)} deferrals/min${within('deferrals')} over ${formatDuration(secs)}`;
}

/** The long output after the rates: interval, what was read, top lines and the top lists of the flow. */
export function floodDetails(d: FloodData, o: FloodThresholds, r: FloodRates): string[] {
  const s = d.stats;
  const { secs, scale, approx, rate } = r;
  const details: string[] = [];
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
  details.push(
    `per status: ${approx}${formatCount(Math.round((s.sent ?? 0) * scale))} sent, ${approx}${formatCount(Math.round(s.deferrals * scale))} deferred, ${approx}${formatCount(Math.round(s.failures * scale))} bounced, ${approx}${formatCount(Math.round(s.rejects * scale))} rejected at SMTP time, ${approx}${formatCount(Math.round((s.expired ?? 0) * scale))} expired; ${approx}${formatCount(Math.round((s.authFailures ?? 0) * scale))} auth failures`,
  );
  if (s.delay)
    details.push(`delivery delay (sent and bounced attempts, ${formatCount(s.delay.count)}): p50 ${formatDelay(s.delay.p50)}, p95 ${formatDelay(s.delay.p95)} (each within ${(s.delay.maxError * 100).toFixed(1)}% of a logged delay)`);
  const groups = (title: string, rows: DeliveryGroup[] | undefined, whole: number) => {
    if (!rows?.length || o.top <= 0) return;
    details.push(`${title}:`);
    for (const g of rows.slice(0, o.top))
      details.push(`  ${shareText(g.count, whole).padStart(4)} ${approx}${formatCount(Math.round(g.count * scale))} (${approx}${formatRate(rate(g.count))}/min) ${g.destination}${g.dsn ? ` ${g.dsn}` : ''} ${quote(g.reason || '(no reason logged)', 120)}`);
  };
  groups('deferrals by destination and reason', s.deferralGroups, s.deferrals);
  groups('delivery failures (bounced) by destination and reason', s.failureGroups, s.failures);
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
  if (s.rejectReasons?.length && o.top > 0) {
    details.push('top reject reasons:');
    for (const r of s.rejectReasons.slice(0, o.top)) details.push(`  ${shareText(r.count, s.rejects).padStart(4)} ${approx}${formatCount(Math.round(r.count * scale))} ${quote(r.key, 160)}`);
  }
  list('auth failures by client', s.authClients ?? [], s.authFailures ?? 0);
  list('auth failures by user tried', s.authUsers ?? [], s.authFailures ?? 0);
  if (s.accounts?.length) {
    list('top SASL accounts (messages)', s.accounts, s.messages);
    for (const a of s.accounts.slice(0, o.top)) if (a.sender) details.push(`  ${a.key}: top sender ${who(a.sender.key)}`);
  }
  if (s.unrecognised) details.push(`${formatCount(s.unrecognised)} line(s) in no known format (templated whole)`);
  if (d.stateFile) details.push(`state: ${d.stateFile}`);
  return details;
}

/** "0.03s", "12s", "5m 3s". */
function formatDelay(x: number): string {
  return x < 60 ? `${x}s` : formatDuration(x);
}

export function floodMetrics(d: FloodData, o: FloodThresholds, r: FloodRates): Metric[] {
  const { linesPerMin, bytesPerMin, topShare, topPerMin, msgPerMin, senderPerMin, bouncesPerMin, deferralsPerMin, rejectsPerMin } = r;
  const delay = d.stats.delay;
  // Issue 17's per-status rates, after the earlier metrics (whose order and labels stay): deferred
  // and rejected are deferrals_per_min and rejects_per_min above.
  const more = [
    metric('sent_per_min', round2(r.sentPerMin), { min: 0 }),
    metric('bounced_per_min', round2(r.failuresPerMin), { min: 0 }),
    metric('expired_per_min', round2(r.expiredPerMin), { min: 0 }),
    metric('auth_failures_per_min', round2(r.authFailuresPerMin), { min: 0, warn: o.authFailWarning, crit: o.authFailCritical }),
    metric('top_account_per_min', round2(r.accountPerMin), { min: 0, warn: o.senderWarning, crit: o.senderCritical }),
    ...(delay ? [metric('delay_p50', delay.p50, { uom: 's', min: 0 }), metric('delay_p95', delay.p95, { uom: 's', min: 0 })] : []),
  ];
  return [
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
    metric('interval', Math.round(d.interval), { uom: 's', min: 0, integer: true }),
    ...more,
  ];
}
