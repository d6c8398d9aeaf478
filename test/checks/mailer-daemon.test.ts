// check-mailer-daemon end to end, in-process: exact counts against the real MTAs' own listings of
// the captured spools, sampled runs against the ground truth of generated spools, the verdict rule
// for intervals, every exit-3 path and the output contracts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type GenSummary } from '../../bench/gen-spool.js';
import {
  collectBounces,
  collectFromSpool,
  emptyTally,
  evaluateBounces,
  intervalText,
  mailerDaemonCheck,
  percent,
  tallyMessage,
  type BounceData,
  type BounceOptions,
} from '../../lib/checks/mailer-daemon.js';
import { runCheck, type CollectContext, type RunContext } from '../../lib/plugin/check.js';
import { parseRange } from '../../lib/plugin/range.js';
import { State } from '../../lib/plugin/result.js';
import { MTAS } from '../../lib/mta/index.js';
import type { MtaDriver } from '../../lib/mta/types.js';
import { proportionInterval } from '../../lib/queue/sample.js';
import { fixtureCases, type FixtureCase } from '../helpers/fixtures.js';
import { TEST_ENV } from '../helpers/run.js';

interface Run {
  out: string;
  code: number;
}

/** Run the check in-process. `now` is the injected clock (ms); default: frozen at `nowSec`. */
async function run(argv: string[], nowSec = 1_795_432_267, now?: () => number): Promise<Run> {
  let out = '';
  let code = -1;
  const ctx: RunContext = {
    argv,
    env: TEST_ENV, // the envelope cache in the test run's state dir, not /var/lib
    now: now ?? (() => nowSec * 1000),
    hostname: 'mx1.lab.example',
    stdout: (s) => (out += s),
    stderr: (s) => {
      throw new Error(`unexpected stderr: ${s}`);
    },
    exit: (c) => (code = c),
  };
  await runCheck(mailerDaemonCheck, ctx);
  return { out, code };
}

interface JsonOut {
  status: string;
  code: number;
  summary: string;
  metrics: { label: string; value: number; warn: string | null; crit: string | null }[];
  details: string[];
  sampled: boolean;
  source: string;
  ratio: { estimate: number; low: number; high: number };
  sample: { read: number; population: number; seed: number; bounces?: number } | null;
  partial?: string;
}

async function json(argv: string[], nowSec?: number, now?: () => number): Promise<JsonOut & { exit: number }> {
  const r = await run([...argv, '--format', 'json'], nowSec, now);
  return { ...(JSON.parse(r.out) as JsonOut), exit: r.code };
}

const value = (o: JsonOut, label: string) => {
  const m = o.metrics.find((x) => x.label === label);
  if (!m) throw new Error(`no metric ${label}`);
  return m.value;
};

const spoolArgs = (c: FixtureCase) => ['--mta', c.mta, ...c.spools.flatMap((s) => ['--spool', s])];
const listingArgs = (c: FixtureCase) => ['--mta', c.mta, '--source', 'command', ...c.listingFiles.flatMap((f) => ['--listing-file', f]), ...c.commandSpools.flatMap((s) => ['--spool', s])];

// The capture manifest says "deferred" for every MTA; the checks use each MTA's own queue names.
const QUEUE_NAMES: Record<string, Record<string, string>> = { postfix: {}, exim: { deferred: 'input' }, sendmail: { deferred: 'mqueue' }, nullmailer: {}, opensmtpd: { deferred: 'queue', suspended: 'queue' } };

