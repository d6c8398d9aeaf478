// Mail flow read from MTA log lines: messages by envelope sender, delivery attempts by recipient,
// messages by client, bounces (null sender), deferrals, failures and rejects. One small parser per
// MTA, each fed the message part of a line (after "prog[pid]: ", or after Exim's timestamp).
//
// Counting each message once is the hard part:
// - Postfix logs "from=<..>, size=" from qmgr every time a deferred message is retried. A message
//   is counted when its qmgr line follows its cleanup "message-id=" line (a new message); a qmgr
//   line for a queue ID whose cleanup was not seen is a retry and is not counted again.
//     postfix/cleanup[5616]: 10295164182: message-id=<capture.postfix.1795432263.1@mx1.lab.example>
//     postfix/qmgr[5594]: 10295164182: from=<app@qa.example>, size=1297, nrcpt=1 (queue active)
//     postfix/smtp[5622]: 10295164182: to=<qanotify@lab.example>, relay=none, ..., status=deferred (...)
// - Sendmail logs a message twice when it goes through the MSP (sendmail[..] ... relay=root@localhost)
//   and then the MTA (sm-mta[..]): the second "from=" with the same msgid= is not counted, and the
//   MSP's hand-off to the local MTA ("stat=Sent (... Message accepted for delivery)" to [127.0.0.1])
//   is not a delivery attempt.
//     sendmail[11656]: 6ANBC1Nc011656: from=app@qa.example, size=1168, ..., msgid=<...>, relay=root@localhost
//     sm-mta[11657]: 6ANBC1gu011657: from=<app@qa.example>, size=1322, ..., msgid=<...>, relay=mx1.lab.example [127.0.0.1]
//     sm-mta[11659]: 6ANBC1gu011657: to=<qanotify@lab.example>, ..., dsn=4.4.1, stat=Deferred: Connection refused by [127.0.0.2]
// - Exim logs "<=" once per message; "=>"/"->" deliveries, "==" deferrals, "**" failures.
//     1xVRxS-0002CF-23 <= app@qa.example U=root P=local S=1337 id=capture.exim.1795432298.1@mx1.lab.example
//     1xVRxS-0002Cs-2F == qanotify@lab.example R=smarthost T=remote_smtp_smarthost defer (111): Connection refused
// Recipients are counted per delivery attempt (a retried recipient counts again): what the relay
// is spending its time on. Content-filter hand-offs to loopback ("queued as") are not attempts.
// Lines are parsed as latin1 (byte offsets stay right); each sender, recipient and client is then
// decoded as UTF-8 when its bytes are valid UTF-8 (lib/plugin/text.ts fromBytes), where it is counted.

import { fromBytes } from '../plugin/text.js';
import { TopCounter } from '../queue/topk.js';
import { isNullmailerTag, NullmailerFlowParser, type FlowEvent } from './nullmailer-lines.js';
import { OpensmtpdFlow } from './opensmtpd-lines.js';
import { isPostfixTag } from './syslog.js';

export const enum Mta {
  None = 0,
  Postfix = 1,
  Sendmail = 2,
  Exim = 3,
  Nullmailer = 4,
  Opensmtpd = 5,
}

export const NULL_SENDER = '<>';

/** Insertion-ordered set with a cap: the oldest entries go first. */
class Recent {
  private readonly m = new Map<string, true>();
  constructor(private readonly cap: number) {}
  add(k: string): void {
    this.m.set(k, true);
    if (this.m.size > this.cap) this.m.delete(this.m.keys().next().value as string);
  }
  has(k: string): boolean {
    return this.m.has(k);
  }
  take(k: string): boolean {
    return this.m.delete(k);
  }
  get size(): number {
    return this.m.size;
  }
}

/** Insertion-ordered map with a cap: the oldest entries go first. */
class RecentMap {
  private readonly m = new Map<string, string>();
  constructor(private readonly cap: number) {}
  set(k: string, v: string): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.cap) this.m.delete(this.m.keys().next().value as string);
  }
  get(k: string): string | undefined {
    return this.m.get(k);
  }
}

/** Key of a (sender, recipient) or (sender, client) pair in the pair counters. */
export const PAIR_SEP = '\n';

export interface FlowCounts {
  messages: number;
  bounces: number;
  deliveries: number;
  deferrals: number;
  failures: number;
  rejects: number;
}

