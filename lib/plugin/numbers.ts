// Numbers as the checks say and emit them: one copy of each rule.

/** A metric value to two decimals (perfdata and graphite need no more). */
export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** A rate's magnitude as text: "1,204", "412", "45", "3.5", "0". */
export function formatRate(x: number): string {
  const a = Math.abs(x);
  return a >= 10 ? Math.round(a).toLocaleString('en-US') : a.toFixed(1).replace(/\.0$/, '');
}

/** A signed rate: "+412", "-3.5", "+1,204" ("+0" for a rate that rounds to zero). */
export function formatSignedRate(x: number): string {
  const text = formatRate(x);
  return `${x < 0 && text !== '0' ? '-' : '+'}${text}`;
}

/** A percentage (0-100) for line one: 91%, 7.5%, 0%, <0.1%. `notFull`: a fill level, never rounded up to
 *  100% while it is not (99.7% stays 99.7%, as df would not say full). */
export function pctText(p: number, notFull = false): string {
  if (p === 0) return '0%';
  if (p > 0 && p < 0.1) return '<0.1%';
  if (notFull && p >= 99.5 && p < 100) return `${Math.min(99.9, Math.floor(p * 10) / 10)}%`;
  return `${p >= 10 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** `part` as a percentage of `whole` (pctText), 0% when there is no whole. */
export function shareText(part: number, whole: number): string {
  return whole > 0 ? pctText((100 * part) / whole) : '0%';
}
