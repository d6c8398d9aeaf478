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
}

/** One run's reading, as kept in the state file: {"t":1718000000,"total":812,"queues":{"deferred":700,...}} */
export interface GrowthSample {
  t: number;
  total: number;
  queues: Record<string, number>;
}

export interface GrowthData extends CollectStatus {
  queue: QueueData;
  /** Samples in the window, oldest first, this run's last (unless the scan was incomplete). */
  samples: GrowthSample[];
  notes: string[];
  stateFile?: string;
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
    Object.values(s.queues).every((n) => Number.isFinite(n) && n >= 0)
  );
}

/**
 * What the state file is keyed on: what is measured (the MTA, its spools, whether queue files are
 * read: only then are Exim's frozen messages told from input, the --queue selection) and the
 * --window, since each run drops the samples older than its window: a 15m and a 2h check of one
 * queue sharing a file would leave the 2h check 15 minutes of history. Thresholds only read the samples.
 * The readable part of the name carries the queues and the window ("...-deferred-2h-<hash>").
 */
export function growthStateTarget(
  mta: MtaName,
  spools: string[],
  countOnly = true,
  window = 900,
  queues: string[] = [],
): { what: Record<string, unknown>; label: string[] } {
  const abs = spools.map((s) => path.resolve(s));
  const selected = [...new Set(queues)].sort();
  return {
    what: { mta, spools: abs, ...(countOnly ? {} : { read: true }), window, ...(selected.length ? { queues: selected } : {}) },
    label: [mta, ...abs, ...(selected.length ? [selected.join('+')] : []), compactDuration(window)],
  };
}

/** The state file of versions before the window was in the key: one per MTA and spools, shared by every
 *  --window and --queue. A new file starts from its samples that are still in the window. */
export function legacyGrowthStateTarget(mta: MtaName, spools: string[], countOnly = true): { what: Record<string, unknown>; label: string[] } {
  const abs = spools.map((s) => path.resolve(s));
  return { what: { mta, spools: abs, ...(countOnly ? {} : { read: true }) }, label: [mta, ...abs] };
}

export async function readGrowth(o: GrowthReadOptions, ctx: CollectContext): Promise<GrowthData> {
  const mta = resolveMta(o.mta, o.spools, o.where);
  checkQueueNames(mta, o.queues);
  const { spools } = await locateSpools(mta, o.spools, o.where);
  // Exim's input and frozen share input/: watching either one means reading the -H files.
  const driver = MTAS[mta].driver;
  const countOnly = o.source !== 'command' && !o.queues.some((q) => driver.needsReading?.includes(q) || driver.countedTogether?.includes(q));
  const st = await openState<GrowthSample>({
    check: GROWTH_CHECK_ID,
    ...growthStateTarget(mta, spools, countOnly, o.window, o.queues),
    previous: legacyGrowthStateTarget(mta, spools, countOnly),
    dir: o.stateDir,
    env: ctx.env,
    now: ctx.now,
    window: o.window,
    deadline: ctx.now() + ctx.timeout * 1000,
    isSample: isGrowthSample,
  });
  try {
    const t = ctx.now() / 1000;
    const queue = await collectQueue(
      { mta, source: o.source, spools: o.spools, where: o.where, countOnly, listingFiles: o.listingFiles, selected: o.queues.length ? o.queues : undefined },
      { signal: ctx.signal, deadline: ctx.deadline, now: ctx.now, timeout: ctx.timeout },
    );
    // An incomplete count is not a sample: it would read as a sudden drop.
    if (!queue.partial) await st.record({ t, total: queue.summary.total, queues: { ...queue.summary.byQueue } });
    return { queue, samples: [...st.samples], notes: [...(queue.notes ?? []), ...st.notes], stateFile: st.writable ? st.file : undefined, partial: queue.partial };
  } finally {
    await st.release();
  }
}
