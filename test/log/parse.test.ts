// Line parsers and the template normaliser, on hand-made lines of each format
// (test/fixtures/logs/formats/) and on lines from the real MTA captures.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Format, lineTime, newHeader, parseHeader } from '../../lib/log/syslog.js';
import { buildTemplate, last, MAX_TEMPLATE, queueIdLength, TemplateCounter, templateOf } from '../../lib/log/template.js';

const FORMATS = path.join(__dirname, '../fixtures/logs/formats');
const lines = (f: string) => fs.readFileSync(path.join(FORMATS, f), 'latin1').split('\n').filter(Boolean);

function parse(line: string) {
  const b = Buffer.from(line, 'latin1');
  const h = parseHeader(b, 0, b.length, newHeader());
  return {
    format: h.format,
    ts: b.toString('latin1', h.tsStart, h.tsEnd),
    prog: b.toString('latin1', h.progStart, h.progEnd),
    pid: h.hasPid,
    msg: b.toString('latin1', h.msgStart),
    time: lineTime(b, h, Date.UTC(2026, 10, 23, 12) / 1000),
    template: templateOf(b, b.length, h),
  };
}

describe('parseHeader: where the timestamp, tag and message are', () => {
  it.each([
    // [file, line index, format, timestamp, prog, pid, message start]
    ['rfc3164.log', 0, Format.Rfc3164, 'Nov  3 01:02:03', 'clamd', true, 'ERROR: accept()'],
    ['rfc3164.log', 1, Format.Rfc3164, 'Nov 23 11:11:03', 'postfix/qmgr', true, '10295164182: from='],
    ['rfc3164.log', 2, Format.Rfc3164, 'Nov 23 11:11:03.123456', 'kernel', false, '[ 12.345] eth0'],
    ['short-iso.log', 0, Format.Iso, '2026-11-23T11:11:59+0000', 'postfix/smtpd', true, 'connect from'],
    ['short-iso.log', 2, Format.Iso, '2026-11-23T11:12:01.250000+00:00', 'clamd', true, 'ERROR:'],
    ['rfc5424.log', 0, Format.Rfc5424, '2026-11-23T11:11:59.419Z', 'postfix/smtpd', true, 'connect from'],
    ['rfc5424.log', 1, Format.Rfc5424, '2026-11-23T11:12:00.001+01:00', 'postfix/qmgr', true, '10295164182: from='],
    ['rfc5424.log', 2, Format.Rfc5424, '2026-11-23T11:12:01Z', 'clamd', false, 'ERROR:'],
    ['exim-selectors.log', 0, Format.Exim, '2026-11-23 11:11:38', '', false, '1xVRxS-0002CF-23 <='],
    ['exim-selectors.log', 1, Format.Exim, '2026-11-23 11:11:38.123', '', true, '1xVRxS-0002CS-26 <= <>'],
    ['exim-selectors.log', 2, Format.Exim, '2026-11-23 11:11:39', '', true, '1xVRxS-0002Cs-2F =>'],
  ] as const)('%s line %i', (file, i, format, ts, prog, pid, msg) => {
    const p = parse(lines(file)[i]);
    expect(p.format).toBe(format);
    expect(p.ts).toBe(ts);
    expect(p.prog).toBe(prog);
    expect(p.pid).toBe(pid);
    expect(p.msg.startsWith(msg)).toBe(true);
  });

  it('reads the time of each format (zones honoured; RFC 3164 and Exim without zone are local time)', () => {
    expect(parse(lines('short-iso.log')[0]).time).toBe(Date.UTC(2026, 10, 23, 11, 11, 59) / 1000);
    expect(parse(lines('short-iso.log')[1]).time).toBe(Date.UTC(2026, 10, 23, 10, 12, 0) / 1000);
    expect(parse(lines('rfc5424.log')[0]).time).toBeCloseTo(Date.UTC(2026, 10, 23, 11, 11, 59, 419) / 1000, 3);
    expect(parse(lines('exim-selectors.log')[1]).time).toBeCloseTo(Date.UTC(2026, 10, 23, 10, 11, 38, 123) / 1000, 3);
    expect(parse(lines('exim-selectors.log')[0]).time).toBe(new Date(2026, 10, 23, 11, 11, 38).getTime() / 1000);
    expect(parse(lines('rfc3164.log')[1]).time).toBe(new Date(2026, 10, 23, 11, 11, 3).getTime() / 1000);
    // No year in RFC 3164: a December line read on 23 November is from last year.
    expect(parse('Dec 31 23:59:59 mx1 x: y').time).toBe(new Date(2025, 11, 31, 23, 59, 59).getTime() / 1000);
  });

  it('takes anything else as a message without header (never throws)', () => {
    for (const s of ['', ' Suggested action: either install a certificate', '2026-13-99 nonsense', 'Nov', '<999999>', '\x00\x01\xff\xfe']) {
      const p = parse(s);
      expect(p.format).toBe(Format.Unknown);
      expect(p.msg).toBe(s);
    }
  });
});

