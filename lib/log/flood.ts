// What one run saw in the lines appended since the last run: how many lines, which templates
// repeat, the mail flow, and the busiest minute (by the lines' own timestamps). Fed line by line by
// the readers; memory is bounded by the TopCounter capacities, not by the size of the log.
//
// Past --exact-limit the reader analyses only the first 64 KiB of each 1 MiB block (lib/log/reader.ts).
// The counts are then a stratified estimate: the exact stratum as counted, plus the sampled stratum's
// analysed counts times its own sampling factor (its lines seen / lines analysed). Scaling the exact
// part too (as an earlier version did) is biased whenever the two parts differ: a 30 MB Postfix log
// whose first 8 MB were mostly arrivals said +70% received and -29% deferrals. The 95% interval is
// that of a ratio estimator over the sampled blocks taken as clusters (Cochran 6.13, with the
// finite-population factor 1 - 1/factor), from running sums: no per-block memory.

import type { TopEntry } from '../queue/topk.js';
import { DelayHistogram, parseGroup, type DeliveryGroup } from './reason.js';
import { INSTANCE_TAGS, MailFlow, MAINLOG_MTA, mtaOfTag, NO_MTA, PAIR_SEP, TIMED, type FlowCounts } from './mailflow.js';
import { Format, lineTime, newHeader, parseHeader, tagHasPrefix, tagSlash } from './syslog.js';
import { TemplateCounter, type TemplateEntry } from './template.js';

export const TEMPLATE_CAPACITY = 2_000;

/** The busiest minute by log timestamps: flood windows shorter than the check interval show here. */
export interface PeakMinute {
  /** As the log writes it, e.g. "Nov 23 11:11" or "2026-11-23T11:11". */
  minute: string;
  lines: number;
}

export const FLOW_KEYS = ['messages', 'bounces', 'deliveries', 'deferrals', 'failures', 'rejects', 'sent', 'expired', 'authFailures'] as const;
export type FlowKey = (typeof FLOW_KEYS)[number];

/** A 95% interval; high is null when it cannot be estimated (fewer than two sampled blocks). */
export interface Interval {
  low: number;
  high: number | null;
}

export interface SamplingInfo {
  /** Lines in the exact stratum (all analysed). */
  exactLines: number;
  /** Lines in the sampled stratum, and how many of them were analysed. */
  sampledLines: number;
  analysedLines: number;
  blocks: number;
  /** sampledLines / analysedLines: what each analysed count of the sampled stratum stands for. */
  factor: number;
}

/** A sender with its own top recipient and top client (counts of that sender's mail only). */
export interface SenderCulprit extends TopEntry {
  recipient?: TopEntry;
  client?: TopEntry;
}

/** A SASL account with its own top envelope sender (counts of that account's mail only). */
export interface AccountCulprit extends TopEntry {
  sender?: TopEntry;
}

/** Delivery delays of sent and bounced attempts: quantiles within `maxError` (relative) of a logged delay. */
export interface DelayStats {
  count: number;
  p50: number;
  p95: number;
  maxError: number;
}

/** Plain data handed to evaluate() (and to --format json). Counts are estimates when `sampling` is set. */
export interface FloodStats extends FlowCounts {
  /** Every line of the run (exact). */
  lines: number;
  /** Lines analysed (templates, mail flow): all of them unless sampling. */
  analysedLines: number;
  sampling?: SamplingInfo;
  /** 95% intervals of the flow counts (sampled runs only). */
  intervals?: Partial<Record<FlowKey, Interval>>;
  culprits: SenderCulprit[];
  deferredRecipients: TopEntry[];
  /** Lines longer than the line limit (counted, analysed by their start). */
  longLines: number;
  /** Lines with no recognised syslog/Exim header. */
  unrecognised: number;
  /** Line counts per format name. */
  formats: Record<string, number>;
  templates: TemplateEntry[];
  distinctTemplates: number;
  templatesApproximate: boolean;
  senders: TopEntry[];
  recipients: TopEntry[];
  clients: TopEntry[];
  bounceClients: TopEntry[];
  bounceDomains: TopEntry[];
  /** Distinct bounce recipients (a lower bound when approximate). */
  bounceRecipients: number;
  sendersApproximate: boolean;
  firstTime?: number;
  lastTime?: number;
  peak?: PeakMinute;
  postfixNames?: Record<string, number>;
  /** --instance: mail-flow lines of other syslog names, left out of the flow counts. */
  otherInstanceLines?: number;
  /** Deferred and failed (bounced) attempts by destination, DSN class and normalised reason, top first. */
  deferralGroups?: DeliveryGroup[];
  failureGroups?: DeliveryGroup[];
  /** SMTP-time rejects by reply, templated. */
  rejectReasons?: TopEntry[];
  /** Failed AUTH attempts by client, and the user names tried. */
  authClients?: TopEntry[];
  authUsers?: TopEntry[];
  /** Messages by SASL account, each with its top envelope sender. */
  accounts?: AccountCulprit[];
  delay?: DelayStats;
}

