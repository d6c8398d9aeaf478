// Exim's log lines for the mail flow: "<=" once per message, "=>"/"->" deliveries, "==" deferrals,
// "**" failures; in its own mainlog (no syslog tag) or through syslog (tag exim, exim4).
//     1xVRxS-0002CF-23 <= app@qa.example U=root P=local S=1337 id=capture.exim.1795432298.1@mx1.lab.example
//     1xVRxS-0002Cs-2F == qanotify@lab.example R=smarthost T=remote_smtp_smarthost defer (111): Connection refused

import { stripAngles, tagStarts, type FlowParser, type LogGrammar, type MailFlowSink } from './flow.js';

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
      if (msg.includes(' rejected ')) this.sink.reject();
      return;
    }
    const a = msg.charCodeAt(sp + 1);
    const c = msg.charCodeAt(sp + 2);
    if (msg.charCodeAt(sp + 3) !== 32) {
      if (msg.includes(' rejected ')) this.sink.reject();
      return;
    }
    const who = sp + 4;
    const whoEnd = msg.indexOf(' ', who);
    const addr = msg.slice(who, whoEnd < 0 ? msg.length : whoEnd);
    const qid = msg.slice(0, sp);
    if (a === 60 && c === 61) {
      // "<=" arrival
      this.sink.message(stripAngles(addr), eximClient(msg, whoEnd), qid);
    } else if ((a === 61 || a === 45) && c === 62) {
      this.sink.attempt(stripAngles(addr), 'sent', qid); // "=>" / "->"
    } else if (a === 61 && c === 61) {
      this.sink.attempt(stripAngles(addr), 'deferred', qid); // "=="
    } else if (a === 42 && c === 42) {
      this.sink.attempt(stripAngles(addr), 'failed', qid); // "**"
    } else if (msg.includes(' rejected ')) this.sink.reject();
  }
}

export const eximLog: LogGrammar = {
  isTag: (b, s, e) => b[s] === 101 && tagStarts(b, s, e, 'exim'),
  create: (sink) => new EximFlow(sink),
  defaultLogs: ['/var/log/exim4/mainlog'],
  mainlog: true,
};
