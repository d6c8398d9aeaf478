// The whole-string listing parsers as they were before the incremental rewrite (copied from git
// history; constants renamed where two parsers shared a name): the oracle the line-at-a-time
// parsers and their wrappers must agree with.
/* eslint-disable */
import type { ListingCommand, QueuedMessage } from '../../lib/mta/types.js';
import { POSTFIX_QUEUES } from '../../lib/mta/postfix.js';
import { parseEximSize, type EximBpParseOptions } from '../../lib/mta/exim-bp.js';
import { MAILQ_RECIPIENT_WIDTH, MAILQ_SENDER_WIDTH, mailqTime, unescapeMailq, type MailqParseOptions } from '../../lib/mta/sendmail-mailq.js';
import { normalizeSendmailAddress } from '../../lib/mta/sendmail-qf.js';

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

/**
 * `postqueue -j` (Postfix >= 3.1), one JSON object per message:
 *
 *   {"queue_name": "deferred", "queue_id": "4cQDZ53BJ4z2xvS", "arrival_time": 1763895300,
 *    "message_size": 313, "forced_expire": false, "sender": "MAILER-DAEMON",
 *    "recipients": [{"address": "bob@victim.example", "delay_reason": "connect to ...: Connection refused"}]}
 *
 * The null sender is printed as MAILER-DAEMON: it becomes '' as in the spool reader.
 */
export function legacyPostqueueJson(stdout: string): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  let from = 0;
  while (from < stdout.length) {
    let nl = stdout.indexOf('\n', from);
    if (nl < 0) nl = stdout.length;
    const line = stdout.slice(from, nl).trim();
    from = nl + 1;
    if (!line.startsWith('{')) continue;
    let j: PostqueueJsonLine;
    try {
      j = JSON.parse(line) as PostqueueJsonLine;
    } catch {
      continue; // a line cut short by a timeout
    }
    if (!j || typeof j.queue_id !== 'string') continue;
    // Any JSON may come back (a wrapper, another version): take only fields of the expected types.
    const rcpts = (Array.isArray(j.recipients) ? j.recipients : []).filter((r) => r !== null && typeof r === 'object');
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const queue = str(j.queue_name);
    const m: QueuedMessage = {
      id: j.queue_id,
      queue: queue !== undefined && (POSTFIX_QUEUES as readonly string[]).includes(queue) ? queue : 'deferred',
      recipients: rcpts.map((r) => str(r.address)).filter((a): a is string => a !== undefined),
    };
    if (typeof j.arrival_time === 'number') m.arrival = j.arrival_time;
    if (typeof j.sender === 'string') m.sender = j.sender === EMPTY_ADDRESS ? '' : j.sender;
    if (typeof j.message_size === 'number') m.size = j.message_size;
    if (j.forced_expire) m.flags = ['expired'];
    const reason = rcpts.map((r) => str(r.delay_reason) || str(r.bounce_reason) || str(r.other_reason)).find(Boolean);
    if (reason) m.reason = reason;
    out.push(m);
  }
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
export function legacyPostqueueText(stdout: string, now: Date, label?: string): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  let cur: QueuedMessage | undefined;
  let from = 0;
  while (from < stdout.length) {
    let nl = stdout.indexOf('\n', from);
    if (nl < 0) nl = stdout.length;
    const raw = stdout.slice(from, nl);
    from = nl + 1;
    const line = raw.trim();
    if (line === '') {
      cur = undefined;
      continue;
    }
    if (line.startsWith('(') && line.endsWith(')')) {
      if (cur && cur.reason === undefined && line !== '(reason unavailable)') cur.reason = line.slice(1, -1);
      continue;
    }
    const first = raw.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      if (cur) cur.recipients.push(line);
      continue;
    }
    const m = HEADER_LINE.exec(raw);
    if (!m) {
      cur = undefined; // heading, "-- N Kbytes in M Requests.", "Mail queue is empty"
      continue;
    }
    const marks = m[2];
    cur = {
      id: m[1],
      queue: marks.includes('*') ? 'active' : marks.includes('!') ? 'hold' : (label ?? 'deferred'),
      recipients: [],
      size: Number(m[3]),
    };
    const arrival = arrivalFromText(m[4], m[5], Number(m[6]), Number(m[7]), Number(m[8]), Number(m[9]), now);
    if (arrival !== undefined) cur.arrival = arrival;
    const sender = m[10].trim();
    cur.sender = sender === EMPTY_ADDRESS ? '' : sender;
    if (marks.includes('#')) cur.flags = ['expired'];
    out.push(cur);
  }
  return out;
}

