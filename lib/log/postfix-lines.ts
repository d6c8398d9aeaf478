// Postfix's log lines for the mail flow. A message is counted when its qmgr "from=" line follows its
// cleanup "message-id=" line (a new message); a qmgr line for a queue ID whose cleanup was not seen
// is a retry and is not counted again.
//     postfix/cleanup[5616]: 10295164182: message-id=<capture.postfix.1795432263.1@mx1.lab.example>
//     postfix/qmgr[5594]: 10295164182: from=<app@qa.example>, size=1297, nrcpt=1 (queue active)
//     postfix/smtp[5622]: 10295164182: to=<qanotify@lab.example>, relay=none, ..., status=deferred (...)
// Content-filter hand-offs to loopback ("queued as") are not delivery attempts.

//     postfix/smtpd[10931]: warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: authentication failure, sasl_username=alice@mx1.lab.example
//     postfix/smtpd[10933]: 1A2B3C: client=localhost[127.0.0.1], sasl_method=PLAIN, sasl_username=alice@mx1.lab.example
//     postfix/smtpd[10933]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <nosuch1@mx1.lab.example>: Recipient address rejected: User unknown in local recipient table; from=<app@qa.example> to=<...> proto=ESMTP helo=<client.lab.example>
//     postfix/qmgr[5594]: 1A2B3C: from=<app@qa.example>, status=expired, returned to sender
// (the SASL, reject and bounce lines: test/fixtures/logs/flow/postfix, captured by capture-logflow.sh.)

import { fromBytes } from '../plugin/text.js';
import { loopback, NULL_SENDER, tagStarts, type AttemptDetail, type FlowParser, type LogGrammar, type MailFlowSink } from './flow.js';
import { Recent, RecentMap } from './recent.js';
import { isPostfixTag } from './syslog.js';

const MESSAGE_ID = Buffer.from('message-id=');
const REJECT = Buffer.from('reject:');
const MILTER_REJECT = Buffer.from('milter-reject:');
const FROM_ANGLE = Buffer.from('from=<');
const REMOVED = Buffer.from('removed');
const CLIENT = Buffer.from('client=');
const UID = Buffer.from('uid=');
const TO_ANGLE = Buffer.from('to=<');
const WARNING = Buffer.from('warning: ');

function startsAt(b: Buffer, i: number, end: number, lit: Buffer): boolean {
  if (i + lit.length > end) return false;
  for (let k = 0; k < lit.length; k++) if (b[i + k] !== lit[k]) return false;
  return true;
}

const enum Daemon {
  Ignored,
  Cleanup,
  Qmgr,
  Smtpd,
  Pickup,
  Delivery,
}

const DAEMONS: Record<string, Daemon> = {
  cleanup: Daemon.Cleanup,
  qmgr: Daemon.Qmgr,
  nqmgr: Daemon.Qmgr,
  smtpd: Daemon.Smtpd,
  pickup: Daemon.Pickup,
  smtp: Daemon.Delivery,
  lmtp: Daemon.Delivery,
  local: Daemon.Delivery,
  virtual: Daemon.Delivery,
  pipe: Daemon.Delivery,
  error: Daemon.Delivery,
  retry: Daemon.Delivery,
  discard: Daemon.Delivery,
  relay: Daemon.Delivery,
};

// "postfix/smtpd", "postfix-out/qmgr", "postfix/submission/smtpd": the daemon is the last part.
const daemonCache = new Map<string, Daemon>();
function postfixDaemon(b: Buffer, s: number, e: number): Daemon {
  let slash = e - 1;
  while (slash > s && b[slash] !== 47) slash--;
  const start = b[slash] === 47 ? slash + 1 : s;
  const n = e - start;
  // Common daemons by length and first byte, without making a string.
  if (n === 4 && b[start] === 113) return Daemon.Qmgr; // qmgr
  if (n === 4 && b[start] === 115 && b[start + 3] === 112) return Daemon.Delivery; // smtp
  if (n === 5 && b[start] === 115 && b[start + 4] === 100) return Daemon.Smtpd; // smtpd
  if (n === 7 && b[start] === 99 && b[start + 1] === 108) return Daemon.Cleanup; // cleanup
  const name = b.toString('latin1', start, e);
  let d = daemonCache.get(name);
  if (d === undefined) {
    d = DAEMONS[name] ?? Daemon.Ignored;
    if (daemonCache.size < 256) daemonCache.set(name, d);
  }
  return d;
}

