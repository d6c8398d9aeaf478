// OpenSMTPD log lines for the flood check. smtpd 6.x logs one event per line, each starting with
// the 16-hex session ID (smtp_session.c, mta.c mta_log, mda.c mda_log, OpenSMTPD 6.8.0p2); the
// message part as it follows "smtpd[pid]: " in syslog (captured on Debian 12):
//
//   b1daa4b2426d24e7 smtp connected address=local host=lab.example
//   b1daa4b2426d24e7 smtp message msgid=47d86046 size=1336 nrcpt=1 proto=ESMTP
//   b1daa4b2426d24e7 smtp envelope evpid=47d860461c4b4ccf from=<app@qa.example> to=<qanotify@lab.example>
//   b1daa4bf01fed919 smtp envelope evpid=3af4c35160f686af from=<> to=<alice@partner.example>
//   b1daa4d0278b363b mda delivery evpid=6faf5b0f729f117d from=<alerts@monitor.lab.example> to=<labmbox@mx1.lab.example> rcpt=<labmbox@mx1.lab.example> user=labmbox delay=0s result=Ok stat=Delivered
//   0000000000000000 mta delivery evpid=3af4c35160f686af from=<> to=<alice@partner.example> rcpt=<-> source="-" relay="127.0.0.1" delay=11s result="TempFail" stat="Network error on destination MXs"
//   1a2b3c4d5e6f7081 smtp failed-command command="RCPT TO:<x@example.org>" result="550 Invalid recipient: <x@example.org>"
//   1a2b3c4d5e6f7081 smtp authentication user=alice result=permfail
// (the authentication line from smtp_session.c's log_info, 6.x; older releases write "smtp
// event=authentication user=..."; not in a capture: the lab's smtpd has no auth table.)
//
// A message is accepted once, at its "smtp message" line, and its envelopes (one per recipient,
// with the sender) follow at once: the message is counted at the first envelope of a new msgid
// (the evpid's first 8 hex digits), with the client of the session's "connected" line. smtpd logs
// no retry of the message itself, only deliveries: "to" is the destination after alias expansion,
// result Ok / TempFail / PermFail (a loop is a PermFail). Bounces smtpd makes itself come in
// through an internal session like any message, with from=<>. Deliveries are counted per
// attempt, as for the other MTAs; mta deliveries on a relay of loopback that succeed are hand-offs
// to a local content filter, not counted.
//
// parseOpensmtpdLine is pure; OpensmtpdFlow keeps the little state counting needs and hands
// MailFlow-shaped events to a sink.

import { tagIs, type AttemptDetail, type LogGrammar } from './flow.js';
import { eximDuration } from './reason.js';
import { RecentMap } from './recent.js';

export type OpensmtpdLogEvent =
  | { kind: 'connect'; session: string; address: string; host: string }
  | { kind: 'message'; session: string; msgid: string; size?: number; nrcpt?: number }
  | { kind: 'envelope'; session: string; msgid: string; evpid: string; sender: string; rcpt: string }
  | {
      kind: 'delivery';
      agent: 'mta' | 'mda';
      msgid: string;
      evpid: string;
      sender: string;
      rcpt: string;
      status: 'sent' | 'deferred' | 'failed' | 'other';
      relay?: string;
      stat?: string;
      delay?: string;
    }
  | { kind: 'reject'; session: string; command: string; code: string; result?: string }
  | { kind: 'auth'; session: string; user: string; ok: boolean }
  | { kind: 'disconnect'; session: string };

const SESSION = /^[0-9a-f]{16}$/;

/** key=value and key="value" fields of one line (values in quotes may hold spaces). */
function field(msg: string, key: string, from: number): string | undefined {
  const k = msg.indexOf(` ${key}=`, from - 1);
  if (k < 0) return undefined;
  let i = k + key.length + 2;
  if (msg.charCodeAt(i) === 34 /* " */) {
    const close = msg.indexOf('" ', i + 1);
    const end = close < 0 ? (msg.endsWith('"') ? msg.length - 1 : msg.length) : close;
    return msg.slice(i + 1, end);
  }
  if (msg.charCodeAt(i) === 60 /* < */) {
    const close = msg.indexOf('> ', i + 1);
    const end = close < 0 ? (msg.endsWith('>') ? msg.length - 1 : msg.length) : close;
    return msg.slice(i + 1, end);
  }
  const sp = msg.indexOf(' ', i);
  return msg.slice(i, sp < 0 ? msg.length : sp);
}

function status(result: string | undefined): 'sent' | 'deferred' | 'failed' | 'other' {
  if (result === 'Ok') return 'sent';
  if (result === 'TempFail') return 'deferred';
  if (result === 'PermFail' || result === 'Loop') return 'failed';
  return 'other';
}

