// The line-at-a-time listing parsers against the whole-string ones they replaced (test/mta/listing-legacy.ts):
// the same messages, in the same order, on every captured listing, however the bytes are cut into chunks.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIXTURE_ROOT } from '../helpers/fixtures.js';
import { exim } from '../../lib/mta/exim.js';
import { createEximBpParser, parseEximBp } from '../../lib/mta/exim-bp.js';
import { createListingParser } from '../../lib/mta/listing.js';
import { postfix, parsePostfixListing, parsePostqueueJson, parsePostqueueText } from '../../lib/mta/postfix.js';
import { createMailqParser, parseMailq } from '../../lib/mta/sendmail-mailq.js';
import { sendmail } from '../../lib/mta/sendmail.js';
import type { MtaDriver, QueuedMessage } from '../../lib/mta/types.js';
import { lineSplitter, MAX_LINE_BYTES } from '../../lib/plugin/exec.js';
import { legacyEximBp, legacyMailq, legacyPostfixListing, legacyPostqueueJson, legacyPostqueueText } from './listing-legacy.js';

const NOW = Date.UTC(2026, 10, 23, 11, 15); // the fixtures were captured on Mon Nov 23 2026

interface Listing {
  name: string;
  bytes: Buffer;
  driver: MtaDriver;
  label?: string;
  /** The old whole-string parser and its (new) wrapper for this listing. */
  legacy: (s: string) => QueuedMessage[];
  whole: (s: string) => QueuedMessage[];
  /** Applied to every parser's output before comparing: the listings' arrivals changed on purpose
   *  (exim -bp and mailq now take the second from the queue ID: test/hostile/queue-round2.test.ts). */
  normalize?: (ms: QueuedMessage[]) => QueuedMessage[];
}

/** A message without its arrival (compared on its own elsewhere). */
const noArrival = (ms: QueuedMessage[]) => ms.map(({ arrival: _a, arrivalPrecision: _p, ...m }) => m);

function listings(): Listing[] {
  const out: Listing[] = [];
  for (const c of fs.readdirSync(FIXTURE_ROOT).sort()) {
    const dir = path.join(FIXTURE_ROOT, c, 'listing');
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).sort()) {
      const bytes = fs.readFileSync(path.join(dir, f));
      const name = `${c}/${f}`;
      if (c.startsWith('postfix')) {
        const cmd = { file: 'postqueue', args: ['-j'] };
        out.push({ name, bytes, driver: postfix, legacy: (s) => legacyPostfixListing(s, cmd, new Date(NOW)), whole: (s) => parsePostfixListing(s, cmd, new Date(NOW)) });
      } else if (c.startsWith('exim') && f === 'exim-bp.txt') {
        out.push({ name, bytes, driver: exim, legacy: (s) => noArrival(legacyEximBp(s, { now: NOW })), whole: (s) => noArrival(parseEximBp(s, { now: NOW })), normalize: noArrival });
      } else if (c === 'sendmail') {
        const label = f === 'mailq-qQ.txt' ? 'quarantine' : undefined;
        out.push({ name, bytes, driver: sendmail, label, legacy: (s) => noArrival(legacyMailq(s, { label, now: NOW })), whole: (s) => noArrival(parseMailq(s, { label, now: NOW })), normalize: noArrival });
      }
    }
  }
  return out;
}

const LISTINGS = listings();

/** Bytes cut at `cuts`, through the runner's line splitter, into the driver's incremental parser. */
function streamed(l: Pick<Listing, 'driver' | 'label' | 'normalize'>, bytes: Buffer, cuts: number[], encoding: 'utf8' | 'latin1' = 'latin1'): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  const p = createListingParser(l.driver, { file: 'x', args: [], label: l.label }, NOW, (m) => out.push(m));
  const split = lineSplitter({ onLine: (s, t) => p.line(s, t), encoding });
  let from = 0;
  for (const c of [...cuts, bytes.length]) {
    split.push(bytes.subarray(from, c));
    from = c;
  }
  split.finish();
  p.end();
  return l.normalize ? l.normalize(out) : out;
}

