// One filesystem's verdict for check-spool-disk, pure: used percent, inodes, the fill trend over the
// window's samples and the time to full, the spool's share, and the line that says it.

import { aboutDuration, compactDuration } from '../plugin/duration.js';
import { pctText } from '../plugin/numbers.js';
import type { Range } from '../plugin/range.js';
import { State, thresholdState, worst } from '../plugin/result.js';
import { formatByteRate, formatBytes } from '../plugin/size.js';
import { formatCount } from '../queue/report.js';
import { heldState } from '../stats/hysteresis.js';
import { MIN_SPAN, timeToReach, trend, type Trend } from '../stats/trend.js';
import { usedPercent, type DiskSample, type Filesystem } from './filesystem.js';

/** The thresholds and the window a verdict is judged by. */
export interface DiskThresholds {
  /** Ranges on used percent (-w/-c). */
  warning?: Range;
  critical?: Range;
  /** Ranges on free bytes ("2147483648:" = alert below 2G). */
  freeWarning?: Range;
  freeCritical?: Range;
  inodeWarning?: Range;
  inodeCritical?: Range;
  /** Ranges on time to full in seconds. */
  fillWarning?: Range;
  fillCritical?: Range;
  window: number;
  minSamples: number;
}

/** A fill level: never rounded up to 100% while the filesystem is not full. */
export const fillPct = (p: number): string => pctText(p, true);

export interface FsVerdict {
  fs: Filesystem;
  state: State;
  usedPct: number;
  inodesPct?: number;
  bytes: Trend;
  inodes: Trend;
  /** Seconds until full (space or inodes, whichever first). */
  ttf?: number;
  ttfWhat?: 'space' | 'inodes';
  spoolBytes?: number;
  spoolComplete: boolean;
  /** The time-to-full criterion alone, with hysteresis: what the next run holds from. */
  fillState: State;
  /** The fill state was held by hysteresis (time to full back above the range, not yet by 20%). */
  fillHeld: boolean;
  text: string;
}

/** `held`: the time-to-full state the last run ended in for this filesystem (its sample's alert). */
export function judge(fs: Filesystem, samples: DiskSample[], o: DiskThresholds, held: State = State.OK): FsVerdict {
  const usedPct = usedPercent(fs.used, fs.avail);
  const inodesPct = fs.inodes > 0 ? (100 * (fs.inodes - fs.inodesFree)) / fs.inodes : undefined;
  const series = samples.filter((s) => s.fs[fs.mount]);
  // One trend engine (lib/stats/trend.ts) for space and inodes: no queue-run cycle on a disk, but drops
  // that recur (log rotation, a spool that is emptied on a schedule) are still judged over whole cycles.
  // A rate that would fill the filesystem in 100 days is as well known as it needs to be.
  const opts = (capacity: number) => ({ minSamples: o.minSamples, minSpan: MIN_SPAN, resolution: 1, precision: capacity / (100 * 86400), steadyBaseline: true });
  const bytes = trend(series.map((s) => ({ t: s.t, y: s.fs[fs.mount].used })), opts(fs.used + fs.avail));
  const inodes = trend(series.map((s) => ({ t: s.t, y: s.fs[fs.mount].iused })), opts(fs.inodes));
  const spaceTtf = bytes.ready ? timeToReach(fs.used, fs.used + fs.avail, bytes.rate) : undefined;
  const inodeTtf = inodes.ready && fs.inodes > 0 ? timeToReach(fs.inodes - fs.inodesFree, fs.inodes, inodes.rate) : undefined;
  let ttf: number | undefined;
  let ttfWhat: FsVerdict['ttfWhat'];
  if (spaceTtf !== undefined && (inodeTtf === undefined || spaceTtf <= inodeTtf)) [ttf, ttfWhat] = [spaceTtf, 'space'];
  else if (inodeTtf !== undefined) [ttf, ttfWhat] = [inodeTtf, 'inodes'];

  // Time to full holds its alert until it is 20% past the range (lib/stats/hysteresis.ts): a fill that
  // sits near --fill-warning does not flap. Used percent, free bytes and inodes are levels, not trends.
  const fillState = ttf !== undefined ? heldState(ttf, o.fillWarning, o.fillCritical, held) : State.OK;
  const fillHeld = ttf !== undefined && fillState !== thresholdState(ttf, o.fillWarning, o.fillCritical);
  const state = worst(
    thresholdState(usedPct, o.warning, o.critical),
    thresholdState(fs.avail, o.freeWarning, o.freeCritical),
    inodesPct !== undefined ? thresholdState(inodesPct, o.inodeWarning, o.inodeCritical) : State.OK,
    fillState,
  );
  const usages = Object.values(fs.spoolUsage);
  // A walk cut by the deadline or kept out of directories gives a lower bound: said, not graphed.
  const spoolComplete = usages.length > 0 && usages.every((u) => !u.stopped && !u.unreadable);
  const spoolBytes = usages.length ? usages.reduce((n, u) => n + u.bytes, 0) : undefined;

  let text = `${fs.mount} ${fillPct(usedPct)} used (${formatBytes(fs.avail)} free)`;
  if (ttf === 0) text += ttfWhat === 'inodes' ? ', out of inodes' : ', full';
  else if (ttf !== undefined)
    text +=
      ttfWhat === 'inodes'
        ? `, out of inodes in ~${aboutDuration(ttf)} at +${formatCount(Math.round(inodes.rate! * 3600))}/h`
        : `, full in ~${aboutDuration(ttf)} at ${formatByteRate(bytes.rate!)}`;
  if (inodesPct !== undefined && thresholdState(inodesPct, o.inodeWarning, o.inodeCritical) !== State.OK) text += `, inodes ${fillPct(inodesPct)} used`;
  if (spoolBytes !== undefined)
    text += `, spool ${spoolComplete ? '' : 'at least '}${formatBytes(spoolBytes)}${fs.used > 0 ? ` (${fillPct((100 * spoolBytes) / fs.used)} of used)` : ''}`;
  return { fs, state, usedPct, inodesPct, bytes, inodes, ttf, ttfWhat, spoolBytes, spoolComplete, fillState, fillHeld, text };
}

export function trendLine(what: string, t: Trend, o: DiskThresholds, fmt: (perSecond: number) => string): string {
  const win = compactDuration(o.window);
  if (!t.ready || !t.fit)
    return t.n < o.minSamples
      ? `${what}: collecting baseline (${t.n} of ${o.minSamples} samples)`
      : `${what}: collecting baseline (${t.n} samples over ${compactDuration(t.span)}; a rate needs ${t.needs ?? compactDuration(MIN_SPAN)})`;
  const basis =
    t.basis === 'cycles'
      ? `over whole cycles of ~${compactDuration(Math.round(t.period!))}, ${t.drops} drops seen; ${fmt(t.fit.slope)} least squares over the ${win} window`
      : t.regimeSamples + t.outliers >= t.n || t.unconfirmed
        ? `median slope over ${t.n} samples in the ${win} window${t.unconfirmed ? ` (${t.fresh} new sample${t.fresh === 1 ? ' is' : 's are'} no trend yet)` : ''}; least squares ${fmt(t.fit.slope)}, r² ${t.fit.r2.toFixed(2)}`
        : `median slope over the ${t.regimeSamples} samples since a change of rate; ${fmt(t.fit.slope)} least squares over the ${win} window`;
  return `${what}: ${fmt(t.rate!)} (${basis}${t.outliers ? `; ${t.outliers} spike${t.outliers === 1 ? '' : 's'} set aside` : ''})`;
}

// ---------------------------------------------------------------------------------------------
// Collection

