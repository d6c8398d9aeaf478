// Bounded, synchronous reads of small queue control files (Sendmail qf, Exim -H), shared by drivers.
// readMessage is synchronous, so one growing scratch buffer serves every read.

import fs from 'node:fs';
import { errorCode } from '../plugin/errors.js';
import { deniedError, isDenied } from './access.js';

let scratch = Buffer.allocUnsafe(64 * 1024);
const probe = Buffer.allocUnsafe(1);

/** `buf` holds the file's first `end` bytes until the next call. */
export type BoundedRead = { buf: Buffer; end: number; truncated: boolean } | { error: string };

/** Queue files are opened without following a symlink (one swapped in after the walk must not lead out of
 *  the spool) and without blocking (a FIFO swapped in must not hang the check). */
export const OPEN_QUEUE_FILE = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** Read up to `cap` bytes. null = the file is gone (ENOENT, normal mid-scan) or is no longer a regular
 *  file (a symlink, FIFO or directory swapped in); EACCES/EPERM are thrown (the caller reports the
 *  remedy); other errors come back as { error }. */
export function readBounded(file: string, cap: number): BoundedRead | null {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_QUEUE_FILE);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ELOOP') return null;
    if (isDenied(err)) throw deniedError(err, file, 'queue file');
    return { error: code ?? 'open failed' };
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return null;
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
      const asked = Math.min(scratch.length, cap) - end;
      const n = fs.readSync(fd, scratch, end, asked, end);
      end += n;
      // A short read is the end of a regular file: no second read just to be told 0.
      if (n < asked) break;
    }
    return { buf: scratch, end, truncated };
  } catch (err) {
    const code = errorCode(err);
    if (isDenied(err)) throw deniedError(err, file, 'queue file');
    return { error: code ?? 'read failed' };
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether a spool candidate is there. One that exists but cannot be read counts as there, so the
 *  reader reports the permission problem instead of skipping it. */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await fs.promises.stat(p);
    return true;
  } catch (err) {
    const code = errorCode(err);
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}
