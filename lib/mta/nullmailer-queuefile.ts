// Pure parser for a nullmailer queue file (queue/<epoch>.<pid>, failed/<same name>), as
// nullmailer-queue writes it (src/queue.cc copyenv + makereceived, nullmailer 2.2). A real one
// (Debian 12, nullmailer 1:2.2-4), annotated:
//
//   cron@mx1.lab.example                               envelope sender; an empty line = null sender
//   root@lab.example                                   one recipient a line (at least one)
//                                                      a blank line ends the envelope
//   Received: (nullmailer pid 11803 invoked by uid 0);   nullmailer-queue's own header: its pid (the
//   \tTue, 01 Dec 2026 13:06:11 -0000                    file name's second part), the submitter's
//   From: <cron@mx1.lab.example>                         uid, and the time (the name's first part)
//   ...                                                then the message as nullmailer-inject gave it
//
// No escaping and no length fields: lines are split at LF only (queue.cc reads with getline), so a
// CR stays part of the address as nullmailer-send would use it. Parsed as latin1 (byte offsets stay
// right), then each address decoded as UTF-8 when its bytes are (lib/plugin/text.ts). Never throws.

import { fromBytes } from '../plugin/text.js';

export interface NullmailerEnvelope {
  /** Envelope sender; '' = the null sender (a bounce: nullmailer-dsn writes those). */
  sender?: string;
  recipients: string[];
  /** Bytes of the envelope (sender line, recipient lines, blank line): the file size minus this is
   *  what nullmailer-send hands to the relay. Undefined when the envelope was not all read. */
  envelopeBytes?: number;
  /** The blank line that ends the envelope was read. */
  envelopeComplete: boolean;
  /** Not a file nullmailer-queue writes: the whole file has no blank line, or no recipient
   *  (queue.cc refuses both: "No envelope recipients read."). */
  malformed: boolean;
  /** From nullmailer-queue's Received line right after the envelope, when it is there. */
  queuedAt?: number;
  queuePid?: number;
  submitterUid?: number;
}

const LF = 10;

// "Received: (nullmailer pid 11803 invoked by uid 0);\n\tTue, 01 Dec 2026 13:06:11 -0000\n"
const RECEIVED =
  /^Received: \(nullmailer pid (\d+) invoked by uid (\d+)\);\n\t[A-Z][a-z]{2}, (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) -0000\n/;
const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** Longest Received line nullmailer-queue writes (two 10-digit numbers), for readers that read on for it. */
export const NULLMAILER_RECEIVED_MAX = 100;

/**
 * Parse the start of a queue file held in `buf[0..end)`. `whole`: `end` is the end of the file
 * (false when the read stopped early: a line cut by the end of the read is then not used).
 */
export function parseNullmailerQueueFile(buf: Buffer, end: number = buf.length, whole = true): NullmailerEnvelope {
  const env: NullmailerEnvelope = { recipients: [], envelopeComplete: false, malformed: false };
  let pos = 0;
  let first = true;
  for (;;) {
    const nl = buf.indexOf(LF, pos);
    if (nl < 0 || nl >= end) {
      // No newline before the end of what was read: a whole file that stops inside its envelope.
      if (whole) env.malformed = true;
      if (whole && pos < end && first) env.sender = fromBytes(buf.toString('latin1', pos, end));
      return env;
    }
    const line = buf.toString('latin1', pos, nl);
    pos = nl + 1;
    if (first) {
      env.sender = fromBytes(line);
      first = false;
      continue;
    }
    if (line === '') break;
    env.recipients.push(fromBytes(line));
  }
  env.envelopeComplete = true;
  env.envelopeBytes = pos;
  if (env.recipients.length === 0) env.malformed = true;
  const rec = RECEIVED.exec(buf.toString('latin1', pos, Math.min(end, pos + NULLMAILER_RECEIVED_MAX)));
  if (rec) {
    env.queuePid = Number(rec[1]);
    env.submitterUid = Number(rec[2]);
    const month = MONTHS[rec[4]];
    if (month !== undefined) {
      const t = Date.UTC(Number(rec[5]), month, Number(rec[3]), Number(rec[6]), Number(rec[7]), Number(rec[8]));
      if (Number.isFinite(t)) env.queuedAt = t / 1000;
    }
  }
  return env;
}

/** Where the envelope ends in buf[0..end): the offset just after its blank line, or -1. */
export function nullmailerEnvelopeEnd(buf: Buffer, end: number): number {
  // The sender line may itself be empty: the blank line is the first empty line after line 1.
  const firstNl = buf.indexOf(LF, 0);
  if (firstNl < 0 || firstNl >= end) return -1;
  let pos = firstNl + 1;
  for (;;) {
    const nl = buf.indexOf(LF, pos);
    if (nl < 0 || nl >= end) return -1;
    if (nl === pos) return nl + 1;
    pos = nl + 1;
  }
}

/** `<epoch>.<pid>` (queue.cc: itoa(time) + "." + itoa(pid)) -> the epoch; undefined for other names. */
export function nullmailerNameEpoch(name: string): number | undefined {
  const m = /^(\d{1,12})\.\d{1,10}$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