export class MailFlow implements FlowCounts {
  messages = 0;
  /** Messages with the null sender (<>): bounces and other DSNs. */
  bounces = 0;
  /** Delivery attempts (per recipient), any status. */
  deliveries = 0;
  deferrals = 0;
  /** Permanent failures (a bounce will be sent back). */
  failures = 0;
  rejects = 0;
  readonly senders: TopCounter;
  readonly recipients: TopCounter;
  readonly clients: TopCounter;
  /** Where bounces come from and go to (backscatter, incident 002: random forged addresses in our domain). */
  readonly bounceClients: TopCounter;
  readonly bounceDomains: TopCounter;
  /** Distinct bounce recipients (bounded: a lower bound past its capacity). */
  readonly bounceRecipients: TopCounter;
  /** Delivery attempts by sender and recipient, messages by sender and client: each culprit's own
   *  top recipient and client (the whole log's top recipient may have got none of its mail). */
  readonly senderRecipients: TopCounter;
  readonly senderClients: TopCounter;
  /** Deferred attempts by recipient (the deferral alert names the top one of these). */
  readonly deferredRecipients: TopCounter;
  /** Envelope sender of each queue ID, to pair delivery attempts with it. */
  private readonly senderOf = new RecentMap(200_000);
  /** Queue IDs of bounces not yet delivered, to attribute their recipients. */
  private readonly bounceIds = new Recent(100_000);
  /** Postfix: client of each queue ID seen in smtpd, until its qmgr line. */
  private readonly clientOf = new Map<string, string>();
  /** Postfix queue IDs seen in cleanup and not yet in qmgr. */
  private readonly born = new Recent(200_000);
  /** Sendmail msgid= values already counted. */
  private readonly msgids = new Recent(200_000);

  constructor(capacity = 10_000) {
    this.senders = new TopCounter(capacity);
    this.recipients = new TopCounter(capacity);
    this.clients = new TopCounter(capacity);
    this.bounceClients = new TopCounter(capacity);
    this.bounceDomains = new TopCounter(capacity);
    this.bounceRecipients = new TopCounter(capacity);
    this.senderRecipients = new TopCounter(capacity);
    this.senderClients = new TopCounter(capacity);
    this.deferredRecipients = new TopCounter(capacity);
  }

  /**
   * One line: the tag is b[progStart, progEnd) ("postfix/qmgr", "sm-mta", "exim"; empty for Exim's
   * mainlog), the message b[msgStart, end). Lines that cannot matter are dropped by looking at a few
   * bytes, before any string is made.
   */
  line(mta: Mta, b: Buffer, progStart: number, progEnd: number, msgStart: number, end: number, time?: () => number | undefined): void {
    if (mta === Mta.Postfix) {
      const daemon = postfixDaemon(b, progStart, progEnd);
      if (daemon === Daemon.Ignored) return;
      // "QID: rest" or "NOQUEUE: rest"
      const colon = b.indexOf(COLON_SP, msgStart);
      if (colon < 0 || colon > msgStart + 40 || colon >= end) return;
      const rest = colon + 2;
      switch (daemon) {
        case Daemon.Cleanup:
          if (startsAt(b, rest, end, MESSAGE_ID)) this.born.add(b.toString('latin1', msgStart, colon));
          else if (startsAt(b, rest, end, REJECT) || startsAt(b, rest, end, MILTER_REJECT)) this.rejects++;
          return;
        case Daemon.Qmgr:
          if (startsAt(b, rest, end, FROM_ANGLE) || startsAt(b, rest, end, REMOVED)) this.postfixQmgr(b.toString('latin1', msgStart, end), colon - msgStart);
          return;
        case Daemon.Smtpd:
          if (startsAt(b, rest, end, CLIENT)) {
            const msg = b.toString('latin1', rest + 7, end);
            const comma = msg.indexOf(',');
            const client = fromBytes(comma < 0 ? msg : msg.slice(0, comma));
            this.clients.add(client);
            this.clientOf.set(b.toString('latin1', msgStart, colon), client);
            if (this.clientOf.size > 100_000) this.clientOf.delete(this.clientOf.keys().next().value as string);
          } else if (startsAt(b, rest, end, REJECT)) this.rejects++;
          return;
        case Daemon.Pickup:
          if (startsAt(b, rest, end, UID)) {
            const sp = b.indexOf(32, rest);
            this.clients.add(`local ${fromBytes(b.toString('latin1', rest, sp < 0 || sp > end ? end : sp))}`);
          }
          return;
        default:
          if (startsAt(b, rest, end, TO_ANGLE)) this.postfixDelivery(b.toString('latin1', msgStart, end), colon - msgStart + 2);
      }
      return;
    }
    if (mta === Mta.Sendmail) this.sendmail(b.toString('latin1', msgStart, end));
    else if (mta === Mta.Exim) this.exim(b.toString('latin1', msgStart, end));
    else if (mta === Mta.Opensmtpd) this.opensmtpd.line(b.toString('latin1', msgStart, end));
    else if (mta === Mta.Nullmailer) for (const e of this.nullmailer.line(b.toString('latin1', msgStart, end), time?.())) this.flowEvent(e);
  }