/** Bounces per queue and their recipient domains, from what the capture script submitted. */
function submittedBounces(c: FixtureCase) {
  const byQueue: Record<string, number> = {};
  const domains = new Map<string, number>();
  const submitted = (c.manifest as unknown as { submitted: { from: string; to: string[]; queueHint: string }[] }).submitted;
  for (const s of submitted.filter((x) => x.from === '')) {
    const q = QUEUE_NAMES[c.mta]?.[s.queueHint] ?? s.queueHint;
    byQueue[q] = (byQueue[q] ?? 0) + 1;
    for (const d of new Set(s.to.map((t) => t.slice(t.lastIndexOf('@') + 1).toLowerCase()))) domains.set(d, (domains.get(d) ?? 0) + 1);
  }
  const most = Math.max(...domains.values());
  return { byQueue, topDomains: [...domains].filter(([, n]) => n === most).map(([d]) => d) };
}

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
  describe(`${c.name}: bounces read from the spool vs ${c.mta}'s own listing`, () => {
    const truth = c.manifest.listingCounts ?? c.manifest.expected;

    it('exact: bounces, total and ratio equal the listing ground truth', async () => {
      const o = await json([...spoolArgs(c), '--exact'], c.capturedAt);
      expect(o.source).toBe('spool');
      expect(o.sampled).toBe(false);
      expect(value(o, 'bounces')).toBe(truth.nullSender);
      expect(value(o, 'total')).toBe(truth.total);
      expect(value(o, 'ratio')).toBeCloseTo((100 * truth.nullSender) / truth.total, 3);
      expect(value(o, 'sampled')).toBe(0);
    });

    it('command mode on the recorded listing (MAILER-DAEMON / <> as the null sender) gives the same counts per queue', async () => {
      const [spool, listing] = await Promise.all([json([...spoolArgs(c), '--exact'], c.capturedAt), json(listingArgs(c), c.capturedAt)]);
      expect(listing.source).toBe('command');
      const d = MTAS[c.mta].driver;
      if (d.listingQueues || d.spoolQueues) {
        // Each sees queues the other cannot (see the depth test): the bounces the listing can show agree.
        const listed = d.listingQueues ?? d.queues;
        const sum = (o: JsonOut) => listed.reduce((n, q) => n + (value(o, `bounces_${q}`) ?? 0), 0);
        expect(sum(spool)).toBe(value(listing, 'bounces'));
        return;
      }
      const perQueue = (o: JsonOut) => o.metrics.filter((m) => m.label.startsWith('bounces_')).map((m) => [m.label, m.value]);
      expect(perQueue(spool)).toEqual(perQueue(listing));
      // Every static queue, and each named queue the spool holds (Exim: one listing each).
      expect(perQueue(spool).length).toBe(d.queues.length + c.namedQueues.length);
      expect(value(listing, 'bounces')).toBe(truth.nullSender);
      expect(value(listing, 'total')).toBe(truth.total);
    });

    it('bounces per queue are where the capture script put them', async () => {
      const o = await json([...spoolArgs(c), '--exact'], c.capturedAt);
      const { byQueue } = submittedBounces(c);
      // A bounce the MTA made itself (OpenSMTPD's for a refused message) is in no submission: the
      // per-queue split is then checked by the MTA's own test file against its listing.
      if (Object.values(byQueue).reduce((a, b) => a + b, 0) !== truth.nullSender) return;
      for (const q of MTAS[c.mta].driver.queues) expect(value(o, `bounces_${q}`), q).toBe(byQueue[q] ?? 0);
    });

    it('auto mode on a small queue reads every file (an exact result, not a sample)', async () => {
      const auto = await json(spoolArgs(c), c.capturedAt);
      expect(auto.sampled).toBe(false);
      expect(value(auto, 'bounces')).toBe(truth.nullSender);
      expect(auto.details.join('\n')).toMatch(/every file read/);
      const sample = await json([...spoolArgs(c), '--sample', '100', '--seed', '5'], c.capturedAt);
      expect(sample.sampled).toBe(false);
      expect(value(sample, 'bounces')).toBe(truth.nullSender);
      expect(sample.details.join('\n')).toMatch(/covers the whole queue/);
    });

    it('names the top bounce destination in the summary and alerts on the ratio', async () => {
      const ratio = (100 * truth.nullSender) / truth.total;
      const { topDomains } = submittedBounces(c);
      const crit = await run([...spoolArgs(c), '--min-messages', '0', '-w', String(ratio - 5), '-c', String(ratio - 1)], c.capturedAt);
      expect(crit.code).toBe(2);
      const summary = crit.out.split('|')[0].slice(0, 300);
      expect(summary).toMatch(/^MAILER-DAEMON CRITICAL - /);
      expect(topDomains.some((d) => summary.includes(`of them to ${d}`)), summary).toBe(true);
      expect((await run([...spoolArgs(c), '--min-messages', '0', '-w', String(ratio - 1), '-c', String(ratio + 1)], c.capturedAt)).code).toBe(1);
      expect((await run([...spoolArgs(c), '--min-messages', '0', '-w', String(ratio + 1), '-c', String(ratio + 2)], c.capturedAt)).code).toBe(0);
      // Below --min-messages (default 100) the same thresholds are not applied, and the output says why.
      const few = await run([...spoolArgs(c), '-w', String(ratio - 5), '-c', String(ratio - 1)], c.capturedAt);
      expect(few.code).toBe(0);
      expect(few.out).toMatch(new RegExp(`^MAILER-DAEMON OK - ${truth.total} queued, ${truth.nullSender} bounces .*fewer than --min-messages 100, not judged`));
    });
  });
}

