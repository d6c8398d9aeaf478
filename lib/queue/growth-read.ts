// The I/O side of check-mailq-growth: count the queue (the depth reader's count-only path where the
// spool allows it), add (time, total, per-queue counts) to the state store, hand back the samples.

import path from 'node:path';
import type { CollectContext, CollectStatus } from '../plugin/check.js';
import { compactDuration } from '../plugin/duration.js';
import { openState } from '../plugin/state.js';
import { MTAS } from '../mta/index.js';
import type { MtaName } from '../mta/types.js';
import { checkQueueNames, collectQueue, locateSpools, resolveMta, type QueueData, type SourceChoice } from './source.js';

export const GROWTH_CHECK_ID = 'mailq_growth';

/** What counting the queue for its growth needs (check-mailq-growth's options, less its thresholds). */
export interface GrowthReadOptions extends SourceChoice {
  queues: string[];
  /** Seconds. */
  window: number;
  stateDir?: string;
  /** What the verdict is judged by (thresholds as given, the queue-run interval): the alert kept in
   *  the state file for hysteresis belongs to them, so they are part of the state file's key. */
  judgedBy?: Record<string, string>;
}

/** Samples are kept this long at least, whatever --window says: the judged window always holds six runs
 *  (lib/checks/mailq-growth.ts judgedWindow), and six runs at the slowest interval (10 minutes) are 1h. */
export const GROWTH_RETAIN = 3600;

export function growthRetention(window: number): number {
  return Math.max(window, GROWTH_RETAIN);
}

/** One run's reading, as kept in the state file: {"t":1718000000,"total":812,"queues":{"deferred":700,...}}.
 *  `alert` is the verdict that run ended in when it was not OK ({"rate":1} = WARNING on the rate): the
 *  next run's hysteresis starts from it, and it is saved atomically with the sample. */
export interface GrowthSample {
  t: number;
  total: number;
  queues: Record<string, number>;
  alert?: HeldAlert;
}

/** The state (1 WARNING, 2 CRITICAL) each criterion ended in; absent = OK. */
export interface HeldAlert {
  rate?: number;
  eta?: number;
}

export interface GrowthData extends CollectStatus {
  queue: QueueData;
  /** Samples in the window, oldest first, this run's last (unless the scan was incomplete). */
  samples: GrowthSample[];
  notes: string[];
  stateFile?: string;
  /** What the previous run ended in (its sample's `alert`): where this run's hysteresis starts. */
  held?: HeldAlert;
}

/** The alert memory of the newest sample before `t` (the previous run). */
export function heldBefore(samples: readonly GrowthSample[], t: number): HeldAlert | undefined {
  for (let i = samples.length - 1; i >= 0; i--) if (samples[i].t < t) return samples[i].alert;
  return undefined;
}

export function isGrowthSample(x: unknown): x is GrowthSample {
  if (!x || typeof x !== 'object') return false;
  const s = x as GrowthSample;
  return (
    Number.isFinite(s.t) &&
    Number.isFinite(s.total) &&
    s.total >= 0 &&
    !!s.queues &&
    typeof s.queues === 'object' &&
    Object.values(s.queues).every((n) => Number.isFinite(n) && n >= 0) &&
    (s.alert === undefined || (typeof s.alert === 'object' && s.alert !== null && Object.values(s.alert).every((v) => v === 1 || v === 2)))
  );
}

/**
 * What the state file is keyed on: what is measured (the MTA, its spools, whether queue files are
 * read: only then are Exim's frozen messages told from input, the --queue selection), the --window
 * (a 15m and a 2h check of one queue must not trim one history), and what the verdict is judged by
 * (thresholds, --queue-run): each sample carries the alert its run ended in, which the next run's
 * hysteresis starts from, so two checks of one queue with different -w must not share it.
 * The readable part of the name carries the queues and the window ("...-deferred-2h-<hash>").
 */
