// Issue 18, "Defaults that catch the incidents": each replay again, every threshold option removed, so
// each check judges by its default thresholds alone (harness.ts Variant 'defaults'). What must fire is
// the incident's own account (/work/shared/incidents/README.md, "what should have fired"), written
// here before any run; the levels are the incident's: CRITICAL where it says the outage happened
// (over half the queue bounces, /var full, CRIT "could never fire"), WARNING or worse otherwise.
// And once, on 000, --no-default-thresholds: the same replay is pure metrics collection, never an alert.
import { beforeAll, describe, expect, it } from 'vitest';
import { afterText, measuredDefaults, perfdata, type Scenario, type Variant } from './harness.js';

export interface Catch {
  /** At least this state after the onset. */
  at: 'WARNING' | 'CRITICAL';
  /** What the incident says should have fired. */
  because: string;
  /** The first alert line names this (the incident's culprit). */
  names?: RegExp;
  /** Fired within this many seconds of the onset ("within minutes"). */
  within?: number;
}

/** Per incident, per scenario check key: what its defaults must catch. A check not listed is not asserted. */
export const CATCHES: Record<string, Record<string, Catch>> = {
  '000': {
    growth: { at: 'WARNING', because: 'queue growth, minutes after onset', within: 5 * 60 },
    depth: { at: 'WARNING', because: 'queue depth, naming the alias', names: /top recipient qanotify@lab\.example/ },
    flood: { at: 'WARNING', because: 'log flood by sender, naming the sending client', names: /sender \S+ .*top client qa-app-07\.qa\.example/ },
  },
  '001': {
    disk: { at: 'CRITICAL', because: '/var full: spool disk usage with a time-to-full projection' },
    bounces: { at: 'CRITICAL', because: 'over half the queue was MAILER-DAEMON messages', names: /MAILER-DAEMON CRITICAL - \d+(\.\d)?% of [\d,]+ queued are bounces/ },
    depth: { at: 'CRITICAL', because: 'the hand-written check tested WARN before CRIT, so CRIT could never fire' },
  },
  '002': {
    bounces: { at: 'WARNING', because: 'MAILER-DAEMON ratio', names: /lab\.example/ },
    growth: { at: 'WARNING', because: 'queue growth on the secondary MX' },
    flood: { at: 'WARNING', because: 'log flood of bounces', names: /bounces \(null sender\)/ },
  },
  '003': {
    flood: { at: 'WARNING', because: 'log flood by repeated line, the alert quoting the line', names: /ERROR: accept\(\) failed: Loaded <n> signatures\./ },
    disk: { at: 'WARNING', because: 'spool/log disk with time-to-full' },
    growth: { at: 'WARNING', because: 'queue growth' },
  },
  '004': {
    growth: { at: 'WARNING', because: 'deferred-queue growth within minutes, not 12 hours', within: 10 * 60 },
    age: { at: 'WARNING', because: 'the deferred queue within minutes, not 12 hours', within: 10 * 60 },
  },
};

const code = (at: 'WARNING' | 'CRITICAL') => (at === 'WARNING' ? 1 : 2);

/**
 * The defaults pass of one incident (and, with `metrics`, the --no-default-thresholds pass). `run`
 * replays the incident in the variant given; `skip` names why it cannot run here.
 */
export function defaultsPass(id: string, run: (variant: Variant) => Promise<{ s: Scenario }>, opts: { skip?: string; metrics?: boolean; absent?: { keys: string[]; why: string } } = {}): void {
  describe.skipIf(opts.skip)(`incident ${id} with the default thresholds only (no threshold option given)${opts.skip ? ` (skipped: ${opts.skip})` : ''}`, () => {
    let s: Scenario;
    beforeAll(async () => {
      s = (await run('defaults')).s;
      measuredDefaults.push(...s.rows());
    }, 300_000);

    it('runs every check with no threshold option', () => {
      for (const c of s.checks) for (const a of s.argvOf(c)) expect(a, `${c.name} ${s.argvOf(c).join(' ')}`).not.toMatch(/^(-w|-c|--warning|--critical|--[a-z-]+-(warning|critical))(=|$)/);
    });

    it('no check alerts on the ordinary traffic before the onset', () => {
      for (const c of s.checks) expect(s.before(c.key).filter((r) => r.code !== 0).map((r) => `${c.name} ${r.after}s ${r.line}`)).toEqual([]);
    });

    for (const [key, want] of Object.entries(CATCHES[id])) {
      const absent = opts.absent?.keys.includes(key) ? ` (skipped: ${opts.absent.why})` : '';
      it.skipIf(absent)(`${key} fires ${want.at}${want.at === 'WARNING' ? ' or worse' : ''}: ${want.because}${absent}`, () => {
        if (!s.checks.some((c) => c.key === key)) return expect.fail(`incident ${id} runs no ${key} check`);
        const d = s.first(key, want.at);
        expect(d, `${key} never reached ${want.at}; last: ${s.last(key).line}`).toBeDefined();
        expect(s.of(key).find((r) => r.t === d!.t)!.code).toBeGreaterThanOrEqual(code(want.at));
        if (want.within !== undefined) expect(d!.after, d!.line).toBeLessThanOrEqual(want.within);
        if (want.names) expect(d!.line).toMatch(want.names);
      });
    }

    // What each check's --help says this incident shows (lib/checks/*.ts `incidents`) is what it shows.
    it("each check's --help example for this incident says when it fired", () => {
      for (const c of s.checks) {
        const ex = c.spec.incidents?.find((x: { id: string }) => x.id === id) as { fires: string } | undefined;
        if (!ex) continue;
        const said = [...ex.fires.matchAll(/(WARNING|CRITICAL) at (\+[\dhms]+)/g)];
        expect(said.length, ex.fires).toBeGreaterThan(0);
        for (const [, state, at] of said) expect(`${state} at ${afterText(s.first(c.key, state as 'WARNING')?.after ?? NaN)}`, `${c.name}: ${ex.fires}`).toBe(`${state} at ${at}`);
      }
    });
  });

  if (!opts.metrics) return;
  describe.skipIf(opts.skip)(`incident ${id} with --no-default-thresholds: pure metrics collection`, () => {
    let s: Scenario;
    beforeAll(async () => {
      s = (await run('metrics')).s;
    }, 300_000);

    it('every run of every check is OK, before and after the onset, with its metrics and no thresholds in them', () => {
      expect(s.runs.length).toBeGreaterThan(0);
      expect(s.runs.filter((r) => r.code !== 0).map((r) => `${r.key} ${r.after}s ${r.line}`)).toEqual([]);
      for (const r of s.runs.filter((x) => x.after > 0)) {
        expect(Object.keys(perfdata(r.out)).length, r.out).toBeGreaterThan(0);
        // label=value;warn;crit;min;max: no warn, no crit.
        for (const f of r.out.split('\n')[0].split(' | ')[1].trim().split(' ')) expect(f.split(';').slice(1, 3).join(''), `${r.key} ${f}`).toBe('');
      }
    });

    it('its figures are past the defaults that fire in the defaults pass, and still OK', () => {
      const past = (key: string, metric: string, option: string) => {
        const d = s.def(key).spec.table?.[option]?.thresholdDefault;
        expect(d, `${key} --${option} has a default`).toBeDefined();
        const top = Math.max(...s.of(key).filter((r) => r.after > 0).map((r) => perfdata(r.out)[metric] ?? 0));
        expect(top, `${key} ${metric}`).toBeGreaterThan(Number(d!.value));
      };
      past('flood', 'top_sender_per_min', 'sender-warning');
      past('depth', 'total', 'warning');
    });
  });
}