describe('generated spools: sampling against the generator ground truth', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mailer-daemon-test-'));
  let pf: GenSummary;
  let ex: GenSummary;
  beforeAll(() => {
    pf = generate({ mta: 'postfix', count: 20_000, out: path.join(tmp, 'postfix'), seed: 11, now: 1_795_000_000 });
    ex = generate({ mta: 'exim', count: 3000, out: path.join(tmp, 'exim'), seed: 12, now: 1_795_000_000, split: true });
  }, 180_000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const pfArgs = () => ['--mta', 'postfix', '--spool', pf.out];

  it('exact: the bounces the generator wrote', async () => {
    const o = await json([...pfArgs(), '--exact'], pf.now);
    expect(value(o, 'bounces')).toBe(pf.nullSender);
    expect(value(o, 'total')).toBe(pf.total);
    expect(o.sampled).toBe(false);
  });

  it('--sample 2000: the 95% interval contains the true ratio, and the run is marked sampled in every format', async () => {
    const truth = (100 * pf.nullSender) / pf.total;
    const args = [...pfArgs(), '--sample', '2000', '--seed', '20240601'];
    const o = await json(args, pf.now);
    expect(o.sampled).toBe(true);
    expect(o.sample).toMatchObject({ read: 2000, population: pf.total, seed: 20240601 });
    expect(o.ratio.low).toBeLessThanOrEqual(truth);
    expect(o.ratio.high).toBeGreaterThanOrEqual(truth);
    expect(o.ratio.high - o.ratio.low).toBeLessThan(5); // 2,000 of 20,000 pins a ratio near 30% to about ±2%
    expect(value(o, 'sampled')).toBe(1);
    expect(value(o, 'sample_size')).toBe(2000);
    expect(value(o, 'total')).toBe(pf.total);
    // Scaled-up bounce count: within the interval's counts.
    expect(value(o, 'bounces')).toBeGreaterThanOrEqual(Math.floor((o.ratio.low * pf.total) / 100));
    expect(value(o, 'bounces')).toBeLessThanOrEqual(Math.ceil((o.ratio.high * pf.total) / 100));
    expect(o.summary).toMatch(/^\d+\.\d% ±\d+\.\d+% of 20,000 queued are bounces \(sampled 2,000 of 20,000\), \d+% of them to victim-a\.example/);

    const nagios = await run(args, pf.now);
    expect(nagios.out.split('\n')[0]).toContain('sampled 2,000 of 20,000');
    expect(nagios.out).toContain('sampled=1;;;0;1');
    const graphite = await run([...args, '--format', 'graphite'], pf.now);
    expect(graphite.out).toMatch(/^mx1\.mail\.mailer_daemon\.sampled 1 \d+$/m);
    // Same seed, same sample, same answer.
    expect((await json(args, pf.now)).ratio).toEqual(o.ratio);
  });

  it('a seeded sample is a different sample for another seed', async () => {
    const a = await json([...pfArgs(), '--sample', '500', '--seed', '1'], pf.now);
    const b = await json([...pfArgs(), '--sample', '500', '--seed', '2'], pf.now);
    expect([a.sample?.seed, b.sample?.seed]).toEqual([1, 2]);
    // What was read, not the seed's own mention: with the seed ignored, these would be equal.
    const sampleOf = (o: typeof a) => ({ bounces: o.sample?.bounces, details: o.details.map((l) => l.replace(/\(seed \d+\)/, '')) });
    expect(sampleOf(a)).not.toEqual(sampleOf(b));
  });

  it('the verdict uses the interval: CRITICAL only when all of it is critical, WARNING when it reaches the range', async () => {
    const args = [...pfArgs(), '--sample', '1000', '--seed', '99'];
    const o = await json(args, pf.now);
    const { low, high, estimate } = o.ratio;
    expect(high - low).toBeGreaterThan(1);
    // Critical threshold in the middle of the interval: the sample cannot prove it either way.
    const mid = await run([...args, '-c', String(((estimate + high) / 2).toFixed(3))], pf.now);
    expect(mid.code).toBe(1);
    expect(mid.out).toMatch(/may be CRITICAL: the 95% interval/);
    const midBelow = await run([...args, '-c', String(((estimate + low) / 2).toFixed(3))], pf.now);
    expect(midBelow.code).toBe(1);
    expect(midBelow.out).toMatch(/not CRITICAL: only part of the 95% interval/);
    // Critical threshold below the whole interval: proven.
    expect((await run([...args, '-c', String((low - 0.5).toFixed(3))], pf.now)).code).toBe(2);
    // Warning threshold inside the interval, critical far away.
    expect((await run([...args, '-w', String(((estimate + high) / 2).toFixed(3)), '-c', '90'], pf.now)).code).toBe(1);
    // Everything well above the interval: OK.
    expect((await run([...args, '-w', String((high + 1).toFixed(3)), '-c', String((high + 2).toFixed(3))], pf.now)).code).toBe(0);
    // An exact read with the threshold in the middle of that interval decides on the exact value.
    const exact = await json([...pfArgs(), '--exact', '-c', String(((estimate + high) / 2).toFixed(3))], pf.now);
    const truth = (100 * pf.nullSender) / pf.total;
    expect(exact.exit).toBe(truth > (estimate + high) / 2 ? 2 : 0);
  });

  it('--sample auto samples when the clock says an exact read would not fit, reads everything when it would', async () => {
    // A clock that advances 1 s at every reading: the first 256 files of the exact read "take" a
    // second, a tenth of what -t 10 leaves, so the read projects to over a minute and gives up.
    let t = pf.now * 1000;
    const slow = await json([...pfArgs(), '--seed', '3', '-t', '10'], undefined, () => (t += 1000));
    expect(slow.sampled).toBe(true);
    expect(slow.sample?.read).toBe(10_000);
    expect(slow.details.join('\n')).toMatch(
      /--sample auto: an exact read of 20,000 files was on course to take about \d+ s with .* left, so it stopped after 256 files and a sample of 10,000 was read/,
    );
    const truth = (100 * pf.nullSender) / pf.total;
    expect(slow.ratio.low).toBeLessThanOrEqual(truth);
    expect(slow.ratio.high).toBeGreaterThanOrEqual(truth);
    // A frozen clock: reading costs nothing, the exact read fits.
    const fast = await json([...pfArgs(), '--seed', '3', '-t', '10'], pf.now);
    expect(fast.sampled).toBe(false);
    expect(value(fast, 'bounces')).toBe(pf.nullSender);
    expect(fast.details.join('\n')).toMatch(/--sample auto: an exact read of 20,000 files fitted in the deadline .*: every file read/);
  });

  it('a deadline during the sampled read leaves a smaller, still uniform sample; during the listing a partial result', async () => {
    const driver = MTAS.postfix.driver;
    const abort = new AbortController();
    let reads = 0;
    // The deadline "fires" after 300 files were read.
    const wrapped: MtaDriver = {
      ...driver,
      readMessage: (e) => {
        if (++reads === 300) abort.abort();
        return driver.readMessage(e);
      },
    };
    const opts: BounceOptions = { mta: 'postfix', source: 'spool', mode: 'sample', sampleSize: 2000, minMessages: 100, top: 5, seed: 8, timeout: 10 };
    const ctx = (signal: AbortSignal): CollectContext => ({ signal, deadline: Infinity, timeout: 10, now: () => 0, env: {}, verbose: () => {} });
    const r = await collectFromSpool(wrapped, [pf.out], opts, ctx(abort.signal));
    expect(r.partial).toBeUndefined();
    expect(r.sampled).toBe(true);
    expect(r.tally.messages).toBe(300);
    expect(r.population).toBe(pf.total);
    expect(r.why).toMatch(/deadline stopped the read after 300 of 2,000 sampled files/);
    const iv = proportionInterval(r.tally.bounces, r.tally.messages, r.population);
    const truth = pf.nullSender / pf.total;
    expect(iv.low).toBeLessThanOrEqual(truth);
    expect(iv.high).toBeGreaterThanOrEqual(truth);

    // --sample auto: the deadline stops the exact read; the 200 sampled files read before it are the answer.
    const late = new AbortController();
    let autoReads = 0;
    const lateDriver: MtaDriver = {
      ...driver,
      readMessage: (e) => {
        if (++autoReads === 200 + 500) late.abort();
        return driver.readMessage(e);
      },
    };
    const auto = await collectFromSpool(lateDriver, [pf.out], { ...opts, mode: 'auto', sampleSize: 10_000 }, ctx(late.signal));
    expect(auto.partial).toBeUndefined();
    expect(auto.sampled).toBe(true);
    expect(auto.tally.messages).toBe(200);
    expect(auto.why).toMatch(/the deadline stopped the exact read after 500 files: the sample read before it is used/);

    const gone = new AbortController();
    gone.abort();
    const none = await collectFromSpool(driver, [pf.out], opts, ctx(gone.signal));
    expect(none.partial).toMatch(/listed 0 queue files before the 10 s deadline/);
    const exact = await collectFromSpool(driver, [pf.out], { ...opts, mode: 'exact' }, ctx(gone.signal));
    expect(exact.partial).toMatch(/listed 0 queue files before the 10 s deadline, read none/);
    // Nothing read is not "no message queued".
    const ev = evaluateBounces({ mta: 'postfix', source: 'spool', spools: [pf.out], commands: [], ...none }, opts);
    expect(ev.state).toBe(State.UNKNOWN);
    expect(ev.summary).toBe('no queue file read');
  });

  it('Exim split spool: sampled bounces per queue (frozen is only known once a file is read) and the interval', async () => {
    const args = ['--mta', 'exim', '--spool', ex.out];
    const exact = await json([...args, '--exact'], ex.now);
    expect(value(exact, 'bounces')).toBe(ex.nullSender);
    for (const q of ['input', 'frozen']) expect(value(exact, `bounces_${q}`)).toBeLessThanOrEqual(ex.byQueue[q] ?? 0);
    const o = await json([...args, '--sample', '1000', '--seed', '4'], ex.now);
    expect(o.sampled).toBe(true);
    const truth = (100 * ex.nullSender) / ex.total;
    expect(o.ratio.low).toBeLessThanOrEqual(truth);
    expect(o.ratio.high).toBeGreaterThanOrEqual(truth);
    expect(value(o, 'bounces_input') + value(o, 'bounces_frozen')).toBeGreaterThanOrEqual(value(o, 'bounces') - 1);
    // 1,000 of 3,000: the finite population correction narrows the interval below the infinite-queue width.
    const infinite = proportionInterval(Math.round((o.ratio.estimate / 100) * 1000), 1000, 1e12);
    expect(o.ratio.high - o.ratio.low).toBeLessThan(100 * (infinite.high - infinite.low));
  });
});

