// nullmailer's log lines, for the flood check. Only nullmailer-send logs: nullmailer-queue and
// nullmailer-inject write nothing when they queue a message (their errors go to the submitter's
// terminal, and nullmailer-send's bounce pipe sends nullmailer-queue's output to /dev/null).
// nullmailer-send writes to stdout and its protocol program (smtp, qmqp) to stderr; Debian 12's
// systemd unit hands both to journald under the tag "nullmailer-send" (the init script pipes them
// to `logger -t nullmailer`). From the capture (test/fixtures/mta/nullmailer/log/nullmailer.log):
//
//   nullmailer-send[14889]: Rescanning queue.
//   nullmailer-send[14889]: Starting delivery, 30 message(s) in queue.
//   nullmailer-send[14889]: Starting delivery: host: 127.0.0.1 protocol: smtp file: 1796130398.14081
//   nullmailer-send[14889]: From: <promo@bulk.example> to: <lead1@example.org>, <lead2@example.net>
//   nullmailer-send[14889]: Message-ID: <capture.nullmailer.1796130398.1@mx1.lab.example>
//   nullmailer-send[14889]: smtp: Failed: Connect failed
//   nullmailer-send[14889]: Sending failed: Connection refused
//   nullmailer-send[14889]: Moving message 1796130398.14081 into failed
//   nullmailer-send[14889]: Generating bounce for 1796130398.14081
//   nullmailer-send[14889]: Delivery complete, 28 message(s) remain.
//
// (src/send.cc: log_msg, catchsender, bounce_msg, send_all; protocols/protocol.cc protocol_fail /
// protocol_succ: "smtp: Succeeded: 250 ..."; lib/errcodes.cc errorstr for "Sending failed: ...".)
//
// One delivery attempt spans several lines, and a message is logged again on every pass over the
// queue: NullmailerFlowParser keeps the attempt open until its outcome, and counts a message only on
// its first attempt (see isNewMessage). It turns lines into the events MailFlow counts.

import type { AttemptDetail, LogGrammar } from './flow.js';
import { Recent } from './recent.js';

/** One parsed line of nullmailer-send (or its protocol). */
export type NullmailerLine =
  | { kind: 'rescan' } // "Rescanning queue."
  | { kind: 'trigger' } // "Trigger pulled."
  | { kind: 'run-start'; queued: number } // "Starting delivery, 30 message(s) in queue."
  | { kind: 'run-end'; remain: number } // "Delivery complete, 28 message(s) remain."
  | { kind: 'attempt'; file: string; host: string; protocol: string } // "Starting delivery: host: H protocol: P file: F"
  | { kind: 'envelope'; sender: string; recipients: string[] } // "From: <s> to: <r1>, <r2>"
  | { kind: 'protocol'; protocol: string; ok: boolean; text: string } // "smtp: Failed: Connect failed"
  | { kind: 'sent' } // "Sent file."
  | { kind: 'send-failed'; reason: string; permanent: boolean } // "Sending failed: Connection refused"
  | { kind: 'timeout' } // "Sending timed out, killing protocol"
  | { kind: 'crashed' } // "Sending process crashed or was killed."
  | { kind: 'moved-to-failed'; file: string } // "Moving message F into failed"
  | { kind: 'bounce'; file: string; generated: boolean }; // "Generating bounce for F" / "Not generating double bounce for F"

/** The event shapes of lib/log/mailflow.ts MailFlow: message(sender, client, qid), attempt(rcpt, status, qid). */
export type FlowEvent =
  | { kind: 'message'; sender: string; qid: string }
  | { kind: 'attempt'; rcpt: string; status: 'sent' | 'deferred' | 'failed' | 'other'; qid: string };

/** Where an attempt event went and why it failed (the smarthost, "Sending failed: ..."), kept beside
 *  the event so the events stay the plain shapes above. */
const DETAILS = new WeakMap<FlowEvent, AttemptDetail>();
export function attemptDetail(e: FlowEvent): AttemptDetail | undefined {
  return DETAILS.get(e);
}

/** Tags nullmailer's lines carry: the systemd unit's program name, the init script's logger tag. */
export function isNullmailerTag(tag: string): boolean {
  return tag === 'nullmailer-send' || tag === 'nullmailer';
}

// errorstr() texts of the codes with ERR_PERMANENT_FLAG (lib/errcodes.h: 33, 34, 35, and the default).
const PERMANENT = new Set(['Fatal error in gethostbyname', 'Server refused the message', 'Permanent error in sending the message', 'Unspecified permanent error']);