const FORMAT_KEYS = ['unrecognised', 'rfc3164', 'iso8601', 'rfc5424', 'exim'] as const;
const MINUTE_LEN = [0, 12, 16, 16, 16];

export class FloodAnalyser {
  lines = 0;
  longLines = 0;
  readonly formats = [0, 0, 0, 0, 0];
  readonly templates = new TemplateCounter(TEMPLATE_CAPACITY);
  readonly flow = new MailFlow();
  firstTime?: number;
  lastTime?: number;
  private readonly h = newHeader();
  // The last line seen, to read its time when its chunk is done (the buffer is reused after that).
  private lastBuf?: Buffer;
  private lastStart = 0;
  private lastEnd = 0;
  // Minute buckets: compare the minute part of the timestamp bytes with the previous line's.
  private readonly minuteBuf = Buffer.alloc(16);
  private minuteLen = 0;
  private minuteCount = 0;
  peak?: PeakMinute;
  // Sampling: the exact stratum's counts, frozen when sampling starts, and running sums over blocks.
  private exact?: { lines: number; flow: number[]; tops: Map<string, number>[] };
  private blockStart = { lines: 0, flow: FLOW_KEYS.map(() => 0) };
  private blocks = 0;
  private sumM = 0;
  private sumM2 = 0;
  private readonly sumY = FLOW_KEYS.map(() => 0);
  private readonly sumY2 = FLOW_KEYS.map(() => 0);
  private readonly sumYM = FLOW_KEYS.map(() => 0);
  private sampledLines = 0;

  /** --instance: only tags "<instance>/..." feed the mail flow (the line and template counts stay whole). */
  private readonly instance?: Buffer;
  private otherInstanceLines = 0;
  // Syslog names (instances) seen: the last one's bytes, so that a string is made only when it changes.
  private readonly postfixNames = new Map<string, number>();
  private lastName = Buffer.alloc(64);
  private lastNameLen = -1;
  private lastNameKey = '';

  constructor(
    private readonly nowSec: number,
    opts: { instance?: string } = {},
  ) {
    if (opts.instance !== undefined) this.instance = Buffer.from(opts.instance, 'latin1');
  }

  /** Counts a line of an MTA whose tags are <instance>/<program> under its syslog name (the tag up to its last '/'). */
  private postfixName(b: Buffer, s: number, e: number): void {
    const slash = tagSlash(b, s, e);
    const n = slash < 0 ? 0 : slash - s;
    let same = n === this.lastNameLen;
    if (same) for (let i = 0; i < n; i++) if (b[s + i] !== this.lastName[i]) {
      same = false;
      break;
    }
    if (!same) {
      if (this.postfixNames.size >= 64 && !this.postfixNames.has(b.toString('latin1', s, s + n))) return;
      this.lastNameKey = b.toString('latin1', s, s + n);
      if (n > this.lastName.length) this.lastName = Buffer.alloc(n);
      b.copy(this.lastName, 0, s, s + n);
      this.lastNameLen = n;
    }
    this.postfixNames.set(this.lastNameKey, (this.postfixNames.get(this.lastNameKey) ?? 0) + 1);
  }

  private flowNow(): number[] {
    return FLOW_KEYS.map((k) => this.flow[k] ?? 0);
  }

  /** The counters whose keys are estimated (same order as in stats()). */
  private counters(): { top(n: number): (TopEntry | TemplateEntry)[] }[] {
    const f = this.flow;
    return [
      this.templates, f.senders, f.recipients, f.clients, f.bounceClients, f.bounceDomains, f.senderRecipients, f.senderClients, f.deferredRecipients,
      // 9..15: the groups of issue 17
      f.deferralGroups, f.failureGroups, f.rejectReasons, f.authClients, f.authUsers, f.accounts, f.accountSenders,
    ];
  }

  /** The reader leaves the exact stratum: freeze what was counted so far. */
  startSampling(): void {
    if (this.exact) return;
    this.exact = {
      lines: this.lines,
      flow: this.flowNow(),
      tops: this.counters().map((c) => new Map(c.top(Number.MAX_SAFE_INTEGER).map((e) => [keyOf(e), e.count]))),
    };
    this.blockStart = { lines: this.lines, flow: this.flowNow() };
  }

  /** One sampled block is done: `seen` lines in it, of which those analysed since the last block. */
  endBlock(seen: number): void {
    const m = this.lines - this.blockStart.lines;
    const now = this.flowNow();
    this.blocks++;
    this.sampledLines += seen;
    this.sumM += m;
    this.sumM2 += m * m;
    for (let i = 0; i < now.length; i++) {
      const y = now[i] - this.blockStart.flow[i];
      this.sumY[i] += y;
      this.sumY2[i] += y * y;
      this.sumYM[i] += y * m;
    }
    this.blockStart = { lines: this.lines, flow: now };
  }

