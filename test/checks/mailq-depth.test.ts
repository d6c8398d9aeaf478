// check-mailq-depth end to end, in-process, on spools captured from the real MTAs: the spool
// reader must agree with the MTA's own listing of the same queue, and with what was submitted.
import { MTAS } from '../../lib/mta/index.js';
import { describe, expect, it } from 'vitest';
import { depthCheck, evaluateDepth } from '../../lib/checks/mailq-depth.js';
import { runSpec } from '../helpers/run.js';
import { collectQueue } from '../../lib/queue/source.js';
import { fixtureCases } from '../helpers/fixtures.js';

const runDepth = (argv: string[], nowSec: number) => runSpec(depthCheck, argv, nowSec);

const never = new AbortController().signal;
// The capture manifest says "deferred" for every MTA; the checks use each MTA's own queue names.
const QUEUE_NAMES: Record<string, Record<string, string>> = { postfix: {}, exim: { deferred: 'input' }, sendmail: { deferred: 'mqueue' }, opensmtpd: { deferred: 'queue', suspended: 'queue' } };
const cases = fixtureCases();

describe('real fixtures are present', () => {
  // The repo's captures hold all five, and so does CI's live run (FIXTURE_ROOT: fresh captures of
  // every case in test/fixtures/capture-fixtures.sh DEFAULT_CASES, all installed with apt there).
  it('has captures of every MTA', () => {
    const want = ['postfix', 'exim', 'sendmail', 'nullmailer', 'opensmtpd'];
    expect(new Set(cases.map((c) => c.mta))).toEqual(new Set(want));
  });
});

for (const c of cases) {
  describe(`${c.name}: spool reader vs ${c.mta}'s own listing`, () => {
    const read = (source: 'spool' | 'command') =>
      collectQueue(
        { mta: c.mta, source, spools: c.spools, countOnly: false, listingFiles: source === 'command' ? c.listingFiles : undefined },
        { signal: never, deadline: Infinity, now: () => c.capturedAt * 1000, timeout: 10 },
      );

    it('counts every message per queue exactly as the listing does', async () => {
      const [spool, listing] = await Promise.all([read('spool'), read('command')]);
      expect(spool.source).toBe('spool');
      expect(listing.source).toBe('command');
      const d = MTAS[c.mta].driver;
      if (d.listingQueues || d.spoolQueues) {
        // Each sees queues the other cannot (nullmailer's mailq does not list failed/; OpenSMTPD's
        // pauses are in memory only, so the spool counts them as queue): the messages the listing
        // can show are the same number. Per queue and per name: test/mta/<mta>.test.ts.
        const listed = d.listingQueues ?? d.queues;
        expect(listed.reduce((n, q) => n + (spool.summary.byQueue[q] ?? 0), 0)).toBe(listing.summary.total);
        return;
      }
      expect(spool.summary.total).toBe(listing.summary.total);
      expect(spool.summary.nullSender).toBe(listing.summary.nullSender);
      expect(spool.summary.recipients).toBe(listing.summary.recipients);
      expect(spool.summary.senders.top(50)).toEqual(listing.summary.senders.top(50));
      expect(spool.summary.recipientDomains.top(50)).toEqual(listing.summary.recipientDomains.top(50));
    });

    it('matches what the capture script submitted and saw listed', async () => {
      const spool = await read('spool');
      const truth = c.manifest.listingCounts ?? c.manifest.expected;
      expect(spool.summary.total).toBe(truth.total);
      expect(spool.summary.nullSender).toBe(truth.nullSender);
      expect(spool.summary.recipients).toBe(truth.recipients);
      // The capture's queue names in the driver's (OpenSMTPD's spool shows paused mail as queue).
      const want: Record<string, number> = {};
      for (const [q, n] of Object.entries(truth.byQueue)) want[QUEUE_NAMES[c.mta]?.[q] ?? q] = (want[QUEUE_NAMES[c.mta]?.[q] ?? q] ?? 0) + n;
      for (const [q, n] of Object.entries(want)) expect(spool.summary.byQueue[q] ?? 0, q).toBe(n);
    });

    it('finds the oldest arrival the listing shows (listing precision)', async () => {
      const [spool, listing] = await Promise.all([read('spool'), read('command')]);
      expect(spool.summary.oldestArrival).toBeDefined();
      // postqueue -j has exact seconds; exim -bp prints an age in minutes; mailq a date without seconds.
      const tolerance = c.mta === 'postfix' ? 0 : c.mta === 'exim' ? 60 : 60;
      expect(Math.abs(spool.summary.oldestArrival! - listing.summary.oldestArrival!)).toBeLessThanOrEqual(tolerance);
      expect(spool.summary.oldestArrival!).toBeLessThanOrEqual(c.capturedAt);
    });

    it('count-only agrees with the full read on totals', async () => {
      const r = await collectQueue(
        { mta: c.mta, source: 'spool', spools: c.spools, countOnly: true },
        { signal: never, deadline: Infinity, now: () => c.capturedAt * 1000, timeout: 10 },
      );
      const full = await read('spool');
      expect(r.summary.total).toBe(full.summary.total);
    });

    it('runs end to end: JSON metrics, thresholds and the culprit in the summary', async () => {
      const spool = await read('spool');
      const total = spool.summary.total;
      const top = spool.summary.senders.top(1)[0];
      const { out, code } = await runDepth(
        ['--mta', c.mta, ...c.spools.flatMap((s) => ['--spool', s]), '-w', String(total - 1), '-c', String(total + 1), '--format', 'json'],
        c.capturedAt,
      );
      const o = JSON.parse(out);
      expect(code).toBe(1);
      expect(o.status).toBe('WARNING');
      expect(o.metrics.find((m: { label: string }) => m.label === 'total').value).toBe(total);
      expect(o.summary).toContain(top.key === '<>' ? '<> (MAILER-DAEMON)' : top.key);
      const nagios = await runDepth(['--mta', c.mta, ...c.spools.flatMap((s) => ['--spool', s]), '-c', String(total - 1)], c.capturedAt);
      expect(nagios.code).toBe(2);
      expect(nagios.out.split('|')).toHaveLength(2);
      expect(nagios.out).toMatch(new RegExp(`^MAILQ CRITICAL - ${total.toLocaleString('en-US')} messages queued`));
    });
  });
}

