// Property tests (fast-check) on every parser and renderer: whatever the bytes, no throw escapes and
// what comes out is valid for its format. Run counts are bounded (FUZZ_RUNS scales them) so the whole
// hostile suite stays within about two minutes; CI runs them on every submission.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { eximHeaderFile } from '../../bench/gen/exim.js';
import { postfixQueueFile } from '../../bench/gen/postfix.js';
import { sendmailQf } from '../../bench/gen/sendmail.js';
import { FloodAnalyser } from '../../lib/log/flood.js';
import { LineSplitter } from '../../lib/log/lines.js';
import { splitJournalOutput } from '../../lib/log/journal.js';
import { parseEximBp, parseEximHeaderFile, stripEximRecipientExtras } from '../../lib/mta/exim.js';
import { parsePostfixListing, parseQueueFile, POSTFIX_QUEUES } from '../../lib/mta/postfix.js';
import { parseMailq, parseQf } from '../../lib/mta/sendmail.js';
import type { QueuedMessage } from '../../lib/mta/types.js';
import { parseDuration, formatDuration } from '../../lib/plugin/duration.js';
import { UnknownError } from '../../lib/plugin/errors.js';
import { parseRange } from '../../lib/plugin/range.js';
import { RENDERERS } from '../../lib/plugin/render/index.js';
import { State, type CheckResult } from '../../lib/plugin/result.js';
import { formatBytes, parseSize } from '../../lib/plugin/size.js';
import { CHECKS, cleanup, crashes, run, tmp } from './harness.js';

afterAll(cleanup);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)) });
const NOW = 1795432267;

/** Strings with the characters that break things: |, newlines, NUL, quotes, non-ASCII, and prototype names. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '|', '\n', '\r\n', '\u0000', '__proto__', 'constructor', 'toString', '<>', 'MAILER-DAEMON', '\u00ff', '\ud800', '-1', 'NaN', '1e308'),
);
const bytes = (max = 4096) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

/** A valid file with some bytes overwritten, cut or duplicated: close enough to real to get deep into a parser. */
function mutated(valid: Buffer) {
  return fc.tuple(fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }), fc.nat(), fc.boolean()).map(([flips, cut, dup]) => {
    const b = Buffer.from(valid);
    for (const [i, v] of flips) b[i % b.length] = v;
    const c = b.subarray(0, dup ? b.length : cut % (b.length + 1));
    return dup ? Buffer.concat([c, c.subarray(0, cut % (c.length + 1))]) : c;
  });
}

const msg = { id: 'ABCDEF12345', kind: 'normal' as const, queue: 'deferred', arrival: NOW - 60, sender: 'a@b.example', recipients: ['c@d.example', 'e@f.example'], body: 'Subject: x\n\nhello' };

function wellTyped(m: QueuedMessage) {
  expect(typeof m.id).toBe('string');
  expect(typeof m.queue).toBe('string');
  expect(Array.isArray(m.recipients) && m.recipients.every((r) => typeof r === 'string')).toBe(true);
  if (m.sender !== undefined) expect(typeof m.sender).toBe('string');
  if (m.arrival !== undefined) expect(typeof m.arrival).toBe('number');
}

describe('queue file parsers', () => {
  it('Postfix queue files: random and mutated bytes', () => {
    const valid = postfixQueueFile(msg);
    fc.assert(
      fc.property(fc.oneof(bytes(), mutated(valid)), (b) => {
        const info = parseQueueFile(b);
        expect(info.recipients.every((r) => typeof r === 'string')).toBe(true);
        expect(info.size).toBeGreaterThanOrEqual(0);
      }),
      runs(1500),
    );
  });

  it('Sendmail qf: random and mutated bytes', () => {
    const valid = sendmailQf(msg);
    fc.assert(
      fc.property(fc.oneof(bytes(), mutated(valid)), (b) => {
        const r = parseQf(b);
        expect(r.recipients.every((x) => typeof x === 'string')).toBe(true);
      }),
      runs(1500),
    );
  });

  it('Exim -H: random and mutated bytes, whole or cut', () => {
    const valid = eximHeaderFile({ ...msg, id: '1xVRrp-000403-19' });
    fc.assert(
      fc.property(fc.oneof(bytes(), mutated(valid)), fc.boolean(), (b, whole) => {
        const r = parseEximHeaderFile(b, b.length, whole);
        expect(r.recipients.every((x) => typeof x === 'string')).toBe(true);
      }),
      runs(1500),
    );
    fc.assert(fc.property(fc.string(), (s) => void stripEximRecipientExtras(s)), runs(500));
  });
});