describe('every captured listing', () => {
  it('finds the listings', () => {
    expect(LISTINGS.length).toBeGreaterThanOrEqual(10);
    expect(LISTINGS.filter((l) => l.driver === postfix && l.name.endsWith('postqueue-j.txt')).length).toBeGreaterThanOrEqual(2);
  });

  it.each(LISTINGS.map((l) => [l.name, l] as const))('%s: wrapper and stream agree with the old parser', (_n, l) => {
    const text = l.bytes.toString('latin1');
    const old = l.legacy(text);
    expect(old.length).toBeGreaterThan(0);
    expect(l.whole(text)).toEqual(old);
    expect(streamed(l, l.bytes, [])).toEqual(old);
    // utf8 as the command path decodes: '\n' never falls inside a multi-byte sequence.
    expect(streamed(l, l.bytes, [], 'utf8')).toEqual(l.legacy(l.bytes.toString('utf8')));
  });

  it.each(LISTINGS.map((l) => [l.name, l] as const))('%s: cut into two chunks at every byte', (_n, l) => {
    const old = l.legacy(l.bytes.toString('latin1'));
    for (let i = 0; i <= l.bytes.length; i++) {
      const got = streamed(l, l.bytes, [i]);
      if (JSON.stringify(got) !== JSON.stringify(old)) expect(got, `cut at ${i}`).toEqual(old);
    }
  });

  it.each(LISTINGS.map((l) => [l.name, l] as const))('%s: one byte at a time, and at random cuts', (_n, l) => {
    const old = l.legacy(l.bytes.toString('latin1'));
    expect(streamed(l, l.bytes, Array.from({ length: l.bytes.length }, (_, i) => i))).toEqual(old);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: l.bytes.length }), { maxLength: 20 }), (cuts) => {
        expect(streamed(l, l.bytes, cuts.sort((a, b) => a - b))).toEqual(old);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the postqueue parsers one by one', () => {
  const dir = path.join(FIXTURE_ROOT, 'postfix', 'listing');
  it('-j and -p wrappers agree with the old ones', () => {
    const j = fs.readFileSync(path.join(dir, 'postqueue-j.txt'), 'utf8');
    const p = fs.readFileSync(path.join(dir, 'postqueue-p.txt'), 'utf8');
    expect(parsePostqueueJson(j)).toEqual(legacyPostqueueJson(j));
    expect(parsePostqueueText(p, new Date(NOW))).toEqual(legacyPostqueueText(p, new Date(NOW)));
    expect(parsePostqueueText(p, new Date(NOW), 'incoming')).toEqual(legacyPostqueueText(p, new Date(NOW), 'incoming'));
  });
});

describe('damaged and made-up listings (property)', () => {
  // Lines from the real listings, the structural lines around them, and junk.
  const pool = [...new Set(LISTINGS.flatMap((l) => l.bytes.toString('latin1').split('\n')))];
  const junk = fc.oneof(
    fc.constantFrom('', ' ', '\r', '\t\t', 'postqueue: fatal: x', '{', '{"queue_id":"A"}', '{"queue_id":', '(reason)', ' *** spool read error ***', 'D a@b', '+D c@d', 'Mail queue is empty', 'MSP Queue status...', '\t\t/var/spool/mqueue-client is empty', 'X1 (job completed)', 'X2 (no such file)'),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
  );
  const line = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: junk });
  const text = fc.tuple(fc.array(line, { maxLength: 40 }), fc.constantFrom('\n', '\r\n')).map(([ls, eol]) => ls.join(eol));
  const kinds: [string, Listing][] = [
    ['postfix', LISTINGS.find((l) => l.driver === postfix)!],
    ['exim', LISTINGS.find((l) => l.driver === exim)!],
    ['sendmail', LISTINGS.find((l) => l.driver === sendmail && !l.label)!],
    ['sendmail -qQ', LISTINGS.find((l) => l.driver === sendmail && l.label)!],
  ];
  it.each(kinds)('%s: old parser, wrapper and stream give the same messages', (_n, l) => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 6 }), (s, rawCuts) => {
        const old = l.legacy(s);
        expect(l.whole(s)).toEqual(old);
        // As bytes (what a pipe carries): utf8, so every string survives the round trip.
        const bytes = Buffer.from(s, 'utf8');
        const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        expect(streamed(l, bytes, cuts, 'utf8')).toEqual(l.legacy(bytes.toString('utf8')));
      }),
      { numRuns: 400 },
    );
  });
});

