// A realistic mail log, for tests (scenario and flood replays with known counts) and for the
// benchmark (hundreds of MB). Lines are written the way the real MTAs write them (see the captures
// in test/fixtures/mta/*/log/): Postfix through syslog (RFC 3164, or rsyslog's ISO 8601), Exim's
// mainlog, Sendmail through rsyslog. Deterministic for a seed.
//
//   const g = new MaillogGenerator({ mta: 'postfix', start: 1795400000, seed: 1 });
//   g.normal(100, 60);                 // 100 ordinary messages over 60 s
//   g.flood(5000, 300);                // incident 000: one application mails one alias
//   g.bounceStorm(3000, 300);          // incident 002: backscatter, null sender, many clients
//   g.scannerLoop(20000, 300);         // incident 003: clamd prints one bogus error in a loop
//   fs.writeFileSync(file, g.take());  // the text so far; g.truth says what is in it

import fs from 'node:fs';
import { rng } from './model.js';

export type LogMta = 'postfix' | 'exim' | 'sendmail';

export interface MaillogOptions {
  mta?: LogMta;
  /** Epoch seconds of the first line. */
  start: number;
  seed?: number;
  host?: string;
  /** Syslog timestamp style for Postfix/Sendmail: 'rfc3164' (Nov 23 11:11:03) or 'iso' (rsyslog high precision). */
  stamp?: 'rfc3164' | 'iso';
}

/** What the generated text contains: the counts a reader must find. */
export interface MaillogTruth {
  lines: number;
  bytes: number;
  messages: number;
  bounces: number;
  deferrals: number;
  failures: number;
  rejects: number;
  deliveries: number;
  senders: Record<string, number>;
  recipients: Record<string, number>;
  clients: Record<string, number>;
  /** Lines per template kind (the generator's own names). */
  kinds: Record<string, number>;
}

export const FLOOD = {
  sender: 'spocskulker@qa-app-07.qa.example',
  recipient: 'qanotify@lab.example',
  clientHost: 'qa-app-07.qa.example',
  clientIp: '10.20.30.47',
};

