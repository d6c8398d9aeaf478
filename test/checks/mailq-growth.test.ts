// check-mailq-growth: verdicts on sample sequences (pure), then real spools of all three MTAs grown
// between in-process runs with a fake clock, then two real processes on one state file.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type GenSummary } from '../../bench/gen-spool.js';
import { evaluateGrowth, growthCheck, growthStateTarget, rateRange, type GrowthData, type GrowthOptions, type GrowthSample } from '../../lib/checks/mailq-growth.js';
import { clockTime } from '../../lib/plugin/lock.js';
import { parseRange } from '../../lib/plugin/range.js';
import { State } from '../../lib/plugin/result.js';
import { openState } from '../../lib/plugin/state.js';
import { POSTFIX_QUEUES } from '../../lib/mta/postfix.js';
import { emptySummary } from '../../lib/queue/summary.js';
import { buildChecks, bundleChild, Child, metricOf, removeTempDirs, runAt, tempDir } from '../helpers/state-harness.js';

afterAll(removeTempDirs);

const T0 = 1_795_000_000;

/** Postfix data whose samples have these deferred counts, one a minute, the last one now. */
function series(deferred: number[], step = 60, others = { active: 3, hold: 1 }): { data: GrowthData; now: number } {
  const now = T0 + (deferred.length - 1) * step;
  const samples: GrowthSample[] = deferred.map((d, i) => ({
    t: T0 + i * step,
    total: d + others.active + others.hold,
    queues: { incoming: 0, active: others.active, deferred: d, hold: others.hold, maildrop: 0, corrupt: 0 },
  }));
  const summary = emptySummary(POSTFIX_QUEUES, false);
  const last = samples[samples.length - 1];
  summary.total = last.total;
  Object.assign(summary.byQueue, last.queues);
  return {
    now,
    data: {
      queue: { mta: 'postfix', source: 'spool', spools: ['/var/spool/postfix'], summary, files: last.total, vanished: 0, commands: [] },
      samples,
      notes: [],
      stateFile: '/var/lib/mailq-checks/x.json',
    },
  };
}

function options(extra: Partial<GrowthOptions> = {}): GrowthOptions {
  return {
    mta: 'postfix',
    source: 'spool',
    queues: ['deferred'],
    window: 900,
    minSamples: 3,
    timeout: 10,
    warning: rateRange(parseRange('50')),
    critical: rateRange(parseRange('500')),
    ...extra,
  };
}

const flat = (n: number, v = 1000) => Array.from({ length: n }, () => v);
const ramp = (n: number, from: number, perMin: number) => Array.from({ length: n }, (_, i) => from + i * perMin);