describe('templates', () => {
  it('turns the incident 003 line into the template the alert quotes', () => {
    expect(parse(lines('rfc3164.log')[0]).template).toBe('clamd[<n>]: ERROR: accept() failed: Loaded <n> signatures.');
    expect(parse(lines('short-iso.log')[2]).template).toBe('clamd[<n>]: ERROR: accept() failed: Loaded <n> signatures.');
    // RFC 5424 without a PROCID: no [<n>], same words.
    expect(parse(lines('rfc5424.log')[2]).template).toBe('clamd: ERROR: accept() failed: Loaded <n> signatures.');
  });

  it.each([
    ['Nov 23 11:11:03 mx1 postfix/qmgr[5594]: 10295164182: from=<app@qa.example>, size=1297, nrcpt=1 (queue active)', 'postfix/qmgr[<n>]: <qid>: from=<addr>, size=<n>, nrcpt=<n> (queue active)'],
    ['Nov 23 11:11:03 mx1 postfix/qmgr[5594]: 213F316418A: from=<>, size=2645, nrcpt=1 (queue active)', 'postfix/qmgr[<n>]: <qid>: from=<>, size=<n>, nrcpt=<n> (queue active)'],
    ['Nov 23 11:11:28 mx1 postfix/pickup[7021]: 4jY3D06MmczBynC: uid=0 from=<app@qa.example>', 'postfix/pickup[<n>]: <qid>: uid=<n> from=<addr>'],
    ['2026-11-23T11:12:01.529840+00:00 vm sm-mta[11657]: 6ANBC1gu011657: to=<a@b.example>,<c@d.example>, delay=00:00:00, dsn=4.4.1, stat=Deferred', 'sm-mta[<n>]: <qid>: to=<addr>,<addr>, delay=<n>, dsn=<n>, stat=Deferred'],
    ['2026-11-23 11:11:39 1xVRxS-0002Cs-2F == qanotify@lab.example R=smarthost T=remote_smtp_smarthost defer (111): Connection refused', '<qid> == <addr> R=smarthost T=remote_smtp_smarthost defer (<n>): Connection refused'],
    ['2026-11-23 11:11:39 1xVRxS-0002Cs-2F H=127.0.0.2 [127.0.0.2] Connection refused', '<qid> H=<ip> [<ip>] Connection refused'],
    ['Nov 23 11:11:03 mx1 postfix/smtpd[1]: connect from unknown[2001:db8::1]', 'postfix/smtpd[<n>]: connect from unknown[<ip>]'],
    ['Nov 23 11:11:03 mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 Relay access denied', 'postfix/smtpd[<n>]: NOQUEUE: reject: RCPT from x[<ip>]: <n> <n> Relay access denied'],
    ['Nov 23 11:11:03 mx1 app[1]: token deadbeefcafebabe seen', 'app[<n>]: token <id> seen'],
    ['Nov 23 11:11:03 mx1 app[1]: bad\x01byte\x7fhere', 'app[<n>]: bad?byte?here'],
  ])('%s', (line, template) => {
    expect(parse(line).template).toBe(template);
  });

  it('gives the same template to the same log statement whatever its numbers, IDs and addresses', () => {
    const a = parse('Nov 23 11:11:03 mx1 postfix/smtp[5622]: 10295164182: to=<qanotify@lab.example>, relay=none, delay=0.02, delays=0.01/0.01/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2: Connection refused)');
    const b = parse('Nov 24 09:00:59 mx2 postfix/smtp[1]: 2BD0F164190: to=<x@y.example>, relay=none, delay=13, delays=3/0/10/0, dsn=4.4.1, status=deferred (connect to 10.1.2.3[10.1.2.3]:2: Connection refused)');
    expect(a.template).toBe(b.template);
    expect(parse('Nov 23 11:11:03 mx1 postfix/smtp[1]: 2BD0F164190: to=<x@y.example>, relay=none, delay=13, status=sent (ok)').template).not.toBe(a.template);
  });

  it('bounds the template length and marks the cut', () => {
    const t = parse(`Nov 23 11:11:03 mx1 app[1]: ${'word '.repeat(200)}`).template;
    expect(Buffer.byteLength(t)).toBeLessThanOrEqual(MAX_TEMPLATE);
    expect(t.endsWith('…')).toBe(true);
  });

  it('recognises queue IDs only where an MTA puts them', () => {
    const q = (s: string) => queueIdLength(Buffer.from(s), 0, s.length);
    expect(q('10295164182: from')).toBe(11);
    expect(q('4jY3D06MmczBynC: uid')).toBe(15);
    expect(q('6ANBC1gu011657: to')).toBe(14);
    expect(q('1xVRxS-0002CF-23 <= x')).toBe(16);
    expect(q('NOQUEUE: reject')).toBe(0);
    expect(q('warning: x')).toBe(0);
    expect(q('12345 lines')).toBe(0);
  });
});

