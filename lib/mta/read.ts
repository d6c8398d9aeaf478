// Bounded, synchronous reads of small queue control files (Sendmail qf, Exim -H), shared by drivers.
// readMessage is synchronous, so one growing scratch buffer serves every read.

import fs from 'node:fs';
import { errorCode } from '../plugin/errors.js';

let scratch = Buffer.allocUnsafe(64 * 1024);
const probe = Buffer.allocUnsafe(1);

/** `buf` holds the file's first `end` bytes until the next call. */
export type BoundedRead = { buf: Buffer; end: number; truncated: boolean } | { error: string };

/** Read up to `cap` bytes. null = the file is gone (ENOENT, normal mid-scan); EACCES/EPERM are thrown
 *  (the caller reports the remedy); other errors come back as { error }. */
export function readBounded(file: string, cap: number): BoundedRead | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT') return null;
    if (code === 'EACCES' || code === 'EPERM') throw err;
    return { error: code ?? 'open failed' };
  }
  try {
    let end = 0;
    let truncated = false;
    for (;;) {
      if (end >= cap) {
        truncated = fs.readSync(fd, probe, 0, 1, end) > 0;
        break;
      }
      if (end === scratch.length) {
        const bigger = Buffer.allocUnsafe(Math.min(cap, scratch.length * 4));
        scratch.copy(bigger, 0, 0, end);
        scratch = bigger;
      }
      const n = fs.readSync(fd, scratch, end, Math.min(scratch.length, cap) - end, end);
      if (n === 0) break;
      end += n;
    }
    return { buf: scratch, end, truncated };
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EACCES' || code === 'EPERM') throw err;
    return { error: code ?? 'read failed' };
  } finally {
    fs.closeSync(fd);
  }
}