class PostfixFlow implements FlowParser {
  /** Client of each queue ID seen in smtpd, until its qmgr line. */
  private readonly clientOf = new RecentMap<string>(100_000);
  /** Queue IDs seen in cleanup and not yet in qmgr. */
  private readonly born = new Recent(200_000);
  constructor(private readonly sink: MailFlowSink) {}

  line(b: Buffer, progStart: number, progEnd: number, msgStart: number, end: number): void {
    const daemon = postfixDaemon(b, progStart, progEnd);
    if (daemon === Daemon.Ignored) return;
    // "QID: rest" or "NOQUEUE: rest"
    // ': ' within the first 40 bytes (a loop: Buffer.indexOf is a native call per line, and would
    // search on past the line's end).
    let colon = -1;
    for (let i = msgStart, stop = Math.min(end - 1, msgStart + 41); i < stop; i++)
      if (b[i] === 58 && b[i + 1] === 32) {
        colon = i;
        break;
      }
    if (colon < 0) return;
    const rest = colon + 2;
    switch (daemon) {
      case Daemon.Cleanup:
        if (startsAt(b, rest, end, MESSAGE_ID)) this.born.add(b.toString('latin1', msgStart, colon));
        else if (startsAt(b, rest, end, REJECT) || startsAt(b, rest, end, MILTER_REJECT)) this.sink.reject(rejectText(b.toString('latin1', rest, end)));
        return;
      case Daemon.Qmgr:
        if (startsAt(b, rest, end, FROM_ANGLE) || startsAt(b, rest, end, REMOVED)) this.qmgr(b.toString('latin1', msgStart, end), colon - msgStart);
        return;
      case Daemon.Smtpd:
        if (startsAt(b, rest, end, CLIENT)) {
          const msg = b.toString('latin1', rest + 7, end);
          const comma = msg.indexOf(',');
          const client = fromBytes(comma < 0 ? msg : msg.slice(0, comma));
          this.sink.client(client);
          const qid = b.toString('latin1', msgStart, colon);
          this.clientOf.set(qid, client);
          const u = msg.indexOf(', sasl_username=');
          if (u >= 0) {
            const ue = msg.indexOf(',', u + 16);
            this.sink.account?.(qid, msg.slice(u + 16, ue < 0 ? msg.length : ue));
          }
        } else if (startsAt(b, rest, end, REJECT)) this.sink.reject(rejectText(b.toString('latin1', rest, end)));
        else if (startsAt(b, msgStart, end, WARNING)) this.smtpdWarning(b.toString('latin1', msgStart + 9, end));
        return;
      case Daemon.Pickup:
        if (startsAt(b, rest, end, UID)) {
          const sp = b.indexOf(32, rest);
          this.sink.client(`local ${fromBytes(b.toString('latin1', rest, sp < 0 || sp > end ? end : sp))}`);
        }
        return;
      default:
        if (startsAt(b, rest, end, TO_ANGLE)) this.delivery(b.toString('latin1', msgStart, end), colon - msgStart + 2);
    }
  }

  private qmgr(msg: string, colon: number): void {
    const qid = msg.slice(0, colon);
    const rest = colon + 2;
    if (msg.startsWith('removed', rest)) {
      this.born.take(qid);
      this.sink.removed(qid);
      return;
    }
    const end = msg.indexOf('>', rest + 6);
    if (end >= 0 && msg.startsWith(', status=expired', end + 1)) {
      this.sink.expired?.(qid);
      return;
    }
    if (end < 0 || !msg.startsWith(', size=', end + 1)) return;
    // A retry is not a new message, but its delivery attempts are still its sender's.
    const raw = msg.slice(rest + 6, end);
    this.sink.sender(qid, raw === '' ? NULL_SENDER : raw);
    if (this.born.take(qid)) {
      const client = this.clientOf.get(qid);
      this.clientOf.delete(qid);
      // The client was counted at its smtpd line; here it only marks where a bounce came from.
      this.sink.message(raw, undefined, qid, client);
    }
  }

