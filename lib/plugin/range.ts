// Nagios threshold ranges, as in the monitoring-plugins developer guidelines:
//   10      alert if < 0 or > 10        10:     alert if < 10
//   ~:10    alert if > 10               10:20   alert if < 10 or > 20
//   @10:20  alert if 10 <= value <= 20 (inside, inclusive)
// Anything else is rejected with the text that was wrong, so the check can exit UNKNOWN naming it.

import { UnknownError } from './errors.js';

export interface Range {
  /** The text as given (trimmed); also what goes into perfdata. */
  readonly text: string;
  readonly start: number; // -Infinity when '~'
  readonly end: number; // +Infinity when open-ended
  readonly inside: boolean; // '@': alert when inside
}

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)`;
const RANGE_RE = new RegExp(`^(@)?(?:(~|${NUMBER})?(:))?(${NUMBER})?$`);

/** Parse a range; returns undefined for an empty string (no threshold). Throws UnknownError when invalid. */
export function parseRange(raw: string | number | undefined, what = 'threshold'): Range | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  if (text === '') return undefined;
  const m = RANGE_RE.exec(text);
  const invalid = () =>
    new UnknownError(
      `invalid ${what} range '${String(raw)}'`,
      "use a Nagios range: 10, 10:, ~:10, 10:20 or @10:20",
    );
  if (!m) throw invalid();
  const [, at, startText, colon, endText] = m;
  // ':' alone, '@' alone and '~' without ':' carry no bound at all.
  if (!colon && endText === undefined) throw invalid();
  if (colon && startText === undefined && endText === undefined) throw invalid();
  const start = startText === '~' ? -Infinity : startText !== undefined ? Number(startText) : 0;
  const end = endText !== undefined ? Number(endText) : colon ? Infinity : 0;
  if (Number.isNaN(start) || Number.isNaN(end)) throw invalid();
  if (start > end) throw invalid();
  return { text, start, end, inside: at === '@' };
}

/** True when the value should raise an alert for this range. */
export function alerts(range: Range, value: number): boolean {
  const within = value >= range.start && value <= range.end;
  return range.inside ? within : !within;
}

/** How much of [low, high] a Nagios range alerts on: none of it, some of it, or all of it. */
export type Overlap = 'none' | 'some' | 'all';

export function rangeOverlap(range: Range | undefined, low: number, high: number): Overlap {
  if (!range) return 'none';
  const { start, end } = range;
  if (range.inside) {
    // @start:end alerts when start <= v <= end.
    if (low >= start && high <= end) return 'all';
    if (high < start || low > end) return 'none';
    return 'some';
  }
  // start:end alerts when v < start or v > end.
  if (high < start || low > end) return 'all';
  if (low >= start && high <= end) return 'none';
  return 'some';
}
