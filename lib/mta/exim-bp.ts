// Pure parser for Exim's own queue listing, `exim -bp` (queue.c queue_list). Captured from
// Debian 12 (Exim 4.96):
//
//    0m  5.0K 1xVRrp-000403-19 <billing@shop.example>
//             anna@customer.example
//             ben@customer.example
//             ap@partner.example
//
//    0m  2.2K 1xVRrp-00043Q-1t <> *** frozen ***
//             m.random@victim.example
//
// Per message: age ("%2dm" up to 90 minutes, then "%2dh" up to 72 hours, then "%2dd"), size
// (5 columns: "  731", " 2.9K", " 123K", " 1.2M"; blank when unknown), ID, <sender>, " (login)"
// when an untrusted user set the sender, " *** frozen ***"; then one line per recipient, "D" in
// front of those already delivered (+D for generated ones with -bpa); a blank line ends the entry.
// A spool error shows as an indented "*** spool format error ***" / "*** spool read error: ... ***".

import { parseAllLines, type ListingParser, type MessageSink } from './listing.js';
import { eximIdArrival } from './queue-id.js';
import type { QueuedMessage } from './types.js';

export interface EximBpParseOptions {
  /** The queue listed (a named queue, exim -bp -qG<name>) for its messages that are not frozen. */
  label?: string;
  /** Reference time (ms): the listing gives ages, so arrival = now - age (approximate). Default Date.now(). */
  now?: number;
}

const ENTRY =
  /^\s*(\d+)([mhd]) +(\S+)? +([0-9A-Za-z]{6}-(?:[0-9A-Za-z]{6}-[0-9A-Za-z]{2}|[0-9A-Za-z]{11}-[0-9A-Za-z]{4}))(?: (.*))?$/;
const FROZEN = ' *** frozen ***';
const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86400 };

/** exim -bp size column ("731", "2.9K", "123K", "1.2M") -> bytes (approximate above 1K). */
export function parseEximSize(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^(\d+(?:\.\d+)?)([KM]?)$/.exec(s);
  if (!m) return undefined;
  const n = Number.parseFloat(m[1]);
  return Math.round(m[2] === 'K' ? n * 1024 : m[2] === 'M' ? n * 1024 * 1024 : n);
}

// printf("%.1f") of size/unit: the value is an exact binary fraction, ties go to even as in glibc.
function oneDecimal(size: number, unit: number): string {
  const v = (size * 10) / unit;
  let r = Math.floor(v);
  const frac = v - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  return `${Math.floor(r / 10)}.${r % 10}`;
}

/** Exim's string_format_size(): how exim -bp prints a size, for comparing with spool-read sizes. */
export function formatEximSize(size: number): string {
  if (size === 0) return '';
  if (size < 1024) return String(size);
  if (size < 10 * 1024) return `${oneDecimal(size, 1024)}K`;
  if (size < 1024 * 1024) return `${Math.floor((size + 512) / 1024)}K`;
  if (size < 10 * 1024 * 1024) return `${oneDecimal(size, 1024 * 1024)}M`;
  return `${Math.floor((size + 512 * 1024) / (1024 * 1024))}M`;
}

/**
 * The arrival of a listed message. The age column is whole minutes (truncated), then hours and days
 * (rounded: queue.c queue_list); the ID carries the arrival second (lib/mta/queue-id.ts), used when it
 * agrees with the column. Otherwise the column's time, with its precision.
 */
function listedArrival(id: string, age: number, unit: string, nowSec: number): { arrival: number; arrivalPrecision?: number } {
  const step = UNIT_SECONDS[unit];
  const fromId = eximIdArrival(id);
  if (fromId !== undefined) {
    const idAge = nowSec - fromId;
    // Minutes are truncated ([age, age + 1) minutes); hours and days rounded (half a unit either way).
    const [low, high] = unit === 'm' ? [age * step, (age + 1) * step] : [(age - 0.5) * step, (age + 0.5) * step];
    // A minute of slack: the listing ran a little before the check's clock was read.
    if (idAge >= low - 60 && idAge < high + 60) return { arrival: fromId };
  }
  return { arrival: nowSec - age * step, arrivalPrecision: step };
}

/** `exim -bp` a line at a time: each message is handed on when its entry ends (delivered recipients left out). */
export function createEximBpParser(opts: EximBpParseOptions, emit: MessageSink): ListingParser {
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  let cur: QueuedMessage | undefined;
  const close = () => {
    if (cur) emit(cur);
    cur = undefined;
  };
  return {
    line(line) {
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.trim() === '') {
        close();
        return;
      }
      const m = ENTRY.exec(line);
      if (m) {
        close();
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
          const gt = rest.endsWith('>') ? rest.length - 1 : rest.lastIndexOf('> (');
          if (gt > 0) sender = rest.slice(1, gt);
        }
        if (frozen) flags.push('frozen');
        cur = {
          id,
          // A frozen message is frozen whichever queue lists it (exim -bp -qGbulk): the label names the queue.
          queue: frozen ? 'frozen' : (opts.label ?? 'input'),
          ...listedArrival(id, Number.parseInt(age, 10), unit, now),
          sender,
          recipients: [],
          size: parseEximSize(size),
        };
        if (flags.length) cur.flags = flags;
        return;
      }
      if (!cur) return;
      const t = line.trim();
      if (t.startsWith('*** spool')) {
        (cur.flags ??= []).push('unreadable');
        return;
      }
      if (t.startsWith('D ') || t.startsWith('+D ')) return; // delivered already
      cur.recipients.push(t);
    },
    end: close,
  };
}

/** Parse `exim -bp` output into messages (delivered recipients left out). */
export function parseEximBp(stdout: string, opts: EximBpParseOptions = {}): QueuedMessage[] {
  return parseAllLines(stdout, (emit) => createEximBpParser(opts, emit));
}

/** `exim -bpc`: the number of messages on the queue (one per -H file). */
export function parseEximBpc(stdout: string): number | undefined {
  const m = /^\s*(\d+)\s*$/.exec(stdout);
  return m ? Number.parseInt(m[1], 10) : undefined;
}
