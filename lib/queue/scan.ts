// Walk a spool with an MTA driver and aggregate as we go: bounded memory, deadline-aware,
// tolerant of files that vanish (the queue manager moves files while we read).

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { MtaDriver } from '../mta/types.js';
import { addMessage, countEntry, emptySummary, type QueueSummary } from './summary.js';

export interface ScanResult {
  summary: QueueSummary;
  /** Queue files seen (including vanished ones). */
  files: number;
  vanished: number;
  /** Set when the deadline stopped the scan early. */
  stoppedEarly: boolean;
}

export interface ScanOptions {
  countOnly: boolean;
  signal: AbortSignal;
  /** Yield to the event loop every N files so timers (the deadline) can fire during sync reads. */
  yieldEvery?: number;
}

export async function scanSpools(driver: MtaDriver, spools: string[], opts: ScanOptions): Promise<ScanResult> {
  const summary = emptySummary(driver.queues, !opts.countOnly);
  const yieldEvery = opts.yieldEvery ?? 256;
  let files = 0;
  let vanished = 0;
  let stoppedEarly = false;
  const ctx = { signal: opts.signal, onVanished: () => vanished++ };
  outer: for (const spool of spools) {
    for await (const entry of driver.listEntries(spool, ctx)) {
      if (opts.signal.aborted) {
        stoppedEarly = true;
        break outer;
      }
      files++;
      if (opts.countOnly) {
        countEntry(summary, entry.queue);
      } else {
        const m = driver.readMessage(entry);
        if (m) addMessage(summary, m);
        else vanished++;
      }
      if (files % yieldEvery === 0) await yieldToLoop();
    }
  }
  if (opts.signal.aborted) stoppedEarly = true;
  return { summary, files, vanished, stoppedEarly };
}
