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
