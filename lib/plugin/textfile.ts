// --textfile DIR: the answer in the prometheus format, written to DIR/<check>[-<suffix>].prom for
// node_exporter's textfile collector. node_exporter reads the directory on every scrape, so a file
// must never be seen half-written: it is written to a temp file in the same directory (its name does
// not end in .prom, so the collector skips it), fsynced, and renamed over the old one (rename is
// atomic within a filesystem); the directory is fsynced so the rename survives a crash.

import fs from 'node:fs';
import path from 'node:path';
import { errorCode, UnknownError } from './errors.js';

export const textfileName = (check: string, suffix?: string): string => `${check}${suffix ? `-${suffix}` : ''}.prom`;

const FIX: Record<string, string> = {
  ENOENT: 'create the directory, or give --textfile the one node_exporter reads (--collector.textfile.directory)',
  ENOTDIR: 'give --textfile a directory, the one node_exporter reads (--collector.textfile.directory)',
  EACCES: 'let this user write there (group or ACL), or run the check as a user who can',
  EPERM: 'let this user write there (group or ACL), or run the check as a user who can',
  EROFS: 'the filesystem is read-only: give --textfile a writable directory',
  ENOSPC: 'the filesystem is full: free space there',
  EDQUOT: 'the disk quota is used up: free space there',
};

/** Write `text` to dir/name atomically; throws UnknownError with what failed and how to fix it. */
export function writeTextfile(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o644);
    fs.writeSync(fd, text);
    // The mode node_exporter's user needs to read it, whatever the umask.
    fs.fchmodSync(fd, 0o644);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* not made, or already gone */
    }
    const code = errorCode(err) ?? 'error';
    throw new UnknownError(`cannot write the textfile ${file} (${code})`, FIX[code] ?? `check --textfile ${dir}`);
  }
  try {
    const dfd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // The file is in place; a directory that cannot be fsynced (some network filesystems) is not an error.
  }
  return file;
}