describe('intervalText', () => {
  it('shows ± with the wider side when the interval is nearly symmetric, the bounds when it is lopsided', () => {
    const mid = proportionInterval(5210, 10_000, 512_340);
    const text = intervalText(mid);
    const wide = Math.max(mid.high - mid.estimate, mid.estimate - mid.low) * 100;
    expect(text).toBe(`52.1% ±${wide.toFixed(1)}%`);
    const low = proportionInterval(3, 400, 500_000);
    expect(low.high - low.estimate).toBeGreaterThan(1.25 * (low.estimate - low.low));
    expect(intervalText(low)).toBe(`0.75% (${percent(low.low * 100)}-${percent(low.high * 100)})`);
    expect(percent(low.high * 100)).toMatch(/^\d\.\d%$/);
    expect(intervalText({ estimate: 0.2, low: 0.2, high: 0.2 })).toBe('20.0%');
  });
});

describe('command listings with odd queue names', () => {
  it('a queue called "constructor" or "__proto__" is counted like any other', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'md-listing-'));
    try {
      const file = path.join(dir, 'postqueue-j.txt');
      const line = (q: string, id: string, sender: string) =>
        JSON.stringify({ queue_name: q, queue_id: id, arrival_time: 1_795_000_000, message_size: 300, sender, recipients: [{ address: `u${id}@victim.example` }] });
      fs.writeFileSync(file, [line('constructor', 'A1', 'MAILER-DAEMON'), line('__proto__', 'A2', 'MAILER-DAEMON'), line('deferred', 'A3', 'app@x.example')].join('\n') + '\n');
      const o = await json(['--mta', 'postfix', '--source', 'command', '--listing-file', file, '--min-messages', '0']);
      expect(value(o, 'total')).toBe(3);
      expect(value(o, 'bounces')).toBe(2);
      // The Postfix driver files unknown queue names under deferred.
      expect(value(o, 'bounces_deferred')).toBe(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the tally keeps such names as plain keys (no prototype to trip over)', () => {
    const t = emptyTally(['input']);
    for (const q of ['constructor', '__proto__', '__proto__', 'input'])
      tallyMessage(t, { id: q, queue: q, sender: '', recipients: ['x@victim.example'] });
    expect(Object.keys(t.bouncesByQueue).sort()).toEqual(['__proto__', 'constructor', 'input']);
    expect(t.bouncesByQueue.constructor).toBe(1);
    expect(t.bouncesByQueue['__proto__']).toBe(2);
    expect(t.byQueue.input).toBe(1);
    expect(t.bounces).toBe(4);
  });
});

