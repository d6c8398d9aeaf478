// Runs an incident in scenario time: the checks run in-process on a schedule with an injected clock
// (no sleeps), the world (spool, log, filesystem) is changed between runs, and every run is kept.
// For each check: the first run at WARNING or worse after onset, the first CRITICAL, and the first
// line of each. Those rows make the detection table in docs/incidents.md.

import type { CheckSpec } from '../../lib/plugin/check.js';
import { camel, thresholdFamilies, type OptionTable } from '../../lib/plugin/options.js';
import { runAt } from '../helpers/state-harness.js';

/**
 * How a scenario's checks are run: `thresholds`, as each scenario writes them (the thresholds the
 * docs suggest, and the defaults of any family it gives no option of); `defaults`, every threshold
 * option removed, so each check judges by its default thresholds alone; `metrics`, no threshold
 * option and --no-default-thresholds: pure metrics collection, which never alerts.
 */
export type Variant = 'thresholds' | 'defaults' | 'metrics';

/** The command-line names of a check's threshold options (every row of a family), aliases included. */
export function thresholdFlags(table: OptionTable): Set<string> {
  const out = new Set<string>();
  for (const names of thresholdFamilies(table).values())
    for (const n of names) {
      out.add(`--${n}`);
      if (camel(n) !== n) out.add(`--${camel(n)}`);
      const alias = table[n].alias;
      if (alias) out.add(alias.length === 1 ? `-${alias}` : `--${alias}`);
    }
  return out;
}

/** argv without its threshold options (`--x V`, `--x=V`, `-w V`). */
export function withoutThresholds(table: OptionTable, argv: readonly string[]): string[] {
  const flags = thresholdFlags(table);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (flags.has(a)) {
      i++;
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0 && flags.has(a.slice(0, eq))) continue;
    out.push(a);
  }
  return out;
}

/** A check's command line in a variant. */
export function argvIn(variant: Variant, table: OptionTable | undefined, argv: readonly string[]): string[] {
  if (variant === 'thresholds') return [...argv];
  const bare = withoutThresholds(table ?? {}, argv);
  return variant === 'metrics' ? [...bare, '--no-default-thresholds'] : bare;
}

export const STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;
export type StateName = (typeof STATES)[number];

export interface CheckDef {
  /** Short key used in assertions: growth, depth, bounces, disk, flood. */
  key: string;
  /** The binary, as the table shows it. */
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one list holds checks of different option types
  spec: CheckSpec<any, any>;
  /** The command line after the binary name (nagios output). */
  argv: string[];
  /** Run every n-th step only (default every step). */
  every?: number;
}

export interface Run {
  key: string;
  /** Scenario epoch seconds. */
  t: number;
  /** Seconds after onset (negative before). */
  after: number;
  code: number;
  state: StateName;
  /** First line without perfdata. */
  line: string;
  out: string;
}

export interface Detection {
  t: number;
  after: number;
  line: string;
}

/** Perfdata values of a first line: "total=5150;1000;5000;0 oldest_age=3s" -> { total: 5150, ... }. */
export function perfdata(out: string): Record<string, number> {
  const first = out.split('\n')[0];
  const i = first.indexOf(' | ');
  const p: Record<string, number> = {};
  if (i < 0) return p;
  for (const kv of first.slice(i + 3).trim().split(' ')) {
    const m = /^([A-Za-z0-9_.]+)=(-?[\d.]+)/.exec(kv);
    if (m) p[m[1]] = Number(m[2]);
  }
  return p;
}

/** "+2m", "+1h30m", "+45s" (scenario time after onset). */
export function afterText(s: number): string {
  const sign = s < 0 ? '-' : '+';
  let a = Math.abs(Math.round(s));
  const h = Math.floor(a / 3600);
  a -= h * 3600;
  const m = Math.floor(a / 60);
  const sec = a - m * 60;
  return `${sign}${h ? `${h}h` : ''}${m ? `${m}m` : ''}${sec || (!h && !m) ? `${sec}s` : ''}`;
}

