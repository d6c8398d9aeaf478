// What each MTA's log-line grammar declares (lib/log/<mta>-lines.ts, one row each in lib/mta/index.ts)
// and what it hands MailFlow (lib/log/mailflow.ts): a new message, a delivery attempt, a reject.
// MailFlow counts; a grammar only reads its MTA's lines, keeping what its MTA needs to count each
// message once (Postfix's cleanup-before-qmgr, Sendmail's msgid=, nullmailer's passes).

import type { AttemptDetail } from './reason.js';

export type { AttemptDetail };

export const NULL_SENDER = '<>';

export type AttemptStatus = 'sent' | 'deferred' | 'failed' | 'other';

/** MailFlow's side: everything a grammar may report. Senders and clients as logged (latin1 text). */
export interface MailFlowSink {
  /** A new message: sender '' or '<>' is the null sender. `client` is counted; `bounceClient` (already
   *  counted where it was logged) only says where a bounce came from. */
  message(sender: string, client?: string, qid?: string, bounceClient?: string): void;
  /** A delivery attempt; `detail` where the grammar reads it: relay, reason text, DSN, delay. */
  attempt(rcpt: string, status: AttemptStatus, qid?: string, detail?: AttemptDetail): void;
  /** A refusal at SMTP time (Postfix NOQUEUE reject, Exim "rejected RCPT", ...), with its text when logged. */
  reject(reason?: string): void;
  /** A failed SMTP AUTH (SASL) attempt from `client` ("unknown[198.51.100.7]"), with the user it tried. */
  authFailed?(client: string, user?: string): void;
  /** The SASL account that submitted queue ID `qid` (Postfix sasl_username=, Exim A=), before its message(). */
  account?(qid: string, user: string): void;
  /** A message given up after its queue lifetime that has no per-recipient line (Postfix qmgr status=expired). */
  expired?(qid: string): void;
  /** A client seen before its message (Postfix smtpd, pickup), counted once here. */
  client(client: string): void;
  /** The sender of a queue ID that is not a new message (a retry, an MSP copy): its attempts are its sender's. */
  sender(qid: string, sender: string): void;
  /** The queue ID is gone from the queue (Postfix qmgr "removed"): its bounce has no more recipients. */
  removed(qid: string): void;
}

/** One MTA's parser: fed the tag b[progStart, progEnd) and the message b[msgStart, end) of each line it owns. */
export interface FlowParser {
  line(b: Buffer, progStart: number, progEnd: number, msgStart: number, end: number, time?: () => number | undefined): void;
  /** The end of the input: hands on what the parser still holds. */
  end?(): void;
}

/** An MTA's log-line grammar, declared in its row of the registry. */
export interface LogGrammar {
  /** Does the syslog tag b[s, e) ("postfix/qmgr", "sm-mta", "smtpd") belong to this MTA? Called per line:
   *  look at a byte or two before making a string. */
  isTag(b: Buffer, s: number, e: number): boolean;
  create(sink: MailFlowSink): FlowParser;
  /** Where this MTA's log usually is, most likely first. */
  defaultLogs: readonly string[];
  /** The MTA writes a log of its own without syslog tags (Exim's mainlog: syslog.ts Format.Exim). */
  mainlog?: boolean;
  /** The parser needs each line's time (nullmailer tells its queue runs apart by it). */
  timed?: boolean;
  /** Tags are "<instance>/<program>" (Postfix's syslog_name: postfix-out/smtp): the flood check's
   *  --instance counts one instance, and several seen together are named in the long output. */
  instanceTags?: boolean;
}

export function stripAngles(s: string): string {
  if (s.charCodeAt(0) === 60 && s.charCodeAt(s.length - 1) === 62) return s.length === 2 ? NULL_SENDER : s.slice(1, -1);
  return s;
}

/** Does the relay at msg[i] point at this host (127.x, ::1, localhost)? */
export function loopback(msg: string, i: number): boolean {
  const end = Math.min(msg.length, i + 60);
  const s = msg.slice(i, end);
  return /(^|\[)(127\.|::1\]|IPv6:::1\]|localhost)/.test(s);
}

/** b[s, e) is exactly `tag` (latin1). */
export function tagIs(b: Buffer, s: number, e: number, tag: string): boolean {
  if (e - s !== tag.length) return false;
  for (let k = 0; k < tag.length; k++) if (b[s + k] !== tag.charCodeAt(k)) return false;
  return true;
}

/** b[s, e) starts with `prefix` (latin1). */
export function tagStarts(b: Buffer, s: number, e: number, prefix: string): boolean {
  if (e - s < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (b[s + k] !== prefix.charCodeAt(k)) return false;
  return true;
}