describe('evaluateBounces', () => {
  const opts: BounceOptions = { mta: 'postfix', source: 'spool', mode: 'exact', sampleSize: 10_000, minMessages: 100, top: 5, timeout: 10 };
  const data = (messages: { sender?: string; to: string; queue?: string }[], extra: Partial<BounceData> = {}): BounceData => {
    const tally = emptyTally(MTAS.postfix.driver.queues);
    messages.forEach((m, i) => tallyMessage(tally, { id: String(i), queue: m.queue ?? 'deferred', sender: m.sender, recipients: [m.to] }));
    return { mta: 'postfix', source: 'spool', spools: ['/x'], commands: [], sampled: false, tally, population: tally.messages, files: tally.messages, vanished: 0, why: 'test', ...extra };
  };
  const mk = (n: number, bounceEvery: number) =>
    Array.from({ length: n }, (_, i) => (i % bounceEvery === 0 ? { sender: '', to: `u${i}@victim-${i % 3 ? 'a' : 'b'}.example` } : { sender: 'app@x.example', to: 'ops@lab.example' }));

  it('a message whose sender could not be read is queued mail, not a bounce', () => {
    const msgs = [...mk(150, 3), { to: 'x@y.example' }, { to: 'z@y.example' }];
    const ev = evaluateBounces(data(msgs), opts);
    expect(ev.metrics.find((m) => m.label === 'total')?.value).toBe(152);
    expect(ev.metrics.find((m) => m.label === 'bounces')?.value).toBe(50);
    expect(ev.details).toContain('2 message(s) with an unreadable sender (counted, not as bounces)');
  });

  it('an empty queue is OK', () => {
    const ev = evaluateBounces(data([]), { ...opts, critical: parseRange('1') });
    expect(ev.state).toBe(State.OK);
    expect(ev.summary).toBe('no message queued');
    expect(ev.metrics.find((m) => m.label === 'ratio')?.value).toBe(0);
  });

  it('--min-messages: below it OK whatever the ratio, at it judged', () => {
    const all = mk(99, 1);
    const below = evaluateBounces(data(all), { ...opts, critical: parseRange('50') });
    expect(below.state).toBe(State.OK);
    expect(below.summary).toMatch(/^99 queued, 99 bounces \(100\.0%\).*fewer than --min-messages 100, not judged$/);
    const at = evaluateBounces(data(mk(100, 1)), { ...opts, critical: parseRange('50') });
    expect(at.state).toBe(State.CRITICAL);
    expect(evaluateBounces(data(all), { ...opts, minMessages: 0, critical: parseRange('50') }).state).toBe(State.CRITICAL);
  });

  it('counts a bounce once per destination domain, lists domains and queues, and lists recipients only for a loop', () => {
    const msgs = [...mk(200, 2), { sender: '', to: 'loop@victim-b.example', queue: 'hold' }, { sender: '', to: 'loop@victim-b.example', queue: 'hold' }];
    const ev = evaluateBounces(data(msgs), opts);
    const bounces = msgs.filter((m) => m.sender === '').length;
    expect(ev.metrics.find((m) => m.label === 'bounces')?.value).toBe(bounces);
    expect(ev.metrics.find((m) => m.label === 'bounces_hold')?.value).toBe(2);
    expect(ev.details[0]).toMatch(/^bounces by queue: deferred 100 \(98%\), hold 2 \(2%\)$/);
    expect(ev.details).toContain('top bounce recipients:');
    expect(ev.details.find((l) => l.includes('loop@victim-b.example'))).toMatch(/ 2 /);
    const noRepeat = evaluateBounces(data(mk(200, 2)), opts);
    expect(noRepeat.details).not.toContain('top bounce recipients:');
    // Two bounces to one address among 1,000 backscatter bounces: chance, not a loop (under 1%).
    const chance = evaluateBounces(data([...mk(2000, 2), { sender: '', to: 'twice@victim-b.example' }, { sender: '', to: 'twice@victim-b.example' }]), opts);
    expect(chance.details).not.toContain('top bounce recipients:');
  });
});

