// Mail flow from the real MTAs' own logs (captured with the spool fixtures) must match what the
// capture script submitted, and from generated logs must match the generator's own truth.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FloodAnalyser } from '../../lib/log/flood.js';
import { LineSplitter } from '../../lib/log/lines.js';
import { MailFlow } from '../../lib/log/mailflow.js';
import { MaillogGenerator, type LogMta } from '../../bench/gen/maillog.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { MTA_NAMES } from '../../lib/mta/index.js';
import type { MtaName } from '../../lib/mta/types.js';


function analyse(text: Buffer | string, nowSec = Date.UTC(2026, 10, 23, 12) / 1000) {
  const a = new FloodAnalyser(nowSec);
  const sp = new LineSplitter(a.handler);
  sp.push(typeof text === 'string' ? Buffer.from(text) : text);
  sp.finish();
  a.endChunk();
  return a.stats(50);
}

interface Submitted {
  from: string;
  to: string[];
  queueHint: string;
  generatedBy?: string;
}

const recipientsOf = (ms: Submitted[]) => ms.reduce((n, m) => n + m.to.length, 0);

/** What each MTA's captured log says, read off the log text and the capture's manifest only (never the
 *  parser): the messages it logged, its deferred attempts by its own wording, and the recipients every
 *  one of which was tried and deferred at least once. One row per MTA: a new one is a compile error here. */
interface LogOracle {
  file: string;
  logged(submitted: Submitted[]): Submitted[];
  deferredLines(raw: string, submitted: Submitted[]): number;
  deferredAtLeast(logged: Submitted[]): number;
}
const lines = (raw: string, re: RegExp) => raw.split('\n').filter((l) => re.test(l));
const LOG_ORACLES: Record<MtaName, LogOracle> = {
  // Postfix's maildrop messages were never picked up (pickup disabled): they are not in its log.
  postfix: {
    file: 'postfix.log',
    logged: (sub) => sub.filter((m) => m.queueHint !== 'maildrop'),
    deferredLines: (raw) => lines(raw, /status=deferred/).length,
    deferredAtLeast: recipientsOf,
  },
  exim: { file: 'mainlog', logged: (sub) => sub, deferredLines: (raw) => lines(raw, / == /).length, deferredAtLeast: recipientsOf },
  // One stat=Deferred line lists every recipient it was for: to=a,b.
  sendmail: {
    file: 'mail.log',
    logged: (sub) => sub,
    deferredLines: (raw) => lines(raw, /stat=Deferred/).reduce((n, l) => n + /to=([^ ]*), /.exec(l)![1].split(',').length, 0),
    deferredAtLeast: recipientsOf,
  },
  // nullmailer logs one "From: <s> to: <a>, <b>" per attempt; the messages that went to failed/ were
  // tried once and failed, every other attempt deferred (the relay port is closed).
  nullmailer: {
    file: 'nullmailer.log',
    logged: (sub) => sub,
    deferredLines: (raw, sub) =>
      lines(raw, /: From: <[^>]*> to: /).reduce((n, l) => n + l.slice(l.indexOf(' to: ')).split(',').length, 0) -
      recipientsOf(sub.filter((m) => m.queueHint === 'failed')),
    deferredAtLeast: (logged) => recipientsOf(logged.filter((m) => m.queueHint !== 'failed')),
  },
  // The offline/ messages were never seen by a running smtpd; the refused one came back as smtpd's own
  // bounce (a null-sender message to its sender); one recipient of the partial message was delivered.
  opensmtpd: {
    file: 'mail.log',
    logged: (sub) => [
      ...sub.filter((m) => m.queueHint !== 'offline'),
      ...sub.filter((m) => m.queueHint === 'bounced').map((m) => ({ from: '', to: [m.from], queueHint: 'bounce' })),
    ],
    deferredLines: (raw) => lines(raw, /result="TempFail"/).length,
    // (the refused and its bounce were not deferred; each partial message had one recipient delivered)
    deferredAtLeast: (logged) => recipientsOf(logged.filter((m) => m.queueHint !== 'bounced' && m.queueHint !== 'bounce')) - logged.filter((m) => m.queueHint === 'partial').length,
  },
};

