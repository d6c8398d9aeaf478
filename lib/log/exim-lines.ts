// Exim's log lines for the mail flow: "<=" once per message, "=>"/"->" deliveries, "==" deferrals,
// "**" failures; in its own mainlog (no syslog tag) or through syslog (tag exim, exim4).
//     1xVRxS-0002CF-23 <= app@qa.example U=root P=local S=1337 id=capture.exim.1795432298.1@mx1.lab.example
//     1xVRxS-0002Cs-2F == qanotify@lab.example R=smarthost T=remote_smtp_smarthost defer (111): Connection refused
// and (test/fixtures/logs/flow/exim, captured by capture-logflow.sh with log_selector +queue_time):
//     1xYT5L-0003g0-0c <= alice@lab.example H=(client.lab.example) [127.0.0.1] P=esmtpa A=plain:alice S=364 id=...
//     1xYT5N-0003hs-0p == grey1@slow.example R=slow T=remote_smtp defer (-44) H=127.0.0.4 [127.0.0.4] DT=0s: SMTP error from remote mail server after RCPT TO:<grey1@slow.example>: 451 4.7.1 ...
//     1xYT5O-0003iW-00 ** gone1@gone.example R=gone T=remote_smtp H=127.0.0.3 [127.0.0.3]: SMTP error from remote mail server after RCPT TO:<gone1@gone.example>: 550 5.1.1 ... DT=0s
//     1xYT5O-0003ia-0H => labmbox <labmbox@mx1.lab.example> R=localuser T=local_delivery QT=0s DT=0s
//     plain authenticator failed for (client.lab.example) [127.0.0.1]: 535 Incorrect authentication data (set_id=alice)
//     H=(client.lab.example) [127.0.0.1] F=<app@qa.example> rejected RCPT <nosuch1@mx1.lab.example>: Unrouteable address

import { stripAngles, tagStarts, type AttemptDetail, type AttemptStatus, type FlowParser, type LogGrammar, type MailFlowSink } from './flow.js';
import { eximDuration } from './reason.js';

/** A field " K=value" of a delivery line (value up to the next space), or undefined. */
function eximField(msg: string, key: string, from: number): string | undefined {
  const i = msg.indexOf(` ${key}=`, from);
  if (i < 0) return undefined;
  const e = msg.indexOf(' ', i + key.length + 2);
  return msg.slice(i + key.length + 2, e < 0 ? msg.length : e);
}

/** Relay, reason and delay of a "=>", "==" or "**" line (after the address). */
function eximDetail(msg: string, from: number, status: AttemptStatus): AttemptDetail {
  const d: AttemptDetail = {};
  const h = msg.indexOf(' H=', from);
  if (h > 0) {
    // "H=127.0.0.4 [127.0.0.4]" or "H=mx.example [192.0.2.1]:25"
    const close = msg.indexOf(']', h);
    const sp = msg.indexOf(' ', h + 3);
    d.relay = close > 0 && close - h < 300 && sp > 0 && msg.charCodeAt(sp + 1) === 91 ? msg.slice(h + 3, close + 1) : msg.slice(h + 3, sp < 0 ? msg.length : sp);
    if (d.relay.endsWith(':')) d.relay = d.relay.slice(0, -1);
  }
  const qt = eximField(msg, 'QT', from);
  if (qt !== undefined) d.delay = eximDuration(qt);
  if (status !== 'sent') {
    // The reason: after "defer (N)" / the T= field, from the first ": ", less the DT= field.
    const t = msg.indexOf(' T=', from);
    const start = status === 'deferred' ? Math.max(msg.indexOf(' defer (', from), t) : t;
    const c = msg.indexOf(': ', start < 0 ? from : start);
    if (c > 0) d.text = msg.slice(c + 2).replace(/ (?:DT|QT)=\S+/g, '');
    else if (start > 0) d.text = msg.slice(start).replace(/ (?:DT|QT)=\S+/g, '');
    if (d.text && /retry timeout exceeded|retry time not reached.*and.*too old|message has been frozen/i.test(d.text) && status === 'failed') d.expired = true;
  }
  return d;
}

