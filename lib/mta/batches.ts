// Directory listings by the batch: the queue files of one directory as a list of IDs plus the
// path around them (path = prefix + id + suffix), so a walk of 1,000,000 files makes no object,
// path string or generator step per file. A driver may list in batches itself (listBatches, the
// Postfix hot path); for the others their entry stream is grouped here, so every consumer reads
// one shape.

import type { MtaDriver, QueueEntry, SpoolScanContext } from './types.js';

/** Queue files of one directory (or part of one): each at prefix + id + suffix. */
export interface EntryBatch {
  queue: string;
  prefix: string;
  suffix: string;
  /** The directory they were listed in (the same string for every batch of it). */
  dir: string;
  ids: string[];
}

/** IDs per batch: the consumers check the deadline between batches. */
export const BATCH_SIZE = 1024;

/** The spool's queue files in batches: the driver's own when it has them, else its entries grouped. */
export function* batchesOf(driver: MtaDriver, spool: string, ctx: SpoolScanContext): Generator<EntryBatch> {
  if (driver.listBatches) {
    yield* driver.listBatches(spool, ctx);
    return;
  }
  let cur: EntryBatch | undefined;
  for (const e of driver.listEntries(spool, ctx)) {
    const p = e.path;
    // Same directory, queue and path shape as the last entry: checked by length and suffix, as
    // the prefix is the directory's (Sendmail's qf/hf/Qf follow the queue, so it is the queue too).
    if (
      cur !== undefined &&
      cur.ids.length < BATCH_SIZE &&
      e.dir !== undefined &&
      e.dir === cur.dir &&
      e.queue === cur.queue &&
      p.length === cur.prefix.length + e.id.length + cur.suffix.length &&
      (cur.suffix === '' || p.endsWith(cur.suffix))
    ) {
      cur.ids.push(e.id);
      continue;
    }
    if (cur) yield cur;
    const at = p.lastIndexOf(e.id);
    cur = { queue: e.queue, prefix: p.slice(0, at), suffix: p.slice(at + e.id.length), dir: e.dir ?? p.slice(0, at), ids: [e.id] };
    // An entry without its directory is a batch of its own (its prefix was not checked against the last).
    if (e.dir === undefined) {
      yield cur;
      cur = undefined;
    }
  }
  if (cur) yield cur;
}

/** The entries of batches, one by one (a batch walker's listEntries), none after the signal aborts. */
export function* entriesOf(batches: Iterable<EntryBatch>, signal: AbortSignal): Generator<QueueEntry> {
  for (const b of batches)
    for (const id of b.ids) {
      if (signal.aborted) return;
      yield { id, queue: b.queue, path: b.prefix + id + b.suffix, dir: b.dir };
    }
}