describe('listing parsers', () => {
  const jsonLine = fc
    .record(
      {
        queue_name: fc.oneof(fc.constantFrom(...POSTFIX_QUEUES), nasty, fc.integer()),
        queue_id: fc.oneof(nasty, fc.integer()),
        arrival_time: fc.oneof(fc.integer(), fc.double(), nasty),
        message_size: fc.oneof(fc.integer(), fc.double(), nasty),
        sender: fc.oneof(nasty, fc.integer()),
        recipients: fc.oneof(fc.array(fc.oneof(fc.record({ address: fc.oneof(nasty, fc.integer()), delay_reason: nasty }, { requiredKeys: [] }), fc.constant(null), nasty)), nasty),
        forced_expire: fc.oneof(fc.boolean(), nasty),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o));
  const listing = (lines: fc.Arbitrary<string>) => fc.array(lines, { maxLength: 20 }).map((l) => l.join('\n'));

  it('postqueue -j and -p: JSON of any shape, and text', () => {
    fc.assert(
      fc.property(fc.oneof(listing(jsonLine), listing(nasty), fc.string({ unit: 'binary' }), listing(fc.json())), (out) => {
        for (const m of parsePostfixListing(out, { file: 'postqueue', args: ['-j'] }, new Date(NOW * 1000))) {
          wellTyped(m);
          expect(POSTFIX_QUEUES as readonly string[]).toContain(m.queue);
        }
      }),
      runs(1000),
    );
  });

  it('mailq and exim -bp: any text', () => {
    const mailqish = fc.constantFrom('MSP Queue status...', '\t\t/var/spool/mqueue (3 requests)', '6ANB6xNM022559      400 Mon Nov 23 11:06 cron@mx1', '                 (Deferred: x)', '\t\t\t\t\t root@lab.example', '\t\tTotal requests: 4', '     QUARANTINE: held', 'ABC (job completed)');
    const eximish = fc.constantFrom(' 0m  5.0K 1xVRrp-000403-19 <billing@shop.example>', '          anna@customer.example', 'D x@y', '  *** spool format error ***', '99999999999999999999d  1.2M 1xVRrp-000403-19 <> *** frozen ***', '');
    fc.assert(
      fc.property(fc.oneof(listing(fc.oneof(mailqish, nasty)), fc.string({ unit: 'binary' })), (out) => parseMailq(out, { now: NOW * 1000 }).forEach(wellTyped)),
      runs(800),
    );
    fc.assert(
      fc.property(fc.oneof(listing(fc.oneof(eximish, nasty)), fc.string({ unit: 'binary' })), (out) => parseEximBp(out, { now: NOW * 1000 }).forEach(wellTyped)),
      runs(800),
    );
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (out) => void splitJournalOutput(out)), runs(300));
  });
});

describe('log lines', () => {
  const prefixes = ['Nov 23 11:11:03 mx1 postfix/qmgr[5594]: ', '2026-11-23T11:11:59.4+00:00 vm sm-mta[1]: ', '<22>1 2026-11-23T11:11:59.419Z mx1 postfix/smtp 5622 - - ', '2026-11-23 11:11:38 ', 'Feb 30 99:99:99 ', ''];
  const bodies = ['10295164182: from=<app@qa.example>, size=1297, nrcpt=1 (queue active)', '1xVRxS-0002CF-23 <= <> H=x [1.2.3.4] P=esmtp', '6ANBC1Nc011656: to=<a@b>, stat=Deferred', 'removed', 'client=unknown[1.2.3.4]'];
  const line = fc.oneof(
    fc.tuple(fc.constantFrom(...prefixes), fc.constantFrom(...bodies), nasty).map(([p, b, n]) => Buffer.from(p + b + n, 'latin1')),
    bytes(600),
  );
  it('any line, any split into chunks: analysed without a throw; every newline counted once', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 200 }), (ls, cuts, maxLine) => {
        const data = Buffer.concat(ls.flatMap((l) => [l, Buffer.from('\n')]));
        const a = new FloodAnalyser(NOW);
        const sp = new LineSplitter(a.handler, maxLine);
        let pos = 0;
        for (let i = 0; pos < data.length; i++) {
          const n = cuts[i % cuts.length];
          sp.push(data.subarray(pos, pos + n));
          a.endChunk();
          pos += n;
        }
        sp.finish();
        expect(sp.lines).toBe(data.filter((c) => c === 10).length);
        const st = a.stats(5);
        expect(st.lines).toBe(sp.lines);
        expect(JSON.parse(JSON.stringify(st))).toBeTruthy();
      }),
      runs(600),
    );
  });
});