describe('bounded state', () => {
  it.each([
    ['postqueue -p', (emit: (m: QueuedMessage) => void) => createListingParser(postfix, { file: 'postqueue', args: ['-p'] }, NOW, emit), 'postfix/listing/postqueue-p.txt'],
    ['exim -bp', (emit: (m: QueuedMessage) => void) => createEximBpParser({ now: NOW }, emit), 'exim/listing/exim-bp.txt'],
    ['mailq', (emit: (m: QueuedMessage) => void) => createMailqParser({ now: NOW }, emit), 'sendmail/listing/mailq.txt'],
  ] as const)('%s: each message is handed on when its entry ends, not at the end of the listing', (_n, make, file) => {
    const lines = fs.readFileSync(path.join(FIXTURE_ROOT, file), 'latin1').split('\n');
    let emitted = 0;
    const p = make(() => emitted++);
    const seen: number[] = [];
    for (const l of lines) {
      p.line(l);
      seen.push(emitted);
    }
    const before = emitted;
    p.end();
    // Messages come out while reading: at most the last entry is still open at the end.
    expect(before).toBeGreaterThan(0);
    expect(emitted - before).toBeLessThanOrEqual(1);
    expect(seen[Math.floor(seen.length / 2)]).toBeGreaterThan(0);
  });
});

describe('a postqueue -j line longer than the line cap', () => {
  const rcpts = Array.from({ length: 30_000 }, (_, i) => ({ address: `user${i}@list.example`, delay_reason: 'connect to mx.list.example[192.0.2.1]:25: Connection timed out' }));
  const big = JSON.stringify({ queue_name: 'deferred', queue_id: '4F1C21A0B2', arrival_time: 1795400000, message_size: 2_000_000, forced_expire: true, sender: 'MAILER-DAEMON', recipients: rcpts });
  const next = '{"queue_name": "hold", "queue_id": "5A2B31C0D4", "arrival_time": 1795400001, "message_size": 313, "sender": "a@b.example", "recipients": [{"address": "c@d.example"}]}';

  it('is still one message (the fields printed before the recipients, the recipients that fit), flagged truncated', () => {
    expect(big.length).toBeGreaterThan(MAX_LINE_BYTES);
    const out = streamed({ driver: postfix }, Buffer.from(`${big}\n${next}\n`), [65536, 3 * 65536, 1_500_000]);
    expect(out).toHaveLength(2);
    const [m, n] = out;
    expect(m).toMatchObject({ id: '4F1C21A0B2', queue: 'deferred', arrival: 1795400000, size: 2_000_000, sender: '' });
    expect(m.flags).toEqual(['expired', 'truncated']);
    expect(m.reason).toBe(rcpts[0].delay_reason);
    expect(m.recipients.length).toBeGreaterThan(1000);
    expect(m.recipients.length).toBeLessThan(rcpts.length);
    expect(m.recipients.slice(0, 3)).toEqual(['user0@list.example', 'user1@list.example', 'user2@list.example']);
    expect(n).toEqual({ id: '5A2B31C0D4', queue: 'hold', arrival: 1795400001, size: 313, sender: 'a@b.example', recipients: ['c@d.example'] });
  });

  it('a line merely cut short (no cap) is dropped, as before', () => {
    expect(parsePostqueueJson(`${big.slice(0, 5000)}\n${next}\n`).map((m) => m.id)).toEqual(['5A2B31C0D4']);
  });
});