describe('verdicts on sample sequences (deferred, -w 50 -c 500 per minute)', () => {
  const table: [string, number[], State, RegExp][] = [
    ['first run: baseline', [100], State.OK, /^collecting baseline \(1 of 3 samples\), 100 in deferred$/],
    ['two samples, however steep: baseline', [100, 9000], State.OK, /^collecting baseline \(2 of 3 samples\), 9,000 in deferred$/],
    ['steady +100/min', ramp(3, 100, 100), State.WARNING, /^deferred growing \+100\/min \(15m window, 3 samples\), now 300; heading for ~6,300 in 1h$/],
    ['steady +600/min', ramp(6, 100, 600), State.CRITICAL, /^deferred growing \+600\/min \(15m window, 6 samples\), now 3,100/],
    ['slow growth +10/min', ramp(10, 100, 10), State.OK, /^deferred growing \+10\/min \(15m window, 10 samples\), now 190$/],
    ['flat', flat(8), State.OK, /^deferred steady \+0\/min \(15m window, 8 samples\), now 1,000$/],
    ['shrinking -200/min (a bare -w 50 means ~:50)', ramp(6, 5000, -200), State.OK, /^deferred shrinking -200\/min/],
    ['bursty: a burst in the newest sample', [...flat(8), 5000], State.OK, /^deferred steady \+0\/min \(15m window, 9 samples; 1 new sample is no trend yet\), now 5,000$/],
    ['bursty: a burst that drained', [...flat(5), 5000, ...flat(3)], State.OK, /^deferred (steady|shrinking|growing) [-+]\d\/min/],
    ['bursty: noise around a level', [1000, 1040, 980, 1030, 990, 1025, 970, 1010, 1000], State.OK, /^deferred (steady|shrinking|growing) [-+]\d+(\.\d)?\/min/],
    ['incident 004, first run of the rise: one sample is no trend yet', [...flat(10), 1200], State.OK, /^deferred steady \+0\/min \(15m window, 11 samples; 1 new sample is no trend yet\)/],
    // The last flat sample is the knee of the rise: with the two risen ones, three samples of the new regime.
    ['incident 004, second run of the rise', [...flat(10), 1200, 1400], State.WARNING, /^deferred growing \+200\/min \(since a change 2m ago, 3 samples\), now 1,400/],
  ];
  it.each(table)('%s', (_name, deferred, state, summary) => {
    const { data, now } = series(deferred);
    const ev = evaluateGrowth(data, options(), now);
    expect(ev.summary).toMatch(summary);
    expect(ev.state).toBe(state);
  });

  it('the window slope alone would not have seen the rise of incident 004 yet; the regime since the change has', () => {
    const { data, now } = series([...flat(10), 1200, 1400]);
    const ev = evaluateGrowth(data, options(), now);
    const m = (l: string) => ev.metrics.find((x) => x.label === l)!;
    expect(m('rate_window').value).toBeLessThan(50);
    expect(m('rate_recent').value).toBe(200);
    expect(m('rate').value).toBe(200);
    expect(m('rate').warn?.text).toBe('~:50');
    expect(m('rate_deferred').value).toBe(200);
    expect(m('rate_active').value).toBe(0);
  });

  it('projects to --limit and alerts on the eta: "reaches 50,000 in ~1h20m"', () => {
    const { data, now } = series(ramp(9, 13_704, 412));
    const etaWarning = { text: '7200:', start: 7200, end: Infinity, inside: false };
    const etaCritical = { text: '1800:', start: 1800, end: Infinity, inside: false };
    const ev = evaluateGrowth(data, options({ warning: undefined, critical: undefined, limit: 50_000, etaWarning, etaCritical }), now);
    expect(ev.summary).toBe('deferred growing +412/min (15m window, 9 samples), now 17,000; reaches 50,000 in ~1h20m');
    expect(ev.state).toBe(State.WARNING);
    const eta = ev.metrics.find((m) => m.label === 'eta')!;
    expect(eta.value).toBe(Math.round((33_000 / 412) * 60));
    expect(eta.warn?.text).toBe('7200:');
    const soon = evaluateGrowth(series(ramp(9, 43_000, 412)).data, options({ limit: 50_000, etaWarning, etaCritical }), now);
    expect(soon.state).toBe(State.CRITICAL);
    const over = evaluateGrowth(series(ramp(9, 52_000, -10)).data, options({ limit: 50_000, etaWarning, etaCritical }), now);
    expect(over.summary).toMatch(/at or above the limit 50,000$/);
    expect(over.state).toBe(State.CRITICAL);
    const away = evaluateGrowth(series(ramp(9, 1000, -10)).data, options({ limit: 50_000, etaWarning, etaCritical }), now);
    expect(away.summary).toMatch(/not heading for 50,000$/);
    expect(away.state).toBe(State.OK);
    expect(away.metrics.find((m) => m.label === 'eta')).toBeUndefined();
  });

  it('one outlying sample on a flat queue: no projection to the limit', () => {
    const { data, now } = series([...flat(10, 2000), 2400]);
    const ev = evaluateGrowth(data, options({ limit: 50_000, etaWarning: { text: '7200:', start: 7200, end: Infinity, inside: false } }), now);
    expect(ev.summary).toMatch(/; not heading for 50,000$/);
    expect(ev.metrics.find((m) => m.label === 'eta')).toBeUndefined();
    expect(ev.state).toBe(State.OK);
  });

  it('a gap longer than the window: back to a baseline', () => {
    const { data } = series(ramp(5, 100, 100));
    const later = data.samples[4].t + 2 * 3600;
    data.samples.push({ ...data.samples[4], t: later, total: 9000 });
    const ev = evaluateGrowth(data, options(), later);
    expect(ev.summary).toMatch(/^collecting baseline \(1 of 3 samples\)/);
    expect(ev.state).toBe(State.OK);
  });

  it('a gap inside the window: the rate uses the real times', () => {
    const { data } = series(ramp(3, 100, 100));
    data.samples.push({ ...data.samples[2], t: data.samples[2].t + 600, queues: { ...data.samples[2].queues, deferred: 1300 } });
    const ev = evaluateGrowth(data, options(), data.samples[3].t);
    expect(ev.metrics.find((m) => m.label === 'rate')!.value).toBeCloseTo(100, 0);
    expect(ev.state).toBe(State.WARNING);
  });

  it('the clock went back: samples from the future are not used', () => {
    const { data, now } = series(ramp(6, 100, 600));
    const ev = evaluateGrowth(data, options(), now - 4 * 60);
    expect(ev.summary).toMatch(/^collecting baseline \(2 of 3 samples\)/);
    expect(ev.state).toBe(State.OK);
  });

  it('samples a few seconds apart are no rate', () => {
    const { data, now } = series([100, 5000, 9000], 5);
    const ev = evaluateGrowth(data, options(), now);
    expect(ev.summary).toMatch(/^collecting baseline \(3 samples over 10s; a rate needs 1m\)/);
    expect(ev.state).toBe(State.OK);
  });

  it('graphs nothing of a count cut short by the deadline', () => {
    const { data, now } = series(ramp(4, 100, 100));
    data.partial = 'scanned 175,616 files before the 10 s deadline';
    const ev = evaluateGrowth(data, options(), now);
    expect(ev.metrics.map((m) => m.label)).toEqual(['samples']);
  });

  it('measures the whole queue without --queue', () => {
    const { data, now } = series(ramp(4, 100, 100));
    const ev = evaluateGrowth(data, options({ queues: [] }), now);
    expect(ev.summary).toMatch(/^queue growing \+100\/min \(15m window, 4 samples\), now 404/);
  });
});

