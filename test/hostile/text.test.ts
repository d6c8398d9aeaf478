// Text that reaches the output, one row per case: a name in a real-format queue file (Exim -H and
// Sendmail qf, copied from the captured fixtures with the address edited) or in a mail log line, and
// what line one and every format must show. The rules (lib/plugin/text.ts):
// - queue files and logs are decoded as UTF-8 when valid, latin1 otherwise: jörg@ is not jÃ¶rg@;
// - C0/C1 controls, bidi embeddings/overrides/isolates/marks and lone surrogates become '?', CR, LF,
//   U+2028 and U+2029 a space, in every format (JSON strings included);
// - a name (a run without white space) longer than 200 characters is cut to "<first characters>…(N chars)",
//   and any output line to 2,000 characters. Bound checked here: line one of a check whose summary
//   holds a 100 KB sender and a 2 KB recipient stays under LINE_ONE_BOUND bytes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderJson } from '../../lib/plugin/render/json.js';
import { renderNagios } from '../../lib/plugin/render/nagios.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { CHECKS, cleanup, crashes, run, tmp, type Answer } from './harness.js';

afterAll(cleanup);
const NOW = 1795432900;
const fixtures = fixtureCases();
const exim = fixtures.find((c) => c.name === 'exim')!;
const sendmail = fixtures.find((c) => c.name === 'sendmail')!;

/** Line one: "SERVICE STATE - " + summary (two names of at most 200 characters and the rest) + perfdata. */
const LINE_ONE_BOUND = 1500;
/** Nothing of this may reach any output, in any format. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

/** One Exim message: a fixture's -H file with the sender (line 3) and the first recipient replaced. */
function eximSpool(sender: Buffer, rcpt?: Buffer): string {
  const input = path.join(exim.spools[0], 'input');
  const h = fs.readdirSync(input).filter((f) => f.endsWith('-H')).sort()[0];
  const id = h.slice(0, -2);
  const lines = fs.readFileSync(path.join(input, h), 'latin1').split('\n');
  lines[2] = `<${sender.toString('latin1')}>`;
  if (rcpt) {
    const count = lines.findIndex((l, i) => i > 3 && /^\d+$/.test(l) && Number(l) >= 1);
    lines[count + 1] = rcpt.toString('latin1');
  }
  const dir = tmp('hostile-text-exim-');
  fs.mkdirSync(path.join(dir, 'input'));
  fs.mkdirSync(path.join(dir, 'msglog'));
  fs.writeFileSync(path.join(dir, 'input', h), Buffer.from(lines.join('\n'), 'latin1'));
  fs.copyFileSync(path.join(input, `${id}-D`), path.join(dir, 'input', `${id}-D`));
  return dir;
}

/** One Sendmail message: a fixture's qf file with the S line and the first recipient replaced. */
function sendmailSpool(sender: Buffer, rcpt?: Buffer): string {
  const mq = sendmail.spools.find((s) => s.endsWith('/mqueue'))!;
  const qf = fs.readdirSync(mq).filter((f) => f.startsWith('qf')).sort()[0];
  let lines = fs.readFileSync(path.join(mq, qf), 'latin1').split('\n');
  lines = lines.map((l) => (l.startsWith('S<') ? `S<${sender.toString('latin1')}>` : l));
  if (rcpt) {
    const r = lines.findIndex((l) => /^R[A-Z]*:/.test(l));
    lines[r] = `RPFD:<${rcpt.toString('latin1')}>`;
  }
  const dir = tmp('hostile-text-sm-');
  fs.writeFileSync(path.join(dir, qf), Buffer.from(lines.join('\n'), 'latin1'));
  fs.copyFileSync(path.join(mq, `d${qf.slice(1)}`), path.join(dir, `d${qf.slice(1)}`));
  return dir;
}

/** A Postfix log in which one message from `sender` to `rcpt` is received and deferred, after a baseline. */
async function floodRun(sender: Buffer, rcpt: Buffer, format: string): Promise<Answer> {
  const dir = tmp('hostile-text-log-');
  const log = path.join(dir, 'mail.log');
  const argv = ['--log', log, '--state-dir', path.join(dir, `state-${format}`), '--sender-warning', '0.1', '--format', format];
  fs.writeFileSync(log, 'Nov 23 11:10:00 mx1 postfix/smtpd[812]: connect from unknown[192.0.2.1]\n');
  const b = await run(CHECKS['check-maillog-flood'], argv, NOW - 60);
  expect(crashes(b), b.out).toEqual([]);
  fs.appendFileSync(
    log,
    Buffer.concat([
      bytes('Nov 23 11:11:01 mx1 postfix/cleanup[5616]: 10295164182: message-id=<t1@mx1.lab.example>\n'),
      bytes('Nov 23 11:11:01 mx1 postfix/qmgr[5594]: 10295164182: from=<', sender.toString('latin1'), '>, size=1297, nrcpt=1 (queue active)\n'),
      bytes('Nov 23 11:11:02 mx1 postfix/smtp[5622]: 10295164182: to=<', rcpt.toString('latin1'), '>, relay=none, delay=1, status=deferred (connect refused)\n'),
    ]),
  );
  return run(CHECKS['check-maillog-flood'], argv, NOW);
}

