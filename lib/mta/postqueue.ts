// Parsers for Postfix's own queue listing, for when the spool is not readable: `postqueue -j`
// (one JSON object per message) and the classic `postqueue -p` / `mailq` text. Each has a
// line-at-a-time form (the listing is never held whole) and a whole-string wrapper.

import type { ListingParser, MessageSink } from './listing.js';
import { POSTFIX_QUEUES } from './postfix.js';
import type { ListingCommand, QueuedMessage } from './types.js';

/** What showq prints for the null sender (empty_address_recipient, default MAILER-DAEMON). */
const EMPTY_ADDRESS = 'MAILER-DAEMON';

interface PostqueueJsonLine {
  queue_name?: string;
  queue_id?: string;
  arrival_time?: number;
  message_size?: number;
  forced_expire?: boolean;
  sender?: string;
  recipients?: { address?: string; delay_reason?: string; bounce_reason?: string; other_reason?: string }[];
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function knownQueue(queue: string | undefined): string {
  return queue !== undefined && (POSTFIX_QUEUES as readonly string[]).includes(queue) ? queue : 'deferred';
}

function fromJson(j: PostqueueJsonLine): QueuedMessage | undefined {
  if (!j || typeof j.queue_id !== 'string') return undefined;
  // Any JSON may come back (a wrapper, another version): take only fields of the expected types.
  const rcpts = (Array.isArray(j.recipients) ? j.recipients : []).filter((r) => r !== null && typeof r === 'object');
  const m: QueuedMessage = {
    id: j.queue_id,
    queue: knownQueue(str(j.queue_name)),
    recipients: rcpts.map((r) => str(r.address)).filter((a): a is string => a !== undefined),
  };
  if (typeof j.arrival_time === 'number') m.arrival = j.arrival_time;
  if (typeof j.sender === 'string') m.sender = j.sender === EMPTY_ADDRESS ? '' : j.sender;
  if (typeof j.message_size === 'number') m.size = j.message_size;
  if (j.forced_expire) m.flags = ['expired'];
  const reason = rcpts.map((r) => str(r.delay_reason) || str(r.bounce_reason) || str(r.other_reason)).find(Boolean);
  if (reason) m.reason = reason;
  return m;
}

const JSON_STRING = '("(?:[^"\\\\]|\\\\.)*")';
const SCALAR = (key: string, value: string) => new RegExp(`"${key}"\\s*:\\s*${value}`);
const TRUNCATED_FIELDS = {
  queue_id: SCALAR('queue_id', JSON_STRING),
  queue_name: SCALAR('queue_name', JSON_STRING),
  sender: SCALAR('sender', JSON_STRING),
  arrival_time: SCALAR('arrival_time', '(-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?)'),
  message_size: SCALAR('message_size', '(-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?)'),
  forced_expire: SCALAR('forced_expire', '(true|false)'),
};
const TRUNCATED_ADDRESS = new RegExp(`"address"\\s*:\\s*${JSON_STRING}`, 'g');
const TRUNCATED_REASON = new RegExp(`"(?:delay|bounce|other)_reason"\\s*:\\s*${JSON_STRING}`);

/**
 * A message line cut at the line cap (tens of thousands of recipients): postqueue prints the
 * scalar fields first, so the message is still counted, with the recipients that fit, flagged.
 */
function fromTruncatedJson(line: string): QueuedMessage | undefined {
  const cut = line.indexOf('"recipients"');
  const head = cut < 0 ? line : line.slice(0, cut);
  const get = (re: RegExp): unknown => {
    const m = re.exec(head);
    if (!m) return undefined;
    try {
      return JSON.parse(m[1]);
    } catch {
      return undefined;
    }
  };
  const j: PostqueueJsonLine = {};
  for (const [k, re] of Object.entries(TRUNCATED_FIELDS)) (j as Record<string, unknown>)[k] = get(re);
  const tail = cut < 0 ? '' : line.slice(cut);
  j.recipients = [];
  for (const a of tail.matchAll(TRUNCATED_ADDRESS)) {
    try {
      j.recipients.push({ address: JSON.parse(a[1]) as string });
    } catch {
      /* not a whole string */
    }
  }
  const m = fromJson(j);
  if (!m) return undefined;
  const r = TRUNCATED_REASON.exec(tail);
  if (r) {
    try {
      const reason = str(JSON.parse(r[1]));
      if (reason) m.reason = reason;
    } catch {
      /* not a whole string */
    }
  }
  (m.flags ??= []).push('truncated');
  return m;
}

/**
 * `postqueue -j` (Postfix >= 3.1), one JSON object per message:
 *
 *   {"queue_name": "deferred", "queue_id": "4cQDZ53BJ4z2xvS", "arrival_time": 1763895300,
 *    "message_size": 313, "forced_expire": false, "sender": "MAILER-DAEMON",
 *    "recipients": [{"address": "bob@victim.example", "delay_reason": "connect to ...: Connection refused"}]}
 *
 * The null sender is printed as MAILER-DAEMON: it becomes '' as in the spool reader.
 */
export function createPostqueueJsonParser(emit: MessageSink): ListingParser {
  return {
    line(raw, truncated = false) {
      const line = raw.trim();
      if (!line.startsWith('{')) return;
      let m: QueuedMessage | undefined;
      try {
        m = fromJson(JSON.parse(line) as PostqueueJsonLine);
      } catch {
        // A line cut short by a timeout is dropped; one cut at the line cap is still a message.
        m = truncated ? fromTruncatedJson(line) : undefined;
      }
      if (m) emit(m);
    },
    end() {},
  };
}

export function parsePostqueueJson(stdout: string): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  feed(stdout, createPostqueueJsonParser((m) => out.push(m)));
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
// "4F1C21A0B2*   1820 Sun Nov 23 10:55:00  alice@lab.example"
const HEADER_LINE = /^([0-9A-Za-z_]+)([*!#]*)\s+(\d+)\s+([A-Z][a-z]{2})\s+([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(.*)$/;

/**
 * asctime() without the year, in the local time zone of the host that ran postqueue (this one).
 * The year is the latest one that puts the date at or before `now` (a day of clock skew allowed)
 * and, when possible, on the printed weekday (which tells apart mail held for over a year).
 */
function arrivalFromText(wday: string, mon: string, day: number, h: number, mi: number, s: number, now: Date): number | undefined {
  const month = MONTHS.indexOf(mon);
  if (month < 0) return undefined;
  const limit = now.getTime() + 86_400_000;
  const wanted = WEEKDAYS.indexOf(wday);
  let fallback: number | undefined;
  for (let y = now.getFullYear() + 1; y >= now.getFullYear() - 28; y--) {
    const d = new Date(y, month, day, h, mi, s);
    if (d.getMonth() !== month || d.getTime() > limit) continue; // Feb 29 of a common year, or future
    if (fallback === undefined) fallback = d.getTime() / 1000;
    if (d.getDay() === wanted) return d.getTime() / 1000;
  }
  return fallback;
}

/**
 * `postqueue -p` / `mailq` (any Postfix version):
 *
 *   -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
 *   4F1C21A0B2*     313 Sun Nov 23 10:55:00  alice@lab.example
 *                                            bob@victim.example
 *
 *   5A2B31C0D4!     290 Sun Nov 23 10:56:12  MAILER-DAEMON
 *                                            (connect to 127.0.0.1[127.0.0.1]:2: Connection refused)
 *                                            carol@victim.example
 *
 *   -- 1 Kbytes in 2 Requests.
 *
 * '*' marks the active queue, '!' hold, '#' forced expiry; unmarked messages are in deferred,
 * incoming or maildrop, which the text does not tell apart: they are counted as `label` or
 * deferred. A "(reason)" line applies to the recipients below it; a reason of 76 characters
 * or more starts in column 1.
 */
export function createPostqueueTextParser(opts: { now: Date; label?: string }, emit: MessageSink): ListingParser {
  let cur: QueuedMessage | undefined;
  const close = () => {
    if (cur) emit(cur);
    cur = undefined;
  };
  return {
    line(raw) {
      const line = raw.trim();
      if (line === '') {
        close();
        return;
      }
      if (line.startsWith('(') && line.endsWith(')')) {
        if (cur && cur.reason === undefined && line !== '(reason unavailable)') cur.reason = line.slice(1, -1);
        return;
      }
      const first = raw.charCodeAt(0);
      if (first === 0x20 || first === 0x09) {
        if (cur) cur.recipients.push(line);
        return;
      }
      close();
      const m = HEADER_LINE.exec(raw);
      if (!m) return; // heading, "-- N Kbytes in M Requests.", "Mail queue is empty"
      const marks = m[2];
      cur = {
        id: m[1],
        queue: marks.includes('*') ? 'active' : marks.includes('!') ? 'hold' : (opts.label ?? 'deferred'),
        recipients: [],
        size: Number(m[3]),
      };
      const arrival = arrivalFromText(m[4], m[5], Number(m[6]), Number(m[7]), Number(m[8]), Number(m[9]), opts.now);
      if (arrival !== undefined) cur.arrival = arrival;
      const sender = m[10].trim();
      cur.sender = sender === EMPTY_ADDRESS ? '' : sender;
      if (marks.includes('#')) cur.flags = ['expired'];
    },
    end: close,
  };
}

export function parsePostqueueText(stdout: string, now: Date, label?: string): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  feed(stdout, createPostqueueTextParser({ now, label }, (m) => out.push(m)));
  return out;
}

/** JSON lines from `postqueue -j`, or the classic text if an older Postfix (or mailq) produced it:
 *  decided by the first non-blank character of the listing. */
export function createPostfixListingParser(opts: { now: Date; label?: string }, emit: MessageSink): ListingParser {
  let inner: ListingParser | undefined;
  return {
    line(s, truncated) {
      if (!inner) {
        const c = /\S/.exec(s);
        if (!c) return;
        inner = c[0] === '{' ? createPostqueueJsonParser(emit) : createPostqueueTextParser(opts, emit);
      }
      inner.line(s, truncated);
    },
    end() {
      inner?.end();
    },
  };
}

export function parsePostfixListing(stdout: string, cmd: ListingCommand, now: Date = new Date()): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  feed(stdout, createPostfixListingParser({ now, label: cmd.label }, (m) => out.push(m)));
  return out;
}

function feed(stdout: string, p: ListingParser): void {
  let from = 0;
  while (from < stdout.length) {
    let nl = stdout.indexOf('\n', from);
    if (nl < 0) nl = stdout.length;
    p.line(stdout.slice(from, nl));
    from = nl + 1;
  }
  p.end();
}
