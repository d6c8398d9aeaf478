// Pure parser for Sendmail's own queue listing: `mailq` / `sendmail -bp` (queue.c print_single_queue),
// including Debian's wrapper, which prints the MSP queue first and then the MTA queue. Captured
// from Debian 12 (sendmail 8.17.1.9), tabs shown as \t:
//
//   MSP Queue status...
//   \t\t/var/spool/mqueue-client (4 requests)
//   -----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------
//   6ANB6xNM022559      400 Mon Nov 23 11:06 cron@mx1.lab.example
//                    (Deferred: Connection refused by [127.0.0.1])
//   \t\t\t\t\t root@lab.example
//   \t\tTotal requests: 4
//   MTA Queue status...
//   \t\t/var/spool/mqueue (24 requests)
//   -----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------
//   6ANB6uDW022299     1751 Mon Nov 23 11:06 <>
//                    (Deferred: Connection refused by [127.0.0.2])
//   \t\t\t\t\t <m.random@victim.example>
//   \t\tTotal requests: 24
//
// `mailq -qQ` adds "     QUARANTINE: held for review" under each held job, and prints an empty
// MSP queue as "/var/spool/mqueue-client is empty" with no indent. `mailq -Ac` on Debian prints the
// MSP queue in both sections, so the queue is decided by the directory header, not the section.
//
// Fixed by the C code: the ID is "%13s" then one marker (`*` locked/being delivered, `X` load too
// high, `-` too young, `?` lost), size "%8ld" (-1 = no df file), time "%.16s" of ctime() (local
// time, no year), the sender cut to 39 and each recipient to 38 characters, non-printable bytes
// as \ooo and backslashes doubled. Recipients are on lines starting with tabs; the status line
// ("%10.10s" body type, then the M text in parentheses, cut to 60) starts with spaces.

import { parseAllLines, type ListingParser, type MessageSink } from './listing.js';
import type { QueuedMessage } from './types.js';
import { normalizeSendmailAddress } from './sendmail-qf.js';
import { fromBytes } from '../plugin/text.js';
import { sendmailIdArrival } from './queue-id.js';

export interface MailqParseOptions {
  /** Queue name for every message (`mailq -qQ` -> 'quarantine'); otherwise decided by the queue directory. */
  label?: string;
  /** Reference time (ms) to pick the year of the yearless dates. Default Date.now(). */
  now?: number;
}

/** prtstr() widths: longer addresses are cut, so a value this long may be incomplete. */
export const MAILQ_SENDER_WIDTH = 39;
export const MAILQ_RECIPIENT_WIDTH = 38;

const ENTRY = /^\s*([A-Za-z0-9]+)([*?X\- ])\s*(-?\d+) ((Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d)) ?(.*)$/;
const DIR_HEADER = /^\s*(\S.*?) \((\d+) requests?(?:, only \d+ printed)?\)\s*$/;
const DIR_EMPTY = /^\s*(\S.*?) is empty\s*$/;
const OPEN_FAILED = /^\s*([A-Za-z0-9]+) \((.*)\)\s*$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const NO_CONTROL_FILE = ' (no control file)';

/** Undo prtstr(): `\\` -> `\`, `\201` -> the byte 0x81; the bytes then decoded as the spool reader
 *  decodes them (UTF-8 when valid, else latin1: lib/plugin/text.ts fromBytes). */
export function unescapeMailq(s: string): string {
  if (!s.includes('\\')) return s;
  return fromBytes(s.replace(/\\(\\|[0-7]{3})/g, (_m, g: string) => (g === '\\' ? '\\' : String.fromCharCode(Number.parseInt(g, 8) & 0xff))));
}

/**
 * Epoch seconds for a ctime()-style "Mon Nov 23 10:55" in local time. The year is not printed:
 * take the latest year (at most 7 back) whose calendar puts that date on that weekday and not in the future.
 */
export function mailqTime(weekday: string, month: string, day: number, hour: number, minute: number, now: number): number | undefined {
  const mon = MONTHS.indexOf(month);
  const wd = DAYS.indexOf(weekday);
  if (mon < 0) return undefined;
  const thisYear = new Date(now).getFullYear();
  let fallback: number | undefined;
  for (let y = thisYear; y >= thisYear - 7; y--) {
    const d = new Date(y, mon, day, hour, minute, 0, 0);
    if (d.getTime() > now + 86_400_000) continue; // clocks differ a little; a day in the future is another year
    fallback ??= d.getTime();
    if (d.getDay() === wd) return Math.floor(d.getTime() / 1000);
  }
  return fallback === undefined ? undefined : Math.floor(fallback / 1000);
}

/**
 * The arrival of a listed job: the Q-Time column is a minute (seconds dropped); the queue ID carries
 * the second it was made (lib/mta/queue-id.ts), used when it falls in that minute. Otherwise the
 * minute, with its precision.
 */
function listedArrival(id: string, minute: number | undefined, nowMs: number): { arrival?: number; arrivalPrecision?: number } {
  if (minute === undefined) return {};
  const fromId = sendmailIdArrival(id, nowMs / 1000);
  if (fromId !== undefined && fromId >= minute && fromId < minute + 60) return { arrival: fromId };
  return { arrival: minute, arrivalPrecision: 60 };
}