interface TextCase {
  name: string;
  /** Where the name is written. */
  where: 'exim -H' | 'sendmail qf' | 'postfix log';
  sender: Buffer;
  rcpt?: Buffer;
  /** Line one (and the JSON summary) must show this. */
  shows?: string | RegExp;
  /** ... and must not show this. */
  hides?: RegExp;
}

const LONG_SENDER = utf8(`${'a'.repeat(100 * 1024)}@flood.example`);
const LONG_RCPT = utf8(`${'r'.repeat(2048)}@victim.example`);
// A log line is analysed by its first 16 KB (lib/log/lines.ts), and syslog daemons cut at 8 KB.
const LOG_SENDER = utf8(`${'a'.repeat(8 * 1024)}@flood.example`);

export const TEXT_CASES: TextCase[] = [
  { name: 'UTF-8 sender (SMTPUTF8)', where: 'exim -H', sender: utf8('jörg@exämple.de'), shows: 'top sender jörg@exämple.de', hides: /Ã/ },
  { name: 'UTF-8 sender (SMTPUTF8)', where: 'sendmail qf', sender: utf8('jörg@exämple.de'), shows: 'top sender jörg@exämple.de', hides: /Ã/ },
  { name: 'UTF-8 sender and recipient', where: 'postfix log', sender: utf8('jörg@exämple.de'), rcpt: utf8('zoë@bücher.example'), shows: /sender jörg@exämple\.de .*top recipient zoë@bücher\.example/, hides: /Ã/ },
  { name: 'UTF-8 recipient', where: 'exim -H', sender: utf8('app@qa.example'), rcpt: utf8('émilie@société.example'), shows: 'top recipient émilie@société.example', hides: /Ã/ },
  { name: 'latin1 sender (not UTF-8): shown byte for byte', where: 'sendmail qf', sender: bytes('j', [0xf6], 'rg@example.de'), shows: 'top sender jörg@example.de' },
  { name: 'latin1 sender (not UTF-8)', where: 'exim -H', sender: bytes('j', [0xf6], 'rg@example.de'), shows: 'top sender jörg@example.de' },
  { name: 'C1 CSI as a raw byte (8-bit terminal escape)', where: 'exim -H', sender: bytes('evil', [0x9b], '31mred@x.example'), shows: 'evil?31mred@x.example' },
  { name: 'C1 CSI in UTF-8 (U+009B)', where: 'sendmail qf', sender: utf8('evil\u009b31mred@x.example'), shows: 'evil?31mred@x.example' },
  { name: 'C1 CSI in a log sender', where: 'postfix log', sender: utf8('evil\u009b31mred@x.example'), rcpt: utf8('a@b.example'), shows: 'evil?31mred@x.example' },
  { name: 'bidi override U+202E', where: 'exim -H', sender: utf8('admin\u202Egpj.exe@x.example'), shows: 'admin?gpj.exe@x.example' },
  { name: 'bidi isolates U+2066..U+2069 and marks', where: 'sendmail qf', sender: utf8('a\u2066b\u2067c\u2068d\u2069e\u200Ff@x.example'), shows: 'a?b?c?d?e?f@x.example' },
  { name: 'zero-width space in a sender (admin look-alike)', where: 'sendmail qf', sender: utf8('ad\u200Bmin@x.example'), shows: 'top sender ad?min@x.example' },
  { name: 'BOM and word joiner in a log recipient', where: 'postfix log', sender: utf8('app@qa.example'), rcpt: utf8('\uFEFFro\u2060ot@y.example'), shows: 'top recipient ?ro?ot@y.example' },
  { name: 'bidi override in a log recipient', where: 'postfix log', sender: utf8('app@qa.example'), rcpt: utf8('user\u202Dx@y.example'), shows: 'top recipient user?x@y.example' },
  { name: 'U+2028/U+2029 (line and paragraph separators)', where: 'exim -H', sender: utf8('a\u2028fake ok - b\u2029c@x.example'), shows: 'top sender a fake ok - b c@x.example (100%)' },
  { name: 'U+2028 in a Sendmail sender', where: 'sendmail qf', sender: utf8('x\u2028mailq ok - y@x.example'), shows: 'top sender x mailq ok - y@x.example (100%)' },
  { name: 'a 100 KB sender', where: 'exim -H', sender: LONG_SENDER, shows: /top sender a{100,}…\(102414 chars\)/ },
  { name: 'a 100 KB sender and a 2 KB recipient', where: 'sendmail qf', sender: LONG_SENDER, rcpt: LONG_RCPT, shows: /top sender a{100,}…\(102414 chars\).*top recipient r{100,}…\(2063 chars\)/ },
  { name: 'a 2 KB recipient', where: 'exim -H', sender: utf8('app@qa.example'), rcpt: LONG_RCPT, shows: /top recipient r{100,}…\(2063 chars\)/ },
  { name: 'an 8 KB sender and a 2 KB recipient', where: 'postfix log', sender: LOG_SENDER, rcpt: LONG_RCPT, shows: /sender a{100,}…\(8206 chars\).*top recipient r{100,}…\(2063 chars\)/ },
  { name: 'a 100 KB UTF-8 sender (cut between characters, never inside one)', where: 'exim -H', sender: utf8(`${'ö'.repeat(60_000)}@x.example`), shows: /top sender ö{100,}…\(60010 chars\)/ },
];