describe('exit 3 for bad input, with one line', () => {
  const c = cases.find((x) => x.mta === 'postfix')!;
  const BAD: [string, string[], RegExp][] = [
    ['--sample not a number', ['--sample', 'lots'], /invalid --sample 'lots'/],
    ['--sample 0', ['--sample', '0'], /invalid --sample '0'/],
    ['--sample below the minimum', ['--sample', '99'], /invalid --sample '99': give a whole number from 100/],
    ['--sample above the maximum', ['--sample', '5000000'], /invalid --sample/],
    ['--sample fraction', ['--sample', '1.5'], /invalid --sample '1.5'/],
    ['--sample empty', ['--sample', ''], /invalid --sample ''/],
    ['--sample twice', ['--sample', '200', '--sample', '300'], /--sample given more than once \(200, 300\): give --sample once/],
    ['--exact with --sample N', ['--exact', '--sample', '500'], /--exact and --sample 500 contradict each other/],
    ['--sample with --source command', ['--sample', '500', '--source', 'command'], /--sample 500 needs the spool/],
    ['bad warning range', ['-w', '10:5'], /invalid warning range '10:5'/],
    ['bad critical range', ['-c', 'abc'], /invalid critical range 'abc'/],
    ['--min-messages negative', ['--min-messages', '-1'], /invalid --min-messages/],
    ['--min-messages text', ['--min-messages', 'many'], /invalid --min-messages 'many'/],
    ['--top too big', ['--top', '101'], /invalid --top '101'/],
    ['--seed text', ['--seed', 'x'], /invalid --seed 'x'/],
    ['unknown option', ['--bogus'], /Unknown argument/i],
    ['bad timeout', ['-t', '0'], /invalid timeout/],
  ];
  for (const [what, argv, re] of BAD) {
    it(what, async () => {
      const r = await run(['--mta', 'postfix', '--spool', c.spools[0], ...argv]);
      expect(r.code).toBe(3);
      expect(r.out).toMatch(/^MAILER-DAEMON UNKNOWN - /);
      expect(r.out).toMatch(re);
      expect(r.out.trim().split('\n')).toHaveLength(1);
    });
  }

  it('a missing spool', async () => {
    const r = await run(['--mta', 'postfix', '--spool', '/nonexistent/spool']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^MAILER-DAEMON UNKNOWN - spool \/nonexistent\/spool not found: check the --spool path/);
  });

  it('a spool that is not the MTA named', async () => {
    const exim = cases.find((x) => x.mta === 'exim')!;
    const r = await run(['--mta', 'postfix', '--spool', exim.spools[0]]);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^MAILER-DAEMON UNKNOWN - no postfix queue found/);
  });

  it('a missing listing file in command mode', async () => {
    const r = await run(['--mta', 'postfix', '--source', 'command', '--listing-file', '/nonexistent/postqueue-j.txt']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/cannot read listing file/);
  });

  it('a listing that says the MTA failed is not an empty queue', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'md-listing-'));
    try {
      const file = path.join(dir, 'postqueue-j.txt');
      fs.writeFileSync(file, 'postqueue: fatal: Queue report unavailable - mail system is down\n');
      const r = await run(['--mta', 'postfix', '--source', 'command', '--listing-file', file]);
      expect(r.code).toBe(3);
      expect(r.out).toMatch(/^MAILER-DAEMON UNKNOWN - 'postqueue -j' printed no queue listing: postqueue: fatal: Queue report unavailable/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--exact and --sample auto together are fine (auto is the default)', async () => {
    expect((await run(['--mta', 'postfix', '--spool', c.spools[0], '--exact', '--sample', 'auto'])).code).toBe(0);
  });

  it('a deadline before anything was read is a partial result (which the runner reports as UNKNOWN)', async () => {
    const gone = new AbortController();
    gone.abort();
    const d = await collectBounces(
      { mta: 'postfix', source: 'spool', spools: c.spools, mode: 'exact', sampleSize: 10_000, minMessages: 100, top: 5, timeout: 10 },
      { signal: gone.signal, deadline: 0, timeout: 10, now: () => 0, env: {}, verbose: () => {} },
    );
    expect(d.partial).toMatch(/before the 10 s deadline/);
  });
});

