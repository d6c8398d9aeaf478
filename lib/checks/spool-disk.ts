// check-spool-disk: the filesystem under the mail spool (and any --path, e.g. the log directory),
// how full it is, how much of it the queue takes, and when it will be full at the current rate.
// Incident 001: a 13 GB mqueue and a 2 GB maillog filled /var. Both were rising for hours.
// Space and inodes come from statfs(2) (Node's fs.statfs), never from parsing df.

import { round2 } from '../plugin/numbers.js';
import { metric, type CheckSpec, type CollectStatus, type Evaluation } from '../plugin/check.js';
import { aboutDuration, compactDuration } from '../plugin/duration.js';
import { errorCode } from '../plugin/errors.js';
import { severity, State, STATE_NAMES, worst, type Metric } from '../plugin/result.js';
import { formatByteRate, formatBytes } from '../plugin/size.js';
import { openState, STATE_OPTIONS } from '../plugin/state.js';
import { diskSample, filesystemsOf, isDiskSample, measureFilesystems, statTarget, type DiskSample, type Filesystem } from '../disk/filesystem.js';
import { outermost, spoolUsage } from '../disk/usage.js';
import { fillPct, judge, trendLine, type DiskThresholds } from '../disk/verdict.js';
import type { MtaName, SpoolWhere } from '../mta/types.js';
import { formatCount } from '../queue/report.js';
import { locateSpools, resolveMta, SOURCE_OPTIONS, spoolWhereOption, spoolWhereRows } from '../queue/source.js';
import { MIN_SPAN } from '../stats/trend.js';
import type { OptionTable } from '../plugin/options.js';
import { VERSION } from '../version.js';

// The filesystem side lives in lib/disk; exported here as before.
export { filesystemsOf, isDiskSample, mountLabel, mountPointOf, usedPercent, type DiskSample, type Filesystem } from '../disk/filesystem.js';
export { spoolUsage, type SpoolUsage } from '../disk/usage.js';

export const SPOOL_DISK_CHECK_ID = 'spool_disk';

export interface SpoolDiskOptions extends DiskThresholds {
  mta: MtaName | 'auto';
  spools?: string[];
  /** --config / --instance (lib/mta/types.ts SpoolWhere). */
  where?: SpoolWhere;
  paths: string[];
  spoolSize: boolean;
  stateDir?: string;
  timeout: number;
}

export interface SpoolDiskData extends CollectStatus {
  mta: MtaName;
  filesystems: Filesystem[];
  samples: DiskSample[];
  notes: string[];
  stateFile?: string;
  /** Time-to-full state per mount the previous run ended in (its sample's alert). */
  held?: Record<string, number>;
}

/** The alert memory of the newest sample before t (the previous run). */
export function diskHeldBefore(samples: readonly DiskSample[], t: number): Record<string, number> | undefined {
  for (let i = samples.length - 1; i >= 0; i--) if (samples[i].t < t) return samples[i].alert;
  return undefined;
}

/** What each filesystem's time-to-full criterion ends this run in, when not OK (kept in the sample). */
export function diskAlert(verdicts: { fs: Filesystem; fillState: State }[]): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const v of verdicts) if (v.fillState !== State.OK) out[v.fs.mount] = v.fillState;
  return Object.keys(out).length ? out : undefined;
}

/** 91% / 7.5% / <0.1%; never rounds a nearly full filesystem up to 100%. */
export { fillPct as pctText };