  /** The LineHandler: bind it with `(b, s, e, t) => a.line(b, s, e, t)` or use `handler`. */
  readonly handler = (b: Buffer, s: number, e: number, truncated: boolean): void => this.line(b, s, e, truncated);

  line(b: Buffer, s: number, e: number, truncated: boolean): void {
    this.lines++;
    if (truncated) this.longLines++;
    if (e > s && b[e - 1] === 13) e--; // CRLF
    const h = parseHeader(b, s, e, this.h);
    this.formats[h.format]++;
    this.templates.add(b, e, h);
    if (h.format !== Format.Unknown) {
      this.minute(b, h.tsStart, MINUTE_LEN[h.format]);
      if (this.firstTime === undefined) this.firstTime = lineTime(b, h, this.nowSec);
      this.lastBuf = b;
      this.lastStart = s;
      this.lastEnd = e;
      const mta = h.format === Format.Exim ? MAINLOG_MTA : h.progEnd > h.progStart ? mtaOfTag(b, h.progStart, h.progEnd) : NO_MTA;
      if (mta !== NO_MTA && INSTANCE_TAGS[mta]) this.postfixName(b, h.progStart, h.progEnd);
      if (mta !== NO_MTA && this.instance && !tagHasPrefix(b, h.progStart, h.progEnd, this.instance)) this.otherInstanceLines++;
      else if (mta !== NO_MTA) this.flow.line(mta, b, h.progStart, h.progEnd, h.msgStart, e, TIMED[mta] ? () => lineTime(b, h, this.nowSec) : undefined);
    }
  }

  /** Call after each chunk: reads the time of the chunk's last dated line while its buffer is valid. */
  endChunk(): void {
    if (!this.lastBuf) return;
    const h = parseHeader(this.lastBuf, this.lastStart, this.lastEnd, newHeader());
    const t = lineTime(this.lastBuf, h, this.nowSec);
    if (t !== undefined) this.lastTime = t;
    this.lastBuf = undefined;
  }

  private minute(b: Buffer, ts: number, n: number): void {
    let same = n === this.minuteLen;
    if (same) for (let i = 0; i < n; i++) if (b[ts + i] !== this.minuteBuf[i]) {
      same = false;
      break;
    }
    if (same) {
      this.minuteCount++;
      return;
    }
    this.closeMinute();
    b.copy(this.minuteBuf, 0, ts, ts + n);
    this.minuteLen = n;
    this.minuteCount = 1;
  }

  private closeMinute(): void {
    if (this.minuteLen && (!this.peak || this.minuteCount > this.peak.lines))
      this.peak = { minute: this.minuteBuf.toString('latin1', 0, this.minuteLen), lines: this.minuteCount };
  }

