// Sendmail's log lines for the mail flow. A message goes through the MSP (sendmail[..] ... relay=
// root@localhost) and then the MTA (sm-mta[..]): the second "from=" with the same msgid= is not
// counted again, and the MSP's hand-off to the local MTA ("stat=Sent (... Message accepted for
// delivery)" to [127.0.0.1]) is not a delivery attempt.
//     sendmail[11656]: 6ANBC1Nc011656: from=app@qa.example, size=1168, ..., msgid=<...>, relay=root@localhost
//     sm-mta[11657]: 6ANBC1gu011657: from=<app@qa.example>, size=1322, ..., msgid=<...>, relay=mx1.lab.example [127.0.0.1]
//     sm-mta[11659]: 6ANBC1gu011657: to=<qanotify@lab.example>, ..., dsn=4.4.1, stat=Deferred: Connection refused by [127.0.0.2]
// and (test/fixtures/logs/flow/sendmail, captured by capture-logflow.sh, LogLevel 10):
//     sm-mta[18354]: 6B1J1Cle018352: to=<gone1@gone.example>, ctladdr=<labmbox@mx1.lab.example> (1001/1001), delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30145, relay=[127.0.0.3] [127.0.0.3], dsn=5.1.1, reply=550 5.1.1 <gone1@gone.example>: Recipient address rejected: User unknown in virtual mailbox table, stat=User unknown
//     sm-mta[18279]: 6B1J1CEu018279: AUTH failure (PLAIN): authentication failure (-13) SASL(-13): authentication failure: Password verification failed, user=alice, relay=mx1.lab.example [127.0.0.1]
//     sm-mta[18365]: 6B1J1CmS018365: <nosuch1@mx1.lab.example>... User unknown        (refused at RCPT time)

import { loopback, NULL_SENDER, stripAngles, tagIs, type AttemptDetail, type AttemptStatus, type FlowParser, type LogGrammar, type MailFlowSink } from './flow.js';
import { Recent } from './recent.js';
import { sendmailDuration } from './reason.js';

/** A ", key=value" field of a to= line, or undefined. The value of reply= and stat= may hold ", ". */
function sendmailField(msg: string, key: string, from: number): string | undefined {
  const i = msg.indexOf(`, ${key}=`, from);
  if (i < 0) return undefined;
  const s = i + key.length + 3;
  if (key === 'stat') return msg.slice(s);
  if (key === 'reply') {
    const st = msg.indexOf(', stat=', s);
    return msg.slice(s, st < 0 ? msg.length : st);
  }
  return msg.slice(s, endOfField(msg, s));
}

/** "relay=[127.0.0.2] [127.0.0.2]" -> "[127.0.0.2]"; "mx.example. [192.0.2.1]" stays. */
function relayName(r: string): string {
  const sp = r.indexOf(' ');
  return sp > 0 && r.slice(0, sp) === r.slice(sp + 1) ? r.slice(0, sp) : r;
}

/** A Sendmail field value: up to ", key=" or the end. */
function endOfField(msg: string, i: number): number {
  const m = msg.indexOf(', ', i);
  return m < 0 ? msg.length : m;
}

class SendmailFlow implements FlowParser {
  /** msgid= values already counted. */
  private readonly msgids = new Recent(200_000);
  constructor(private readonly sink: MailFlowSink) {}

