// check-mailq-depth --shape (lib/queue/shape.ts): qshape's rules by hand, then the real captured
// queues of every MTA: the domain counts must be the capture manifest's (what was submitted, each
// recipient once in its domain), the ages in the bucket the clock puts them in.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { shapeBucket, shapeDomain, shapeLabels, shapeTable, ShapeCounter } from '../../lib/queue/shape.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { runSpec } from '../helpers/run.js';

describe("qshape's rules", () => {
  it('domains: lower-cased, after the last @, .. made ., dots trimmed; the null sender is MAILER-DAEMON', () => {
    expect(shapeDomain('User@Example.COM')).toBe('example.com');
    expect(shapeDomain('"a@b"@mx.example.org')).toBe('mx.example.org');
    expect(shapeDomain('x@sub..example.net.')).toBe('sub.example.net');
    expect(shapeDomain('x@.example.net')).toBe('example.net');
    expect(shapeDomain('')).toBe('MAILER-DAEMON');
    expect(shapeDomain('<>')).toBe('MAILER-DAEMON');
    expect(shapeDomain('root')).toBe('root');
  });

  it('buckets: [0,5) [5,10) [10,20) ... [640,1280) 1280+ minutes', () => {
    const min = 60;
    expect([0, 299, 300, 599, 600, 1199, 1200, 2399, 2400].map((s) => shapeBucket(s))).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5]);
    expect(shapeBucket(640 * min - 1)).toBe(8);
    expect(shapeBucket(640 * min)).toBe(9);
    expect(shapeBucket(1280 * min - 1)).toBe(9);
    expect(shapeBucket(1280 * min)).toBe(10);
    expect(shapeBucket(30 * 86400)).toBe(10);
    // A message from the future (a clock behind the MTA's): the youngest bucket, never lost.
    expect(shapeBucket(-500)).toBe(1);
    expect(shapeLabels()).toEqual(['5', '10', '20', '40', '80', '160', '320', '640', '1280', '1280+']);
  });

  it('recipients count each, senders once per message; no arrival: T only; rows by total, then shorter name', () => {
    const now = 1_800_000_000;
    const c = new ShapeCounter('recipient', now);
    c.add(now - 60, 'a@x.example', ['u1@b.example', 'u2@b.example', 'u@ccc.example']);
    c.add(now - 700, '', ['u@dd.example']);
    c.add(undefined, 'a@x.example', ['u3@b.example']);
    const r = c.result();
    expect(r.rows.map((x) => [x.domain, x.counts[0], x.counts[1], x.counts[3]])).toEqual([
      ['TOTAL', 5, 3, 1],
      ['b.example', 3, 2, 0],
      ['dd.example', 1, 0, 1],
      ['ccc.example', 1, 1, 0],
    ]);
    expect(r.ageUnknown).toBe(1);
    const s = new ShapeCounter('sender', now);
    s.add(now - 60, 'a@x.example', ['u1@b.example', 'u2@b.example']);
    s.add(now - 60, '', ['u1@b.example']);
    expect(s.result().rows.map((x) => [x.domain, x.counts[0]])).toEqual([
      ['TOTAL', 2],
      ['x.example', 1],
      ['MAILER-DAEMON', 1],
    ]);
    expect(shapeTable(r, 1)).toEqual([
      '           T  5  10  20  40  80  160  320  640  1280  1280+',
      '    TOTAL  5  3   0   1   0   0    0    0    0     0      0',
      'b.example  3  2   0   0   0   0    0    0    0     0      0',
    ]);
  });
});

/** Per domain, how many recipients (or senders) the capture submitted: the manifest, not the code. */
function manifestDomains(dir: string, by: 'recipient' | 'sender'): Record<string, number> {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const out: Record<string, number> = {};
  const dom = (a: string) => (a === '' ? 'MAILER-DAEMON' : a.slice(a.lastIndexOf('@') + 1).toLowerCase());
  for (const x of m.submitted as { from: string; to: string[] }[])
    for (const a of by === 'sender' ? [x.from] : x.to) out[dom(a)] = (out[dom(a)] ?? 0) + 1;
  return out;
}

