// One spool read as every queue check does it: the envelope cache opened (or not), the two-phase
// scan under the deadline with a second reader thread, and the cache saved once the answer is out.

import type { MtaDriver } from '../mta/types.js';
import { formatCount } from './report.js';
import { openCache } from './envelope-cache.js';
import { readerScript } from './read-worker.js';
import type { Random } from './sample.js';
import { scanSpools, type ScanResult } from './scan.js';
import type { ShapeBy } from './shape.js';

export interface SpoolReadContext {
  signal: AbortSignal;
  /** Epoch ms when reading must stop. */
  deadline: number;
  now: () => number;
  timeout: number;
  env?: NodeJS.ProcessEnv;
  verbose?: (line: string) => void;
}

export interface SpoolReadOptions {
  countOnly: boolean;
  /** Keep envelopes between runs; undefined: no cache (--no-cache). */
  cache?: { dir?: string; defaultDir?: string; rereadEvery?: number };
  random?: Random;
  /** Read sizes where they cost a stat (check-mailq-depth --sizes). */
  sizes?: boolean;
  /** --queue: the selected queues' own senders and recipients too. */
  selected?: string[];
  /** --shape: domains by age. */
  shape?: ShapeBy;
}

export interface SpoolRead {
  result: ScanResult;
  /** Why the run is incomplete, in one phrase (undefined when everything was listed and read). */
  partial?: string;
  notes: string[];
  /** Save the cache and let go of its lock: run after the answer is written. */
  afterOutput?: () => Promise<void>;
}

/** Time kept back from reading for aggregating and answering: ~0.5 ms per 1,000 listed messages. */
export function aggregationReserveMs(listed: number): number {
  return 50 + listed / 2000;
}

export async function readSpool(driver: MtaDriver, spools: string[], o: SpoolReadOptions, ctx: SpoolReadContext): Promise<SpoolRead> {
  const env = ctx.env ?? process.env;
  const notes: string[] = [];
  const opened =
    !o.countOnly && o.cache
      ? await openCache({
          mta: driver.name,
          spools,
          dir: o.cache.dir,
          defaultDir: o.cache.defaultDir,
          env,
          now: ctx.now,
          deadline: Number.isFinite(ctx.deadline) ? ctx.deadline : ctx.now() + 3_600_000,
        })
      : undefined;
  const cache = opened?.cache;
  notes.push(...(opened?.notes ?? []));
  let result: ScanResult;
  try {
    const nowSec = ctx.now() / 1000;
    result = await scanSpools(driver, spools, {
      countOnly: o.countOnly,
      signal: ctx.signal,
      now: ctx.now,
      readUntil: ctx.deadline,
      reserveMs: aggregationReserveMs,
      cache,
      idArrival: driver.idArrival ? (id) => driver.idArrival!(id, nowSec) : undefined,
      readerScript: readerScript(env),
      rereadEvery: o.cache?.rereadEvery,
      random: o.random,
      sizes: o.sizes,
      selected: o.selected,
      shape: o.shape,
    });
  } catch (err) {
    await cache?.release();
    throw err;
  }
  let partial: string | undefined;
  if (!result.listingComplete) partial = `listed ${formatCount(result.files)} queue files before the ${ctx.timeout} s deadline`;
  else if (result.unread > 0)
    partial = `read ${formatCount(result.read)} of ${formatCount(result.read + result.unread)} envelopes not in the cache before the ${ctx.timeout} s deadline`;
  if (!o.countOnly)
    ctx.verbose?.(`envelopes read: ${formatCount(result.read)}${result.readByWorker ? ` (${formatCount(result.readByWorker)} by the second thread)` : ''}, ${formatCount(result.unread)} unread`);
  if (cache)
    ctx.verbose?.(`envelope cache: ${formatCount(result.cached)} known, ${formatCount(result.read)} read, ${formatCount(result.reread)} re-read (${cache.file})`);
  const r = result;
  return {
    result,
    partial,
    notes,
    afterOutput: cache
      ? async () => {
          try {
            if (r.cacheChanged) await cache.save(r.store, r.keep, ctx.now());
          } finally {
            await cache.release();
          }
        }
      : undefined,
  };
}