  line(b: Buffer, _ps: number, _pe: number, msgStart: number, end: number): void {
    const msg = b.toString('latin1', msgStart, end);
    const colon = msg.indexOf(': ');
    if (colon <= 0) return;
    const rest = colon + 2;
    if (msg.startsWith('from=', rest)) {
      if (msg.indexOf(', size=', rest) < 0) return;
      // "from=<x>, size=0, class=0, nrcpts=0, ...": a session whose every recipient was refused; no message.
      if (msg.indexOf(', nrcpts=0,', rest) > 0) return;
      const comma = msg.indexOf(',', rest + 5);
      const sender = stripAngles(msg.slice(rest + 5, comma < 0 ? msg.length : comma));
      // The MTA's copy of an MSP message is not counted again, but its deliveries are its sender's.
      this.sink.sender(msg.slice(0, colon), sender === '' ? NULL_SENDER : sender);
      const m = msg.indexOf(', msgid=', rest);
      if (m > 0) {
        const close = msg.indexOf(',', m + 8);
        const id = msg.slice(m + 8, close < 0 ? msg.length : close);
        if (this.msgids.has(id)) return;
        this.msgids.add(id);
      }
      const r = msg.lastIndexOf(', relay=');
      const client = r > 0 ? msg.slice(r + 8, endOfField(msg, r + 8)) : undefined;
      this.sink.message(sender, client, msg.slice(0, colon));
      return;
    }
    if (msg.startsWith('to=', rest)) {
      const listEnd = msg.indexOf(', ', rest + 3);
      const list = msg.slice(rest + 3, listEnd < 0 ? msg.length : listEnd);
      const st = msg.indexOf(' stat=', rest);
      const stat = st > 0 ? msg.slice(st + 6) : '';
      const dsn = msg.indexOf(' dsn=', rest);
      const status: AttemptStatus = stat.startsWith('Sent')
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
      const detail: AttemptDetail = {};
      const relay = sendmailField(msg, 'relay', rest);
      if (relay !== undefined) detail.relay = relayName(relay);
      const delay = sendmailField(msg, 'delay', rest);
      if (delay !== undefined) detail.delay = sendmailDuration(delay);
      const dsnv = sendmailField(msg, 'dsn', rest);
      if (dsnv !== undefined) detail.dsn = dsnv;
      if (status !== 'sent') detail.text = sendmailField(msg, 'reply', rest) ?? stat.replace(/^Deferred: /, '');
      for (const r of list.split(',')) this.sink.attempt(stripAngles(r.trim()), status, qid, detail);
      return;
    }
    if (msg.startsWith('AUTH failure (', rest)) {
      // "AUTH failure (PLAIN): ..., user=alice, relay=host [ip]"
      const r = msg.lastIndexOf(', relay=');
      const u = msg.lastIndexOf(', user=');
      this.sink.authFailed?.(r > 0 ? msg.slice(r + 8, endOfField(msg, r + 8)) : '(unknown)', u > 0 ? msg.slice(u + 7, endOfField(msg, u + 7)) : undefined);
      return;
    }
    // "QID: <nosuch1@mx1.lab.example>... User unknown": a recipient refused at RCPT time.
    if (msg.charCodeAt(rest) === 60) {
      const dots = msg.indexOf('>... ', rest);
      if (dots > 0) {
        this.sink.reject(`RCPT ${msg.slice(dots + 5)}`);
        return;
      }
    }
    // "k8JBXs9B012345: k8JBXs9C012346: DSN: User unknown": Sendmail wrote a bounce.
    if (msg.startsWith('DSN: ', msg.indexOf(': ', rest) + 2) && msg.indexOf(': ', rest) > 0) {
      // The second ID is the bounce's own: its delivery attempts are logged under it.
      const bounceId = msg.slice(rest, msg.indexOf(': ', rest));
      // "DSN: Cannot send message for 5 days": the message expired in the queue.
      if (msg.includes('DSN: Cannot send message for ')) this.sink.expired?.(bounceId);
      this.sink.message(NULL_SENDER, undefined, bounceId);
      return;
    }
    const rj = msg.indexOf('reject=');
    if (rj >= 0) this.sink.reject(msg.slice(rj + 7));
  }
}

export const sendmailLog: LogGrammar = {
  isTag: (b, s, e) => b[s] === 115 && (tagIs(b, s, e, 'sm-mta') || tagIs(b, s, e, 'sendmail') || tagIs(b, s, e, 'sm-msp-queue')),
  create: (sink) => new SendmailFlow(sink),
  defaultLogs: ['/var/log/mail.log', '/var/log/maillog'],
};
