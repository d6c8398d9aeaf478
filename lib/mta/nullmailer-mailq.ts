// Pure parser for nullmailer's own `mailq` (src/mailq.cc, nullmailer 2.2; /usr/bin/mailq in Debian,
// setuid mail). Captured from Debian 12 (nullmailer 1:2.2-4):
//
//   2026-12-01 13:06:45 2211 bytes from <>
//     to <m.random@victim.example>
//   2026-12-01 13:06:45 1106 bytes from <www-data@mx1.lab.example>
//     to <sales@lab.example>
//     to <sales-archive@storage.example>
//
// One entry per file in queue/ only (failed/ and tmp/ are never listed), in readdir order. The time
// is atoi() of the file name (its <epoch> part) printed with strftime("%Y-%m-%d %H:%M:%S",
// localtime()): local time of the mailq process, no zone. The size is the whole file's st_size,
// envelope included ("?????" when stat fails); " from <sender>" and the "  to <rcpt>" lines are the
// file's envelope, missing when the file could not be opened. The file name itself is not printed,
// so an entry's ID here is made up: "<epoch>.#<n>" (the n-th entry of the listing).
// Failures are printed on stdout too, alone: "Cannot change directory to queue." / "Cannot open
// queue directory." (exit 1).

import { parseAllLines, type ListingParser, type MessageSink } from './listing.js';
import type { QueuedMessage } from './types.js';

export interface NullmailerMailqOptions {
  /** Queue name for every message (default 'queue'). */
  label?: string;
  /** The listing's local time -> epoch seconds. Default: this process's local time zone, which is
   *  mailq's when the check runs it. Tests pass a fixed zone. */
  localToEpoch?: (y: number, mo: number, d: number, h: number, mi: number, s: number) => number;
}

/** mailq's own failure lines (stdout, exit status 1). */
export const NULLMAILER_MAILQ_FAILURES = ['Cannot change directory to queue.', 'Cannot open queue directory.'] as const;

const ENTRY = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) (\d+|\?{5}) bytes(?: from <(.*)>)?$/;
const RCPT = /^ {2}to <(.*)>$/;

const localTime = (y: number, mo: number, d: number, h: number, mi: number, s: number): number =>
  new Date(y, mo - 1, d, h, mi, s, 0).getTime() / 1000;

/** The envelope's bytes in the queue file: sender line, recipient lines, blank line. */
function envelopeBytes(m: QueuedMessage): number {
  let n = Buffer.byteLength(m.sender ?? '', 'utf8') + 2;
  for (const r of m.recipients) n += Buffer.byteLength(r, 'utf8') + 1;
  return n;
}

/** `mailq` a line at a time; each entry is handed on when the next starts or the listing ends. */
export function createNullmailerMailqParser(opts: NullmailerMailqOptions, emit: MessageSink): ListingParser {
  const toEpoch = opts.localToEpoch ?? localTime;
  const queue = opts.label ?? 'queue';
  let cur: QueuedMessage | undefined;
  let fileSize: number | undefined;
  let n = 0;
  const close = () => {
    if (!cur) return;
    // The listed size includes the envelope; the driver reports the message (file minus envelope).
    if (fileSize !== undefined) cur.size = cur.sender === undefined ? fileSize : Math.max(0, fileSize - envelopeBytes(cur));
    if (cur.sender !== undefined && cur.recipients.length === 0) (cur.flags ??= []).push('unreadable');
    emit(cur);
    cur = undefined;
  };
  return {
    line(line) {
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const r = cur ? RCPT.exec(line) : null;
      if (r) {
        cur!.recipients.push(r[1]);
        return;
      }
      const m = ENTRY.exec(line);
      if (!m) return;
      close();
      const epoch = toEpoch(+m[1], +m[2], +m[3], +m[4], +m[5], +m[6]);
      n++;
      cur = { id: `${Number.isFinite(epoch) ? epoch : 0}.#${n}`, queue, recipients: [] };
      if (Number.isFinite(epoch)) cur.arrival = epoch;
      fileSize = m[7] === '?????' ? undefined : Number(m[7]);
      if (m[8] !== undefined) cur.sender = m[8];
      else (cur.flags ??= []).push('unreadable'); // mailq could not open the file
    },
    end: close,
  };
}

/** Parse a whole `mailq` output. */
export function parseNullmailerMailq(stdout: string, opts: NullmailerMailqOptions = {}): QueuedMessage[] {
  return parseAllLines(stdout, (emit) => createNullmailerMailqParser(opts, emit));
}