describe('real MTA logs: counts match what was submitted', () => {
  const cases = fixtureCases();
  it('has a log for each MTA', () => {
    expect(new Set(cases.filter((c) => fs.existsSync(path.join(c.dir, 'log', LOG_ORACLES[c.mta].file))).map((c) => c.mta))).toEqual(new Set(MTA_NAMES));
  });

  for (const c of cases) {
    it(`${c.name}: messages, bounces, senders, recipients and deferrals`, () => {
      const oracle = LOG_ORACLES[c.mta];
      const text = fs.readFileSync(path.join(c.dir, 'log', oracle.file));
      const s = analyse(text);
      const manifest = JSON.parse(fs.readFileSync(path.join(c.dir, 'manifest.json'), 'utf8')) as { submitted: Submitted[] };
      const logged = oracle.logged(manifest.submitted);
      expect(s.messages).toBe(logged.length);
      expect(s.bounces).toBe(logged.filter((m) => m.from === '').length);
      const senders = new Map<string, number>();
      for (const m of logged) senders.set(m.from || '<>', (senders.get(m.from || '<>') ?? 0) + 1);
      expect(Object.fromEntries(s.senders.map((e) => [e.key, e.count]))).toEqual(Object.fromEntries(senders));
      // Every recipient was attempted and deferred (the relay port is closed); a second queue run
      // retries some: count the MTA's own deferral lines independently of the parser.
      expect(s.deferrals).toBe(oracle.deferredLines(text.toString('latin1'), manifest.submitted));
      expect(s.deferrals).toBeGreaterThanOrEqual(oracle.deferredAtLeast(logged));
      const top = s.recipients[0];
      expect(top.key).toBe('qanotify@lab.example');
      expect(s.senders[0].key).toBe('app@qa.example');
      expect(s.unrecognised).toBeLessThanOrEqual(1); // Exim's certificate warning continuation line
    });
  }
});

describe('counting each message once', () => {
  it('Postfix: a retried message (qmgr from= without a new cleanup line) is not counted again', () => {
    const f = new MailFlow();
    f.lineText('postfix', 'postfix/cleanup', 'ABC123DEF: message-id=<1@x>');
    f.lineText('postfix', 'postfix/qmgr', 'ABC123DEF: from=<app@qa.example>, size=100, nrcpt=1 (queue active)');
    f.lineText('postfix', 'postfix/smtp', 'ABC123DEF: to=<a@b.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (refused)');
    // 5 minutes later: the retry.
    f.lineText('postfix', 'postfix/qmgr', 'ABC123DEF: from=<app@qa.example>, size=100, nrcpt=1 (queue active)');
    f.lineText('postfix', 'postfix/smtp', 'ABC123DEF: to=<a@b.example>, relay=none, delay=301, dsn=4.4.1, status=deferred (refused)');
    expect([f.messages, f.deliveries, f.deferrals]).toEqual([1, 2, 2]);
    expect(f.senders.top(1)).toEqual([{ key: 'app@qa.example', count: 1 }]);
  });

  it('Postfix: a content filter hand-off on loopback is not a delivery attempt; the real delivery is', () => {
    const f = new MailFlow();
    f.lineText('postfix', 'postfix/smtp', 'AAA111: to=<u@x.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, dsn=2.0.0, status=sent (250 2.0.0 Ok, id=1, from MTA([127.0.0.1]:10025): 250 2.0.0 Ok: queued as BBB222)');
    f.lineText('postfix', 'postfix/lmtp', 'BBB222: to=<u@x.example>, relay=mail.x.example[private/dovecot-lmtp], delay=0.1, dsn=2.0.0, status=sent (250 2.0.0 <u@x.example> Saved)');
    f.lineText('postfix', 'postfix/smtp', 'CCC333: to=<v@y.example>, relay=mx.y.example[192.0.2.9]:25, delay=3, dsn=5.1.1, status=bounced (host said: 550 5.1.1 User unknown)');
    expect([f.deliveries, f.failures]).toEqual([2, 1]);
  });

  it('Sendmail: a message through the MSP then the MTA (same msgid) counts once; the hand-off is not an attempt', () => {
    const f = new MailFlow();
    f.lineText('sendmail', 'sendmail', '6ANBC1Nc011656: from=app@qa.example, size=1168, class=0, nrcpts=1, msgid=<m1@x>, relay=root@localhost');
    f.lineText('sendmail', 'sm-mta', '6ANBC1gu011657: from=<app@qa.example>, size=1322, class=0, nrcpts=1, msgid=<m1@x>, proto=ESMTP, daemon=MTA-v4, relay=mx1.lab.example [127.0.0.1]');
    f.lineText('sendmail', 'sm-mta', '6ANBC1gu011657: to=<qanotify@lab.example>, delay=00:00:00, mailer=relay, relay=[127.0.0.2] [127.0.0.2], dsn=4.4.1, stat=Deferred: Connection refused by [127.0.0.2]');
    f.lineText('sendmail', 'sendmail', '6ANBC1Nc011656: to=qanotify@lab.example, ctladdr=app@qa.example (0/0), delay=00:00:00, mailer=relay, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, stat=Sent (6ANBC1gu011657 Message accepted for delivery)');
    f.lineText('sendmail', 'sm-mta', 'k8JBXs9B012345: k8JBXs9C012346: DSN: User unknown');
    expect([f.messages, f.bounces, f.deliveries, f.deferrals]).toEqual([2, 1, 1, 1]);
  });

  it('Exim: arrivals, deliveries, deferrals, failures and rejects; client from H= or U=', () => {
    const f = new MailFlow();
    f.lineText('exim', '', '1xVRxS-0002CF-23 <= <> H=mx3.isp.example (helo.isp.example) [198.51.100.3]:25 P=esmtp S=2632');
    f.lineText('exim', '', '1xVRxS-0002CS-26 <= app@qa.example U=root P=local S=1337');
    f.lineText('exim', '', '1xVRxS-0002CF-23 => x1@lab.example R=local_user T=mail_spool');
    f.lineText('exim', '', '1xVRxS-0002CF-23 -> x2@lab.example R=local_user T=mail_spool');
    f.lineText('exim', '', '1xVRxS-0002CS-26 == y@far.example R=dnslookup T=remote_smtp defer (-44): SMTP error');
    f.lineText('exim', '', '1xVRxS-0002CS-26 ** z@far.example R=dnslookup T=remote_smtp: 550 User unknown');
    f.lineText('exim', '', 'H=mx3.isp.example [198.51.100.3] F=<> rejected RCPT <nobody@lab.example>: Unrouteable address');
    expect([f.messages, f.bounces, f.deliveries, f.deferrals, f.failures, f.rejects]).toEqual([2, 1, 4, 1, 1, 1]);
    expect(f.clients.top(5).map((e) => e.key).sort()).toEqual(['local U=root', 'mx3.isp.example [198.51.100.3]']);
  });
});