export function evaluateSpoolDisk(data: SpoolDiskData, o: SpoolDiskOptions, now: number): Evaluation {
  const samples = data.samples.filter((s) => s.t <= now + 1e-6 && s.t > now - o.window);
  const verdicts = data.filesystems.map((f) => judge(f, samples, o, (data.held?.[f.mount] ?? State.OK) as State));
  const state = worst(...verdicts.map((v) => v.state));
  const ordered = [...verdicts].sort((a, b) => severity(b.state) - severity(a.state));
  const summary = ordered.map((v) => v.text).join('; ');

  const several = verdicts.length > 1;
  const metrics: Metric[] = [];
  const details: string[] = [];
  for (const v of verdicts) {
    const f = v.fs;
    const l = (name: string) => (several ? `${name}_${f.label}` : name);
    // prometheus and influx: one family per figure, the filesystem as a label (also when there is one).
    const by = (name: string, extra: Omit<Metric, 'label' | 'value'>) => ({ family: name, dims: { filesystem: f.label }, ...extra });
    metrics.push(metric(l('used_pct'), round2(v.usedPct), by('used_pct', { uom: '%', min: 0, max: 100, warn: o.warning, crit: o.critical })));
    metrics.push(metric(l('free_bytes'), f.avail, by('free_bytes', { uom: 'B', min: 0, max: f.size, warn: o.freeWarning, crit: o.freeCritical })));
    if (v.inodesPct !== undefined) metrics.push(metric(l('inodes_used_pct'), round2(v.inodesPct), by('inodes_used_pct', { uom: '%', min: 0, max: 100, warn: o.inodeWarning, crit: o.inodeCritical })));
    if (v.bytes.ready) metrics.push(metric(l('fill_bytes_per_hour'), Math.round(v.bytes.rate! * 3600), by('fill_bytes_per_hour', { integer: true })));
    if (v.ttf !== undefined) metrics.push(metric(l('time_to_full'), Math.round(v.ttf), by('time_to_full', { uom: 's', min: 0, integer: true, warn: o.fillWarning, crit: o.fillCritical })));
    if (v.spoolBytes !== undefined && v.spoolComplete) {
      metrics.push(metric(l('spool_bytes'), v.spoolBytes, by('spool_bytes', { uom: 'B', min: 0 })));
      metrics.push(metric(l('spool_share_pct'), f.used > 0 ? round2((100 * v.spoolBytes) / f.used) : 0, by('spool_share_pct', { uom: '%', min: 0, max: 100 })));
    }

    const holds = [...f.spools.map((s) => `spool ${s}`), ...f.paths.map((p) => `path ${p}`)].join(', ');
    details.push(
      `${f.mount} [${STATE_NAMES[v.state]}]: ${fillPct(v.usedPct)} used, ${formatBytes(f.avail)} free of ${formatBytes(f.size)}` +
        (v.inodesPct !== undefined ? `; inodes ${fillPct(v.inodesPct)} used (${formatCount(f.inodes - f.inodesFree)} of ${formatCount(f.inodes)})` : '; no inode limit') +
        `; holds ${holds}`,
    );
    details.push(`  ${trendLine('space', v.bytes, o, (r) => formatByteRate(r))}`);
    if (f.inodes > 0) details.push(`  ${trendLine('inodes', v.inodes, o, (r) => `${r >= 0 ? '+' : ''}${formatCount(Math.round(r * 3600))}/h`)}`);
    if (v.ttf !== undefined)
      details.push(
        `  ${v.ttf === 0 ? `no ${v.ttfWhat} left` : `${v.ttfWhat === 'inodes' ? 'out of inodes' : 'full'} in ~${aboutDuration(v.ttf)} at the current rate`}${v.fillHeld ? ` (${STATE_NAMES[v.fillState]} held from the last run until the time to full is 20% past --fill-${v.fillState === State.CRITICAL ? 'critical' : 'warning'})` : ''}`,
      );
    for (const [spool, u] of Object.entries(f.spoolUsage)) {
      const share = f.used > 0 ? `, ${fillPct((100 * u.bytes) / f.used)} of the used space` : '';
      details.push(
        `  spool ${spool}: ${u.stopped ? 'at least ' : ''}${formatBytes(u.bytes)} on disk (${formatBytes(u.apparent)} in file sizes), ${formatCount(u.files)} file${u.files === 1 ? '' : 's'} in ${formatCount(u.dirs)} director${u.dirs === 1 ? 'y' : 'ies'}${share}`,
      );
      if (u.unreadable) details.push(`  spool ${spool}: ${formatCount(u.unreadable)} director${u.unreadable === 1 ? 'y' : 'ies'} not readable by this user: its size is a lower bound`);
      if (u.stopped) details.push(`  spool ${spool}: ${u.stopped}; use a longer -t or --no-spool-size`);
    }
  }
  details.push(...data.notes);
  if (data.stateFile) details.push(`state: ${data.stateFile} (${samples.length} sample${samples.length === 1 ? '' : 's'} in the ${compactDuration(o.window)} window)`);

  return {
    state,
    summary,
    metrics,
    details,
    facts: {
      mta: data.mta,
      stateFile: data.stateFile,
      notes: data.notes,
      filesystems: verdicts.map((v) => ({
        mount: v.fs.mount,
        label: v.fs.label,
        state: STATE_NAMES[v.state],
        spools: v.fs.spools,
        paths: v.fs.paths,
        size: v.fs.size,
        used: v.fs.used,
        avail: v.fs.avail,
        usedPct: v.usedPct,
        inodesPct: v.inodesPct,
        fillBytesPerSecond: v.bytes.rate,
        timeToFull: v.ttf,
        timeToFullOf: v.ttfWhat,
        spoolBytes: v.spoolBytes,
        spoolComplete: v.spoolComplete,
      })),
    },
  };
}

