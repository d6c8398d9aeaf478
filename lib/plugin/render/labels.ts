// What the labelled formats (prometheus, influx) say a result is about, besides its metrics: the
// check, the MTA and the spools from the check's facts, and the run's --textfile-suffix. Both formats
// use the same names, so a Prometheus label and an InfluxDB tag of one run match.

import type { CheckResult, Metric } from '../result.js';
import { outputText } from '../text.js';

/** [name, value] pairs in a fixed order; empty values are left out (influx refuses them). */
export function baseLabels(r: CheckResult, suffix?: string): [string, string][] {
  const out: [string, string][] = [['check', r.check]];
  const f = r.facts ?? {};
  if (typeof f.mta === 'string' && f.mta) out.push(['mta', f.mta]);
  const spools = Array.isArray(f.spools) ? f.spools.filter((s): s is string => typeof s === 'string' && s !== '') : [];
  if (spools.length) out.push(['spool', spools.join(',')]);
  if (suffix) out.push(['suffix', suffix]);
  return out.map(([k, v]) => [k, outputText(v)] as [string, string]).filter(([, v]) => v !== '');
}

/** A metric's dimensions as [name, value] pairs, sorted by name, names made label-safe; a name the
 *  base labels already use becomes exported_<name> (Prometheus' own rule for clashing labels). */
export function dimLabels(m: Metric, base: readonly [string, string][]): [string, string][] {
  const taken = new Set(base.map(([k]) => k));
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(m.dims ?? {})) {
    const value = outputText(String(v));
    if (value === '') continue;
    let key = k.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_').replace(/^__+/, '_') || '_';
    if (taken.has(key)) key = `exported_${key}`;
    // Two names that became the same one ('a-b' and 'a_b'): the second is numbered.
    for (let n = 2; taken.has(key); n++) key = `${key.replace(/_\d+$/, '')}_${n}`;
    taken.add(key);
    out.push([key, value]);
  }
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The name a metric is known by in the labelled formats: its family, else its label. */
export const familyOf = (m: Metric): string => m.family ?? m.label;
