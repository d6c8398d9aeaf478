// The two-phase scan (listing, then envelope reads in random order), what a run stopped by the
// deadline answers, and the envelope cache between runs. Deadlines are simulated by a driver that
// raises the abort signal after a set number of reads or listed files: no wall clock anywhere.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type GenSummary } from '../../bench/gen-spool.js';
import { depthCheck, evaluateDepth, type DepthOptions } from '../../lib/checks/mailq-depth.js';
import { collectFromSpool, evaluateBounces } from '../../lib/checks/mailer-daemon.js';
import { MTAS } from '../../lib/mta/index.js';
import type { MtaDriver, MtaName } from '../../lib/mta/types.js';
import { parseRange } from '../../lib/plugin/range.js';
import { State } from '../../lib/plugin/result.js';
import { decodeCache, encodeCache, openCache } from '../../lib/queue/envelope-cache.js';
import { scanSpools } from '../../lib/queue/scan.js';
import { seededRandom } from '../../lib/queue/sample.js';
import { collectQueue, type QueueData } from '../../lib/queue/source.js';
import { EnvelopeStore } from '../../lib/queue/store.js';
import { runSpec } from '../helpers/run.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'scan-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const NOW = 1_796_000_000;
const spools: Partial<Record<MtaName, { dir: string; truth: GenSummary; spools: string[] }>> = {};
const spoolDirs = (mta: MtaName, dir: string) => (mta === 'sendmail' ? [path.join(dir, 'mqueue')] : [dir]);

beforeAll(() => {
  for (const mta of ['postfix', 'sendmail', 'exim'] as MtaName[]) {
    const dir = path.join(tmp, mta);
    const truth = generate({ mta, count: 3000, out: dir, seed: 7, now: NOW });
    spools[mta] = { dir, truth, spools: spoolDirs(mta, dir) };
  }
}, 120_000);

/** A driver whose reads (or listed entries) raise `abort` after `after` of them: a deadline, by count. */
function stoppingDriver(base: MtaDriver, abort: AbortController, what: 'read' | 'list', after: number): MtaDriver {
  let n = 0;
  return {
    ...base,
    // The wrapped entry stream is the listing: no batch walker of the base driver around it.
    listBatches: undefined,
    readMessage: (e) => {
      if (what === 'read' && ++n >= after) abort.abort();
      return base.readMessage(e);
    },
    *listEntries(spool, ctx) {
      for (const e of base.listEntries(spool, ctx)) {
        if (what === 'list' && ++n >= after) abort.abort();
        yield e;
      }
    },
  };
}

const opts = (o: Partial<DepthOptions> = {}): DepthOptions => ({ mta: 'postfix', source: 'spool', queues: [], top: 5, countOnly: false, timeout: 10, ...o });

function asData(mta: MtaName, dirs: string[], r: Awaited<ReturnType<typeof scanSpools>>): QueueData {
  const partial = !r.listingComplete ? 'listed some queue files before the 10 s deadline' : r.unread > 0 ? 'read some envelopes before the 10 s deadline' : undefined;
  return { mta, source: 'spool', spools: dirs, commands: [], summary: r.summary, files: r.files, vanished: r.vanished, partial, countsExact: r.listingComplete };
}