async function answer(c: TextCase, format: string): Promise<Answer> {
  if (c.where === 'postfix log') return floodRun(c.sender, c.rcpt ?? utf8('rcpt@x.example'), format);
  const [mta, spool] = c.where === 'exim -H' ? ['exim', eximSpool(c.sender, c.rcpt)] : ['sendmail', sendmailSpool(c.sender, c.rcpt)];
  return run(CHECKS['check-mailq-depth'], ['--mta', mta, '--spool', spool, '--no-cache', '--format', format], NOW);
}

describe.each(TEXT_CASES.map((c) => [`${c.where}: ${c.name}`, c] as const))('%s', (_n, c) => {
  it('line one shows the name as the row says, bounded, with nothing forbidden in any format', async () => {
    for (const format of ['nagios', 'json', 'graphite']) {
      const a = await answer(c, format);
      expect(crashes(a), a.out.slice(0, 500)).toEqual([]);
      expect(a.out.match(FORBIDDEN)?.[0], `${format}: ${JSON.stringify(a.out.slice(0, 300))}`).toBeUndefined();
      if (format === 'graphite') continue;
      const lineOne = format === 'nagios' ? a.out.split('\n')[0] : a.json!.summary;
      if (format === 'json') for (const d of a.json!.details) expect(d.match(FORBIDDEN)?.[0], d.slice(0, 300)).toBeUndefined();
      expect(Buffer.byteLength(lineOne), lineOne.slice(0, 300)).toBeLessThan(LINE_ONE_BOUND);
      if (c.shows) expect(lineOne).toMatch(typeof c.shows === 'string' ? new RegExp(c.shows.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : c.shows);
      if (c.hides) expect(a.out).not.toMatch(c.hides);
      // Every long-output line is bounded too.
      for (const l of a.out.split('\n')) expect(Array.from(l).length).toBeLessThanOrEqual(format === 'json' ? 1 << 20 : 2100);
    }
  });
});

// The rule itself, on the renderers: the same text in a summary, a long-output line and a JSON fact.
const RULE_ROWS: [string, string, string][] = [
  ['C0 and DEL', 'a\u0000b\u001b[31mc\u007fd', 'a?b?[31mc?d'],
  ['C1 (CSI, NEL as a line break)', 'a\u009b31mb\u0085c', 'a?31mb c'],
  ['CR, LF, U+2028, U+2029', 'a\r\nb\u2028c\u2029d', 'a b c d'],
  ['bidi embeddings, overrides, isolates, marks', '\u202Aa\u202Bb\u202Cc\u202Dd\u202Ee\u2066f\u2067g\u2068h\u2069i\u200Ej\u200Fk\u061Cl', '?a?b?c?d?e?f?g?h?i?j?k?l'],
  ['a lone surrogate', 'a\ud800b\udc00c', 'a?b?c'],
  ['invisible: zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen, U+180E', 'ad\u200Bm\u200Ci\u200Dn\u2060x\uFEFFy\u00ADz\u180Ew', 'ad?m?i?n?x?y?z?w'],
  ['tag characters U+E0000-U+E007F (ASCII smuggling) and interlinear annotation', 'a\u{E0041}\u{E0064}b\uFFF9c\uFFFBd', 'a??b?c?d'],
  ['emoji variation selector and other astral text stay', 'ok\u2764\uFE0F\u{1F600}', 'ok\u2764\uFE0F\u{1F600}'],
  ['a tab stays (it is white space, not a control that moves the cursor back)', 'a\tb', 'a\tb'],
  ['a long name keeps the punctuation after it', `'${'x'.repeat(300)}': bad`, `'${'x'.repeat(185)}…(301 chars)': bad`],
  ['emoji (astral characters) are counted as one and never split', '😀'.repeat(250), `${'😀'.repeat(188)}…(250 chars)`],
];
describe.each(RULE_ROWS)('outputText: %s', (_n, input, expected) => {
  it('nagios summary and long output, JSON summary, details and facts', () => {
    const r = { service: 'MAILQ', check: 'mailq_depth', state: 0, summary: input, metrics: [], details: [input], facts: { [input]: input, list: [input] }, time: NOW };
    const [first, second] = renderNagios(r).split('\n');
    expect(first).toBe(`MAILQ OK - ${expected} | `);
    expect(second).toBe(expected.replace(/=/g, ':'));
    const j = JSON.parse(renderJson(r));
    expect([j.summary, j.details[0], j[expected], j.list[0]]).toEqual([expected, expected, expected, expected]);
  });
});
