// Graphite plaintext: `<scheme>.<check>.<metric> <value> <epoch>` and nothing else.
// Sensu Go's graphite_plaintext extractor wants exactly three space-separated fields per line.
// An answer with no metric to give (every error, the deadline backstop, SIGTERM, a run cut before
// anything exact was known) is one line `<scheme>.<check>.state <exit code> <epoch>`: the output is
// never empty, a graph of it shows the UNKNOWNs, and it is still nothing but graphite lines.

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
  const lines = r.metrics.filter((m) => Number.isFinite(m.value)).map((m) => `${prefix}.${safePath(m.label)} ${plainNumber(m.value)} ${t}\n`);
  return lines.length ? lines.join('') : `${prefix}.state ${r.state} ${t}\n`;
}
