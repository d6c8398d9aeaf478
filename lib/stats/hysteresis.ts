// Hysteresis for a verdict on a rate (or a time to reach): once a range alerts, the state holds until
// the value is clearly back, so a rate that sits near the threshold never flaps. "Clearly" is 20% of
// the bound: with -w 50 (alert above 50/min) a WARNING holds until the rate is below 40/min; with
// --eta-warning 2h (alert below 2h) it holds until the eta is above 2h24m. A bound of 0 holds nothing.
// Recovery stays prompt because the engine's rate follows a new regime within three samples.

import { alerts, type Range } from '../plugin/range.js';
import { State, thresholdState } from '../plugin/result.js';

/** How far past the bound a held alert must come back, as a share of the bound. */
export const HOLD_MARGIN = 0.2;

/** The range an alert already raised keeps alerting on: its OK region shrunk by the margin. */
export function holdRange(r: Range, margin = HOLD_MARGIN): Range {
  const m = (v: number) => (Number.isFinite(v) ? margin * Math.abs(v) : 0);
  if (r.inside) return { ...r, start: r.start - m(r.start), end: r.end + m(r.end) };
  const start = r.start + m(r.start);
  const end = r.end - m(r.end);
  // A narrow OK band shrunk past itself: keep its middle, so recovery is still possible.
  if (start > end) {
    const mid = (r.start + r.end) / 2;
    return { ...r, start: mid, end: mid };
  }
  return { ...r, start, end };
}

/** thresholdState, except that the state the last run ended in holds while the value is within the margin. */
export function heldState(value: number, warn: Range | undefined, crit: Range | undefined, previous: State = State.OK): State {
  const now = thresholdState(value, warn, crit);
  if (previous === State.CRITICAL && now !== State.CRITICAL && crit && alerts(holdRange(crit), value)) return State.CRITICAL;
  if ((previous === State.CRITICAL || previous === State.WARNING) && now === State.OK && warn && alerts(holdRange(warn), value)) return State.WARNING;
  return now;
}
