// One result model for every check: state, summary, metrics, long-output details.
// Renderers (lib/plugin/render/*) turn it into Nagios text, Graphite lines or JSON.

import { alerts, rangeOverlap, type Range } from './range.js';

export enum State {
  OK = 0,
  WARNING = 1,
  CRITICAL = 2,
  UNKNOWN = 3,
}

export const STATE_NAMES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

/** Severity order used when combining states: OK < UNKNOWN < WARNING < CRITICAL. */
const SEVERITY: Record<State, number> = { [State.OK]: 0, [State.UNKNOWN]: 1, [State.WARNING]: 2, [State.CRITICAL]: 3 };

/** The order summaries list their parts in: the most severe first (sort by severity(b) - severity(a)). */
export function severity(s: State): number {
  return SEVERITY[s];
}

export function worst(...states: State[]): State {
  return states.reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), State.OK);
}

export interface Metric {
  /** perfdata label / graphite leaf; sanitised to [A-Za-z0-9_.] by the renderers. */
  label: string;
  value: number;
  /** Nagios UOM: '', 's', '%', 'B', 'KB', 'MB', 'c'. */
  uom?: string;
  warn?: Range;
  crit?: Range;
  min?: number;
  max?: number;
  /** For the labelled formats (prometheus, influx): the name shared by metrics that differ only in
   *  `dims`, e.g. 'queue_messages' for the per-queue counts; without it the label is the name. */
  family?: string;
  /** What sets this metric apart from the others of its family: prometheus labels, influx tags,
   *  e.g. { queue: 'deferred' }. */
  dims?: Record<string, string>;
  /** Always a whole number (a count): influx writes it as an integer field (`23i`), every run, so the
   *  field's type never changes (influxd refuses a field whose type changed). 'B' and 'c' imply it. */
  integer?: boolean;
}

/** CRITICAL is evaluated before WARNING: a value in both ranges is CRITICAL. */
export function thresholdState(value: number, warn?: Range, crit?: Range): State {
  if (crit && alerts(crit, value)) return State.CRITICAL;
  if (warn && alerts(warn, value)) return State.WARNING;
  return State.OK;
}

export interface CheckResult {
  /** Service name shown first in Nagios output, e.g. MAILQ. */
  service: string;
  /** Short id used in graphite paths and JSON, e.g. mailq_depth. */
  check: string;
  state: State;
  summary: string;
  metrics: Metric[];
  /** Long output, one entry per line. */
  details: string[];
  /** Extra structured facts for --format json (source, mta, sampled, partial, ...). */
  facts?: Record<string, unknown>;
  /** Epoch seconds the result describes (graphite timestamp). */
  time: number;
}

/**
 * The state a value known only to lie in [lo, hi] already decides, or undefined when it decides
 * nothing. A count found before the deadline is a lower bound: [found, Infinity]. CRITICAL when
 * every possible value is critical; WARNING when every possible value alerts and some may be
 * critical ("at least WARNING"); OK only when no possible value can alert.
 */
export function boundedState(lo: number, hi: number, warn?: Range, crit?: Range): State | undefined {
  if (lo === hi) return thresholdState(lo, warn, crit);
  const c = rangeOverlap(crit, lo, hi);
  if (c === 'all') return State.CRITICAL;
  const w = rangeOverlap(warn, lo, hi);
  if (w === 'all') return State.WARNING;
  if (c === 'none' && w === 'none') return State.OK;
  return undefined;
}