  /** The end of the input: hands on what a parser still holds (nullmailer's last attempt). */
  end(): void {
    for (const e of this.nullmailer.end()) this.flowEvent(e);
  }

  private flowEvent(e: FlowEvent): void {
    if (e.kind === 'message') this.message(e.sender, undefined, e.qid);
    else this.attempt(e.rcpt, e.status, e.qid);
  }

  /** OpenSMTPD and nullmailer lines: their own parsers (lib/log/opensmtpd-lines.ts, nullmailer-lines.ts). */
  private readonly opensmtpd = new OpensmtpdFlow({
    message: (sender, client, qid) => this.message(sender, client, qid),
    attempt: (rcpt, status, qid) => this.attempt(rcpt, status, qid),
    reject: () => void this.rejects++,
  });
  private readonly nullmailer = new NullmailerFlowParser();

  /** Test helper: a line as text, tag and message apart. */
  lineText(mta: Mta, prog: string, msg: string): void {
    const b = Buffer.from(`${prog}\n${msg}`, 'latin1');
    this.line(mta, b, 0, prog.length, prog.length + 1, b.length);
  }

  /** client: counted here; bounceClient: where a bounce came from (already counted as a client). */
  private message(sender: string, rawClient?: string, qid?: string, bounceClient?: string): void {
    this.messages++;
    const s = sender === '' || sender === NULL_SENDER ? NULL_SENDER : fromBytes(sender);
    const client = rawClient === undefined ? undefined : fromBytes(rawClient);
    this.senders.add(s);
    if (client) this.clients.add(client);
    if (qid) this.senderOf.set(qid, s);
    const from = client ?? bounceClient;
    if (from) this.senderClients.add(s + PAIR_SEP + from);
    if (s === NULL_SENDER) {
      this.bounces++;
      if (from) this.bounceClients.add(from);
      if (qid) this.bounceIds.add(qid);
    }
  }

  private attempt(rcpt: string, status: 'sent' | 'deferred' | 'failed' | 'other', qid?: string): void {
    this.deliveries++;
    if (status === 'deferred') this.deferrals++;
    else if (status === 'failed') this.failures++;
    if (!rcpt) return;
    const r = fromBytes(rcpt).toLowerCase();
    this.recipients.add(r);
    if (status === 'deferred') this.deferredRecipients.add(r);
    const sender = qid === undefined ? undefined : this.senderOf.get(qid);
    if (sender !== undefined) this.senderRecipients.add(sender + PAIR_SEP + r);
    if (qid && this.bounceIds.has(qid)) {
      this.bounceRecipients.add(r);
      this.bounceDomains.add(r.slice(r.lastIndexOf('@') + 1));
      if (status !== 'deferred') this.bounceIds.take(qid);
    }
  }

  // ---- Postfix ----

  private postfixQmgr(msg: string, colon: number): void {
    const qid = msg.slice(0, colon);
    const rest = colon + 2;
    if (msg.startsWith('removed', rest)) {
      this.born.take(qid);
      this.bounceIds.take(qid);
      return;
    }
    const end = msg.indexOf('>', rest + 6);
    if (end < 0 || !msg.startsWith(', size=', end + 1)) return;
    // A retry is not a new message, but its delivery attempts are still its sender's.
    const raw = msg.slice(rest + 6, end);
    this.senderOf.set(qid, raw === '' ? NULL_SENDER : fromBytes(raw));
    if (this.born.take(qid)) {
      const client = this.clientOf.get(qid);
      this.clientOf.delete(qid);
      // The client was counted at its smtpd line; here it only marks where a bounce came from.
      this.message(msg.slice(rest + 6, end), undefined, qid, client);
    }
  }