describe('output contracts', () => {
  const c = cases.find((x) => x.mta === 'sendmail')!;
  const args = () => [...spoolArgs(c), '--min-messages', '0', '-w', '10', '-c', '50'];

  it('Nagios: exactly one |, perfdata on the first line only, labels of [A-Za-z0-9_.]', async () => {
    const r = await run(args(), c.capturedAt);
    expect(r.out.split('|')).toHaveLength(2);
    const [first, ...rest] = r.out.trimEnd().split('\n');
    expect(first).toContain('|');
    expect(rest.length).toBeGreaterThan(2);
    for (const kv of first.split(' | ')[1].split(' ')) expect(kv).toMatch(/^[A-Za-z0-9_.]+=[-0-9.]+[%a-zA-Z]*(;[^;\s]*){0,4}$/);
    expect(first).toMatch(/ ratio=20%;10;50;0;100 /);
  });

  it('Graphite: three fields per line, every metric, sampled 0 for an exact run', async () => {
    const r = await run([...args(), '--format', 'graphite', '--scheme', 'mx1.mail'], c.capturedAt);
    const lines = r.out.trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(/^mx1\.mail\.mailer_daemon\.[A-Za-z0-9_]+ -?[0-9.]+ \d+$/);
    const labels = lines.map((l) => l.split(' ')[0].split('.').pop());
    expect(labels).toEqual(expect.arrayContaining(['ratio', 'bounces', 'total', 'sampled', 'bounces_mqueue', 'bounces_clientmqueue']));
    expect(r.out).toMatch(/^mx1\.mail\.mailer_daemon\.sampled 0 /m);
  });

  it('JSON: the sampled flag, the interval and the source are fields', async () => {
    const o = await json(args(), c.capturedAt);
    expect(o.sampled).toBe(false);
    expect(o.ratio.low).toBe(o.ratio.estimate);
    expect(o.sample).toBeNull();
    expect(o.source).toBe('spool');
  });
});
