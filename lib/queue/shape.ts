// The queue's shape, as Postfix's qshape(1) shows it: recipient domains (or sender domains) by age,
// in geometrically growing buckets (0-5, 5-10, 10-20, ... 640-1280 minutes, older), so an on-call
// engineer sees at a glance which destination the queue is stuck on and since when. The rules are
// qshape's (postfix/auxiliary/qshape/qshape.pl, read for this): every recipient still to be
// delivered counts once in its domain (a message to three recipients of one domain counts three);
// with `sender` each message counts once, by its sender's domain; an address is lower-cased, the
// null sender is MAILER-DAEMON, the domain is what follows the last '@' with '..' made '.' and
// leading and trailing dots dropped; the age is now minus the message's arrival; the first bucket
// is [0, 5) minutes, then [5, 10), [10, 20), ... doubling, the last one open-ended. Unlike qshape
// (incoming and active by default) every queue the check reads is counted, or the --queue ones.
// Pure: the counter is fed by the spool scan or the listing command's messages.

import { NONE, type EnvelopeStore } from './store.js';

export type ShapeBy = 'recipient' | 'sender';

/** qshape's defaults: 5-minute first bucket, 10 buckets. */
export const SHAPE_TICK_MIN = 5;
export const SHAPE_BUCKETS = 10;
/** Rows kept for the long output and JSON (TOTAL besides). */
export const SHAPE_ROWS_KEPT = 100;

export interface ShapeRow {
  domain: string;
  /** [total, bucket 1 .. bucket SHAPE_BUCKETS] */
  counts: number[];
}

export interface QueueShape {
  by: ShapeBy;
  /** Column labels after T: the upper bound of each bucket in minutes, the last "N+". */
  labels: string[];
  /** TOTAL first, then the domains by total (then shorter name, then name), at most SHAPE_ROWS_KEPT. */
  rows: ShapeRow[];
  /** Distinct domains counted (rows may hold fewer). */
  domains: number;
  /** Messages counted; and those of them without an arrival time (their addresses are in no bucket,
   *  only in T). */
  messages: number;
  ageUnknown: number;
  /** Counted from this many of the listed messages' envelopes (the rest unread before the deadline). */
  known?: { envelopes: number; listed: number };
}

/** The domain an address counts in, by qshape's rules (one pass of '..' -> '.', one dot trimmed at each end). */
export function shapeDomain(address: string): string {
  if (address === '' || address === '<>') return 'MAILER-DAEMON';
  let d = address.toLowerCase();
  const at = d.lastIndexOf('@');
  if (at >= 0) d = d.slice(at + 1);
  d = d.replace(/\.\./g, '.');
  if (d.length > 1 && d.startsWith('.')) d = d.slice(1);
  if (d.length > 1 && d.endsWith('.')) d = d.slice(0, -1);
  return d;
}

/** Bucket 1..buckets of a message `ageSec` old (qshape: [0,t), [t,2t), [2t,4t), ...). */
export function shapeBucket(ageSec: number, tickMin = SHAPE_TICK_MIN, buckets = SHAPE_BUCKETS): number {
  const m = ageSec / (60 * tickMin);
  if (!(m >= 1)) return 1; // also a message from the future (clock skew): the youngest bucket
  const b = 2 + Math.floor(Math.log2(m));
  return b < buckets ? b : buckets;
}

export function shapeLabels(tickMin = SHAPE_TICK_MIN, buckets = SHAPE_BUCKETS): string[] {
  const labels: string[] = [];
  let t = tickMin;
  for (let i = 1; i < buckets; i++, t *= 2) labels.push(String(t));
  labels.push(`${t / 2}+`);
  return labels;
}

export class ShapeCounter {
  private readonly rows = new Map<string, number[]>();
  private readonly total: number[];
  private messages = 0;
  private ageUnknown = 0;

  constructor(
    readonly by: ShapeBy,
    /** Epoch seconds the ages are taken at. */
    private readonly now: number,
  ) {
    this.total = new Array(SHAPE_BUCKETS + 1).fill(0);
  }

  /** One message: its arrival (epoch seconds, NaN/undefined when unknown), sender, and recipients still
   *  to deliver. One with none left is not counted, by sender either (as qshape). */
  add(arrival: number | undefined, sender: string | undefined, recipients: readonly string[]): void {
    if (recipients.length === 0) return;
    this.messages++;
    const known = arrival !== undefined && Number.isFinite(arrival);
    if (!known) this.ageUnknown++;
    const b = known ? shapeBucket(this.now - arrival) : 0;
    if (this.by === 'sender') {
      if (sender !== undefined) this.count(shapeDomain(sender), b);
    } else for (const r of recipients) this.count(shapeDomain(r), b);
  }

  private count(domain: string, b: number): void {
    let row = this.rows.get(domain);
    if (!row) this.rows.set(domain, (row = new Array(SHAPE_BUCKETS + 1).fill(0)));
    row[0]++;
    this.total[0]++;
    if (b > 0) {
      row[b]++;
      this.total[b]++;
    }
  }

  result(): QueueShape {
    const rows = [...this.rows].sort((a, b) => b[1][0] - a[1][0] || a[0].length - b[0].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return {
      by: this.by,
      labels: shapeLabels(),
      rows: [{ domain: 'TOTAL', counts: [...this.total] }, ...rows.slice(0, SHAPE_ROWS_KEPT).map(([domain, counts]) => ({ domain, counts }))],
      domains: rows.length,
      messages: this.messages,
      ageUnknown: this.ageUnknown,
    };
  }
}

/** The shape as qshape prints it: right-aligned columns, T first, `rows` domains under TOTAL. */
export function shapeTable(s: QueueShape, rows: number): string[] {
  const head = ['', 'T', ...s.labels];
  const body = s.rows.slice(0, rows + 1).map((r) => [r.domain, ...r.counts.map(String)]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((x, c) => x.padStart(widths[c])).join('  ');
  return [line(head), ...body.map(line)];
}

/** The shape of a spool scan's records: every listed message whose envelope is known (cached or read
 *  this run), in the given queues (all when none). Recipients are the ones the store keeps (the
 *  first 256 of a message). */
export function shapeOfRecords(
  by: ShapeBy,
  now: number,
  listing: { n: number; queueOf(i: number): string },
  store: EnvelopeStore,
  recordOf: Int32Array,
  vanished: (i: number) => boolean,
  queues?: readonly string[],
): QueueShape {
  const c = new ShapeCounter(by, now);
  const strings = store.strings.list;
  const want = queues?.length ? new Set(queues) : undefined;
  let listed = 0;
  let envelopes = 0;
  const rcpts: string[] = [];
  for (let i = 0; i < listing.n; i++) {
    if (vanished(i)) continue;
    const r = recordOf[i];
    const queue = r >= 0 ? strings[store.queue[r]] : listing.queueOf(i);
    if (want && !want.has(queue)) continue;
    listed++;
    if (r < 0) continue;
    envelopes++;
    rcpts.length = 0;
    const from = store.rcptStart[r];
    for (let k = 0; k < store.rcptStored[r]; k++) rcpts.push(strings[store.rcpts[from + k]]);
    const snd = store.sender[r];
    c.add(store.arrival[r] === NONE ? undefined : store.arrival[r], snd < 0 ? undefined : strings[snd], rcpts);
  }
  const shape = c.result();
  if (envelopes < listed) shape.known = { envelopes, listed };
  return shape;
}