const ATTEMPT = /^Starting delivery: (?:host: (.*) protocol: (\S+)|protocol: (\S+) host: (.*)) file: (\S+)$/;
const RUN_START = /^Starting delivery, (\d+) message\(s\) in queue\.$/;
const RUN_END = /^Delivery complete, (\d+) message\(s\) remain\.$/;
const PROTOCOL = /^([a-z0-9]+): (Failed|Succeeded): (.*)$/;

/** Pure: what one message part of a nullmailer-send line says (undefined: nothing the flow uses). */
export function parseNullmailerLine(msg: string): NullmailerLine | undefined {
  if (msg.endsWith('\r')) msg = msg.slice(0, -1);
  switch (msg) {
    case 'Rescanning queue.':
      return { kind: 'rescan' };
    case 'Trigger pulled.':
      return { kind: 'trigger' };
    case 'Sent file.':
      return { kind: 'sent' };
    case 'Sending timed out, killing protocol':
      return { kind: 'timeout' };
    case 'Sending process crashed or was killed.':
      return { kind: 'crashed' };
  }
  if (msg.startsWith('From: <')) return parseEnvelope(msg);
  if (msg.startsWith('Starting delivery')) {
    const a = ATTEMPT.exec(msg);
    if (a) return { kind: 'attempt', host: a[1] ?? a[4], protocol: a[2] ?? a[3], file: a[5] };
    const s = RUN_START.exec(msg);
    if (s) return { kind: 'run-start', queued: Number(s[1]) };
    return undefined;
  }
  if (msg.startsWith('Sending failed: ')) {
    const reason = msg.slice(16);
    return { kind: 'send-failed', reason, permanent: PERMANENT.has(reason) };
  }
  if (msg.startsWith('Moving message ') && msg.endsWith(' into failed')) return { kind: 'moved-to-failed', file: msg.slice(15, -12) };
  if (msg.startsWith('Generating bounce for ')) return { kind: 'bounce', file: msg.slice(22), generated: true };
  if (msg.startsWith('Not generating double bounce for ')) return { kind: 'bounce', file: msg.slice(33), generated: false };
  const e = RUN_END.exec(msg);
  if (e) return { kind: 'run-end', remain: Number(e[1]) };
  const p = PROTOCOL.exec(msg);
  if (p) return { kind: 'protocol', protocol: p[1], ok: p[2] === 'Succeeded', text: p[3] };
  return undefined;
}

// "From: <sender> to: <r1>, <r2>" (log_msg: "From: <" sender ">" then " to: <r>" and ", <r>").
function parseEnvelope(msg: string): NullmailerLine | undefined {
  if (!msg.endsWith('>')) return undefined;
  const to = msg.indexOf('> to: <', 6);
  if (to < 0) return { kind: 'envelope', sender: msg.slice(7, -1), recipients: [] };
  return { kind: 'envelope', sender: msg.slice(7, to), recipients: msg.slice(to + 7, -1).split('>, <') };
}

/** "<epoch>.<pid>" -> epoch. */
function fileEpoch(file: string): number | undefined {
  const m = /^(\d{1,12})\.\d+$/.exec(file);
  return m ? Number(m[1]) : undefined;
}


export interface NullmailerFlowOptions {
  /** At the first pass seen, a file older than this at the pass's rescan counts as a retry of mail
   *  queued before this stretch of log (default 60 s: nullmailer-queue pulls the trigger, so new mail
   *  is tried within a second or two, and the shortest pause between passes is 60 s). */
  retrySlackSeconds?: number;
  /** Files remembered as already counted (default 200,000). */
  capacity?: number;
}

interface Attempt {
  file: string;
  /** The smarthost of "Starting delivery: host: H", and the "Sending failed: ..." reason. */
  host?: string;
  reason?: string;
  sender?: string;
  recipients?: string[];
  /** The outcome when it waits for the next line (a temporary failure may be followed by the move to failed/). */
  pending?: 'deferred';
}

/**
 * nullmailer-send lines in order -> MailFlow events. Feed the message part (after "tag[pid]: ") and
 * the line's time (epoch s) when known; call end() after the last line.
 *
 * A message is counted on its first attempt. Which attempt is the first: the file name carries the
 * time nullmailer-queue wrote it. Once a pass has been seen ("Rescanning queue."), a file written
 * before it was on that pass and is a retry; for the first pass of this stretch of log, a file is new
 * when it is at most retrySlackSeconds older than the pass. Without times, the first attempt seen is
 * counted. Recipients are counted per attempt (like the other MTAs), with the outcome: "Sent file."
 * sent, a permanent "Sending failed" or a temporary one followed by "Moving message ... into failed"
 * (queuelifetime passed) failed, any other failure deferred.
 */