  stats(top = 10): FloodStats {
    this.closeMinute();
    this.flow.end();
    const f = this.flow;
    const ex = this.exact;
    // Sampling factor of the sampled stratum; 1 (nothing to scale) when nothing of it was analysed.
    const factor = ex && this.sumM > 0 ? this.sampledLines / this.sumM : 1;
    const estimate = (exactPart: number, total: number) => (ex ? Math.round(exactPart + (total - exactPart) * factor) : total);
    const flow = (k: FlowKey, i: number) => estimate(ex ? ex.flow[i] : 0, f[k] ?? 0);
    const counters = this.counters();
    /** The top n of counter i by estimated count. */
    const topOf = (i: number, n: number): TopEntry[] => {
      const c = counters[i];
      if (!ex) return c.top(n).map((e) => ({ key: keyOf(e), count: e.count }));
      return c
        .top(Math.max(n * 4, 50))
        .map((e) => ({ key: keyOf(e), count: estimate(ex.tops[i].get(keyOf(e)) ?? 0, e.count) }))
        .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1))
        .slice(0, n);
    };
    let intervals: FloodStats['intervals'];
    if (ex) {
      intervals = {};
      FLOW_KEYS.forEach((k, i) => {
        const est = flow(k, i);
        const seen = f[k] ?? 0;
        const n = this.blocks;
        if (n < 2 || this.sumM === 0) {
          intervals![k] = { low: seen, high: null };
          return;
        }
        const r = this.sumY[i] / this.sumM;
        const se2 = Math.max(0, (this.sumY2[i] - 2 * r * this.sumYM[i] + r * r * this.sumM2) / (n - 1));
        const v = factor * factor * n * Math.max(0, 1 - 1 / factor) * se2;
        const half = 1.96 * Math.sqrt(v);
        intervals![k] = { low: Math.max(seen, Math.floor(est - half)), high: Math.max(seen, Math.ceil(est + half)) };
      });
    }
    const senders = topOf(1, top);
    const pairs = (i: number) => topOf(i, Number.MAX_SAFE_INTEGER);
    const senderRcpts = senders.length ? pairs(6) : [];
    const senderClients = senders.length ? pairs(7) : [];
    const bestOf = (rows: TopEntry[], sender: string): TopEntry | undefined => {
      const prefix = sender + PAIR_SEP;
      const r = rows.find((e) => e.key.startsWith(prefix));
      return r && { key: r.key.slice(prefix.length), count: r.count };
    };
    const accounts = topOf(14, top);
    const accountSenders = accounts.length ? pairs(15) : [];
    const delay = delayStats(f.delays);
    return {
      lines: ex ? ex.lines + this.sampledLines : this.lines,
      analysedLines: this.lines,
      sampling: ex ? { exactLines: ex.lines, sampledLines: this.sampledLines, analysedLines: this.sumM, blocks: this.blocks, factor } : undefined,
      intervals,
      culprits: senders.map((s) => ({ ...s, recipient: bestOf(senderRcpts, s.key), client: bestOf(senderClients, s.key) })),
      deferredRecipients: topOf(8, top),
      longLines: this.longLines,
      unrecognised: this.formats[Format.Unknown],
      formats: Object.fromEntries(FORMAT_KEYS.map((k, i) => [k, this.formats[i]]).filter(([, n]) => n)),
      templates: topOf(0, top).map((e) => ({ template: e.key, count: e.count })),
      distinctTemplates: this.templates.distinct,
      templatesApproximate: this.templates.approximate,
      senders,
      recipients: topOf(2, top),
      clients: topOf(3, top),
      bounceClients: topOf(4, top),
      bounceDomains: topOf(5, top),
      bounceRecipients: f.bounceRecipients.distinct,
      sendersApproximate: f.senders.approximate,
      messages: flow('messages', 0),
      bounces: flow('bounces', 1),
      deliveries: flow('deliveries', 2),
      deferrals: flow('deferrals', 3),
      failures: flow('failures', 4),
      rejects: flow('rejects', 5),
      sent: flow('sent', 6),
      expired: flow('expired', 7),
      authFailures: flow('authFailures', 8),
      deferralGroups: topOf(9, top).map((e) => parseGroup(e.key, e.count)),
      failureGroups: topOf(10, top).map((e) => parseGroup(e.key, e.count)),
      rejectReasons: topOf(11, top),
      authClients: topOf(12, top),
      authUsers: topOf(13, top),
      accounts: accounts.map((a) => ({ ...a, sender: bestOf(accountSenders, a.key) })),
      ...(delay ? { delay } : {}),
      firstTime: this.firstTime,
      lastTime: this.lastTime,
      peak: this.peak,
      ...(this.postfixNames.size > 1 || this.instance ? { postfixNames: Object.fromEntries(this.postfixNames) } : {}),
      ...(this.instance ? { otherInstanceLines: this.otherInstanceLines } : {}),
    };
  }
}

function delayStats(h: DelayHistogram): DelayStats | undefined {
  const p50 = h.quantile(0.5);
  const p95 = h.quantile(0.95);
  if (p50 === undefined || p95 === undefined) return undefined;
  const r = (x: number) => (x >= 10 ? Math.round(x) : Math.round(x * 100) / 100);
  return { count: h.count, p50: r(p50), p95: r(p95), maxError: Math.round(DelayHistogram.MAX_ERROR * 1000) / 1000 };
}

/** Template entries have `template`, the others `key`. */
function keyOf(e: TopEntry | TemplateEntry): string {
  return 'key' in e ? e.key : e.template;
}

/**
 * What the long output says about Postfix instances sharing the log: with --instance, how many
 * mail-flow lines of other syslog names were left out; without it, that several were counted
 * together (a postmulti host logging every instance to one file).
 */
export function instanceNotes(stats: FloodStats, instance?: string): string[] {
  const names = Object.entries(stats.postfixNames ?? {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const list = names.map(([n, c]) => `${n || '(none)'} ${c}`).join(', ');
  if (instance !== undefined) {
    const left = stats.otherInstanceLines ?? 0;
    const own = stats.postfixNames?.[instance] ?? 0;
    return [`--instance ${instance}: mail flow from ${own} line${own === 1 ? '' : 's'} tagged ${instance}/...; ${left} mail line${left === 1 ? '' : 's'} of other syslog names not counted${list ? ` (Postfix lines by syslog name: ${list})` : ''}`];
  }
  if (names.length > 1) return [`Postfix lines of ${names.length} syslog names (instances) counted together: ${list}; --instance NAME counts one`];
  return [];
}