/** "plain authenticator failed for (helo) [ip]: 535 ... (set_id=user)": the client as Exim names it
 *  (rDNS name and [ip]; the HELO name in parentheses is the client's own word and is left out). */
function eximAuthFailure(msg: string): { client: string; user?: string } | undefined {
  const f = msg.indexOf(' authenticator failed for ');
  if (f < 0) return undefined;
  const from = f + 26;
  const colon = msg.indexOf(': ', from);
  const who = msg.slice(from, colon < 0 ? msg.length : colon);
  const ip = /\[[^\]]+\](?::\d+)?/.exec(who)?.[0];
  const host = who.split(' ').find((w) => w && !w.startsWith('(') && !w.startsWith('['));
  const client = ip ? (host ? `${host} ${ip}` : ip) : who;
  const id = /\(set_id=([^)]*)\)/.exec(msg)?.[1];
  return { client, user: id };
}

/** "H=... F=<...> rejected RCPT <x>: Unrouteable address": "RCPT: Unrouteable address". */
function eximRejectText(msg: string): string | undefined {
  const m = / rejected ([A-Z]+)(?: <[^>]*>)?: (.*)$/.exec(msg) ?? / rejected (after [A-Z]+|[A-Z]+)[^:]*: (.*)$/.exec(msg);
  return m ? `${m[1]} ${m[2]}` : undefined;
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

class EximFlow implements FlowParser {
  constructor(private readonly sink: MailFlowSink) {}

  line(b: Buffer, _ps: number, _pe: number, msgStart: number, end: number): void {
    const msg = b.toString('latin1', msgStart, end);
    const sp = msg.indexOf(' ');
    if (sp < 16 || msg.charCodeAt(6) !== 45) {
      if (msg.includes(' rejected ')) this.sink.reject(eximRejectText(msg));
      else if (msg.includes(' authenticator failed for ')) {
        const a = eximAuthFailure(msg);
        if (a) this.sink.authFailed?.(a.client, a.user);
      }
      return;
    }
    const a = msg.charCodeAt(sp + 1);
    const c = msg.charCodeAt(sp + 2);
    if (msg.charCodeAt(sp + 3) !== 32) {
      if (msg.includes(' rejected ')) this.sink.reject(eximRejectText(msg));
      return;
    }
    const who = sp + 4;
    const whoEnd = msg.indexOf(' ', who);
    const addr = msg.slice(who, whoEnd < 0 ? msg.length : whoEnd);
    const qid = msg.slice(0, sp);
    if (a === 60 && c === 61) {
      // "<=" arrival; A=mech:user is the SASL account that submitted it.
      const account = eximField(msg, 'A', whoEnd);
      if (account !== undefined) this.sink.account?.(qid, account.slice(account.indexOf(':') + 1));
      this.sink.message(stripAngles(addr), eximClient(msg, whoEnd), qid);
    } else if ((a === 61 || a === 45) && c === 62) {
      this.sink.attempt(stripAngles(addr), 'sent', qid, eximDetail(msg, whoEnd, 'sent')); // "=>" / "->"
    } else if (a === 61 && c === 61) {
      this.sink.attempt(stripAngles(addr), 'deferred', qid, eximDetail(msg, whoEnd, 'deferred')); // "=="
    } else if (a === 42 && c === 42) {
      this.sink.attempt(stripAngles(addr), 'failed', qid, eximDetail(msg, whoEnd, 'failed')); // "**"
    } else if (msg.includes(' rejected ')) this.sink.reject(eximRejectText(msg));
  }
}

export const eximLog: LogGrammar = {
  isTag: (b, s, e) => b[s] === 101 && tagStarts(b, s, e, 'exim'),
  create: (sink) => new EximFlow(sink),
  defaultLogs: ['/var/log/exim4/mainlog'],
  mainlog: true,
};