/** JSON lines from `postqueue -j`, or the classic text if an older Postfix (or mailq) produced it. */
export function legacyPostfixListing(stdout: string, cmd: ListingCommand, now: Date = new Date()): QueuedMessage[] {
  const start = stdout.search(/\S/);
  if (start >= 0 && stdout[start] === '{') return legacyPostqueueJson(stdout);
  return legacyPostqueueText(stdout, now, cmd.label);
}

const EXIM_ENTRY =
  /^\s*(\d+)([mhd]) +(\S+)? +([0-9A-Za-z]{6}-(?:[0-9A-Za-z]{6}-[0-9A-Za-z]{2}|[0-9A-Za-z]{11}-[0-9A-Za-z]{4}))(?: (.*))?$/;
const FROZEN = ' *** frozen ***';
const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86400 };

/** Parse `exim -bp` output into messages (delivered recipients left out). */
export function legacyEximBp(stdout: string, opts: EximBpParseOptions = {}): QueuedMessage[] {
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  const out: QueuedMessage[] = [];
  let cur: QueuedMessage | undefined;
  for (let line of stdout.split('\n')) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') {
      cur = undefined;
      continue;
    }
    const m = EXIM_ENTRY.exec(line);
    if (m) {
      const [, age, unit, size, id, rest0] = m;
      let rest = rest0 ?? '';
      const flags: string[] = [];
      let frozen = false;
      if (rest.endsWith(FROZEN.trim())) {
        frozen = true;
        rest = rest.slice(0, -FROZEN.trim().length).trimEnd();
      }
      let sender: string | undefined;
      if (rest.startsWith('<')) {
        // "<sender>" optionally followed by " (login)"; the sender itself may contain spaces.
        const close = rest.endsWith('>') ? rest.length - 1 : rest.lastIndexOf('> (');
        if (close > 0) sender = rest.slice(1, close);
      }
      if (frozen) flags.push('frozen');
      cur = {
        id,
        queue: opts.label ?? (frozen ? 'frozen' : 'input'),
        arrival: now - Number.parseInt(age, 10) * UNIT_SECONDS[unit],
        sender,
        recipients: [],
        size: parseEximSize(size),
      };
      if (flags.length) cur.flags = flags;
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const t = line.trim();
    if (t.startsWith('*** spool')) {
      (cur.flags ??= []).push('unreadable');
      continue;
    }
    if (t.startsWith('D ') || t.startsWith('+D ')) continue; // delivered already
    cur.recipients.push(t);
  }
  return out;
}

const MAILQ_ENTRY = /^\s*([A-Za-z0-9]+)([*?X\- ])\s*(-?\d+) ((Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d)) ?(.*)$/;
const DIR_HEADER = /^\s*(\S.*?) \((\d+) requests?(?:, only \d+ printed)?\)\s*$/;
const DIR_EMPTY = /^\s*(\S.*?) is empty\s*$/;
const OPEN_FAILED = /^\s*([A-Za-z0-9]+) \((.*)\)\s*$/;
const NO_CONTROL_FILE = ' (no control file)';

function queueFor(dir: string | undefined, section: 'MSP' | 'MTA' | undefined): string {
  // Same rule as the spool reader: the MSP queue is the directory with "client" in its name.
  if (dir !== undefined) return dir.includes('client') ? 'clientmqueue' : 'mqueue';
  return section === 'MSP' ? 'clientmqueue' : 'mqueue';
}