describe('--shape on the real captures', () => {
  // OpenSMTPD's capture delivered one recipient of a message in part (its manifest's "to" is not what is queued).
  const cases = fixtureCases().filter((c) => c.mta !== 'opensmtpd');
  for (const c of cases)
    for (const by of ['recipient', 'sender'] as const)
      it(`${c.name}: ${by} domains as submitted, every message in the bucket its age puts it`, async () => {
        const spools = c.spools.flatMap((s) => ['--spool', s]);
        const run = async (now: number) => {
          // The shape, not a verdict: two days on, the captures are past the age defaults.
          const r = await runSpec(depthCheck, ['--mta', c.mta, ...spools, '--no-cache', '--shape', by, '--shape-rows', '100', '--no-default-thresholds', '--format', 'json'], now);
          expect(r.code).toBe(0);
          return JSON.parse(r.out).shape as { rows: { domain: string; counts: number[] }[]; ageUnknown: number };
        };
        const want = manifestDomains(c.dir, by);
        // Two days after the capture: every message is over 1,280 minutes old.
        const late = await run(c.capturedAt + 2 * 86400);
        const rows = Object.fromEntries(late.rows.filter((r) => r.domain !== 'TOTAL').map((r) => [r.domain, r.counts[0]]));
        expect(rows).toEqual(want);
        const total = late.rows[0];
        expect(total.domain).toBe('TOTAL');
        expect(total.counts[0]).toBe(Object.values(want).reduce((a, b) => a + b, 0));
        expect(late.ageUnknown).toBe(0);
        expect(total.counts[10]).toBe(total.counts[0]);
        // Ten seconds after the capture (the capture takes well under five minutes): all in the first bucket.
        const early = await run(c.capturedAt + 10);
        expect(early.rows[0].counts[1]).toBe(total.counts[0]);
      });

  it('the long output shows the table under line one, never in it; --count-only refuses --shape', async () => {
    const c = cases.find((x) => x.name === 'postfix')!;
    const r = await runSpec(depthCheck, ['--mta', 'postfix', '--spool', c.spools[0], '--no-cache', '--shape'], c.capturedAt + 600);
    const lines = r.out.split('\n');
    expect(lines[0]).not.toMatch(/shape|TOTAL/);
    const at = lines.findIndex((l) => l.startsWith('queue shape: recipient domains'));
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(/^ +T  5  10  20  40  80  160  320  640  1280  1280\+$/);
    expect(lines[at + 2]).toMatch(/^ +TOTAL +40 /);
    const bad = await runSpec(depthCheck, ['--mta', 'postfix', '--spool', c.spools[0], '--count-only', '--shape'], c.capturedAt);
    expect(bad.code).toBe(3);
    expect(bad.out).toMatch(/^MAILQ UNKNOWN - --shape needs every message's age and recipients/);
    const typo = await runSpec(depthCheck, ['--mta', 'postfix', '--spool', c.spools[0], '--shape', 'domain'], c.capturedAt);
    expect(typo.code).toBe(3);
    expect(typo.out).toMatch(/^MAILQ UNKNOWN - invalid --shape 'domain': use one of: recipient, sender/);
  });

  it('command mode (the MTA listing) gives the same domains as the spool', async () => {
    for (const c of cases.filter((x) => x.listingFiles.length && (x.mta === 'postfix' || x.mta === 'exim'))) {
      const files = c.listingFiles.flatMap((f) => ['--listing-file', f]);
      const spools = (c.commandSpools.length ? c.commandSpools : c.spools).flatMap((s) => ['--spool', s]);
      const cmd = await runSpec(depthCheck, ['--mta', c.mta, ...spools, '--source', 'command', ...files, '--shape', '--shape-rows', '100', '--format', 'json'], c.capturedAt + 2 * 86400);
      const rows = Object.fromEntries((JSON.parse(cmd.out).shape.rows as { domain: string; counts: number[] }[]).filter((r) => r.domain !== 'TOTAL').map((r) => [r.domain, r.counts[0]]));
      expect(rows, c.name).toEqual(manifestDomains(c.dir, 'recipient'));
    }
  });
});
