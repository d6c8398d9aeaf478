// What one run saw in the lines appended since the last run: how many lines, which templates
// repeat, the mail flow, and the busiest minute (by the lines' own timestamps). Fed line by line by
// the readers; memory is bounded by the TopCounter capacities, not by the size of the log.

import type { TopEntry } from '../queue/topk.js';
import { MailFlow, Mta, mtaOfTag, type FlowCounts } from './mailflow.js';
import { Format, lineTime, newHeader, parseHeader } from './syslog.js';
import { buildTemplate, TemplateCounter, type TemplateEntry } from './template.js';

export const TEMPLATE_CAPACITY = 2_000;

/** The busiest minute by log timestamps: flood windows shorter than the check interval show here. */
export interface PeakMinute {
  /** As the log writes it, e.g. "Nov 23 11:11" or "2026-11-23T11:11". */
  minute: string;
  lines: number;
}

/** Plain data handed to evaluate() (and to --format json). */
export interface FloodStats extends FlowCounts {
  lines: number;
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

  constructor(private readonly nowSec: number) {}

  /** The LineHandler: bind it with `(b, s, e, t) => a.line(b, s, e, t)` or use `handler`. */
  readonly handler = (b: Buffer, s: number, e: number, truncated: boolean): void => this.line(b, s, e, truncated);

  line(b: Buffer, s: number, e: number, truncated: boolean): void {
    this.lines++;
    if (truncated) this.longLines++;
    if (e > s && b[e - 1] === 13) e--; // CRLF
    const h = parseHeader(b, s, e, this.h);
    this.formats[h.format]++;
    buildTemplate(b, e, h);
    this.templates.addLast();
    if (h.format !== Format.Unknown) {
      this.minute(b, h.tsStart, MINUTE_LEN[h.format]);
      if (this.firstTime === undefined) this.firstTime = lineTime(b, h, this.nowSec);
      this.lastBuf = b;
      this.lastStart = s;
      this.lastEnd = e;
      const mta = h.format === Format.Exim ? Mta.Exim : h.progEnd > h.progStart ? mtaOfTag(b, h.progStart, h.progEnd) : Mta.None;
      if (mta !== Mta.None) this.flow.line(mta, b, h.progStart, h.progEnd, h.msgStart, e);
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
    const f = this.flow;
    return {
      lines: this.lines,
      longLines: this.longLines,
      unrecognised: this.formats[Format.Unknown],
      formats: Object.fromEntries(FORMAT_KEYS.map((k, i) => [k, this.formats[i]]).filter(([, n]) => n)),
      templates: this.templates.top(top),
      distinctTemplates: this.templates.distinct,
      templatesApproximate: this.templates.approximate,
      senders: f.senders.top(top),
      recipients: f.recipients.top(top),
      clients: f.clients.top(top),
      bounceClients: f.bounceClients.top(top),
      bounceDomains: f.bounceDomains.top(top),
      bounceRecipients: f.bounceRecipients.distinct,
      sendersApproximate: f.senders.approximate,
      messages: f.messages,
      bounces: f.bounces,
      deliveries: f.deliveries,
      deferrals: f.deferrals,
      failures: f.failures,
      rejects: f.rejects,
      firstTime: this.firstTime,
      lastTime: this.lastTime,
      peak: this.peak,
    };
  }
}