/** What a spool-disk state file is keyed by: the spools, the paths and the window (a 1h and a 6h check
 *  of one filesystem must not share, and trim, one history). Without `window`: the key of versions
 *  before it was part of it, which a new file starts from (StateStoreOptions.previous). */
export function spoolDiskStateTarget(spools: string[], paths: string[], window?: number): { what: Record<string, unknown>; label: string[] } {
  const s = [...new Set(spools)].sort();
  const p = [...new Set(paths)].sort();
  if (window === undefined) return { what: { spools: s, paths: p }, label: [...s, ...p].slice(0, 3) };
  return { what: { spools: s, paths: p, window }, label: [...[...s, ...p].slice(0, 3), compactDuration(window)] };
}

const SPOOL_DISK_TABLE = {
  mta: { kind: 'enum', choices: SOURCE_OPTIONS.mta.choices, default: SOURCE_OPTIONS.mta.default, describe: SOURCE_OPTIONS.mta.describe },
  spool: { kind: 'path', list: true, describe: SOURCE_OPTIONS.spool.describe },
  ...spoolWhereRows(),
  'state-dir': { kind: 'path', describe: STATE_OPTIONS['state-dir'].describe },
  path: { kind: 'path', list: true, describe: 'another path whose filesystem to check, e.g. /var/log' },
  warning: {
    kind: 'range',
    alias: 'w',
    family: 'used',
    thresholdDefault: { value: '80', why: 'incidents 001 (/var at 100%) and 003 (log partition full); a quiet spool filesystem has room to spare' },
    describe: 'WARNING range on used percent, as df shows it',
  },
  critical: {
    kind: 'range',
    alias: 'c',
    family: 'used',
    thresholdDefault: { value: '90', why: 'incident 001: a full /var stopped the relay taking mail' },
    describe: 'CRITICAL range on used percent (evaluated before WARNING)',
  },
  'free-warning': { kind: 'size', threshold: 'below', describe: 'WARNING when less than this is free (500M, 2G)' },
  'free-critical': { kind: 'size', threshold: 'below', describe: 'CRITICAL when less than this is free' },
  'inode-warning': {
    kind: 'range',
    family: 'inodes',
    thresholdDefault: { value: '80', why: 'incident 001: 500,000 queued are a million qf/df files' },
    describe: 'WARNING range on inodes used percent',
  },
  'inode-critical': {
    kind: 'range',
    family: 'inodes',
    thresholdDefault: { value: '90', why: 'incident 001: out of inodes is a full disk too' },
    describe: 'CRITICAL range on inodes used percent',
  },
  'fill-warning': {
    kind: 'duration',
    threshold: 'below',
    family: 'fill',
    thresholdDefault: { value: '24h', why: 'incident 001: /var filled over hours, unseen; a quiet filesystem has no sustained fill rate' },
    describe: 'WARNING when the filesystem (space or inodes) would be full sooner than this',
  },
  'fill-critical': {
    kind: 'duration',
    threshold: 'below',
    family: 'fill',
    thresholdDefault: { value: '4h', why: 'incident 003: a scanner loop filled the log partition in minutes' },
    describe: 'CRITICAL when the filesystem would be full sooner than this',
  },
  window: { kind: 'duration', min: 2 * MIN_SPAN, default: '1h', describe: 'fit the fill rate over the samples of this long' },
  'min-samples': { kind: 'count', min: 2, max: 500, default: '3', describe: 'samples needed in the window before projecting time to full' },
  'spool-size': { kind: 'flag', default: true, describe: 'walk the spool for its size (--no-spool-size to skip on huge queues)' },
} as const satisfies OptionTable;

