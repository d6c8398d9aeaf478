// Streaming one spool directory: the loop every driver's walker needs (readdir's own types, no stat
// per entry; an entry list that vanishes mid-read, ENOENT, ends it; anything else is one spoolError;
// the directory is closed at the end, on abort, or when the consumer stops early).

import fs from 'node:fs';
import { errorCode } from '../plugin/errors.js';
import { spoolError } from './access.js';
import type { SpoolScanContext } from './types.js';

/** The entries of an open spool directory; `what` names it in errors ("OpenSMTPD queue directory"). */
export function* spoolDirEntries(dir: fs.Dir, dirPath: string, what: string, ctx: SpoolScanContext): Generator<fs.Dirent> {
  try {
    while (!ctx.signal.aborted) {
      let d: fs.Dirent | null;
      try {
        d = dir.readSync();
      } catch (err) {
        if (errorCode(err) === 'ENOENT') break;
        throw spoolError(err, dirPath, what);
      }
      if (d === null) break;
      yield d;
    }
  } finally {
    try {
      dir.closeSync();
    } catch {
      /* already closed */
    }
  }
}
