// Pure parser for Sendmail queue control files (qf / hf / Qf), as written by queue.c queueup()
// and read back by readqf(). One record per line, the first byte says what it is; the envelope
// comes first, then the headers, then a line holding a single dot. A real one (Debian 12,
// sendmail 8.17.1.9, MTA queue; "\x81" is a raw 0x81 byte, Sendmail's MACROEXPAND for $g):
//
//   V8
//   T1795432016
//   K1795432016
//   N1
//   P95084
//   MDeferred: Connection refused by [127.0.0.2]
//   Fbs
//   $_mx1.lab.example [127.0.0.1]
//   $rESMTP
//   $smx1.lab.example
//   ${daemon_flags}
//   S<billing@shop.example>
//   A<>
//   rRFC822; ap@partner.example
//   RPFD:<ap@partner.example>
//   rRFC822; ben@customer.example
//   RPFD:<ben@customer.example>
//   H?P?Return-Path: <\x81g>
//   H??Received: from mx1.lab.example (mx1.lab.example [127.0.0.1])
//   \tby mx1.lab.example (8.17.1.9/8.17.1.9/Debian-2+deb12u2) with ESMTP id 6ANB6uuY022315;
//   \tMon, 23 Nov 2026 11:06:56 GMT
//   H??Subject: Your invoice 2024-0042
//   .
//
// Lines starting with white space continue the previous (header) line. Bytes >= 0x80 occur, so
// the file is parsed as latin1 (one char per byte): no invalid UTF-8, and the parser never throws;
// the addresses, status texts and submitter are then decoded as UTF-8 when their bytes are valid
// UTF-8 (SMTPUTF8: jörg@example.de), else kept as latin1 (lib/plugin/text.ts fromBytes).
// The MSP queue (submit.cf) writes recipients without angle brackets (`RPFD:webmaster@partner.example`),
// adds a `C:<address>` controlling-user line, and still writes the null sender as `S<>`. A quarantined
// job (hf file) carries `qheld for review`.

import { fromBytes } from '../plugin/text.js';

/** What a qf file says about one message. */
export interface QfRecord {
  /** V: queue file format version (8 for 8.13+). 0 when absent, as Sendmail assumes. */
  version: number;
  /** T: creation (arrival) time, epoch seconds. */
  arrival?: number;
  /** K: last delivery attempt, epoch seconds (0 = never tried). */
  lastAttempt?: number;
  /** N: delivery attempts so far. */
  tries?: number;
  /** S: envelope sender without angle brackets; '' is the null sender. Undefined when there is no S line. */
  sender?: string;
  /** R: recipients still to deliver (delivered ones are not written back), flags and brackets stripped. */
  recipients: string[];
  /** M: the status text `mailq` prints in parentheses (the envelope one, else the first per-recipient one). */
  reason?: string;
  /** q: why the job is quarantined. */
  quarantineReason?: string;
  /** `$_` macro: who handed the message over (`root@localhost`, `host [192.0.2.1]`). */
  submitter?: string;
  /** d: queue directory (relative to the queue group) holding the df file when it is elsewhere. */
  dataDir?: string;
  /** F: envelope flag letters (w = delay warning sent, r = response/bounce, 8 = 8-bit body ...). */
  envelopeFlags?: string;
  /** Saw the terminating `.` line. */
  complete: boolean;
  /** Met a line Sendmail itself would reject (readqf: "bad line"); parsing stopped there. */
  malformed: boolean;
}

// Record letters readqf() accepts (sendmail 8.17 queue.c); anything else makes Sendmail give up on the file.
const KNOWN = new Set('!$.ABCDEFHIKLMNPQRSTVZdqr'.split('').map((c) => c.charCodeAt(0)));

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;

/** Strip `<...>` around an address; the null sender `<>` becomes ''. Bare MAILER-DAEMON is the null sender too. */
export function normalizeSendmailAddress(raw: string): string {
  let s = raw.trim();
  if (s.length >= 2 && s.charCodeAt(0) === 60 /* < */ && s.charCodeAt(s.length - 1) === 62 /* > */) {
    s = s.slice(1, -1).trim();
  }
  if (s === 'MAILER-DAEMON') return '';
  return s;
}