export const SCANNER_LINE = 'ERROR: accept() failed: Loaded 362916 signatures.';
/** What Exim's mainlog shows while its scanner is broken (clamd itself logs through syslog). */
export const EXIM_SCANNER_LINE = 'malware acl condition: clamd /var/run/clamav/clamd.ctl : unable to read from socket (Connection reset by peer)';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DOMAINS = ['example.net', 'example.org', 'customer.example', 'partner.example', 'corp.example', 'shop.example'];
const SENDERS = ['billing@shop.example', 'alerts@monitor.lab.example', 'jenkins@ci.example', 'hr@corp.example', 'support@help.example', 'newsletter@news.example'];
const CLIENTS: [string, string][] = [
  ['app1.corp.example', '10.0.0.12'],
  ['app2.corp.example', '10.0.0.13'],
  ['mail-gw.partner.example', '198.51.100.25'],
  ['unknown', '203.0.113.77'],
];
const ALPHA = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export class MaillogGenerator {
  readonly mta: LogMta;
  readonly host: string;
  readonly truth: MaillogTruth = {
    lines: 0,
    bytes: 0,
    messages: 0,
    bounces: 0,
    deferrals: 0,
    failures: 0,
    rejects: 0,
    deliveries: 0,
    senders: {},
    recipients: {},
    clients: {},
    kinds: {},
  };
  /** Epoch seconds of the next line. */
  t: number;
  private readonly random: () => number;
  private readonly stamp: 'rfc3164' | 'iso';
  private out: string[] = [];
  private seq = 0;
  private pid = 2000;
  private stampCache = { sec: -1, text: '' };

  constructor(o: MaillogOptions) {
    this.mta = o.mta ?? 'postfix';
    this.t = o.start;
    this.host = o.host ?? 'mx1';
    this.random = rng(o.seed ?? 1);
    this.stamp = o.stamp ?? (this.mta === 'sendmail' ? 'iso' : 'rfc3164');
  }

  /** The text generated since the last take(). */
  take(): string {
    const s = this.out.join('');
    this.out = [];
    return s;
  }

  // ---- building blocks ----

  private pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.random() * a.length)];
  }

  private count(map: Record<string, number>, k: string, n = 1): void {
    map[k] = (map[k] ?? 0) + n;
  }

  private timeText(): string {
    const sec = Math.floor(this.t);
    if (this.stamp === 'iso' && this.mta !== 'exim') {
      const d = new Date(this.t * 1000);
      const us = pad(Math.floor((this.t % 1) * 1e6), 6);
      return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${us}+00:00`;
    }
    if (this.stampCache.sec === sec) return this.stampCache.text;
    const d = new Date(sec * 1000);
    const text =
      this.mta === 'exim'
        ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
        : `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    this.stampCache = { sec, text };
    return text;
  }

  /** One line: syslog "stamp host tag[pid]: msg" or Exim "stamp msg". */
  private emit(kind: string, tag: string | undefined, msg: string): void {
    const line = tag === undefined ? `${this.timeText()} ${msg}\n` : `${this.timeText()} ${this.host} ${tag}: ${msg}\n`;
    this.out.push(line);
    this.truth.lines++;
    this.truth.bytes += Buffer.byteLength(line);
    this.count(this.truth.kinds, kind);
  }

  private queueId(): string {
    const n = this.seq++;
    const r = Math.floor(this.random() * 0xfffff);
    if (this.mta === 'postfix') return (((n * 7919) % 0xfffff) * 0x100000 + r).toString(16).toUpperCase().padStart(11, '0').slice(-11);
    if (this.mta === 'sendmail') {
      let s = '6ANB';
      for (let i = 0; i < 4; i++) s += ALPHA[Math.floor(this.random() * 62)];
      return s + pad(n % 1000000, 6);
    }
    const b62 = (x: number, w: number) => {
      let s = '';
      for (let i = 0; i < w; i++) {
        s = ALPHA[x % 62] + s;
        x = Math.floor(x / 62);
      }
      return s;
    };
    return `${b62(Math.floor(this.t), 6)}-${b62(n * 13 + r, 6)}-${b62(r, 2)}`;
  }

  private nextPid(): number {
    this.pid = 2000 + ((this.pid * 48271) % 30000);
    return this.pid;
  }

  /** One message through the MTA: arrival, then one delivery attempt per recipient. */
  message(m: { sender: string; recipients: string[]; client?: [string, string]; status: 'sent' | 'deferred' | 'bounced'; kind: string }): void {
    const qid = this.queueId();
    const size = 800 + Math.floor(this.random() * 20000);
    const client = m.client ?? this.pick(CLIENTS);
    const clientKey = this.mta === 'postfix' ? `${client[0]}[${client[1]}]` : `${client[0]} [${client[1]}]`;
    const tr = this.truth;
    tr.messages++;
    this.count(tr.senders, m.sender || '<>');
    if (!m.sender) tr.bounces++;
    this.count(tr.clients, clientKey);
    const msgid = `${Math.floor(this.t)}.${qid}@${client[0] === 'unknown' ? 'mail.example' : client[0]}`;
    const smtpd = `postfix/smtpd[${this.nextPid()}]`;
    if (this.mta === 'postfix') {
      this.emit(`${m.kind}:connect`, smtpd, `connect from ${client[0]}[${client[1]}]`);
      this.emit(`${m.kind}:client`, smtpd, `${qid}: client=${client[0]}[${client[1]}]`);
      this.emit(`${m.kind}:cleanup`, `postfix/cleanup[${this.nextPid()}]`, `${qid}: message-id=<${msgid}>`);
      this.emit(`${m.kind}:qmgr`, `postfix/qmgr[1187]`, `${qid}: from=<${m.sender}>, size=${size}, nrcpt=${m.recipients.length} (queue active)`);
      this.emit(`${m.kind}:disconnect`, smtpd, `disconnect from ${client[0]}[${client[1]}] ehlo=1 mail=1 rcpt=${m.recipients.length} data=1 quit=1 commands=5`);
      const agent = `postfix/smtp[${this.nextPid()}]`;
      for (const r of m.recipients) {
        const d = (0.1 + this.random() * 2).toFixed(2);
        const status =
          m.status === 'sent'
            ? `dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ${this.queueId()})`
            : m.status === 'deferred'
              ? `dsn=4.4.1, status=deferred (connect to mx.${r.split('@')[1]}[192.0.2.9]:25: Connection timed out)`
              : `dsn=5.1.1, status=bounced (host mx.${r.split('@')[1]}[192.0.2.9] said: 550 5.1.1 <${r}>: Recipient address rejected: User unknown (in reply to RCPT TO command))`;
        this.emit(`${m.kind}:delivery`, agent, `${qid}: to=<${r}>, relay=mx.${r.split('@')[1]}[192.0.2.9]:25, delay=${d}, delays=0.02/0.01/${d}/0.05, ${status}`);
        this.attempt(r, m.status);
      }
      if (m.status !== 'deferred') this.emit(`${m.kind}:removed`, `postfix/qmgr[1187]`, `${qid}: removed`);
    } else if (this.mta === 'sendmail') {
      const tag = `sm-mta[${this.nextPid()}]`;
      this.emit(
        `${m.kind}:from`,
        tag,
        `${qid}: from=<${m.sender}>, size=${size}, class=0, nrcpts=${m.recipients.length}, msgid=<${msgid}>, proto=ESMTP, daemon=MTA-v4, relay=${client[0]} [${client[1]}]`,
      );
      const status =
        m.status === 'sent'
          ? 'dsn=2.0.0, stat=Sent (Ok: queued as 4jY3D06MmczBynC)'
          : m.status === 'deferred'
            ? 'dsn=4.0.0, stat=Deferred: Connection timed out with mx.example.net.'
            : 'dsn=5.1.1, stat=User unknown';
      this.emit(
        `${m.kind}:to`,
        `sm-mta[${this.nextPid()}]`,
        `${qid}: to=${m.recipients.map((r) => `<${r}>`).join(',')}, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=${30000 + size}, relay=mx.example.net. [192.0.2.9], ${status}`,
      );
      for (const r of m.recipients) this.attempt(r, m.status);
    } else {
      this.emit(`${m.kind}:arrival`, undefined, `${qid} <= ${m.sender || '<>'} H=${client[0]} [${client[1]}] P=esmtp S=${size} id=${msgid}`);
      for (const r of m.recipients) {
        if (m.status === 'sent') this.emit(`${m.kind}:delivery`, undefined, `${qid} => ${r} R=dnslookup T=remote_smtp H=mx.example.net [192.0.2.9] C="250 2.0.0 Ok: queued as 4jY3D06MmczBynC"`);
        else if (m.status === 'deferred') this.emit(`${m.kind}:defer`, undefined, `${qid} == ${r} R=dnslookup T=remote_smtp defer (110): Connection timed out`);
        else this.emit(`${m.kind}:fail`, undefined, `${qid} ** ${r} R=dnslookup T=remote_smtp H=mx.example.net [192.0.2.9]: SMTP error from remote mail server after RCPT TO:<${r}>: 550 5.1.1 User unknown`);
        this.attempt(r, m.status);
      }
      if (m.status !== 'deferred') this.emit(`${m.kind}:completed`, undefined, `${qid} Completed`);
    }
  }

  private attempt(r: string, status: 'sent' | 'deferred' | 'bounced'): void {
    const tr = this.truth;
    tr.deliveries++;
    this.count(tr.recipients, r.toLowerCase());
    if (status === 'deferred') tr.deferrals++;
    if (status === 'bounced') tr.failures++;
  }

  /** A rejected RCPT: Postfix NOQUEUE, Exim "rejected RCPT", Sendmail ruleset reject. */
  reject(kind: string, client: [string, string], sender: string, rcpt: string): void {
    this.truth.rejects++;
    if (this.mta === 'postfix')
      this.emit(
        kind,
        `postfix/smtpd[${this.nextPid()}]`,
        `NOQUEUE: reject: RCPT from ${client[0]}[${client[1]}]: 550 5.1.1 <${rcpt}>: Recipient address rejected: User unknown in virtual mailbox table; from=<${sender}> to=<${rcpt}> proto=ESMTP helo=<${client[0]}>`,
      );
    else if (this.mta === 'exim') this.emit(kind, undefined, `H=${client[0]} [${client[1]}] F=<${sender}> rejected RCPT <${rcpt}>: Unrouteable address`);
    else this.emit(kind, `sm-mta[${this.nextPid()}]`, `${this.queueId()}: ruleset=check_rcpt, arg1=<${rcpt}>, relay=${client[0]} [${client[1]}], reject=550 5.1.1 <${rcpt}>... User unknown`);
  }

  /** Spread n events evenly over `seconds`, advancing the clock. */
  private spread(n: number, seconds: number, each: (i: number) => void): void {
    const dt = n > 0 ? seconds / n : 0;
    for (let i = 0; i < n; i++) {
      each(i);
      this.t += dt;
    }
  }

  // ---- scenarios ----

  /** Ordinary mail: a few senders, 1 to 3 recipients, mostly delivered, a few deferred, rare bounces. */
  normal(n: number, seconds: number): this {
    this.spread(n, seconds, () => {
      const x = this.random();
      const k = 1 + Math.floor(this.random() * 3);
      const recipients = Array.from({ length: k }, () => `user${Math.floor(this.random() * 3000)}@${this.pick(DOMAINS)}`);
      this.message({ sender: this.pick(SENDERS), recipients, status: x < 0.9 ? 'sent' : x < 0.98 ? 'deferred' : 'bounced', kind: 'normal' });
      if (this.random() < 0.05) this.emitNoise();
    });
    return this;
  }

  /** Incident 000: one application on one server mails one alias, over and over; the relay defers. */
  flood(n: number, seconds: number): this {
    this.spread(n, seconds, () =>
      this.message({ sender: FLOOD.sender, recipients: [FLOOD.recipient], client: [FLOOD.clientHost, FLOOD.clientIp], status: 'deferred', kind: 'flood' }),
    );
    return this;
  }

  /** Incident 002: backscatter; bounces (null sender) to random forged addresses in our domain, from many relays. */
  bounceStorm(n: number, seconds: number): this {
    this.spread(n, seconds, () => {
      const client: [string, string] = [`mx${Math.floor(this.random() * 40)}.isp${Math.floor(this.random() * 9)}.example`, `198.51.100.${1 + Math.floor(this.random() * 250)}`];
      const rcpt = `${Math.floor(this.random() * 1e9).toString(36)}@lab.example`;
      if (this.random() < 0.25) this.reject('bounce:reject', client, '', rcpt);
      else this.message({ sender: '', recipients: [rcpt], client, status: 'sent', kind: 'bounce' });
    });
    return this;
  }

  /** Incident 003: a virus scanner prints the same bogus error in a tight loop. */
  scannerLoop(n: number, seconds: number, pid = 2212): this {
    this.spread(n, seconds, () =>
      this.mta === 'exim' ? this.emit('scanner', undefined, `${this.queueId()} ${EXIM_SCANNER_LINE}`) : this.emit('scanner', `clamd[${pid}]`, SCANNER_LINE),
    );
    return this;
  }

  /** Lines that are not mail flow: TLS, anvil statistics, warnings. */
  private emitNoise(): void {
    const x = this.random();
    if (this.mta === 'postfix') {
      if (x < 0.5) this.emit('noise:tls', `postfix/smtpd[${this.nextPid()}]`, `Anonymous TLS connection established from ${this.pick(CLIENTS)[0]}[${this.pick(CLIENTS)[1]}]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`);
      else this.emit('noise:warning', `postfix/smtpd[${this.nextPid()}]`, `warning: hostname ${this.pick(CLIENTS)[0]} does not resolve to address ${this.pick(CLIENTS)[1]}`);
    } else if (this.mta === 'exim') this.emit('noise:tls', undefined, `TLS error on connection from ${this.pick(CLIENTS)[0]} [${this.pick(CLIENTS)[1]}] (SSL_accept): error:0A000126:SSL routines::unexpected eof while reading`);
    else this.emit('noise:starttls', `sm-mta[${this.nextPid()}]`, `STARTTLS=server, relay=${this.pick(CLIENTS)[0]} [${this.pick(CLIENTS)[1]}], version=TLSv1.3, verify=NO, cipher=TLS_AES_256_GCM_SHA384, bits=256/256`);
  }
}

