// An incident's metrics over time as one SVG picture (plain SVG, no library: a few panels of lines,
// axes and markers need none): one panel per series, a shared time axis in hours since the onset,
// and a marker in each check's panel where it first went WARNING (orange) and CRITICAL (red), so the
// picture says when each check would have paged. Pure: data in, SVG text out.

export interface ChartSeries {
  /** Panel title, e.g. "queue depth (messages)". */
  title: string;
  /** Which check this series comes from (its markers go in this panel). */
  check: string;
  points: { t: number; v: number }[];
  /** More lines in the same panel (dashed), e.g. bounces/min and deferrals/min beside lines/min. */
  others?: { label: string; points: { t: number; v: number }[] }[];
  /** Fixed top of the y axis (100 for percentages). */
  max?: number;
}

export interface ChartMarker {
  check: string;
  t: number;
  state: 'WARNING' | 'CRITICAL';
}

export interface ChartSpec {
  title: string;
  /** Epoch seconds of the onset: x = hours since it. */
  onset: number;
  series: ChartSeries[];
  markers: ChartMarker[];
}

export const COLORS = { line: '#1f4e9c', others: ['#7a5195', '#2a9d8f'], WARNING: '#f28c00', CRITICAL: '#d62728', axis: '#333333', grid: '#dddddd' } as const;

const W = 960;
const PANEL_H = 150;
const GAP = 46;
const LEFT = 70;
const RIGHT = 24;
const TOP = 50;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round step for about `n` ticks over `span`. */
function niceStep(span: number, n: number): number {
  const raw = span / Math.max(1, n);
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
}

function fmt(v: number): string {
  if (Math.abs(v) >= 10_000) return `${Math.round(v / 1000)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

export function renderChart(c: ChartSpec): string {
  const all = c.series.flatMap((s) => [...s.points, ...(s.others ?? []).flatMap((o) => o.points)]);
  // The time axis in minutes for a replay of up to three hours, in hours beyond.
  const span = Math.max(...all.map((p) => p.t), c.onset) - Math.min(...all.map((p) => p.t), c.onset);
  const unit = span <= 3 * 3600 ? 60 : 3600;
  const suffix = unit === 60 ? 'm' : 'h';
  const hours = (t: number) => (t - c.onset) / unit;
  const x0 = Math.min(...all.map((p) => hours(p.t)), 0);
  const x1 = Math.max(...all.map((p) => hours(p.t)), x0 + 1);
  const plotW = W - LEFT - RIGHT;
  const X = (h: number) => LEFT + ((h - x0) / (x1 - x0)) * plotW;
  const H = TOP + c.series.length * (PANEL_H + GAP) + 10;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${LEFT}" y="24" font-size="16" font-weight="bold" fill="${COLORS.axis}">${esc(c.title)}</text>`);
  out.push(
    `<g font-size="11"><rect x="${W - RIGHT - 250}" y="14" width="12" height="12" fill="${COLORS.WARNING}"/><text x="${W - RIGHT - 234}" y="24">first WARNING</text>` +
      `<rect x="${W - RIGHT - 140}" y="14" width="12" height="12" fill="${COLORS.CRITICAL}"/><text x="${W - RIGHT - 124}" y="24">first CRITICAL</text></g>`,
  );
  const xStep = niceStep(x1 - x0, 10);
  c.series.forEach((s, k) => {
    const top = TOP + k * (PANEL_H + GAP);
    const bottom = top + PANEL_H;
    const values = [...s.points, ...(s.others ?? []).flatMap((o) => o.points)].map((p) => p.v);
    const yMax = s.max ?? Math.max(1, ...values) * 1.1;
    const Y = (v: number) => bottom - (Math.max(0, Math.min(v, yMax)) / yMax) * PANEL_H;
    out.push(`<g class="panel" data-check="${esc(s.check)}">`);
    out.push(`<text x="${LEFT}" y="${top - 8}" font-weight="bold" fill="${COLORS.axis}">${esc(s.title)}</text>`);
    // Grid and y axis labels.
    const yStep = niceStep(yMax, 4);
    for (let v = 0; v <= yMax + 1e-9; v += yStep) {
      out.push(`<line x1="${LEFT}" y1="${Y(v).toFixed(1)}" x2="${W - RIGHT}" y2="${Y(v).toFixed(1)}" stroke="${COLORS.grid}"/>`);
      out.push(`<text x="${LEFT - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end" fill="${COLORS.axis}">${fmt(v)}</text>`);
    }
    for (let h = Math.ceil(x0 / xStep) * xStep; h <= x1 + 1e-9; h += xStep)
      out.push(`<text x="${X(h).toFixed(1)}" y="${bottom + 15}" text-anchor="middle" fill="${COLORS.axis}">${h === 0 ? 'onset' : `${h > 0 ? '+' : ''}${fmt(h)}${suffix}`}</text>`);
    // The onset.
    out.push(`<line x1="${X(0).toFixed(1)}" y1="${top}" x2="${X(0).toFixed(1)}" y2="${bottom}" stroke="${COLORS.axis}" stroke-dasharray="2,3"/>`);
    const path = (pts: { t: number; v: number }[]) => pts.map((p, i) => `${i ? 'L' : 'M'}${X(hours(p.t)).toFixed(1)},${Y(p.v).toFixed(1)}`).join(' ');
    if (s.points.length) out.push(`<path d="${path(s.points)}" fill="none" stroke="${COLORS.line}" stroke-width="2.5"/>`);
    (s.others ?? []).forEach((o, j) => {
      const colour = COLORS.others[j % COLORS.others.length];
      if (o.points.length) out.push(`<path d="${path(o.points)}" fill="none" stroke="${colour}" stroke-width="2" stroke-dasharray="6,3"/>`);
      out.push(`<text x="${W - RIGHT - 4}" y="${top + 12 + 14 * j}" text-anchor="end" fill="${colour}" stroke="#ffffff" stroke-width="3" paint-order="stroke">- - ${esc(o.label)}</text>`);
    });
    // The axes over the data (a series at zero runs along the x axis), the markers over both.
    out.push(`<line class="axis" x1="${LEFT}" y1="${bottom}" x2="${W - RIGHT}" y2="${bottom}" stroke="${COLORS.axis}" stroke-width="1.5"/>`);
    out.push(`<line class="axis" x1="${LEFT}" y1="${top}" x2="${LEFT}" y2="${bottom}" stroke="${COLORS.axis}" stroke-width="1.5"/>`);
    // Where this panel's check first went WARNING and CRITICAL.
    for (const m of c.markers.filter((x) => x.check === s.check)) {
      const x = X(hours(m.t)).toFixed(1);
      out.push(`<line class="marker" data-state="${m.state}" data-t="${Math.round(m.t)}" x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="${COLORS[m.state]}" stroke-width="3"/>`);
      // Inside the panel, right of the line (WARNING above CRITICAL), on a white halo over the lines.
      const y = top + (m.state === 'WARNING' ? 14 : 30);
      out.push(`<text x="${x}" y="${y}" dx="5" fill="${COLORS[m.state]}" font-weight="bold" stroke="#ffffff" stroke-width="3" paint-order="stroke">${m.state} ${fmtAfter(m.t - c.onset)}</text>`);
    }
    out.push('</g>');
  });
  out.push(`<text x="${LEFT + plotW / 2}" y="${H - 4}" text-anchor="middle" fill="${COLORS.axis}">${unit === 60 ? 'minutes' : 'hours'} since the onset (scenario time)</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function fmtAfter(s: number): string {
  const m = Math.round(s / 60);
  return m < 60 ? `+${m}m` : `+${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ''}`;
}