/** Parse `mailq` / `sendmail -bp` output (non-verbose) into messages. */
export function legacyMailq(stdout: string, opts: MailqParseOptions = {}): QueuedMessage[] {
  const now = opts.now ?? Date.now();
  const out: QueuedMessage[] = [];
  let section: 'MSP' | 'MTA' | undefined;
  let dir: string | undefined;
  let cur: QueuedMessage | undefined;
  let held = false; // the current entry had a QUARANTINE: line
  const lines = stdout.split('\n');
  for (let raw of lines) {
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (raw.trim() === '') continue;
    if (raw.startsWith('MSP Queue status')) {
      section = 'MSP';
      dir = undefined;
      cur = undefined;
      continue;
    }
    if (raw.startsWith('MTA Queue status')) {
      section = 'MTA';
      dir = undefined;
      cur = undefined;
      continue;
    }
    if (raw.startsWith('-----Q-ID-----')) continue;
    const trimmed = raw.trim();
    if (trimmed.startsWith('Total requests:') || trimmed === 'Mail queue is empty') {
      cur = undefined;
      continue;
    }
    let m = DIR_HEADER.exec(raw);
    if (m && !MAILQ_ENTRY.test(raw)) {
      dir = m[1];
      cur = undefined;
      continue;
    }
    m = DIR_EMPTY.exec(raw);
    if (m) {
      dir = m[1];
      cur = undefined;
      continue;
    }
    m = MAILQ_ENTRY.exec(raw);
    if (m) {
      const [, id, marker, size, , wd, mon, day, hh, mm, rest0] = m;
      let rest = rest0;
      const flags: string[] = [];
      if (rest.endsWith(NO_CONTROL_FILE)) {
        rest = rest.slice(0, -NO_CONTROL_FILE.length);
        flags.push('unreadable');
      }
      const n = Number.parseInt(size, 10);
      const shown = unescapeMailq(rest);
      held = false;
      cur = {
        id,
        queue: opts.label ?? queueFor(dir, section),
        arrival: mailqTime(wd, mon, Number.parseInt(day, 10), Number.parseInt(hh, 10), Number.parseInt(mm, 10), now),
        sender: normalizeSendmailAddress(shown),
        recipients: [],
        size: n >= 0 ? n : undefined,
      };
      if (marker === '*') flags.push('locked');
      if (opts.label === 'quarantine') flags.push('quarantined');
      if (rest.length >= MAILQ_SENDER_WIDTH) flags.push('truncated');
      if (flags.length) cur.flags = flags;
      out.push(cur);
      continue;
    }
    m = OPEN_FAILED.exec(raw);
    if (m && !raw.startsWith('\t') && !trimmed.startsWith('(')) {
      cur = undefined;
      // "(job completed)": the qf vanished between listing and reading, as mailq itself says.
      if (m[2] === 'job completed') continue;
      out.push({ id: m[1], queue: opts.label ?? queueFor(dir, section), recipients: [], flags: ['unreadable'] });
      continue;
    }
    if (!cur) continue;
    if (raw.startsWith('\t')) {
      let addr = trimmed;
      if (addr.endsWith(NO_CONTROL_FILE.trim())) addr = addr.slice(0, -NO_CONTROL_FILE.length + 1).trim();
      const r = normalizeSendmailAddress(unescapeMailq(addr));
      if (r !== '') cur.recipients.push(r);
      if (addr.length >= MAILQ_RECIPIENT_WIDTH && !cur.flags?.includes('truncated')) (cur.flags ??= []).push('truncated');
      continue;
    }
    if (trimmed.startsWith('QUARANTINE:')) {
      // For a quarantined job the reason is why it is held (the spool reader's q line), not the last M text.
      if (!cur.flags?.includes('quarantined')) (cur.flags ??= []).push('quarantined');
      cur.reason = unescapeMailq(trimmed.slice('QUARANTINE:'.length).trim());
      held = true;
      continue;
    }
    // Status line: optional body type, then "(M text)".
    const open = trimmed.indexOf('(');
    if (open >= 0 && trimmed.endsWith(')') && !held) {
      cur.reason = unescapeMailq(trimmed.slice(open + 1, -1));
    }
  }
  return out;
}