describe('generated logs: the analyser finds exactly what the generator wrote', () => {
  for (const mta of ['postfix', 'exim', 'sendmail'] as LogMta[]) {
    it(`${mta}: normal traffic, a sender flood, a bounce storm and a scanner loop`, () => {
      const g = new MaillogGenerator({ mta, start: Date.UTC(2026, 10, 23, 8) / 1000, seed: 7 });
      g.normal(400, 600).flood(300, 300).bounceStorm(200, 300).scannerLoop(500, 60);
      const s = analyse(g.take());
      const t = g.truth;
      expect(s.lines).toBe(t.lines);
      expect(s.unrecognised).toBe(0);
      expect({ m: s.messages, b: s.bounces, d: s.deliveries, def: s.deferrals, f: s.failures, r: s.rejects }).toEqual({
        m: t.messages,
        b: t.bounces,
        d: t.deliveries,
        def: t.deferrals,
        f: t.failures,
        r: t.rejects,
      });
      const top = (m: Record<string, number>) => Object.entries(m).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
      expect([s.senders[0].key, s.senders[0].count]).toEqual(top(t.senders));
      expect([s.recipients[0].key, s.recipients[0].count]).toEqual(top(t.recipients));
      expect([s.clients[0].key, s.clients[0].count]).toEqual(top(t.clients));
      const scanner = mta === 'exim' ? '<qid> malware acl condition: clamd /var/run/clamav/clamd.ctl : unable to read from socket (Connection reset by peer)' : 'clamd[<n>]: ERROR: accept() failed: Loaded <n> signatures.';
      expect(s.templates.find((x) => x.template === scanner)?.count).toBe(500);
      expect(s.templates.reduce((n, x) => n + x.count, 0)).toBeLessThanOrEqual(s.lines);
    });
  }
});
