// Nagios plugin output: `SERVICE STATE - summary | perfdata` then long output lines.
// Sensu Go's nagios_perfdata extractor splits the whole output on '|' and wants exactly two parts,
// and splits perfdata on single spaces: so '|' never appears anywhere but the separator,
// perfdata stays on the first line and labels are [A-Za-z0-9_.] only.

import { STATE_NAMES, type CheckResult, type Metric } from '../result.js';
import { outputText } from '../text.js';

/** Replace the one character that would break the output contract, and what outputText() replaces and
 *  cuts (controls: a NUL from a damaged queue file would end the output for Nagios' C code, perfdata
 *  included; bidi and C1 controls; names over 200 characters). */
export function safeText(s: string): string {
  return outputText(s).replace(/\|/g, '¦');
}

export function safeLabel(label: string): string {
  return label.replace(/[^A-Za-z0-9_.]/g, '_');
}

/** A number as perfdata and graphite want it: digits and a point, never an exponent (1e+21, 1e-7). */
export function plainNumber(n: number): string {
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  const s = String(n);
  return s.includes('e') ? n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '') : s;
}

function num(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '';
  return plainNumber(Number.isInteger(n) ? n : Number(n.toFixed(6)));
}

export function perfdata(m: Metric): string {
  const fields = [`${num(m.value)}${m.uom ?? ''}`, m.warn?.text ?? '', m.crit?.text ?? '', num(m.min), num(m.max)];
  while (fields.length > 1 && fields[fields.length - 1] === '') fields.pop();
  return `${safeLabel(m.label)}=${fields.join(';')}`;
}

/** Long output sits after the '|' in the text Sensu Go splits: a `word=1` there would become a
 *  bogus metric, so '=' is shown as ':' on those lines. */
function safeLongText(s: string): string {
  return safeText(s).replace(/=/g, ':');
}

export function renderNagios(r: CheckResult): string {
  const perf = r.metrics.filter((m) => Number.isFinite(m.value)).map(perfdata).join(' ');
  const first = `${safeText(r.service)} ${STATE_NAMES[r.state]} - ${safeText(r.summary)} | ${perf}`;
  return [first, ...r.details.map(safeLongText)].join('\n') + '\n';
}
