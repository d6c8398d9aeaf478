// Graphite plaintext: `<scheme>.<check>.<metric> <value> <epoch>` and nothing else.
// Sensu Go's graphite_plaintext extractor wants exactly three space-separated fields per line.

import type { CheckResult } from '../result.js';
import { plainNumber } from './nagios.js';

export function safePath(s: string): string {
  return s
    .split('.')
    .map((p) => p.replace(/[^A-Za-z0-9_-]/g, '_'))
    .filter((p) => p !== '')
    .join('.');
}

export function renderGraphite(r: CheckResult, scheme: string): string {
  const prefix = safePath(`${scheme}.${r.check}`);
  const t = Math.floor(r.time);
  return r.metrics
    .filter((m) => Number.isFinite(m.value))
    .map((m) => `${prefix}.${safePath(m.label)} ${plainNumber(m.value)} ${t}\n`)
    .join('');
}
