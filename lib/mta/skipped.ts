// What a spool walk leaves out, so a check can say it instead of skipping it silently: directories
// the MTA does not scan (an admin's deferred/saved/, Sendmail's mqueue/queue.old/), queue files that
// are not where the MTA looks for them, and symlinks that are not followed.

import fs from 'node:fs';

export interface SkippedPath {
  /** The directory or link, as the walker reached it (spool path + name). */
  path: string;
  /** not-queue-dir: a directory the MTA does not scan; misplaced: queue files in a directory the MTA
   *  scans but not where it looks for them; symlink: a symlink not followed; queue-limit: a queue
   *  beyond the number a check counts (Exim named queues: MAX_NAMED_QUEUES). */
  why: 'not-queue-dir' | 'misplaced' | 'symlink' | 'queue-limit';
  /** Queue-file-like names in it (counted up to SKIP_COUNT_CAP entries; `more` when cut). */
  files: number;
  more?: boolean;
  /** The MTA itself reads what is there (it follows the symlink): the counts here are then too low. */
  mtaSees: boolean;
  /** A symlink's target (as readlink says it). */
  target?: string;
}

/** Directory entries looked at when counting what a skipped directory holds (a huge one must not stall the check). */
export const SKIP_COUNT_CAP = 10_000;

/** Queue-file-like names under `dir` (not following symlinks, any depth), at most SKIP_COUNT_CAP entries looked at. */
export function countQueueFiles(dir: string, isQueueFile: (name: string) => boolean, signal?: AbortSignal): { files: number; more: boolean } {
  let files = 0;
  let seen = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let h: fs.Dir;
    try {
      h = fs.opendirSync(d, { bufferSize: 256 });
    } catch {
      continue;
    }
    try {
      for (let e = h.readSync(); e !== null; e = h.readSync()) {
        if (++seen > SKIP_COUNT_CAP || signal?.aborted) return { files, more: true };
        if (e.isFile() && isQueueFile(e.name)) files++;
        else if (e.isDirectory()) stack.push(`${d}/${e.name}`);
      }
    } catch {
      /* vanished mid-count: what was counted stands */
    } finally {
      try {
        h.closeSync();
      } catch {
        /* already closed */
      }
    }
  }
  return { files, more: false };
}

export function linkTarget(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}
