// Pure parser for `smtpctl show queue` (OpenSMTPD 6.8.0p2 smtpctl.c show_queue_envelope), one line
// per envelope (recipient), fields split by '|'. Captured from Debian 12:
//
//   8224a64920a6e85f|local|mta|auth,suspend|promo@bulk.example|lead2@example.net|lead2@example.net|1796130527|1796130527|0|1|pending|389|Network error on destination MXs
//   3af4c35160f686af|local|mta|auth|@|alice@partner.example|alice@partner.example|1796130526|1796130526|0|1|offline||Network error on destination MXs
//
//   evpid | source (local, inet4, inet6) | agent (mta, mda, bounce) | flags (bounce, auth, internal,
//   suspend, hold; comma-separated) | sender | rcpt | dest (user@domain; "@" = the null sender) |
//   ctime (arrival) | expiry (ctime + ttl) | last try | retries | run state and its value, two fields:
//   "pending|<s to next try>", "inflight|<s since it began>", "invalid|", or "offline|" when smtpd is
//   not running (smtpctl then reads the queue itself, as root) | error line (strnvis'd; may hold '|').
//
// The message ID is the envelope ID's first 8 hex digits. With smtpd running the envelopes come
// message by message (srv_iter_messages); offline, directory by directory: either way a message's
// envelopes are adjacent, so one message is kept at a time. The daemon's listing needs root (the
// control process refuses IMSG_CTL_LIST_* to other users). Messages in offline/ are never listed.

import { parseAllLines, type ListingParser, type MessageSink } from './listing.js';
import { opensmtpdAddress } from './opensmtpd-envelope.js';
import type { QueuedMessage } from './types.js';

export interface OpensmtpdListingOptions {
  /** Queue name for every message instead of queue/suspended. */
  label?: string;
}

/** One envelope line of `smtpctl show queue`. */
export interface OpensmtpdListedEnvelope {
  evpid: string;
  msgid: string;
  source: string;
  agent: string;
  flags: string[];
  sender: string;
  rcpt: string;
  dest: string;
  ctime: number;
  expire: number;
  lastTry: number;
  retry: number;
  runstate: string;
  runvalue?: number;
  errorline: string;
}

const EVPID = /^[0-9a-f]{16}$/;

/** Parse one listing line; undefined for anything that is not an envelope line. */
export function parseShowQueueLine(line: string): OpensmtpdListedEnvelope | undefined {
  if (line.endsWith('\r')) line = line.slice(0, -1);
  const f = line.split('|');
  if (f.length < 13 || !EVPID.test(f[0])) return undefined;
  const n = (s: string) => (/^-?\d+$/.test(s) ? Number.parseInt(s, 10) : Number.NaN);
  const ctime = n(f[7]);
  if (!Number.isFinite(ctime)) return undefined;
  return {
    evpid: f[0],
    msgid: f[0].slice(0, 8),
    source: f[1],
    agent: f[2],
    flags: f[3] ? f[3].split(',') : [],
    sender: opensmtpdAddress(f[4]),
    rcpt: opensmtpdAddress(f[5]),
    dest: opensmtpdAddress(f[6]),
    ctime,
    expire: n(f[8]),
    lastTry: n(f[9]),
    retry: n(f[10]),
    runstate: f[11],
    runvalue: f[12] === '' ? undefined : n(f[12]),
    errorline: f.slice(13).join('|'),
  };
}

/** `smtpctl show queue` a line at a time: a message is handed on when the next one starts. A message is
 *  in the suspended queue when every envelope of it is paused. */
export function createShowQueueParser(opts: OpensmtpdListingOptions, emit: MessageSink): ListingParser {
  let cur: QueuedMessage | undefined;
  let envelopes = 0;
  let suspended = 0;
  const flags = new Set<string>();
  const close = () => {
    if (!cur) return;
    if (!opts.label && envelopes > 0 && suspended === envelopes) cur.queue = 'suspended';
    if (flags.size) cur.flags = [...flags];
    emit(cur);
    cur = undefined;
    flags.clear();
    envelopes = 0;
    suspended = 0;
  };
  return {
    line(line) {
      const e = parseShowQueueLine(line);
      if (!e) return;
      if (cur && cur.id !== e.msgid) close();
      if (!cur) {
        cur = { id: e.msgid, queue: opts.label ?? 'queue', arrival: e.ctime, sender: e.sender, recipients: [] };
      }
      envelopes++;
      cur.recipients.push(e.dest || e.rcpt);
      if (e.ctime < (cur.arrival ?? Infinity)) cur.arrival = e.ctime;
      if (e.errorline && cur.reason === undefined) cur.reason = e.errorline;
      for (const fl of e.flags) {
        if (fl === 'suspend') {
          suspended++;
          flags.add('suspended');
        } else if (fl === 'hold') flags.add('held');
        else if (fl === 'bounce') flags.add('bounce');
      }
      if (e.agent === 'bounce') flags.add('bouncing');
      if (e.runstate === 'inflight') flags.add('inflight');
    },
    end: close,
  };
}

/** Parse `smtpctl show queue` output into messages. */
export function parseShowQueue(stdout: string, opts: OpensmtpdListingOptions = {}): QueuedMessage[] {
  return parseAllLines(stdout, (emit) => createShowQueueParser(opts, emit));
}