describe('evaluateDepth', () => {
  it('applies --queue thresholds to the named queue only and names it', async () => {
    const c = cases.find((x) => x.name === 'postfix')!;
    const data = await collectQueue(
      { mta: 'postfix', source: 'spool', spools: c.spools, countOnly: false },
      { signal: never, deadline: Infinity, now: () => c.capturedAt * 1000, timeout: 10 },
    );
    const deferred = data.summary.byQueue.deferred;
    const ev = evaluateDepth(
      data,
      { mta: 'postfix', source: 'spool', queues: ['hold'], top: 3, countOnly: false, timeout: 10, critical: { text: '1', start: 0, end: 1, inside: false } },
      c.capturedAt,
    );
    expect(data.summary.byQueue.hold).toBeGreaterThan(1);
    expect(ev.state).toBe(2);
    expect(ev.summary).toMatch(/^\d+ in hold of \d+ queued/);
    expect(ev.metrics.find((m) => m.label === 'hold')?.crit?.text).toBe('1');
    expect(ev.metrics.find((m) => m.label === 'deferred')?.value).toBe(deferred);
    expect(ev.metrics.find((m) => m.label === 'total')?.crit).toBeUndefined();
  });

  it('raises the oldest-age thresholds (incident 004: deferral visible within minutes)', async () => {
    const c = cases.find((x) => x.name === 'postfix')!;
    const later = c.capturedAt + 20 * 60;
    const warn = await runDepth(['--mta', 'postfix', '--spool', c.spools[0], '--age-warning', '15m', '--age-critical', '1h'], later);
    expect(warn.code).toBe(1);
    expect(warn.out).toMatch(/oldest 20m/);
    const crit = await runDepth(['--mta', 'postfix', '--spool', c.spools[0], '--age-warning', '15m', '--age-critical', '1h'], c.capturedAt + 2 * 3600);
    expect(crit.code).toBe(2);
  });
});

describe('queues a source cannot show are unknown, not 0 (real nullmailer and OpenSMTPD captures)', () => {
  const unseen = [
    // nullmailer's mailq lists queue/ only; failed/ holds messages on the capture.
    { mta: 'nullmailer', source: 'command', queue: 'failed' },
    // OpenSMTPD's pauses live in smtpd's memory: the spool cannot tell them apart.
    { mta: 'opensmtpd', source: 'spool', queue: 'suspended' },
  ] as const;
  for (const u of unseen) {
    const c = cases.find((x) => x.mta === u.mta);
    it.skipIf(!c)(`${u.mta} --source ${u.source}: no ${u.queue} count or metric, a note; --queue ${u.queue} refused`, async () => {
      const args = ['--mta', u.mta, '--source', u.source, ...c!.spools.flatMap((s) => ['--spool', s])];
      if (u.source === 'command') args.push(...c!.listingFiles.flatMap((f) => ['--listing-file', f]));
      const r = await runDepth([...args, '--no-cache'], c!.capturedAt);
      expect(r.code, r.out).toBe(0);
      const perf = r.out.split('\n')[0].split(' | ')[1];
      expect(perf).toMatch(/\btotal=\d+/);
      expect(perf).not.toMatch(new RegExp(`\\b${u.queue}=`));
      expect(r.out).toMatch(new RegExp(`^${u.queue}: not shown by .*so not counted`, 'm'));
      const sel = await runDepth([...args, '--no-cache', '--queue', u.queue], c!.capturedAt);
      expect(sel.code).toBe(3);
      expect(sel.out).toMatch(new RegExp(`--queue ${u.queue} is not shown by .*read it with --source ${u.source === 'command' ? 'spool' : 'command'}`));
    });
  }
});