  private postfixDelivery(msg: string, rest: number): void {
    const end = msg.indexOf('>', rest + 4);
    if (end < 0) return;
    const rcpt = msg.slice(rest + 4, end);
    const st = msg.indexOf(' status=', end);
    if (st < 0) return;
    const status = msg.startsWith('sent', st + 8) ? 'sent' : msg.startsWith('deferred', st + 8) ? 'deferred' : msg.startsWith('bounced', st + 8) ? 'failed' : 'other';
    if (status === 'sent' && msg.indexOf('queued as ', st) > 0) {
      // A content filter or local relay on loopback takes the message and reinjects it.
      const relay = msg.indexOf(' relay=', end);
      if (relay > 0 && loopback(msg, relay + 7)) return;
    }
    this.attempt(rcpt, status, msg.slice(0, rest - 2));
  }

  // ---- Sendmail ----

  private sendmail(msg: string): void {
    const colon = msg.indexOf(': ');
    if (colon <= 0) return;
    const rest = colon + 2;
    if (msg.startsWith('from=', rest)) {
      if (msg.indexOf(', size=', rest) < 0) return;
      const comma = msg.indexOf(',', rest + 5);
      const sender = stripAngles(msg.slice(rest + 5, comma < 0 ? msg.length : comma));
      // The MTA's copy of an MSP message is not counted again, but its deliveries are its sender's.
      this.senderOf.set(msg.slice(0, colon), sender === '' || sender === NULL_SENDER ? NULL_SENDER : fromBytes(sender));
      const m = msg.indexOf(', msgid=', rest);
      if (m > 0) {
        const close = msg.indexOf(',', m + 8);
        const id = msg.slice(m + 8, close < 0 ? msg.length : close);
        if (this.msgids.has(id)) return;
        this.msgids.add(id);
      }
      const r = msg.lastIndexOf(', relay=');
      const client = r > 0 ? msg.slice(r + 8, endOfField(msg, r + 8)) : undefined;
      this.message(sender, client, msg.slice(0, colon));
      return;
    }
    if (msg.startsWith('to=', rest)) {
      const listEnd = msg.indexOf(', ', rest + 3);
      const list = msg.slice(rest + 3, listEnd < 0 ? msg.length : listEnd);
      const st = msg.indexOf(' stat=', rest);
      const stat = st > 0 ? msg.slice(st + 6) : '';
      const dsn = msg.indexOf(' dsn=', rest);
      const status: 'sent' | 'deferred' | 'failed' | 'other' = stat.startsWith('Sent')
        ? 'sent'
        : stat.startsWith('Deferred') || (dsn > 0 && msg.charCodeAt(dsn + 5) === 52)
          ? 'deferred'
          : dsn > 0 && msg.charCodeAt(dsn + 5) === 53
            ? 'failed'
            : 'other';
      if (status === 'sent' && stat.includes('Message accepted for delivery')) {
        const relay = msg.indexOf(' relay=', rest);
        if (relay > 0 && loopback(msg, relay + 7)) return; // MSP -> local MTA hand-off
      }
      const qid = msg.slice(0, colon);
      for (const r of list.split(',')) this.attempt(stripAngles(r.trim()), status, qid);
      return;
    }
    // "k8JBXs9B012345: k8JBXs9C012346: DSN: User unknown": Sendmail wrote a bounce.
    if (msg.startsWith('DSN: ', msg.indexOf(': ', rest) + 2) && msg.indexOf(': ', rest) > 0) {
      // The second ID is the bounce's own: its delivery attempts are logged under it.
      this.message(NULL_SENDER, undefined, msg.slice(rest, msg.indexOf(': ', rest)));
      return;
    }
    if (msg.includes('reject=')) this.rejects++;
  }

  // ---- Exim ----

