// What the spool takes on disk, as du -x would say: a streamed walk, lstat per entry, staying on the
// spool's filesystem, cut at the deadline with what it found so far.

import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { errorCode } from '../plugin/errors.js';
import { formatCount } from '../queue/report.js';

export interface SpoolUsage {
  /** Allocated bytes (st_blocks * 512, what du shows): what the queue takes from the filesystem. */
  bytes: number;
  /** Sum of file sizes (st_size). */
  apparent: number;
  files: number;
  dirs: number;
  /** Directories that could not be listed (permissions): the size is a lower bound. */
  unreadable: number;
  /** Set when the deadline stopped the walk. */
  stopped?: string;
}

/**
 * Bytes the spool takes: a streamed walk (opendir, one directory open at a time), lstat per entry,
 * staying on the spool's filesystem like du -x. Stops at the deadline and says how far it got.
 */
export async function spoolUsage(root: string, signal: AbortSignal, timeout: number): Promise<SpoolUsage> {
  const u: SpoolUsage = { bytes: 0, apparent: 0, files: 0, dirs: 0, unreadable: 0 };
  const rootStat = fs.lstatSync(root);
  const dev = rootStat.dev;
  const stack = [root];
  u.bytes += rootStat.blocks * 512;
  u.apparent += rootStat.size;
  let seen = 0;
  const stop = () => (u.stopped = `walk stopped at the ${timeout} s deadline after ${formatCount(u.files)} files`);
  while (stack.length) {
    if (signal.aborted) {
      stop();
      return u;
    }
    const dir = stack.pop()!;
    let d: fs.Dir;
    try {
      d = fs.opendirSync(dir, { bufferSize: 1024 });
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') u.unreadable++;
      continue;
    }
    u.dirs++;
    try {
      // Synchronous reads in batches, yielding to the event loop so the deadline timer can fire:
      // a promise per entry costs several times what the lstat does.
      for (let ent = d.readSync(); ent; ent = d.readSync()) {
        let st: fs.Stats;
        try {
          st = fs.lstatSync(path.join(dir, ent.name));
        } catch {
          continue; // vanished: the queue manager moved it
        }
        if (st.dev !== dev) continue;
        u.bytes += st.blocks * 512;
        u.apparent += st.size;
        if (st.isDirectory()) stack.push(path.join(dir, ent.name));
        else u.files++;
        if (++seen % 512 === 0) {
          await yieldToLoop();
          if (signal.aborted) {
            stop();
            return u;
          }
        }
      }
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') u.unreadable++;
    } finally {
      d.closeSync();
    }
  }
  return u;
}

/** The roots not inside another root: nested spools (a --spool inside another) would be counted twice. */
export function outermost(roots: string[]): string[] {
  const outer = roots.filter((r, i) => !roots.some((x, j) => j !== i && r !== x && r.startsWith(x.endsWith('/') ? x : `${x}/`)));
  return [...new Set(outer)];
}