// ---------------------------------------------------------------------------------------------
// Real spools, grown between runs

// Exim's frozen messages (a flag inside -H) sit in input/: --queue input reads the -H files, so
// input is counted without the frozen ones.
const GEN: Record<string, { spool: (root: string) => string; deferred: string; counted: (g: GenSummary) => number }> = {
  postfix: { spool: (r) => r, deferred: 'deferred', counted: (g) => g.byQueue.deferred },
  exim: { spool: (r) => r, deferred: 'input', counted: (g) => g.byQueue.input ?? 0 },
  sendmail: { spool: (r) => path.join(r, 'mqueue'), deferred: 'mqueue', counted: (g) => g.byQueue.mqueue },
};

describe.each(Object.keys(GEN))('%s spool grown between runs (fake clock)', (mta) => {
  const root = tempDir(`growth-${mta}-`);
  const stateDir = path.join(root, 'state');
  const spool = GEN[mta].spool(path.join(root, 'spool'));
  const q = GEN[mta].deferred;
  // Same seed and arrival clock each time: a larger count rewrites the same messages and adds more.
  const grow = (count: number) => generate({ mta, count, out: path.join(root, 'spool'), seed: 7, now: T0 - 3600 });
  // A generated spool has no queue runs (nothing drains it every 5m): --queue-run 0, so the baseline
  // needs 3 samples over 1m, as before the sawtooth guard (docs/check-mailq-growth.md).
  const args = ['--mta', mta, '--spool', spool, '--state-dir', stateDir, '--queue', q, '-w', '100', '-c', '1000', '--queue-run', '0', '--format', 'json'];

  it('goes from baseline to WARNING, with the rate per queue in the metrics', async () => {
    const seen: { status: string; summary: string; rate?: number; rateQ?: number; total?: number; truth: number }[] = [];
    for (let i = 0; i < 4; i++) {
      const g = grow(200 + i * 300);
      const r = await runAt(growthCheck, args, T0 + i * 60);
      seen.push({ status: r.json!.status, summary: r.json!.summary, rate: metricOf(r, 'rate'), rateQ: metricOf(r, `rate_${q}`), total: metricOf(r, 'total'), truth: GEN[mta].counted(g) });
      expect(metricOf(r, 'total')).toBe(g.total);
    }
    expect(seen.map((s) => s.status)).toEqual(['OK', 'OK', 'WARNING', 'WARNING']);
    expect(seen[0].summary).toBe(`collecting baseline (1 of 3 samples), ${seen[0].truth} in ${q}`);
    expect(seen[1].summary).toBe(`collecting baseline (2 of 3 samples), ${seen[1].truth} in ${q}`);
    // The deferred share of 300 new messages a minute, as the generator wrote them.
    const expected = (seen[3].truth - seen[0].truth) / 3;
    expect(Math.abs(seen[3].rate! - expected)).toBeLessThan(expected * 0.05);
    expect(seen[3].rateQ).toBe(seen[3].rate);
    expect(seen[3].summary).toMatch(new RegExp(`^${q} growing \\+\\d+/min \\(15m window, 4 samples\\), now ${seen[3].truth.toLocaleString('en-US')}`));
  });

  it('answers UNKNOWN at once while another run holds the state', async () => {
    const real = path.resolve(spool);
    const holder = await openState({
      check: 'mailq_growth',
      // The key of the run below: --queue q, the default 15m window; Exim reads the -H files for input.
      ...growthStateTarget(mta as 'postfix', [real], mta !== 'exim', 900, [q], { warning: '~:100', critical: '~:1000' }),
      dir: stateDir,
      env: {},
      now: () => (T0 + 300) * 1000,
      window: 900,
      deadline: (T0 + 310) * 1000,
      isSample: (x): x is GrowthSample => true,
    });
    try {
      const r = await runAt(growthCheck, args.slice(0, -2), T0 + 305);
      expect(r.code).toBe(3);
      expect(r.out).toMatch(new RegExp(`^MAILQ_GROWTH UNKNOWN - previous run still in progress since ${clockTime((T0 + 300) * 1000)} \\(pid ${process.pid}\\)`));
    } finally {
      await holder.release();
    }
  });
});