  private delivery(msg: string, rest: number): void {
    const end = msg.indexOf('>', rest + 4);
    if (end < 0) return;
    const rcpt = msg.slice(rest + 4, end);
    const st = msg.indexOf(' status=', end);
    if (st < 0) return;
    const expired = msg.startsWith('expired', st + 8);
    const status = msg.startsWith('sent', st + 8) ? 'sent' : msg.startsWith('deferred', st + 8) ? 'deferred' : msg.startsWith('bounced', st + 8) || expired ? 'failed' : 'other';
    const relay = msg.indexOf(' relay=', end);
    if (status === 'sent' && msg.indexOf('queued as ', st) > 0) {
      // A content filter or local relay on loopback takes the message and reinjects it.
      if (relay > 0 && loopback(msg, relay + 7)) return;
    }
    const detail: AttemptDetail = {};
    if (relay > 0) detail.relay = msg.slice(relay + 7, fieldEnd(msg, relay + 7));
    const delay = msg.indexOf(' delay=', end);
    if (delay > 0) {
      const v = Number(msg.slice(delay + 7, fieldEnd(msg, delay + 7)));
      if (Number.isFinite(v)) detail.delay = v;
    }
    const dsn = msg.indexOf(' dsn=', end);
    if (dsn > 0) detail.dsn = msg.slice(dsn + 5, fieldEnd(msg, dsn + 5));
    // "status=deferred (connect to ...: Connection refused)": the text in the outer parentheses.
    const open = msg.indexOf(' (', st + 8);
    if (open > 0 && status !== 'sent') detail.text = msg.slice(open + 2, msg.endsWith(')') ? msg.length - 1 : msg.length);
    if (expired) detail.expired = true;
    this.sink.attempt(rcpt, status, msg.slice(0, rest - 2), detail);
  }

  /** "HOST[IP]: SASL LOGIN authentication failed: ..., sasl_username=u": a failed AUTH from HOST[IP]. */
  private smtpdWarning(msg: string): void {
    const c = msg.indexOf(']: SASL ');
    if (c < 0 || msg.indexOf(' authentication failed', c) < 0) return;
    const u = msg.indexOf('sasl_username=', c);
    this.sink.authFailed?.(msg.slice(0, c + 1), u < 0 ? undefined : msg.slice(u + 14, fieldEnd(msg, u + 14)));
  }
}

/** A field value: up to ", " or the end. */
function fieldEnd(msg: string, i: number): number {
  const e = msg.indexOf(', ', i);
  return e < 0 ? msg.length : e;
}

/** "reject: RCPT from HOST[IP]: 550 5.1.1 <x>: Recipient address rejected: ...; from=<..> ...": the
 *  stage and the reply ("RCPT 550 5.1.1 <x>: Recipient address rejected: ..."). */
function rejectText(msg: string): string {
  const m = /^(?:milter-)?reject: (\S+) from [^:]*\]: (.*?)(?:; from=<.*)?$/.exec(msg);
  return m ? `${m[1]} ${m[2]}` : msg.slice(msg.indexOf(':') + 2);
}

export const postfixLog: LogGrammar = {
  // postfix/..., postfix-out/... (multi-instance syslog_name), and any other syslog_name before a
  // Postfix program: smtp-in/smtpd (lib/log/syslog.ts isPostfixTag).
  isTag: (b, s, e) => (b[s] === 112 && tagStarts(b, s, e, 'postfix')) || isPostfixTag(b, s, e),
  create: (sink) => new PostfixFlow(sink),
  instanceTags: true,
  defaultLogs: ['/var/log/mail.log', '/var/log/maillog'],
};
