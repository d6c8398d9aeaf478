// Ordinary least squares on (t, y) points: the slope is "how fast is it changing", fitted over
// every sample in the window so one noisy reading moves it little. Time is centred on its mean
// before squaring: epoch seconds squared (~3e18) would lose the precision a slope needs.

export interface Point {
  /** Seconds (epoch or any origin). */
  t: number;
  y: number;
}

export interface Fit {
  n: number;
  /** y units per second. */
  slope: number;
  /** Fitted y at t = 0 of the original axis (slope * t + intercept). */
  intercept: number;
  /** Seconds from the first to the last point. */
  span: number;
  /** Coefficient of determination, 0..1 (1 when y does not vary at all). */
  r2: number;
  /** Standard error of the slope (0 with two points or a perfect fit). */
  slopeError: number;
}

/** Least-squares line through the points; undefined with fewer than 2 points or no spread in time. */
export function leastSquares(points: readonly Point[]): Fit | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  let st = 0;
  let sy = 0;
  for (const p of points) {
    st += p.t;
    sy += p.y;
  }
  const tm = st / n;
  const ym = sy / n;
  let stt = 0;
  let sty = 0;
  let syy = 0;
  let tmin = Infinity;
  let tmax = -Infinity;
  for (const p of points) {
    const dt = p.t - tm;
    const dy = p.y - ym;
    stt += dt * dt;
    sty += dt * dy;
    syy += dy * dy;
    if (p.t < tmin) tmin = p.t;
    if (p.t > tmax) tmax = p.t;
  }
  if (stt === 0) return undefined;
  const slope = sty / stt;
  const sse = Math.max(0, syy - slope * sty);
  const r2 = syy === 0 ? 1 : Math.min(1, Math.max(0, 1 - sse / syy));
  const slopeError = n > 2 ? Math.sqrt(sse / (n - 2) / stt) : 0;
  return { n, slope, intercept: ym - slope * tm, span: tmax - tmin, r2, slopeError };
}

/**
 * The slope refitted with each point left out in turn (jackknife), in the order of the points.
 * O(n) from running sums. Empty when fewer than 3 points (leaving one out must leave a line).
 */
export function leaveOneOutSlopes(points: readonly Point[]): number[] {
  const n = points.length;
  if (n < 3) return [];
  const tm = points.reduce((a, p) => a + p.t, 0) / n;
  const ym = points.reduce((a, p) => a + p.y, 0) / n;
  let st = 0;
  let sy = 0;
  let stt = 0;
  let sty = 0;
  for (const p of points) {
    const t = p.t - tm;
    const y = p.y - ym;
    st += t;
    sy += y;
    stt += t * t;
    sty += t * y;
  }
  const m = n - 1;
  return points.map((p) => {
    const t = p.t - tm;
    const y = p.y - ym;
    const [a, b, c, d] = [st - t, sy - y, stt - t * t, sty - t * y];
    const den = m * c - a * a;
    return den > 1e-9 * Math.max(1, m * c) ? (m * d - a * b) / den : NaN;
  });
}