/** One line's message part (after "smtpd[pid]: ") -> its event, or undefined for lines that do not count. */
export function parseOpensmtpdLine(msg: string): OpensmtpdLogEvent | undefined {
  if (msg.length < 24 || msg.charCodeAt(16) !== 32 || !SESSION.test(msg.slice(0, 16))) return undefined;
  const session = msg.slice(0, 16);
  const rest = 17;
  if (msg.startsWith('smtp ', rest)) {
    const what = rest + 5;
    if (msg.startsWith('envelope ', what)) {
      const evpid = field(msg, 'evpid', what);
      const sender = field(msg, 'from', what);
      const rcpt = field(msg, 'to', what);
      if (!evpid || sender === undefined || rcpt === undefined) return undefined;
      return { kind: 'envelope', session, msgid: evpid.slice(0, 8), evpid, sender, rcpt };
    }
    if (msg.startsWith('message ', what)) {
      const msgid = field(msg, 'msgid', what);
      if (!msgid) return undefined;
      const size = Number.parseInt(field(msg, 'size', what) ?? '', 10);
      const nrcpt = Number.parseInt(field(msg, 'nrcpt', what) ?? '', 10);
      return { kind: 'message', session, msgid, size: Number.isFinite(size) ? size : undefined, nrcpt: Number.isFinite(nrcpt) ? nrcpt : undefined };
    }
    if (msg.startsWith('connected ', what)) {
      return { kind: 'connect', session, address: field(msg, 'address', what) ?? '', host: field(msg, 'host', what) ?? '' };
    }
    if (msg.startsWith('failed-command ', what)) {
      const result = field(msg, 'result', what) ?? '';
      // A 4xx or 5xx reply to a client's command: what Postfix logs as "reject:".
      if (!/^[45]\d\d/.test(result)) return undefined;
      return { kind: 'reject', session, command: field(msg, 'command', what) ?? '', code: result.slice(0, 3), result };
    }
    if (msg.startsWith('authentication ', what) || msg.startsWith('event=authentication ', what)) {
      const result = field(msg, 'result', what);
      if (result === undefined) return undefined;
      return { kind: 'auth', session, user: field(msg, 'user', what) ?? '', ok: result === 'ok' };
    }
    if (msg.startsWith('disconnected', what)) return { kind: 'disconnect', session };
    return undefined;
  }
  const agent = msg.startsWith('mta delivery ', rest) ? 'mta' : msg.startsWith('mda delivery ', rest) ? 'mda' : undefined;
  if (!agent) return undefined;
  const what = rest + 13;
  const evpid = field(msg, 'evpid', what);
  const sender = field(msg, 'from', what);
  const rcpt = field(msg, 'to', what);
  if (!evpid || sender === undefined || rcpt === undefined) return undefined;
  const ev: OpensmtpdLogEvent = {
    kind: 'delivery',
    agent,
    msgid: evpid.slice(0, 8),
    evpid,
    sender,
    rcpt,
    status: status(field(msg, 'result', what)),
  };
  const relay = agent === 'mta' ? field(msg, 'relay', what) : undefined;
  if (relay !== undefined) ev.relay = relay;
  const stat = field(msg, 'stat', what);
  if (stat !== undefined) ev.stat = stat;
  const delay = field(msg, 'delay', what);
  if (delay !== undefined) ev.delay = delay;
  return ev;
}

/** What MailFlow does with each event (lib/log/mailflow.ts message()/attempt()/rejects). */
export interface FlowSink {
  /** A new message: sender '' is the null sender; client as "host [address]" or "local". */
  message(sender: string, client: string | undefined, qid: string): void;
  attempt(rcpt: string, status: 'sent' | 'deferred' | 'failed' | 'other', qid: string, detail?: AttemptDetail): void;
  reject(reason?: string): void;
  authFailed?(client: string, user?: string): void;
}

/** "127.0.0.3 (127.0.0.3)" -> "127.0.0.3"; "mx.example (192.0.2.1)" stays. */
function relayName(r: string): string {
  const m = /^(\S+) \((\S+)\)$/.exec(r);
  return m && m[1] === m[2] ? m[1] : r;
}


function isLoopbackRelay(relay: string): boolean {
  return /^(127\.|::1$|\[::1\]|localhost)/.test(relay);
}

/** Turns OpenSMTPD lines into MailFlow events: each message once, each delivery attempt once. */
export class OpensmtpdFlow {
  private readonly clientOf = new RecentMap<string>(10_000);
  private readonly counted = new RecentMap<true>(200_000);
  constructor(private readonly sink: FlowSink) {}

  line(msg: string): void {
    const e = parseOpensmtpdLine(msg);
    if (!e) return;
    switch (e.kind) {
      case 'connect':
        this.clientOf.set(e.session, e.address === 'local' ? 'local' : e.host && e.host !== e.address ? `${e.host} [${e.address}]` : `[${e.address}]`);
        return;
      case 'disconnect':
        this.clientOf.delete(e.session);
        return;
      case 'envelope':
        if (this.counted.has(e.msgid)) return;
        this.counted.set(e.msgid, true);
        this.sink.message(e.sender, this.clientOf.get(e.session), e.msgid);
        return;
      case 'delivery':
        // A local content filter on loopback takes the message and reinjects it: not an attempt.
        if (e.agent === 'mta' && e.status === 'sent' && e.relay !== undefined && isLoopbackRelay(e.relay)) return;
        {
          const detail: AttemptDetail = {};
          if (e.relay !== undefined) detail.relay = relayName(e.relay);
          if (e.status !== 'sent' && e.stat !== undefined) detail.text = e.stat;
          if (e.delay !== undefined) detail.delay = eximDuration(e.delay);
          this.sink.attempt(e.rcpt, e.status, e.msgid, detail);
        }
        return;
      case 'reject':
        this.sink.reject(`${e.command.split(/[ :]/)[0]} ${e.result ?? e.code}`);
        return;
      case 'auth':
        if (!e.ok) this.sink.authFailed?.(this.clientOf.get(e.session) ?? `session ${e.session}`, e.user);
        return;
      default:
        return;
    }
  }
}

/** OpenSMTPD's row in the log grammar registry (lib/mta/index.ts): its lines carry the tag smtpd. */
export const opensmtpdLog: LogGrammar = {
  isTag: (b, s, e) => b[s] === 115 && tagIs(b, s, e, 'smtpd'),
  create(sink) {
    const flow = new OpensmtpdFlow(sink);
    return { line: (b, _ps, _pe, msgStart, end) => flow.line(b.toString('latin1', msgStart, end)) };
  },
  defaultLogs: ['/var/log/mail.log', '/var/log/maillog'],
};