describe('exim --queue frozen', () => {
  it('reads the -H files to tell frozen from input, in its own state file', async () => {
    const root = tempDir('growth-frozen-');
    const stateDir = path.join(root, 'state');
    const mix = { flood: 0.2, bounce: 0.2, held: 0.5, fresh: 0.05 };
    const args = ['--mta', 'exim', '--spool', path.join(root, 'spool'), '--state-dir', stateDir, '--queue', 'frozen', '-w', '50', '--queue-run', '0', '--format', 'json'];
    let last;
    for (let i = 0; i < 3; i++) {
      const g = generate({ mta: 'exim', count: 100 + 200 * i, out: path.join(root, 'spool'), seed: 5, now: T0, mix });
      last = await runAt(growthCheck, args, T0 + 60 * i);
      expect(last.json!.summary).toContain(i < 2 ? `${g.byQueue.frozen} in frozen` : `now ${g.byQueue.frozen}`);
    }
    expect(last!.json!.status).toBe('WARNING');
    expect(metricOf(last!, 'rate_frozen')).toBeGreaterThan(50);
    // The count-only runs (no --queue frozen) keep their own history.
    const plain = await runAt(growthCheck, args.filter((a, i) => a !== '--queue' && args[i - 1] !== '--queue'), T0 + 180);
    expect(plain.json!.summary).toMatch(/^collecting baseline \(1 of 3 samples\)/);
  });
});

