// The one loop over a spool listing that every queue read shares (--count-only, the two-phase scan,
// --sample's reservoir, the exact bounce read): every batch of every spool in order (lib/mta/batches.ts),
// a yield to the event loop every so many IDs so the deadline timer can fire between synchronous
// directory reads, and a stop when the signal aborts or the consumer says so.

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { batchesOf, type EntryBatch } from '../mta/batches.js';
import type { MtaDriver, SpoolScanContext } from '../mta/types.js';

/** Listing without reading costs little per entry: yield every this many IDs. */
export const LIST_YIELD_EVERY = 1024;

/**
 * Hand every batch to `onBatch` (which may be async, and returns false to stop). Returns true when
 * every spool was listed to its end; false when the signal aborted or `onBatch` stopped the walk.
 */
export async function walkSpools(
  driver: MtaDriver,
  spools: readonly string[],
  ctx: SpoolScanContext,
  onBatch: (b: EntryBatch) => boolean | void | Promise<boolean | void>,
  yieldEvery = LIST_YIELD_EVERY,
): Promise<boolean> {
  let since = 0;
  for (const spool of spools) {
    if (ctx.signal.aborted) return false;
    for (const batch of batchesOf(driver, spool, ctx)) {
      // A batch listed before the deadline is handed on even when the signal aborted since: its
      // files were there, and a cut listing's counts are lower bounds of what it did list.
      const r = onBatch(batch);
      if ((r instanceof Promise ? await r : r) === false || ctx.signal.aborted) return false;
      since += batch.ids.length;
      if (since >= yieldEvery) {
        since = 0;
        await yieldToLoop();
        if (ctx.signal.aborted) return false;
      }
    }
  }
  return !ctx.signal.aborted;
}