describe('boundedState through evaluateDepth: what an incomplete run decides', () => {
  for (const mta of ['postfix', 'sendmail', 'exim'] as MtaName[]) {
    it(`${mta}: reads cut after 500 of 3,000: counts exact, CRITICAL on -c 1000, shares estimated around the truth`, async () => {
      const { truth, spools: dirs } = spools[mta]!;
      const abort = new AbortController();
      const driver = stoppingDriver(MTAS[mta].driver, abort, 'read', 500);
      const r = await scanSpools(driver, dirs, { countOnly: false, signal: abort.signal, random: seededRandom(1), idArrival: driver.idArrival ? (id) => driver.idArrival!(id, NOW) : undefined });
      expect(r.listingComplete).toBe(true);
      expect(r.read).toBeGreaterThan(400);
      expect(r.read).toBeLessThan(700);
      expect(r.unread).toBe(truth.total - r.read - r.vanished);
      expect(r.summary.total).toBe(truth.total);
      // The estimate: the weighted top sender lands near the generator's own count (a 95% interval
      // from ~500 of 3,000 is about +-4 points of share).
      const [top] = r.summary.senders.top(1);
      expect(top.key).toBe(truth.topSender);
      expect(Math.abs(top.count - truth.topSenderCount) / truth.total).toBeLessThan(0.06);
      const ev = evaluateDepth(asData(mta, dirs, r), opts({ mta, critical: parseRange('1000'), warning: parseRange('500') }), NOW);
      expect(ev.state).toBe(State.CRITICAL);
      expect(ev.summary).toMatch(new RegExp(`^${truth.total.toLocaleString('en-US')} messages queued`));
      expect(ev.summary).toMatch(/top sender spocskulker@qa-app-07\.qa\.example \(~\d+%, 95% \d+-\d+%\)/);
      expect(ev.summary).toContain('scan incomplete');
      // Exact numbers only: the count; never bytes/recipients/bounces estimated from a part.
      const labels = ev.metrics.map((m) => m.label);
      expect(labels).toContain('total');
      expect(labels).not.toContain('bytes');
      expect(labels).not.toContain('bounces');
      expect(ev.metrics.find((m) => m.label === 'total')!.value).toBe(truth.total);
      // Sendmail and Exim IDs carry the arrival: the oldest is known from the listing alone.
      if (mta !== 'postfix') {
        expect(r.oldestExact).toBe(true);
        expect(r.summary.oldestArrival).toBe(truth.oldestArrival);
        expect(labels).toContain('oldest_age');
      } else {
        expect(r.oldestExact).toBe(false);
        expect(labels).not.toContain('oldest_age');
      }
    });
  }

  it('queue IDs whose times disagree with their files are not trusted for the unread ones', async () => {
    // A Sendmail spool whose IDs claim a year 20 years back (a wrong clock, another generator):
    // every qf/df renamed with the first ID character moved by 40 (years, mod 60).
    const dir = path.join(tmp, 'bad-ids');
    const truth = generate({ mta: 'sendmail', count: 2000, out: dir, seed: 31, now: NOW });
    const q = path.join(dir, 'mqueue');
    const A = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx';
    for (const f of fs.readdirSync(q)) {
      const id = f.slice(2);
      const moved = A[(A.indexOf(id[0]) + 40) % 60] + id.slice(1);
      fs.renameSync(path.join(q, f), path.join(q, f.slice(0, 2) + moved));
    }
    const abort = new AbortController();
    const driver = stoppingDriver(MTAS.sendmail.driver, abort, 'read', 300);
    const r = await scanSpools(driver, [q], { countOnly: false, signal: abort.signal, random: seededRandom(3), idArrival: (id) => driver.idArrival!(id, NOW) });
    expect(r.unread).toBeGreaterThan(1000);
    expect(r.summary.idArrivalDistrusted).toBeDefined();
    expect(r.oldestExact).toBe(false);
    // The oldest is the oldest file read: never older than the truth.
    expect(r.summary.oldestArrival!).toBeGreaterThanOrEqual(truth.oldestArrival);
    const ev = evaluateDepth(asData('sendmail', [q], r), opts({ mta: 'sendmail' }), NOW);
    expect(ev.details.join('\n')).toMatch(/queue IDs' times not used: [\d,]+ of [\d,]+ read disagree/);
  });

  it('a listing cut at 1,500 files: "at least", CRITICAL on -c 1000, UNKNOWN on -c 5000, no metrics', async () => {
    const { spools: dirs } = spools.postfix!;
    const abort = new AbortController();
    const r = await scanSpools(stoppingDriver(MTAS.postfix.driver, abort, 'list', 1500), dirs, { countOnly: false, signal: abort.signal });
    expect(r.listingComplete).toBe(false);
    expect(r.files).toBeGreaterThanOrEqual(1500);
    expect(r.files).toBeLessThan(3000);
    const data = asData('postfix', dirs, r);
    const crit = evaluateDepth(data, opts({ critical: parseRange('1000') }), NOW);
    expect(crit.state).toBe(State.CRITICAL);
    expect(crit.summary).toMatch(/^at least [\d,]+ messages queued/);
    expect(crit.metrics).toEqual([]);
    expect(evaluateDepth(data, opts({ critical: parseRange('5000') }), NOW).state).toBe(State.UNKNOWN);
    // Between the thresholds: at least WARNING is decided, CRITICAL is not.
    expect(evaluateDepth(data, opts({ warning: parseRange('1000'), critical: parseRange('5000') }), NOW).state).toBe(State.WARNING);
  });

  it('an oldest age that is a lower bound decides an age threshold it already passes, and only that', async () => {
    const { spools: dirs, truth } = spools.postfix!;
    const abort = new AbortController();
    const r = await scanSpools(stoppingDriver(MTAS.postfix.driver, abort, 'read', 300), dirs, { countOnly: false, signal: abort.signal, random: seededRandom(2) });
    const data = asData('postfix', dirs, r);
    const found = NOW - r.summary.oldestArrival!;
    expect(found).toBeLessThanOrEqual(NOW - truth.oldestArrival);
    const below = parseRange(String(Math.max(1, found - 60)));
    const above = parseRange(String(found + 3600 * 24 * 30));
    expect(evaluateDepth(data, opts({ ageCritical: below }), NOW).state).toBe(State.CRITICAL);
    expect(evaluateDepth(data, opts({ ageCritical: above }), NOW).state).toBe(State.UNKNOWN);
    expect(evaluateDepth(data, opts({ ageCritical: above }), NOW).summary).toMatch(/oldest at least /);
  });
});

describe('envelope cache', () => {
  const collect = (mta: MtaName, dirs: string[], stateDir: string, extra: { signal?: AbortSignal; rereadEvery?: number } = {}) =>
    collectQueue(
      { mta, source: 'spool', spools: dirs, countOnly: false, cache: { dir: stateDir, rereadEvery: extra.rereadEvery } },
      { signal: extra.signal ?? new AbortController().signal, deadline: Infinity, now: () => NOW * 1000, timeout: 10, env: {} },
    );
  const figures = (d: QueueData) => ({
    total: d.summary.total,
    byQueue: d.summary.byQueue,
    nullSender: d.summary.nullSender,
    recipients: d.summary.recipients,
    bytes: d.summary.bytes,
    oldest: d.summary.oldestArrival,
    senders: d.summary.senders.top(20),
    domains: d.summary.recipientDomains.top(20),
    clients: d.summary.clients.top(20),
  });

  for (const mta of ['postfix', 'sendmail', 'exim'] as MtaName[]) {
    it(`${mta}: the second run reads no queue file and says exactly what the first said`, async () => {
      const { spools: dirs } = spools[mta]!;
      const stateDir = path.join(tmp, `cache-${mta}`);
      const first = await collect(mta, dirs, stateDir);
      await first.afterOutput?.();
      expect(first.reads).toMatchObject({ cached: 0, read: 3000 });
      const second = await collect(mta, dirs, stateDir);
      await second.afterOutput?.();
      expect(second.reads!.cached).toBe(3000);
      expect(second.reads!.read).toBe(0);
      expect(figures(second)).toEqual(figures(first));
      const stateless = await collectQueue({ mta, source: 'spool', spools: dirs, countOnly: false }, { signal: new AbortController().signal, deadline: Infinity, now: () => NOW * 1000, timeout: 10 });
      expect(figures(stateless)).toEqual(figures(first));
    });
  }

  it('new files are read, gone ones dropped, a file changed in place is seen by the re-read', async () => {
    const dir = path.join(tmp, 'churn');
    generate({ mta: 'sendmail', count: 400, out: dir, seed: 11, now: NOW });
    const q = path.join(dir, 'mqueue');
    const stateDir = path.join(tmp, 'cache-churn');
    const run = async (rereadEvery?: number) => {
      const d = await collect('sendmail', [q], stateDir, { rereadEvery });
      await d.afterOutput?.();
      return d;
    };
    await run();
    const qfs = fs.readdirSync(q).filter((f) => f.startsWith('qf')).sort();
    // 50 delivered (gone), 30 new ones queued.
    for (const f of qfs.slice(0, 50)) {
      fs.rmSync(path.join(q, f));
      fs.rmSync(path.join(q, `df${f.slice(2)}`), { force: true });
    }
    generate({ mta: 'sendmail', count: 30, out: path.join(tmp, 'churn-new'), seed: 12, now: NOW + 60 });
    for (const f of fs.readdirSync(path.join(tmp, 'churn-new', 'mqueue'))) fs.renameSync(path.join(tmp, 'churn-new', 'mqueue', f), path.join(q, f));
    const after = await run();
    expect(after.summary.total).toBe(380);
    expect(after.reads).toMatchObject({ read: 30 });
    expect(after.summary.total).toBe(after.reads!.cached + 30);
    expect(after.reads!.cached).toBeLessThanOrEqual(350);
    // The cache now holds exactly the 380 queued.
    const file = fs.readdirSync(stateDir).find((f) => f.endsWith('.cache'))!;
    const { store } = decodeCache(fs.readFileSync(path.join(stateDir, file)), { mta: 'sendmail', spools: [path.resolve(q)] });
    expect(store.n).toBe(380);
    // A recipient rewritten in place (as an MTA marks one done): found once its slice is re-read.
    const victim = qfs[100];
    const text = fs.readFileSync(path.join(q, victim), 'latin1');
    fs.writeFileSync(path.join(q, victim), text.replace(/^(R[^\n]*:)<?[^\n>]*>?$/m, '$1<moved-in-place@changed.example>'), 'latin1');
    const domains = async (rereadEvery?: number) => (await run(rereadEvery)).summary.recipientDomains.top(1000).map((e) => e.key);
    // Re-reading every cached file each run (production: a random 1% per run) finds it at once.
    expect(await domains(1)).toContain('changed.example');
  });

  it('a damaged cache is rebuilt from the spool, never half-used', async () => {
    const { spools: dirs } = spools.exim!;
    const stateDir = path.join(tmp, 'cache-damage');
    const good = await collect('exim', dirs, stateDir);
    await good.afterOutput?.();
    const file = path.join(stateDir, fs.readdirSync(stateDir).find((f) => f.endsWith('.cache'))!);
    const bytes = fs.readFileSync(file);
    const damages: [string, Buffer][] = [
      ['truncated', bytes.subarray(0, bytes.length >> 1)],
      ['one byte flipped', Buffer.from(bytes.map((b, i) => (i === bytes.length - 100 ? b ^ 0x55 : b)))],
      ['empty', Buffer.alloc(0)],
      ['not a cache', Buffer.from('{"version":1}\n')],
    ];
    for (const [what, b] of damages) {
      fs.writeFileSync(file, b);
      const d = await collect('exim', dirs, stateDir);
      await d.afterOutput?.();
      expect(d.reads!.read, what).toBe(3000);
      expect(figures(d), what).toEqual(figures(good));
      expect(d.notes!.join('\n'), what).toMatch(/envelope cache .* was not usable \(.+\): rebuilt from the spool/);
    }
  });

  it('out-of-range indices and mismatched spools are refused by the decoder', () => {
    const s = new EnvelopeStore();
    s.add({ id: 'A1', queue: 'input', sender: 'a@b.example', recipients: ['c@d.example'] });
    const what = { mta: 'exim', spools: ['/x'] };
    const buf = encodeCache(s, [0], { what, run: 0, saved: 0 });
    expect(decodeCache(buf, what).store.n).toBe(1);
    expect(() => decodeCache(buf, { mta: 'exim', spools: ['/y'] })).toThrow(/another spool/);
  });

  it('a second run while the first holds the lock reads the cache and does not wait or write', async () => {
    const { spools: dirs } = spools.postfix!;
    const stateDir = path.join(tmp, 'cache-busy');
    const first = await collect('postfix', dirs, stateDir);
    await first.afterOutput?.();
    const holder = await openCache({ mta: 'postfix', spools: dirs, dir: stateDir, env: {}, now: () => Date.now(), deadline: Date.now() + 60_000 });
    try {
      const second = await collect('postfix', dirs, stateDir);
      expect(second.reads!.cached).toBe(3000);
      expect(second.notes!.join('\n')).toMatch(/read but not saved: another run holds it/);
    } finally {
      await holder.cache?.release();
    }
  });
});

describe('check-mailer-daemon --exact cut by the deadline', () => {
  it('answers from the interval, exact part from the cache plus the random part, around the truth', async () => {
    const { truth, spools: dirs } = spools.sendmail!;
    const stateDir = path.join(tmp, 'md-state');
    const o = { mta: 'sendmail' as const, source: 'spool' as const, mode: 'exact' as const, sampleSize: 10_000, minMessages: 100, top: 5, timeout: 10, cache: true, stateDir, seed: 5 };
    const ctx = (signal: AbortSignal) => ({ signal, deadline: Date.now() + 60_000, timeout: 10, now: () => NOW * 1000, env: {}, verbose: () => undefined });
    const runs = [];
    for (let k = 0; k < 2; k++) {
      const abort = new AbortController();
      const r = await collectFromSpool(stoppingDriver(MTAS.sendmail.driver, abort, 'read', 500), dirs, { ...o, seed: k + 5 }, ctx(abort.signal));
      await r.afterOutput?.();
      runs.push(r);
    }
    const trueRatio = truth.nullSender / truth.total;
    for (const [k, r] of runs.entries()) {
      expect(r.sampled).toBe(true);
      expect(r.population).toBe(truth.total);
      const ev = evaluateBounces({ mta: 'sendmail', source: 'spool', spools: dirs, commands: [], ...r }, { ...o, warning: parseRange('1'), critical: parseRange('99') });
      const f = ev.facts!.ratio as { low: number; high: number };
      expect(f.low / 100, `run ${k}`).toBeLessThanOrEqual(trueRatio);
      expect(f.high / 100, `run ${k}`).toBeGreaterThanOrEqual(trueRatio);
      expect(ev.state).toBe(State.WARNING);
    }
    // The second run starts from what the first read: those are known exactly.
    expect(runs[0].known?.messages ?? 0).toBeLessThan(100);
    expect(runs[1].known!.messages).toBeGreaterThanOrEqual(450);
  });
});

describe('the second reader thread (built binary)', () => {
  it('reads the same as one thread: every figure equal, on a spool big enough to start it', () => {
    const dist = path.resolve(__dirname, '../../dist/check-mailq-depth.js');
    if (!fs.existsSync(dist)) throw new Error('dist/ missing: npm test builds it first');
    const dir = path.join(tmp, 'threads');
    generate({ mta: 'exim', count: 9000, out: dir, seed: 21, now: NOW });
    const run = (threads?: string) => {
      const r = spawnSync(process.execPath, [dist, '--mta', 'exim', '--spool', dir, '--no-cache', '--sizes', '--format', 'json', '-v', '-t', '600'], {
        encoding: 'utf8',
        env: { ...process.env, ...(threads ? { MAILQ_CHECKS_THREADS: threads } : {}) },
      });
      const o = JSON.parse(r.stdout);
      // Ages move with the real clock between the two runs; the arrival they come from does not.
      const ageless = (t: string) => t.replace(/oldest [^;(]*/g, 'oldest');
      return {
        o,
        figures: {
          summary: ageless(o.summary),
          metrics: o.metrics.filter((m: { label: string }) => m.label !== 'oldest_age'),
          details: o.details.filter((l: string) => !/^(took|envelopes read:) /.test(l)).map(ageless),
        },
      };
    };
    const one = run('1');
    const two = run();
    expect(two.figures).toEqual(one.figures);
    // The second thread did read (about half), and the single-thread run had none.
    const byWorker = /envelopes read: 9,000 \(([\d,]+) by the second thread\)/.exec(two.o.details.join('\n'));
    expect(byWorker).not.toBeNull();
    expect(Number(byWorker![1].replace(/,/g, ''))).toBeGreaterThan(1000);
    expect(one.o.details.join('\n')).toMatch(/envelopes read: 9,000, 0 unread/);
    expect(one.o.metrics.find((m: { label: string }) => m.label === 'total').value).toBe(9000);
  });
});

describe('check-mailq-depth end to end', () => {
  it('--no-cache writes nothing; the default keeps a cache in the state dir', async () => {
    const { spools: dirs } = spools.postfix!;
    const stateDir = path.join(tmp, 'e2e-state');
    // About the cache, not a verdict (no default thresholds: the spool is older than the age defaults).
    const a = await runSpec(depthCheck, ['--mta', 'postfix', '--spool', dirs[0], '--no-cache', '--state-dir', stateDir, '--no-default-thresholds'], NOW);
    expect(a.code).toBe(0);
    expect(fs.existsSync(stateDir) ? fs.readdirSync(stateDir).filter((f) => f.endsWith('.cache')) : []).toEqual([]);
    const b = await runSpec(depthCheck, ['--mta', 'postfix', '--spool', dirs[0], '--state-dir', stateDir, '-c', '1000', '--no-default-thresholds'], NOW);
    expect(b.code).toBe(2);
    expect(fs.readdirSync(stateDir).filter((f) => f.endsWith('.cache'))).toHaveLength(1);
    expect(b.out.split('\n')[0]).toBe(a.out.split('\n')[0].replace('MAILQ OK', 'MAILQ CRITICAL').replace('total=3000;;;0', 'total=3000;;1000;0'));
  });
});