describe('state trouble never gives a false alarm', () => {
  it('a corrupt state file after a CRITICAL trend: OK, fresh baseline, says why', async () => {
    const root = tempDir('growth-corrupt-');
    const stateDir = path.join(root, 'state');
    const args = ['--mta', 'postfix', '--spool', path.join(root, 'spool'), '--state-dir', stateDir, '-w', '10', '-c', '100', '--queue-run', '0'];
    for (let i = 0; i < 3; i++) {
      generate({ mta: 'postfix', count: 100 + 500 * i, out: path.join(root, 'spool'), seed: 3, now: T0 });
      const r = await runAt(growthCheck, args, T0 + 60 * i);
      if (i === 2) expect(r.code).toBe(2);
    }
    const [file] = fs.readdirSync(stateDir).filter((f) => f.endsWith('.json'));
    fs.writeFileSync(path.join(stateDir, file), '{"version":1,"samples":[{"t":');
    const r = await runAt(growthCheck, args, T0 + 180);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^MAILQ_GROWTH OK - collecting baseline \(1 of 3 samples\), 1,100 queued \|/);
    expect(r.out).toContain(`state file was not valid JSON: moved aside to ${file}.corrupt-${T0 + 180}; starting a fresh baseline`);
  });

  it('a count cut by the deadline is a lower bound: CRITICAL when even it grows past -c since the last run, else UNKNOWN', () => {
    // Samples: 100, 100, 100 deferred a minute apart; this run's listing was cut after 2,600 deferred.
    const { data, now } = series([100, 100, 100]);
    const cutAt = now + 120;
    const cut: GrowthData = {
      ...data,
      partial: 'listed 2,604 queue files before the 10 s deadline',
      queue: { ...data.queue, summary: { ...data.queue.summary, total: 2604, byQueue: { ...data.queue.summary.byQueue, deferred: 2600 } } },
    };
    // (2,600 - 100) / 2 min = +1,250/min at least: past -c 500.
    const crit = evaluateGrowth(cut, options(), cutAt);
    expect(crit.state).toBe(State.CRITICAL);
    expect(crit.partialHandled).toBe(true);
    expect(crit.summary).toBe('deferred growing at least +1,250/min since the run 2m ago, now at least 2,600; scan incomplete: listed 2,604 queue files before the 10 s deadline');
    expect(crit.metrics.map((m) => m.label)).toEqual(['samples']);
    // At least +1,250/min is inside neither range when -c is 5,000 and -w 2,000: nothing decided.
    const open = evaluateGrowth(cut, options({ warning: rateRange(parseRange('2000')), critical: rateRange(parseRange('5000')) }), cutAt);
    expect(open.partialHandled).toBeUndefined();
  });

  it('a count stopped by the deadline is not kept as a sample (it would read as a sudden drop)', async () => {
    const root = tempDir('growth-partial-');
    const spool = path.join(root, 'spool');
    generate({ mta: 'postfix', count: 500, out: spool, seed: 3, now: T0 });
    const o = options({ queues: [], spools: [spool], stateDir: path.join(root, 'state') });
    const ctx = (signal: AbortSignal) => ({ signal, deadline: Infinity, timeout: 10, now: () => T0 * 1000, env: {}, verbose: () => undefined });
    const stopped = new AbortController();
    stopped.abort();
    const cut = await growthCheck.collect(o, ctx(stopped.signal));
    expect(cut.partial).toBe('listed 0 queue files before the 10 s deadline');
    expect(cut.samples).toEqual([]);
    const whole = await growthCheck.collect(o, ctx(new AbortController().signal));
    expect(whole.partial).toBeUndefined();
    expect(whole.samples.map((x) => x.total)).toEqual([500]);
  });

  it('rejects options that cannot work, as UNKNOWN', async () => {
    const cases: [string[], RegExp][] = [
      [['--eta-warning', '1h'], /--eta-warning\/--eta-critical project to a queue size: give --limit N too/],
      [['--window', '30s'], /invalid --window '30s'/],
      [['--min-samples', '1'], /invalid --min-samples '1'/],
      [['--limit', '-5'], /invalid --limit '-5'/],
      [['--mta', 'postfix', '--queue', 'mqueue'], /unknown queue 'mqueue' for postfix/],
      [['-w', '10:5'], /invalid warning range '10:5'/],
    ];
    for (const [argv, msg] of cases) {
      const r = await runAt(growthCheck, argv, T0);
      expect(r.code, argv.join(' ')).toBe(3);
      expect(r.out).toMatch(msg);
    }
  });
});

