// One chart per incident replay (bench/chart.ts): each check's main metric over scenario time, with a
// marker where it first went WARNING and CRITICAL. The incident tests write them to docs/img/ with
// UPDATE_INCIDENT_TABLE=1 and otherwise check that the committed picture marks what was measured;
// `npm run demo` draws incident 001's the same way.
import { renderChart, type ChartMarker, type ChartSeries } from '../../bench/chart.js';
import { perfdata, type Scenario } from './harness.js';

const maxOf = (v: number[]) => (v.length ? Math.max(...v) : undefined);

/** The metric each check's panel shows, by the check's key in the scenarios. */
type Pick = (p: Record<string, number>) => number | undefined;
const PANELS: Record<string, { title: string; pick: Pick; max?: number; others?: { label: string; pick: Pick }[] }> = {
  depth: { title: 'queue depth (messages)', pick: (p) => p.total },
  age: { title: 'oldest message (minutes)', pick: (p) => (p.oldest_age === undefined ? undefined : p.oldest_age / 60) },
  growth: { title: 'queue growth (messages/min)', pick: (p) => p.rate },
  bounces: { title: 'bounce share of the queue (%)', pick: (p) => p.ratio, max: 100 },
  flood: {
    title: 'mail log (lines/min)',
    pick: (p) => p.lines_per_min,
    others: [
      { label: 'bounces/min', pick: (p) => p.bounces_per_min },
      { label: 'deferrals/min', pick: (p) => p.deferrals_per_min },
    ],
  },
  // With several filesystems (spool and log apart), the fullest one.
  disk: { title: 'disk used (%), the fullest filesystem', pick: (p) => maxOf(Object.keys(p).filter((k) => k === 'used_pct' || k.startsWith('used_pct_')).map((k) => p[k])), max: 100 },
};

/** Where each check first went WARNING (only when before its CRITICAL) and CRITICAL. */
export function markersOf(s: Scenario): ChartMarker[] {
  const out: ChartMarker[] = [];
  for (const c of s.checks.filter((x) => PANELS[x.key])) {
    const w = s.first(c.key, 'WARNING');
    const cr = s.first(c.key, 'CRITICAL');
    if (w && (!cr || w.t < cr.t)) out.push({ check: c.key, t: w.t, state: 'WARNING' });
    if (cr) out.push({ check: c.key, t: cr.t, state: 'CRITICAL' });
  }
  return out;
}

export function chartOf(s: Scenario, title: string): string {
  const series = (key: string, pick: (p: Record<string, number>) => number | undefined) =>
    s.of(key).flatMap((r) => {
      const v = pick(perfdata(r.out));
      return v === undefined || !Number.isFinite(v) ? [] : [{ t: r.t, v }];
    });
  const panels: ChartSeries[] = s.checks
    .filter((c) => PANELS[c.key])
    .map((c) => {
      const p = PANELS[c.key];
      return {
        title: `${p.title}: ${c.name}`,
        check: c.key,
        points: series(c.key, p.pick),
        ...(p.max !== undefined ? { max: p.max } : {}),
        ...(p.others ? { others: p.others.map((o) => ({ label: o.label, points: series(c.key, o.pick) })) } : {}),
      };
    });
  return renderChart({ title, onset: s.onset, series: panels, markers: markersOf(s) });
}

/** The markers a committed chart shows: [check, state, t] from its data attributes. */
export function markersInSvg(svg: string): string[] {
  const out: string[] = [];
  const panel = /<g class="panel" data-check="([^"]+)">([\s\S]*?)<\/g>/g;
  for (let m = panel.exec(svg); m; m = panel.exec(svg)) {
    const marker = /class="marker" data-state="(WARNING|CRITICAL)" data-t="(\d+)"/g;
    for (let k = marker.exec(m[2]); k; k = marker.exec(m[2])) out.push(`${m[1]} ${k[1]} ${k[2]}`);
  }
  return out.sort();
}