export class Scenario {
  readonly runs: Run[] = [];
  private step = 0;

  constructor(
    readonly id: string,
    readonly onset: number,
    readonly checks: CheckDef[],
    /** Temp paths -> what they stand for in the table ("/var/log"), so the table does not depend on mkdtemp. */
    readonly aliases: [string, string][] = [],
    readonly variant: Variant = 'thresholds',
  ) {}

  /** The command line a check runs with in this scenario's variant. */
  argvOf(c: CheckDef): string[] {
    return argvIn(this.variant, c.spec.table, c.argv);
  }

  /** Run every check due at time t (scenario epoch seconds), in order. */
  async tick(t: number): Promise<Record<string, Run>> {
    const done: Record<string, Run> = {};
    for (const c of this.checks) {
      if (this.step % (c.every ?? 1) !== 0) continue;
      const r = await runAt(c.spec, this.argvOf(c), t);
      const first = r.out.split('\n')[0];
      const state = STATES[r.code] ?? 'UNKNOWN';
      const run: Run = { key: c.key, t, after: t - this.onset, code: r.code, state, line: this.clean(first.split(' | ')[0]), out: r.out };
      this.runs.push(run);
      done[c.key] = run;
    }
    this.step++;
    return done;
  }

  /** Replace temp paths with what they stand for. */
  clean(text: string): string {
    let s = text;
    for (const [from, to] of this.aliases) s = s.split(from).join(to);
    return s;
  }

  of(key: string): Run[] {
    return this.runs.filter((r) => r.key === key);
  }

  before(key: string): Run[] {
    return this.of(key).filter((r) => r.after <= 0);
  }

  /** The first run after onset at this state or worse (WARNING: WARNING or CRITICAL). */
  first(key: string, at: 'WARNING' | 'CRITICAL'): Detection | undefined {
    const r = this.of(key).find((x) => x.after > 0 && (at === 'WARNING' ? x.code === 1 || x.code === 2 : x.code === 2));
    return r && { t: r.t, after: r.after, line: r.line };
  }

  last(key: string): Run {
    const all = this.of(key);
    if (!all.length) throw new Error(`${this.id}: ${key} never ran`);
    return all[all.length - 1];
  }

  def(key: string): CheckDef {
    const d = this.checks.find((c) => c.key === key);
    if (!d) throw new Error(`${this.id}: no check ${key}`);
    return d;
  }

  /** Table rows for this scenario, one per check. */
  rows(): TableRow[] {
    return this.checks.map((c) => {
      const w = this.first(c.key, 'WARNING');
      const cr = this.first(c.key, 'CRITICAL');
      const alert = w ?? cr;
      return {
        scenario: this.id,
        check: c.name,
        warning: w ? afterText(w.after) : '—',
        critical: cr ? afterText(cr.after) : '—',
        line: alert ? truncate(alert.line, 160) : `(no alert) ${truncate(this.last(c.key).line, 140)}`,
      };
    });
  }
}

export interface TableRow {
  scenario: string;
  check: string;
  warning: string;
  critical: string;
  line: string;
}

export function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** The alert text a pager shows first: the first line, perfdata cut off. */
export function head300(line: string): string {
  return line.slice(0, 300);
}

/** Rows measured in this run, by scenario, in the order the scenarios ran. */
export const measured: TableRow[] = [];
/** Rows of the replays run with the default thresholds only (test/incidents/defaults.ts). */
export const measuredDefaults: TableRow[] = [];
/** The scenarios replayed in this run (their charts: test/incidents/charts.ts). */
export const replayed: Scenario[] = [];

/** Wall-clock measurements (real processes), kept apart: they vary from run to run. */
export interface TimingRow {
  scenario: string;
  check: string;
  size: string;
  deadline: string;
  wall: string;
  line: string;
}
export const timings: TimingRow[] = [];