function toInt(s: string): number | undefined {
  const n = Number.parseInt(s, 10);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parse a qf file held in `buf[0..end)`. Bytes are parsed as latin1, text fields decoded by fromBytes. A last line without a newline
 * is parsed too (callers that cut a file short should pass `end` at a line boundary).
 */
export function parseQf(buf: Buffer, end: number = buf.length): QfRecord {
  const rec: QfRecord = { version: 0, recipients: [], complete: false, malformed: false };
  let firstRecipientReason: string | undefined;
  let pos = 0;
  while (pos < end) {
    let nl = buf.indexOf(LF, pos);
    if (nl < 0 || nl > end) nl = end;
    let lineEnd = nl;
    if (lineEnd > pos && buf[lineEnd - 1] === CR) lineEnd--;
    const start = pos;
    pos = nl + 1;
    if (lineEnd === start) {
      // Empty line: readqf rejects it ("bad line").
      rec.malformed = true;
      break;
    }
    const code = buf[start];
    if (code === SPACE || code === TAB) continue; // continuation of a folded header
    if (!KNOWN.has(code)) {
      rec.malformed = true;
      break;
    }
    switch (code) {
      case 0x56 /* V */:
        rec.version = toInt(buf.toString('latin1', start + 1, lineEnd)) ?? 0;
        break;
      case 0x54 /* T */:
        rec.arrival = toInt(buf.toString('latin1', start + 1, lineEnd));
        break;
      case 0x4b /* K */:
        rec.lastAttempt = toInt(buf.toString('latin1', start + 1, lineEnd));
        break;
      case 0x4e /* N */:
        rec.tries = toInt(buf.toString('latin1', start + 1, lineEnd));
        break;
      case 0x53 /* S */:
        rec.sender = fromBytes(normalizeSendmailAddress(buf.toString('latin1', start + 1, lineEnd)));
        break;
      case 0x52 /* R */: {
        let from = start + 1;
        if (rec.version >= 1) {
          // Version 1+ files put flag letters before a colon: RPFD:<bob@victim.example>.
          const colon = buf.indexOf(0x3a, from);
          if (colon < 0 || colon >= lineEnd) break; // mailq skips such a line too
          from = colon + 1;
        }
        const addr = fromBytes(normalizeSendmailAddress(buf.toString('latin1', from, lineEnd)));
        if (addr !== '') rec.recipients.push(addr);
        break;
      }
      case 0x4d /* M */: {
        const text = fromBytes(buf.toString('latin1', start + 1, lineEnd));
        // M lines before S belong to the envelope (what mailq shows); later ones to one recipient.
        if (rec.sender === undefined) rec.reason = text;
        else if (firstRecipientReason === undefined) firstRecipientReason = text;
        break;
      }
      case 0x71 /* q */:
        rec.quarantineReason = fromBytes(buf.toString('latin1', start + 1, lineEnd));
        break;
      case 0x64 /* d */:
        rec.dataDir = buf.toString('latin1', start + 1, lineEnd);
        break;
      case 0x46 /* F */:
        rec.envelopeFlags = buf.toString('latin1', start + 1, lineEnd);
        break;
      case 0x24 /* $ */:
        if (buf[start + 1] === 0x5f /* _ */) rec.submitter = fromBytes(buf.toString('latin1', start + 2, lineEnd).trim());
        break;
      case 0x2e /* . */:
        rec.complete = true;
        break;
      default:
        break; // H (headers) and the rest: not needed
    }
    if (rec.complete) break;
  }
  if (rec.reason === undefined && firstRecipientReason !== undefined) rec.reason = firstRecipientReason;
  return rec;
}

/**
 * The client that handed the message over, from the `$_` macro: the bracketed IP of an SMTP client
 * (`mx.example [192.0.2.7] (may be forged)` -> `192.0.2.7`), else the local submitter (`root@localhost`).
 */
export function clientFromSubmitter(submitter: string | undefined): string | undefined {
  if (!submitter) return undefined;
  const open = submitter.lastIndexOf('[');
  if (open >= 0) {
    const close = submitter.indexOf(']', open);
    if (close > open + 1) {
      const ip = submitter.slice(open + 1, close);
      return ip.startsWith('IPv6:') ? ip.slice(5) : ip;
    }
  }
  const cut = submitter.indexOf(' (');
  return cut > 0 ? submitter.slice(0, cut) : submitter;
}