describe('ranges, durations, sizes', () => {
  const text = fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^[@~]?-?\d{0,3}(\.\d{0,2})?(:-?\d{0,3})?$/), fc.stringMatching(/^\d{1,4}(\.\d)?\s?[smhdwkgtpbKMGTPiB]{0,3}$/));
  const either = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      expect(err).toBeInstanceOf(UnknownError);
      return undefined;
    }
  };
  it('parse, or throw UnknownError naming the text; never NaN, never infinite (ranges: start <= end)', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = either(() => parseRange(t));
        if (r) expect(r.start <= r.end && !Number.isNaN(r.start) && !Number.isNaN(r.end)).toBe(true);
        const d = either(() => parseDuration(t));
        if (d !== undefined) expect(Number.isFinite(d) && d >= 0 && formatDuration(d) !== 'n/a').toBe(true);
        const s = either(() => parseSize(t));
        if (s !== undefined) expect(Number.isFinite(s) && s >= 0 && formatBytes(s) !== 'n/a').toBe(true);
      }),
      runs(3000),
    );
  });
});

describe('renderers', () => {
  const num = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(1e21, -1e300, 1e-9, Number.MAX_VALUE, NaN, Infinity, -0));
  const result = fc.record({
    service: fc.constantFrom('MAILQ', 'MAILER-DAEMON', 'MAILLOG_FLOOD'),
    check: fc.constantFrom('mailq_depth', 'x'),
    state: fc.constantFrom(State.OK, State.WARNING, State.CRITICAL, State.UNKNOWN),
    summary: nasty,
    metrics: fc.array(fc.record({ label: fc.oneof(nasty, fc.constantFrom('total', 'rate_deferred')), value: num, uom: fc.constantFrom(undefined, '', 's', '%', 'B'), min: fc.option(num, { nil: undefined }), max: fc.option(num, { nil: undefined }) }), { maxLength: 8 }),
    details: fc.array(nasty, { maxLength: 5 }),
    time: fc.integer({ min: 0, max: 4e9 }),
  });
  it('nagios: one |, perfdata on line one; graphite: three fields a line; json: parses', () => {
    fc.assert(
      fc.property(result, fc.constantFrom('mx1.mail', 'a-b.c_d'), (r, scheme) => {
        const res = { ...r, metrics: r.metrics.filter((m) => m.label.replace(/[^A-Za-z0-9_.]/g, '') !== '') } as CheckResult;
        for (const format of ['nagios', 'graphite', 'json'] as const)
          expect(crashes({ out: RENDERERS[format](res, { scheme }), code: res.state, stderr: '', format }), format).toEqual([]);
      }),
      runs(1500),
    );
  });
});

describe('end to end: random listings and random queue files through the depth check', () => {
  const dir = tmp('hostile-fuzz-');
  it('a random listing file: a proper answer in every format', async () => {
    let i = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('postfix', 'sendmail', 'exim'), fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), fc.array(nasty, { maxLength: 10 }).map((l) => l.join('\n'))), fc.constantFrom('nagios', 'graphite', 'json'), async (mta, out, format) => {
        const f = path.join(dir, `listing-${i++}`);
        fs.writeFileSync(f, out, 'latin1');
        const a = await run(CHECKS['check-mailq-depth'], ['--mta', mta, '--source', 'command', '--listing-file', f, '--format', format, '-w', '5'], NOW);
        expect(crashes(a), a.out).toEqual([]);
      }),
      runs(300),
    );
  });

  it('a spool of random and mutated queue files: a proper answer in every format', async () => {
    let i = 0;
    const valid = postfixQueueFile(msg);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(bytes(800), mutated(valid)), { minLength: 1, maxLength: 6 }), fc.constantFrom('nagios', 'graphite', 'json'), async (files, format) => {
        const spool = path.join(dir, `spool-${i++}`);
        fs.mkdirSync(path.join(spool, 'deferred'), { recursive: true });
        files.forEach((b, k) => fs.writeFileSync(path.join(spool, 'deferred', `F${k}X${i}`), b, { mode: 0o700 }));
        const a = await run(CHECKS['check-mailq-depth'], ['--mta', 'postfix', '--spool', spool, '--format', format, '--age-warning', '1h'], NOW);
        expect(crashes(a), a.out).toEqual([]);
        fs.rmSync(spool, { recursive: true });
      }),
      runs(150),
    );
  });
});
