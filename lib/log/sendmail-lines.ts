// Sendmail's log lines for the mail flow. A message goes through the MSP (sendmail[..] ... relay=
// root@localhost) and then the MTA (sm-mta[..]): the second "from=" with the same msgid= is not
// counted again, and the MSP's hand-off to the local MTA ("stat=Sent (... Message accepted for
// delivery)" to [127.0.0.1]) is not a delivery attempt.
//     sendmail[11656]: 6ANBC1Nc011656: from=app@qa.example, size=1168, ..., msgid=<...>, relay=root@localhost
//     sm-mta[11657]: 6ANBC1gu011657: from=<app@qa.example>, size=1322, ..., msgid=<...>, relay=mx1.lab.example [127.0.0.1]
//     sm-mta[11659]: 6ANBC1gu011657: to=<qanotify@lab.example>, ..., dsn=4.4.1, stat=Deferred: Connection refused by [127.0.0.2]

import { loopback, NULL_SENDER, Recent, stripAngles, tagIs, type AttemptStatus, type FlowParser, type LogGrammar, type MailFlowSink } from './flow.js';

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
      for (const r of list.split(',')) this.sink.attempt(stripAngles(r.trim()), status, qid);
      return;
    }
    // "k8JBXs9B012345: k8JBXs9C012346: DSN: User unknown": Sendmail wrote a bounce.
    if (msg.startsWith('DSN: ', msg.indexOf(': ', rest) + 2) && msg.indexOf(': ', rest) > 0) {
      // The second ID is the bounce's own: its delivery attempts are logged under it.
      this.sink.message(NULL_SENDER, undefined, msg.slice(rest, msg.indexOf(': ', rest)));
      return;
    }
    if (msg.includes('reject=')) this.sink.reject();
  }
}

export const sendmailLog: LogGrammar = {
  isTag: (b, s, e) => b[s] === 115 && (tagIs(b, s, e, 'sm-mta') || tagIs(b, s, e, 'sendmail') || tagIs(b, s, e, 'sm-msp-queue')),
  create: (sink) => new SendmailFlow(sink),
  defaultLogs: ['/var/log/mail.log', '/var/log/maillog'],
};