export class NullmailerFlowParser {
  private readonly slack: number;
  private readonly seen: Recent;
  private cur?: Attempt;
  private rescanAt?: number;
  private prevRescanAt?: number;

  constructor(opts: NullmailerFlowOptions = {}) {
    this.slack = opts.retrySlackSeconds ?? 60;
    this.seen = new Recent(opts.capacity ?? 200_000);
  }

  line(msg: string, timeSec?: number): FlowEvent[] {
    const l = parseNullmailerLine(msg);
    const out: FlowEvent[] = [];
    if (this.cur?.pending) {
      if (l?.kind === 'moved-to-failed' && l.file === this.cur.file) {
        // A temporary failure moved to failed/: queuelifetime has passed (the message expired).
        this.outcome(out, 'failed', true);
        return out;
      }
      this.outcome(out, this.cur.pending);
    }
    if (!l) return out;
    switch (l.kind) {
      case 'rescan':
        if (timeSec !== undefined) {
          if (this.rescanAt !== undefined) this.prevRescanAt = this.rescanAt;
          this.rescanAt = timeSec;
        }
        this.cur = undefined;
        break;
      case 'attempt':
        this.cur = { file: l.file, host: l.host };
        break;
      case 'envelope': {
        const a = this.cur;
        if (!a || a.recipients) break;
        a.sender = l.sender;
        a.recipients = l.recipients;
        if (!this.seen.has(a.file)) {
          this.seen.add(a.file);
          if (this.isNewMessage(a.file, timeSec)) out.push({ kind: 'message', sender: l.sender, qid: a.file });
        }
        break;
      }
      case 'sent':
        this.outcome(out, 'sent');
        break;
      case 'send-failed':
        if (this.cur) this.cur.reason = l.reason;
        if (l.permanent) this.outcome(out, 'failed');
        else if (this.cur) this.cur.pending = 'deferred';
        break;
      case 'timeout':
      case 'crashed':
        if (this.cur) {
          this.cur.pending = 'deferred';
          this.cur.reason = l.kind === 'timeout' ? 'Sending timed out' : 'Sending process crashed or was killed';
        }
        break;
      default:
        break;
    }
    return out;
  }

  /** After the last line: the attempt still waiting for its next line. */
  end(): FlowEvent[] {
    const out: FlowEvent[] = [];
    if (this.cur?.pending) this.outcome(out, this.cur.pending);
    return out;
  }

  private isNewMessage(file: string, t: number | undefined): boolean {
    const epoch = fileEpoch(file);
    if (epoch === undefined || t === undefined) return true;
    if (this.prevRescanAt !== undefined) return epoch >= this.prevRescanAt;
    return epoch >= (this.rescanAt ?? t) - this.slack;
  }

  private outcome(out: FlowEvent[], status: 'sent' | 'deferred' | 'failed', expired = false): void {
    const a = this.cur;
    this.cur = undefined;
    if (!a) return;
    const rcpts = a.recipients?.length ? a.recipients : [''];
    for (const rcpt of rcpts) {
      const e: FlowEvent = { kind: 'attempt', rcpt, status, qid: a.file };
      const d: AttemptDetail = {};
      if (a.host !== undefined) d.relay = a.host;
      if (a.reason !== undefined && status !== 'sent') d.text = a.reason;
      if (expired) d.expired = true;
      DETAILS.set(e, d);
      out.push(e);
    }
  }
}

/** nullmailer's row in the log grammar registry (lib/mta/index.ts). Its parser tells queue runs apart by time. */
export const nullmailerLog: LogGrammar = {
  isTag: (b, s, e) => b[s] === 110 && isNullmailerTag(b.toString('latin1', s, e)),
  create(sink) {
    const parser = new NullmailerFlowParser();
    const hand = (events: FlowEvent[]) => {
      for (const e of events) {
        if (e.kind === 'message') sink.message(e.sender, undefined, e.qid);
        else sink.attempt(e.rcpt, e.status, e.qid, DETAILS.get(e));
      }
    };
    return {
      line: (b, _ps, _pe, msgStart, end, time) => hand(parser.line(b.toString('latin1', msgStart, end), time?.())),
      end: () => hand(parser.end()),
    };
  },
  defaultLogs: ['/var/log/mail.log', '/var/log/maillog'],
  timed: true,
};