/**
 * Write a log of about `bytes` bytes: ordinary traffic with a flood, a bounce storm and a scanner
 * loop mixed in (as the benchmark wants: every code path of the reader is exercised), ~1 message/s.
 */
export function writeMaillog(file: string, bytes: number, o: Partial<MaillogOptions> = {}): MaillogTruth {
  const g = new MaillogGenerator({ start: o.start ?? 1795400000, seed: o.seed ?? 1, mta: o.mta ?? 'postfix', host: o.host, stamp: o.stamp });
  const fd = fs.openSync(file, 'w');
  try {
    let round = 0;
    while (g.truth.bytes < bytes) {
      g.normal(600, 600);
      if (round % 4 === 1) g.flood(300, 300);
      if (round % 4 === 2) g.bounceStorm(300, 300);
      if (round % 4 === 3) g.scannerLoop(1500, 60);
      fs.writeSync(fd, g.take());
      round++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return g.truth;
}

// `node dist/tools/maillog.js FILE SIZE_MB [postfix|exim|sendmail]` when bundled on its own.
if (process.argv[1] && /gen[/\\]maillog\.[jt]s$/.test(process.argv[1])) {
  const [file, mb, mta] = process.argv.slice(2);
  if (!file || !mb) {
    process.stderr.write('usage: maillog FILE SIZE_MB [postfix|exim|sendmail]\n');
    process.exit(2);
  }
  const t = writeMaillog(file, Number(mb) * 1024 * 1024, { mta: (mta as LogMta) ?? 'postfix' });
  process.stdout.write(`${file}: ${t.lines} lines, ${t.bytes} bytes, ${t.messages} messages\n`);
}
