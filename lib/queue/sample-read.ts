// The I/O side of per-message checks: every message of the spool or a sample of its files, handed one
// by one to a callback (the aggregation is the caller's). The MTA's listing is read by streamListings
// (lib/queue/source.ts), the one copy of that rule.
// Same habits as scan.ts: streaming, deadline-aware, files that vanish mid-scan are counted, not errors.
// The drivers' listings and reads are synchronous: the loops here yield to the event loop every
// few hundred entries so the deadline timer can fire, and check the signal after each yield.

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { walkSpools } from './walk.js';
import type { SkippedPath } from '../mta/skipped.js';
import type { MtaDriver, QueueEntry, QueuedMessage } from '../mta/types.js';
import { Reservoir, type Random } from './sample.js';

export type OnMessage = (m: QueuedMessage) => void;

/** Yield to the event loop every this many files so the deadline timer can fire between sync reads. */
const YIELD_EVERY = 256;

export interface ReadResult {
  /** Queue files seen (read or vanished). */
  files: number;
  /** Files that were gone when opened (delivered or moved by the queue manager meanwhile). */
  vanished: number;
  /** The deadline (signal) stopped the walk. */
  stoppedEarly: boolean;
}

/**
 * Walk every spool and read every queue file (the exact mode). `keepGoing`, asked every few hundred
 * files, may give up early (--sample auto when the read is not on course to finish in time).
 */
export async function readAllMessages(
  driver: MtaDriver,
  spools: string[],
  onMessage: OnMessage,
  signal: AbortSignal,
  keepGoing?: (files: number) => boolean,
  onSkipped?: (s: SkippedPath) => void,
): Promise<ReadResult & { gaveUp: boolean }> {
  let files = 0;
  let vanished = 0;
  let gaveUp = false;
  const ctx = { signal, onVanished: () => vanished++, onSkipped };
  await walkSpools(driver, spools, ctx, async (b) => {
    for (const id of b.ids) {
      if (signal.aborted) return false;
      files++;
      const m = driver.readMessage({ id, queue: b.queue, path: b.prefix + id + b.suffix, dir: b.dir });
      if (m) onMessage(m);
      else vanished++;
      if (files % YIELD_EVERY === 0) {
        await yieldToLoop();
        if (keepGoing && !keepGoing(files)) {
          gaveUp = true;
          return false;
        }
      }
    }
  });
  return { files, vanished, stoppedEarly: signal.aborted || gaveUp, gaveUp };
}

export interface ListedSample {
  /** Queue files listed, in all spools. */
  population: number;
  /** Listed files per queue (by directory: Exim's frozen messages are only known once read). */
  byQueue: Record<string, number>;
  /** A uniform random sample of `size` listed entries (all of them if fewer), in random order. */
  entries: QueueEntry[];
  /** True when the sample holds every listed file. */
  complete: boolean;
  stoppedEarly: boolean;
}

/** List every spool without opening a queue file, keeping a uniform random sample of `size` entries. */
export async function listAndSample(
  driver: MtaDriver,
  spools: string[],
  size: number,
  random: Random,
  signal: AbortSignal,
  onSkipped?: (s: SkippedPath) => void,
): Promise<ListedSample> {
  const reservoir = new Reservoir<QueueEntry>(size, random);
  const byQueue: Record<string, number> = Object.create(null);
  const ctx = { signal, onSkipped };
  await walkSpools(driver, spools, ctx, (b) => {
    for (const id of b.ids) {
      const at = reservoir.take();
      if (at >= 0) reservoir.items[at] = { id, queue: b.queue, path: b.prefix + id + b.suffix, dir: b.dir };
    }
    byQueue[b.queue] = (Object.hasOwn(byQueue, b.queue) ? byQueue[b.queue] : 0) + b.ids.length;
  });
  return { population: reservoir.seen, byQueue, entries: reservoir.shuffled(), complete: reservoir.complete, stoppedEarly: signal.aborted };
}

/** Read entries[from, to) in order, stopping at the deadline. `read` counts the messages handed on. */
export async function readEntries(
  driver: MtaDriver,
  entries: QueueEntry[],
  onMessage: OnMessage,
  signal: AbortSignal,
  from = 0,
  to = entries.length,
): Promise<{ read: number; vanished: number; next: number; stoppedEarly: boolean }> {
  let read = 0;
  let vanished = 0;
  let i = from;
  for (; i < to; i++) {
    if (signal.aborted) break;
    const m = driver.readMessage(entries[i]);
    if (m) {
      onMessage(m);
      read++;
    } else vanished++;
    if ((i - from + 1) % YIELD_EVERY === 0) await yieldToLoop();
  }
  return { read, vanished, next: i, stoppedEarly: i < to };
}
