// Shared wording for queue checks' long output.

import type { QueueData } from './source.js';
import type { TopCounter } from './topk.js';

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function pct(part: number, whole: number): string {
  if (whole <= 0) return '(0%)';
  const p = (100 * part) / whole;
  if (p > 0 && p < 0.1) return '(<0.1%)';
  return `(${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%)`;
}

export function topLines(title: string, counter: TopCounter, whole: number, n: number): string[] {
  if (n <= 0) return [];
  const rows = counter.top(n);
  if (!rows.length) return [];
  const approx = counter.approximate ? ` (approximate: more than ${formatCount(counter.distinct)} distinct)` : '';
  return [
    `${title}${approx}:`,
    ...rows.map((r) => `  ${r.key === '<>' ? '<> (MAILER-DAEMON)' : r.key} ${formatCount(r.count)} ${pct(r.count, whole)}`),
  ];
}

export function describeSource(d: QueueData): string {
  if (d.source === 'spool') {
    const v = d.vanished ? `, ${formatCount(d.vanished)} vanished mid-scan` : '';
    return `source: ${d.mta} spool ${d.spools.join(', ')} (${formatCount(d.files)} queue files${v})`;
  }
  const why = d.fallbackReason ? `; ${d.fallbackReason}` : '';
  return `source: ${d.mta} command ${d.commands.map((c) => `'${c}'`).join(', ')}${why}`;
}