export const spoolDiskCheck: CheckSpec<SpoolDiskOptions, SpoolDiskData, typeof SPOOL_DISK_TABLE> = {
  name: 'check-spool-disk',
  service: 'SPOOL_DISK',
  id: SPOOL_DISK_CHECK_ID,
  version: VERSION,
  description:
    'space and inodes on the filesystem under the mail spool (and --path), the spool share, and time to full. ' +
    '-w/-c are ranges on used percent (as df shows it)',
  table: SPOOL_DISK_TABLE,
  examples: [
    ['check-spool-disk -w 80 -c 90 --fill-warning 24h --fill-critical 4h', 'used percent and time to full of the spool filesystem'],
    ['check-spool-disk --path /var/log --free-critical 1G', 'incident 001: the spool and the mail log on /var'],
  ],
  incidents: [
    { id: '001', what: 'Sendmail relay drowning, /var full', command: 'check-spool-disk --mta sendmail --path /var/log', fires: 'WARNING at +30m (full in ~4h33m), CRITICAL at +1h15m, hours before /var is full' },
    { id: '003', what: 'virus scanner in an error loop filled the log partition', command: 'check-spool-disk --mta postfix --path /var/log', fires: 'CRITICAL at +2m: /var/log full in ~11m' },
  ],
  validate(a, common) {
    return {
      mta: a.mta,
      spools: a.spool.length ? a.spool : undefined,
      where: spoolWhereOption(a),
      paths: a.path,
      warning: common.warning,
      critical: common.critical,
      freeWarning: a.freeWarning,
      freeCritical: a.freeCritical,
      inodeWarning: a.inodeWarning,
      inodeCritical: a.inodeCritical,
      fillWarning: a.fillWarning,
      fillCritical: a.fillCritical,
      window: a.window,
      minSamples: a.minSamples,
      spoolSize: a.spoolSize,
      stateDir: a.stateDir,
      timeout: common.timeout,
    };
  },
  async collect(o, ctx) {
    const mta = resolveMta(o.mta, o.spools, o.where);
    const { spools, notes } = await locateSpools(mta, o.spools, o.where);
    const targets = [
      ...(await Promise.all(spools.map((s) => statTarget(s, 'spool', mta)))),
      ...(await Promise.all(o.paths.map((p) => statTarget(p, 'path', mta)))),
    ];
    const groups = await filesystemsOf(targets);
    const spoolsReal = targets.filter((t) => t.kind === 'spool').map((t) => t.real);
    const pathsReal = targets.filter((t) => t.kind === 'path').map((t) => t.real);
    const st = await openState<DiskSample>({
      check: SPOOL_DISK_CHECK_ID,
      ...spoolDiskStateTarget(spoolsReal, pathsReal, o.window),
      previous: spoolDiskStateTarget(spoolsReal, pathsReal),
      dir: o.stateDir,
      env: ctx.env,
      now: ctx.now,
      window: o.window,
      deadline: ctx.now() + ctx.timeout * 1000,
      isSample: isDiskSample,
    });
    try {
      const t = ctx.now() / 1000;
      const filesystems = await measureFilesystems(groups);
      const held = diskHeldBefore(st.samples, t);
      const sample = diskSample(t, filesystems);
      // The time-to-full verdict this run ends in, saved in the same atomic write as the sample.
      const window = [...st.samples.filter((s) => s.t < t && s.t > t - o.window), sample];
      const alert = diskAlert(filesystems.map((f) => judge(f, window, o, (held?.[f.mount] ?? State.OK) as State)));
      if (alert) sample.alert = alert;
      await st.record(sample);

      if (o.spoolSize) {
        for (const r of outermost(spools.map((s) => targets.find((t) => t.given === s)!.real))) {
          const f = filesystems.find((x) => x.spools.includes(r))!;
          try {
            f.spoolUsage[r] = await spoolUsage(r, ctx.signal, ctx.timeout);
          } catch (err) {
            ctx.verbose(`spool ${r}: size not measured (${errorCode(err) ?? (err as Error).message})`);
          }
        }
      }
      return { mta, filesystems, samples: [...st.samples], notes: [...notes, ...st.notes], stateFile: st.writable ? st.file : undefined, held };
    } finally {
      await st.release();
    }
  },
  evaluate: evaluateSpoolDisk,
};
