// Shared wording for queue checks' long output.

import type { QueueData } from './source.js';
import type { TopCounter } from './topk.js';

/** 512340 -> "512,340". Not toLocaleString: initialising Intl costs more than a whole small scan. */
export function formatCount(n: number): string {
  if (!Number.isInteger(n)) return String(n);
  const s = String(Math.abs(n));
  let out = '';
  for (let i = s.length; i > 0; i -= 3) out = s.slice(Math.max(0, i - 3), i) + (out ? ',' + out : '');
  return (n < 0 ? '-' : '') + out;
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