export function growthStateTarget(
  mta: MtaName,
  spools: string[],
  countOnly = true,
  window = 900,
  queues: string[] = [],
  judgedBy?: Record<string, string>,
): { what: Record<string, unknown>; label: string[] } {
  const abs = spools.map((s) => path.resolve(s));
  const selected = [...new Set(queues)].sort();
  const judged = judgedBy && Object.keys(judgedBy).length ? { judged: judgedBy } : {};
  return {
    what: { mta, spools: abs, ...(countOnly ? {} : { read: true }), window, ...(selected.length ? { queues: selected } : {}), ...judged },
    label: [mta, ...abs, ...(selected.length ? [selected.join('+')] : []), compactDuration(window)],
  };
}

/** The state file of versions before the window was in the key: one per MTA and spools, shared by every
 *  --window and --queue. A new file starts from its samples that are still in the window. */
export function legacyGrowthStateTarget(mta: MtaName, spools: string[], countOnly = true): { what: Record<string, unknown>; label: string[] } {
  const abs = spools.map((s) => path.resolve(s));
  return { what: { mta, spools: abs, ...(countOnly ? {} : { read: true }) }, label: [mta, ...abs] };
}

/**
 * Count the queue, add the reading to the state file, hand back the samples. `judge` (the check's pure
 * evaluation) says which alert this run ends in, so that it is saved in the same atomic write as the
 * sample: the next run's hysteresis then starts from exactly what this run answered.
 */
export async function readGrowth(o: GrowthReadOptions, ctx: CollectContext, judge?: (data: GrowthData, now: number) => HeldAlert | undefined): Promise<GrowthData> {
  const mta = resolveMta(o.mta, o.spools, o.where);
  checkQueueNames(mta, o.queues);
  const { spools } = await locateSpools(mta, o.spools, o.where);
  // Exim's input and frozen share input/: watching either one means reading the -H files.
  const driver = MTAS[mta].driver;
  const countOnly = o.source !== 'command' && !o.queues.some((q) => driver.needsReading?.includes(q) || driver.countedTogether?.includes(q));
  const st = await openState<GrowthSample>({
    check: GROWTH_CHECK_ID,
    ...growthStateTarget(mta, spools, countOnly, o.window, o.queues, o.judgedBy),
    // Earlier keys, newest first: without the thresholds (before the alert was kept), without the window.
    previous: [growthStateTarget(mta, spools, countOnly, o.window, o.queues), legacyGrowthStateTarget(mta, spools, countOnly)],
    dir: o.stateDir,
    env: ctx.env,
    now: ctx.now,
    window: growthRetention(o.window),
    deadline: ctx.now() + ctx.timeout * 1000,
    isSample: isGrowthSample,
  });
  try {
    const t = ctx.now() / 1000;
    const queue = await collectQueue(
      { mta, source: o.source, spools: o.spools, where: o.where, countOnly, listingFiles: o.listingFiles, selected: o.queues.length ? o.queues : undefined },
      { signal: ctx.signal, deadline: ctx.deadline, now: ctx.now, timeout: ctx.timeout },
    );
    const held = heldBefore(st.samples, t);
    const notes = [...(queue.notes ?? []), ...st.notes];
    // An incomplete count is not a sample: it would read as a sudden drop.
    if (!queue.partial) {
      const sample: GrowthSample = { t, total: queue.summary.total, queues: { ...queue.summary.byQueue } };
      const ahead = st.samples.filter((x) => x.t < t);
      const alert = judge?.({ queue, samples: [...ahead, sample], notes, stateFile: st.file, held }, t);
      if (alert && Object.keys(alert).length) sample.alert = alert;
      await st.record(sample);
    }
    return { queue, samples: [...st.samples], notes: [...(queue.notes ?? []), ...st.notes], stateFile: st.writable ? st.file : undefined, partial: queue.partial, held };
  } finally {
    await st.release();
  }
}