function queueFor(dir: string | undefined, section: 'MSP' | 'MTA' | undefined): string {
  // Same rule as the spool reader: the MSP queue is the directory with "client" in its name.
  if (dir !== undefined) return dir.includes('client') ? 'clientmqueue' : 'mqueue';
  return section === 'MSP' ? 'clientmqueue' : 'mqueue';
}

/** `mailq` / `sendmail -bp` (non-verbose) a line at a time: each message is handed on when its entry ends. */
export function createMailqParser(opts: MailqParseOptions, emit: MessageSink): ListingParser {
  const now = opts.now ?? Date.now();
  let section: 'MSP' | 'MTA' | undefined;
  let dir: string | undefined;
  let cur: QueuedMessage | undefined;
  let held = false; // the current entry had a QUARANTINE: line
  const close = () => {
    if (cur) emit(cur);
    cur = undefined;
  };
  return {
    line(raw) {
      if (raw.endsWith('\r')) raw = raw.slice(0, -1);
      if (raw.trim() === '') return;
      if (raw.startsWith('MSP Queue status')) {
        close();
        section = 'MSP';
        dir = undefined;
        return;
      }
      if (raw.startsWith('MTA Queue status')) {
        close();
        section = 'MTA';
        dir = undefined;
        return;
      }
      if (raw.startsWith('-----Q-ID-----')) return;
      const trimmed = raw.trim();
      if (trimmed.startsWith('Total requests:') || trimmed === 'Mail queue is empty') {
        close();
        return;
      }
      let m = DIR_HEADER.exec(raw);
      if (m && !ENTRY.test(raw)) {
        close();
        dir = m[1];
        return;
      }
      m = DIR_EMPTY.exec(raw);
      if (m) {
        close();
        dir = m[1];
        return;
      }
      m = ENTRY.exec(raw);
      if (m) {
        close();
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
          ...listedArrival(id, mailqTime(wd, mon, Number.parseInt(day, 10), Number.parseInt(hh, 10), Number.parseInt(mm, 10), now), now),
          sender: normalizeSendmailAddress(shown),
          recipients: [],
          size: n >= 0 ? n : undefined,
        };
        if (marker === '*') flags.push('locked');
        if (opts.label === 'quarantine') flags.push('quarantined');
        if (rest.length >= MAILQ_SENDER_WIDTH) flags.push('truncated');
        if (flags.length) cur.flags = flags;
        return;
      }
      m = OPEN_FAILED.exec(raw);
      if (m && !raw.startsWith('\t') && !trimmed.startsWith('(')) {
        close();
        // "(job completed)": the qf vanished between listing and reading, as mailq itself says.
        if (m[2] === 'job completed') return;
        emit({ id: m[1], queue: opts.label ?? queueFor(dir, section), recipients: [], flags: ['unreadable'] });
        return;
      }
      if (!cur) return;
      if (raw.startsWith('\t')) {
        let addr = trimmed;
        if (addr.endsWith(NO_CONTROL_FILE.trim())) addr = addr.slice(0, -NO_CONTROL_FILE.length + 1).trim();
        const r = normalizeSendmailAddress(unescapeMailq(addr));
        if (r !== '') cur.recipients.push(r);
        if (addr.length >= MAILQ_RECIPIENT_WIDTH && !cur.flags?.includes('truncated')) (cur.flags ??= []).push('truncated');
        return;
      }
      if (trimmed.startsWith('QUARANTINE:')) {
        // For a quarantined job the reason is why it is held (the spool reader's q line), not the last M text.
        if (!cur.flags?.includes('quarantined')) (cur.flags ??= []).push('quarantined');
        cur.reason = unescapeMailq(trimmed.slice('QUARANTINE:'.length).trim());
        held = true;
        return;
      }
      // Status line: optional body type, then "(M text)".
      const open = trimmed.indexOf('(');
      if (open >= 0 && trimmed.endsWith(')') && !held) {
        cur.reason = unescapeMailq(trimmed.slice(open + 1, -1));
      }
    },
    end: close,
  };
}

/** Parse `mailq` / `sendmail -bp` output (non-verbose) into messages. */
export function parseMailq(stdout: string, opts: MailqParseOptions = {}): QueuedMessage[] {
  return parseAllLines(stdout, (emit) => createMailqParser(opts, emit));
}

/** The counts mailq prints: "(N requests)" per directory, or "Total requests: N". For sanity checks. */
export function mailqRequestCounts(stdout: string): { perDirectory: Map<string, number>; totals: number[] } {
  const perDirectory = new Map<string, number>();
  const totals: number[] = [];
  for (const line of stdout.split('\n')) {
    const t = /^\s*Total requests: (\d+)\s*$/.exec(line);
    if (t) {
      totals.push(Number.parseInt(t[1], 10));
      continue;
    }
    const d = DIR_HEADER.exec(line);
    if (d && !ENTRY.test(line)) perDirectory.set(d[1], (perDirectory.get(d[1]) ?? 0) + Number.parseInt(d[2], 10));
    else {
      const e = DIR_EMPTY.exec(line);
      if (e) perDirectory.set(e[1], perDirectory.get(e[1]) ?? 0);
    }
  }
  return { perDirectory, totals };
}