describe('TemplateCounter', () => {
  const add = (c: TemplateCounter, line: string) => {
    const b = Buffer.from(line);
    buildTemplate(b, b.length, parseHeader(b, 0, b.length, newHeader()));
    c.addLast();
    return last.length;
  };

  it('counts templates exactly below its capacity', () => {
    const c = new TemplateCounter(100);
    for (let i = 0; i < 500; i++) add(c, `Nov 23 11:11:03 mx1 clamd[${i}]: ERROR: accept() failed: Loaded ${362916 + i} signatures.`);
    for (let i = 0; i < 20; i++) add(c, `Nov 23 11:11:03 mx1 postfix/smtpd[${i}]: connect from unknown[192.0.2.${i}]`);
    expect(c.top(2)).toEqual([
      { template: 'clamd[<n>]: ERROR: accept() failed: Loaded <n> signatures.', count: 500 },
      { template: 'postfix/smtpd[<n>]: connect from unknown[<ip>]', count: 20 },
    ]);
    expect(c.approximate).toBe(false);
  });

  it('stays bounded on lines that are all different (binary garbage) and keeps the real flood on top', () => {
    const c = new TemplateCounter(50);
    for (let i = 0; i < 20000; i++) {
      add(c, `garbage ${String.fromCharCode(65 + (i % 26))}${'qwertyuiopasdfghjklzxcvbnm'.slice(i % 20)}${String.fromCharCode(97 + ((i / 26) % 26))}${'z'.repeat(i % 37)}`);
      if (i % 4 === 0) add(c, `Nov 23 11:11:03 mx1 clamd[2212]: ERROR: accept() failed: Loaded ${i} signatures.`);
    }
    expect(c.distinct).toBeLessThanOrEqual(100);
    expect(c.top(1)[0]).toEqual({ template: 'clamd[<n>]: ERROR: accept() failed: Loaded <n> signatures.', count: 5000 });
  });
});