  private exim(msg: string): void {
    const sp = msg.indexOf(' ');
    if (sp < 16 || msg.charCodeAt(6) !== 45) {
      if (msg.includes(' rejected ')) this.rejects++;
      return;
    }
    const a = msg.charCodeAt(sp + 1);
    const b = msg.charCodeAt(sp + 2);
    if (msg.charCodeAt(sp + 3) !== 32) {
      if (msg.includes(' rejected ')) this.rejects++;
      return;
    }
    const who = sp + 4;
    const whoEnd = msg.indexOf(' ', who);
    const addr = msg.slice(who, whoEnd < 0 ? msg.length : whoEnd);
    const qid = msg.slice(0, sp);
    if (a === 60 && b === 61) {
      // "<=" arrival
      this.message(stripAngles(addr), eximClient(msg, whoEnd), qid);
    } else if ((a === 61 || a === 45) && b === 62) {
      this.attempt(stripAngles(addr), 'sent', qid); // "=>" / "->"
    } else if (a === 61 && b === 61) {
      this.attempt(stripAngles(addr), 'deferred', qid); // "=="
    } else if (a === 42 && b === 42) {
      this.attempt(stripAngles(addr), 'failed', qid); // "**"
    } else if (msg.includes(' rejected ')) this.rejects++;
  }
}

function stripAngles(s: string): string {
  if (s.charCodeAt(0) === 60 && s.charCodeAt(s.length - 1) === 62) return s.length === 2 ? NULL_SENDER : s.slice(1, -1);
  return s;
}

/** A Sendmail field value: up to ", key=" or the end. */
function endOfField(msg: string, i: number): number {
  const m = msg.indexOf(', ', i);
  return m < 0 ? msg.length : m;
}

/** Does the relay at msg[i] point at this host (127.x, ::1, localhost)? */
function loopback(msg: string, i: number): boolean {
  const end = Math.min(msg.length, i + 60);
  const s = msg.slice(i, end);
  return /(^|\[)(127\.|::1\]|IPv6:::1\]|localhost)/.test(s);
}

/** Exim "<=" line: H=host (helo) [ip]:port or U=user for local submissions. */
function eximClient(msg: string, from: number): string | undefined {
  if (from < 0) return undefined;
  const h = msg.indexOf(' H=', from);
  if (h > 0) {
    const ip = msg.indexOf('[', h);
    const close = ip > 0 ? msg.indexOf(']', ip) : -1;
    const hostEnd = msg.indexOf(' ', h + 3);
    const host = msg.slice(h + 3, hostEnd < 0 ? msg.length : hostEnd);
    if (host.startsWith('[')) return msg.slice(h + 3, close + 1);
    return close > 0 && close - h < 300 ? `${host} ${msg.slice(ip, close + 1)}` : host;
  }
  const u = msg.indexOf(' U=', from);
  if (u > 0) {
    const e = msg.indexOf(' ', u + 3);
    return `local ${msg.slice(u + 1, e < 0 ? msg.length : e)}`;
  }
  return undefined;
}

const COLON_SP = Buffer.from(': ');
const MESSAGE_ID = Buffer.from('message-id=');
const REJECT = Buffer.from('reject:');
const MILTER_REJECT = Buffer.from('milter-reject:');
const FROM_ANGLE = Buffer.from('from=<');
const REMOVED = Buffer.from('removed');
const CLIENT = Buffer.from('client=');
const UID = Buffer.from('uid=');
const TO_ANGLE = Buffer.from('to=<');

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

/** Which MTA wrote this line, from its tag: postfix/..., postfix-out/..., any-name/<Postfix program>, sm-mta, sendmail, sm-msp-queue, exim, exim4, smtpd (OpenSMTPD), nullmailer-send, nullmailer. */
export function mtaOfTag(b: Buffer, s: number, e: number): Mta {
  const n = e - s;
  if (n >= 7 && b[s] === 112 && b.toString('latin1', s, s + 7) === 'postfix') return Mta.Postfix;
  if (n >= 4 && b[s] === 101 && b.toString('latin1', s, s + 4) === 'exim') return Mta.Exim;
  if (b[s] === 115) {
    const t = b.toString('latin1', s, e);
    if (t === 'sm-mta' || t === 'sendmail' || t === 'sm-msp-queue') return Mta.Sendmail;
    if (t === 'smtpd') return Mta.Opensmtpd;
  }
  if (b[s] === 110 && isNullmailerTag(b.toString('latin1', s, e))) return Mta.Nullmailer;
  // Any other syslog_name: postfix-out/qmgr, smtp-in/smtp (lib/log/syslog.ts).
  if (isPostfixTag(b, s, e)) return Mta.Postfix;
  return Mta.None;
}