describe('two real processes (the built check)', () => {
  let dist: string;
  let child: string;
  beforeAll(async () => {
    dist = buildChecks();
    child = await bundleChild();
  });

  it('the second run answers UNKNOWN at once while the first holds the lock, then runs normally', async () => {
    const root = tempDir('growth-2proc-');
    const spool = path.join(root, 'spool');
    generate({ mta: 'postfix', count: 50, out: spool, seed: 1 });
    const stateDir = path.join(root, 'state');
    // The state (and lock) of a run without thresholds: --no-default-thresholds (thresholds key the state).
    const hold = new Child(child, ['hold', JSON.stringify({ dir: stateDir, check: 'mailq_growth', ...growthStateTarget('postfix', [spool]) })]);
    const ev = await hold.next();
    expect(ev.event).toBe('locked');
    const bin = path.join(dist, 'check-mailq-growth.js');
    // "At once" = without waiting for the lock: the holder keeps it until finish() below, so a second
    // run that waited would never answer (killed by this 60 s guard against a hang, status null).
    const r = spawnSync(process.execPath, [bin, '--mta', 'postfix', '--spool', spool, '--state-dir', stateDir, '--no-default-thresholds'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stdout).toBe(3);
    expect(r.stdout).toMatch(new RegExp(`^MAILQ_GROWTH UNKNOWN - previous run still in progress since \\d\\d:\\d\\d:\\d\\d \\(pid ${hold.pid}\\): not starting a second one`));
    expect(r.stderr).toBe('');
    hold.finish();
    await hold.exited;
    const again = spawnSync(process.execPath, [bin, '--mta', 'postfix', '--spool', spool, '--state-dir', stateDir, '--no-default-thresholds'], { encoding: 'utf8', timeout: 60_000 });
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^MAILQ_GROWTH OK - collecting baseline \(1 of 3 samples\), 50 queued/);
  }, 150_000);
});

describe('the state file: keyed by what is measured and judged; an earlier file is carried over', () => {
  it('two checks of one queue with different --window or -w keep separate files; the same check reuses its own', async () => {
    const root = tempDir('growth-keys-');
    const stateDir = path.join(root, 'state');
    const spool = path.join(root, 'spool');
    generate({ mta: 'postfix', count: 40, out: spool, seed: 2, now: T0 });
    const base = ['--mta', 'postfix', '--spool', spool, '--state-dir', stateDir, '--queue', 'deferred'];
    const files = () => fs.readdirSync(stateDir).filter((f) => f.endsWith('.json')).sort();
    await runAt(growthCheck, [...base, '-w', '50'], T0);
    await runAt(growthCheck, [...base, '-w', '50', '--window', '2h'], T0 + 1);
    await runAt(growthCheck, [...base, '-w', '80'], T0 + 2);
    expect(files()).toHaveLength(3);
    expect(files().filter((f) => f.includes('-deferred-2h-'))).toHaveLength(1);
    await runAt(growthCheck, [...base, '-w', '50'], T0 + 60);
    expect(files()).toHaveLength(3);
  });

  it("starts from the samples of the earlier version's file (keyed without the thresholds)", async () => {
    const root = tempDir('growth-migrate-');
    const stateDir = path.join(root, 'state');
    const spool = path.join(root, 'spool');
    const g = generate({ mta: 'postfix', count: 600, out: spool, seed: 4, now: T0 });
    // The earlier file: 10 quiet minutes of the same spool, then a climb of 100/min, in its own format.
    const earlier = growthStateTarget('postfix', [path.resolve(spool)], true, 900, ['deferred']);
    const samples: GrowthSample[] = Array.from({ length: 14 }, (_, i) => {
      const d = g.byQueue.deferred - Math.max(0, 13 - i) * 100 * (i >= 10 ? 1 : 0) - (i < 10 ? 400 : 0);
      return { t: T0 - (14 - i) * 60, total: d, queues: { deferred: d } };
    });
    const st = await openState<GrowthSample>({ check: 'mailq_growth', ...earlier, dir: stateDir, env: {}, now: () => (T0 - 60) * 1000, window: 3600, deadline: T0 * 1000, isSample: (x): x is GrowthSample => true });
    for (const s of samples) await st.record(s);
    await st.release();
    const r = await runAt(growthCheck, ['--mta', 'postfix', '--spool', spool, '--state-dir', stateDir, '--queue', 'deferred', '-w', '50', '--format', 'json'], T0);
    expect(r.json!.details.join('\n')).toMatch(/started from 14 sample\(s\) of mailq_growth-.*\.json \(the state file of an earlier version\)/);
    expect(metricOf(r, 'samples')).toBe(15);
    expect(fs.readdirSync(stateDir).filter((f) => f.endsWith('.json'))).toHaveLength(2);
  });
});
