// Prometheus text exposition format 0.0.4, as node_exporter's textfile collector reads it
// (--textfile DIR writes it to DIR/<check>[-<suffix>].prom, lib/plugin/textfile.ts). A sample:
//
//   # HELP mailq_check_state State of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (its exit code).
//   # TYPE mailq_check_state gauge
//   mailq_check_state{check="mailq_depth",mta="postfix",spool="/var/spool/postfix"} 1
//   # HELP mailq_depth_queue_messages mailq_depth queue_messages by queue
//   # TYPE mailq_depth_queue_messages gauge
//   mailq_depth_queue_messages{check="mailq_depth",mta="postfix",spool="/var/spool/postfix",queue="deferred"} 23
//
// Names: mailq_<check id without its mailq_ prefix>_<family or label>, characters outside
// [a-zA-Z0-9_] as '_'; units in base units with the unit as suffix (Prometheus naming conventions):
// 's' -> _seconds, 'B' (and KB, MB, ...) -> _bytes, '%' -> a 0..1 _ratio; a gauge never ends in
// _total (the counters' suffix), so a perfdata `total` is `all`. No timestamps: the textfile
// collector refuses samples that carry one. Every answer, errors included, has the state gauge,
// so an UNKNOWN is a value (3), not a series that went away. A series (name and labels) is written
// once: a later metric that maps onto the same one is left out.

import type { CheckResult, Metric } from '../result.js';
import { baseLabels, dimLabels, familyOf } from './labels.js';
import { plainNumber } from './nagios.js';

const UNIT_FACTOR: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4, PB: 1024 ** 5 };
const word = (name: string, w: string) => new RegExp(`(^|_)${w}(_|$)`).test(name);

export const STATE_METRIC = 'mailq_check_state';
const STATE_HELP = 'State of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (its exit code).';

export function metricName(s: string): string {
  const n = s.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(n) ? `_${n}` : n;
}

/** A label value or HELP text as the exposition format escapes it (HELP: no '"' escape). */
export const escapeLabelValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

interface Series {
  name: string;
  type: 'gauge' | 'counter';
  unit: string;
  value: number;
}

/** A metric's Prometheus name, type and value in base units. */
export function promSeries(check: string, m: Metric): Series {
  const uom = m.uom ?? '';
  let fam = metricName(familyOf(m));
  let value = m.value;
  let unit = '';
  let type: Series['type'] = 'gauge';
  if (uom === '%') {
    fam = fam.replace(/_(pct|percent)$/, '');
    if (!word(fam, 'ratio')) fam += '_ratio';
    // 12.34 % -> 0.1234, not 0.12340000000000001.
    value = Number((value / 100).toPrecision(12));
    unit = 'ratio';
  } else if (uom === 's') {
    if (!word(fam, 'seconds')) fam += '_seconds';
    unit = 'seconds';
  } else if (UNIT_FACTOR[uom] !== undefined) {
    if (!word(fam, 'bytes')) fam += '_bytes';
    value *= UNIT_FACTOR[uom];
    unit = 'bytes';
  } else if (uom === 'c') {
    type = 'counter';
    if (!/_total$/.test(fam)) fam += '_total';
  }
  if (type === 'gauge') fam = fam.replace(/(^|_)total$/, '$1all');
  return { name: `mailq_${metricName(check).replace(/^mailq_/, '')}_${fam}`, type, unit, value };
}

const labelText = (labels: [string, string][]) => `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;

export function renderPrometheus(r: CheckResult, suffix?: string): string {
  const base = baseLabels(r, suffix);
  const families = new Map<string, { type: string; help: string; lines: string[] }>();
  const seen = new Set<string>();
  const add = (name: string, type: string, help: string, labels: [string, string][], value: number) => {
    const line = `${name}${labelText(labels)} ${plainNumber(value)}`;
    const key = line.slice(0, line.lastIndexOf(' '));
    if (seen.has(key)) return;
    seen.add(key);
    let f = families.get(name);
    if (!f) families.set(name, (f = { type, help, lines: [] }));
    // One name, one type: a counter and a gauge cannot share it.
    if (f.type !== type) return;
    f.lines.push(line);
  };
  add(STATE_METRIC, 'gauge', STATE_HELP, base, r.state);
  for (const m of r.metrics) {
    if (!Number.isFinite(m.value)) continue;
    const s = promSeries(r.check, m);
    if (!Number.isFinite(s.value)) continue;
    const dims = dimLabels(m, base);
    // HELP depends on the name's parts only, so every file that has this name says the same.
    const help = `${r.check} ${familyOf(m)}${dims.length ? ` by ${dims.map(([k]) => k).join(', ')}` : ''}${s.unit ? ` (${s.unit})` : ''}`;
    add(s.name, s.type, help, [...base, ...dims], s.value);
  }
  let out = '';
  for (const [name, f] of families) {
    if (!f.lines.length) continue;
    out += `# HELP ${name} ${escapeHelp(f.help)}\n# TYPE ${name} ${f.type}\n${f.lines.join('\n')}\n`;
  }
  return out;
}
