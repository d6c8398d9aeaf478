// Which bytes of a log are new since the last run, after whatever logrotate did meanwhile
// (check_logfiles' "analyse the situation": rotated? truncated?). The cursor kept per file:
//   {"path":"/var/log/mail.log","dev":2049,"ino":131090,"offset":18578,"size":18578,
//    "fp":"3f9a1c2b7e4d5a61","fpLen":256}
// - same inode, size >= offset, same fingerprint (hash of the first fpLen bytes): read [offset, size).
// - inode changed (rename rotation): finish the rotated file found beside it, then read the new file
//   from 0. The rotated file is the sibling with our inode (mail.log.1, mail.log-20261123), or, if
//   it was compressed at once (mail.log.1.gz), the one whose first bytes have our fingerprint.
// - same inode but shorter than the offset, or other first bytes (copytruncate, truncate, rewrite):
//   finish the copy if one is beside it (same fingerprint, at least offset bytes), then read from 0,
//   and say so.
// - gone: finish the rotated file if found; UNKNOWN if nothing explains it.
// - first run (no cursor at all): record the end and read nothing (a baseline), unless --from-start.
// - a file first seen on a later run (a new match of a --log glob): read from its start.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { errorCode, UnknownError } from '../plugin/errors.js';
import { formatBytes } from '../plugin/size.js';
import type { LogReader } from './reader.js';

export const FP_LEN = 256;

export interface FileCursor {
  path: string;
  dev: number;
  ino: number;
  /** Next byte to read. */
  offset: number;
  /** Size when last seen. */
  size: number;
  /** sha256 of the first fpLen bytes, 16 hex digits. */
  fp: string;
  fpLen: number;
  /** The offset is inside an overlong line already counted: skip to its end first. */
  midLine?: boolean;
  /** The file did not exist at the last run (rotated away and not yet recreated). */
  missing?: boolean;
}

export function isFileCursor(x: unknown): x is FileCursor {
  if (!x || typeof x !== 'object') return false;
  const c = x as FileCursor;
  return (
    typeof c.path === 'string' &&
    Number.isFinite(c.dev) &&
    Number.isFinite(c.ino) &&
    Number.isInteger(c.offset) &&
    c.offset >= 0 &&
    Number.isInteger(c.size) &&
    typeof c.fp === 'string' &&
    Number.isInteger(c.fpLen)
  );
}

export type FileEvent = 'baseline' | 'read' | 'new' | 'rotated' | 'truncated' | 'missing' | 'recreated';

export interface FileOutcome {
  cursor: FileCursor;
  events: FileEvent[];
  /** Long-output lines: what happened to this file. */
  notes: string[];
  /** One short phrase for the summary when something unusual happened. */
  headline?: string;
  read: number;
  skipped: number;
  /** Set when the file cannot be read at all: the run is UNKNOWN. */
  error?: string;
}

interface Seen {
  dev: number;
  ino: number;
  size: number;
}

function statOf(p: string): Seen | undefined {
  try {
    const st = fs.statSync(p, { bigint: false });
    if (!st.isFile()) return undefined;
    return { dev: st.dev, ino: st.ino, size: st.size };
  } catch (err) {
    // ELOOP: a symlink loop where the log was is no log either.
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR' || errorCode(err) === 'ELOOP') return undefined;
    throw err;
  }
}

/** Open a log to read, or say in one line why it cannot be (as LogReader.readPlain does). */
function openLog(p: string): number {
  try {
    return fs.openSync(p, 'r');
  } catch (err) {
    throw new UnknownError(`cannot read ${p} (${errorCode(err) ?? (err as Error).message})`, 'run the check as a user that can read the mail log (group adm on Debian)');
  }
}

function hash(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex').slice(0, 16);
}

/** Fingerprint of the first n bytes of a plain file (fewer if it is shorter: then it cannot match). */
export function fingerprint(p: string, n: number): { fp: string; len: number } {
  const fd = openLog(p);
  try {
    const b = Buffer.alloc(n);
    const got = fs.readSync(fd, b, 0, n, 0);
    return { fp: hash(b.subarray(0, got)), len: got };
  } finally {
    fs.closeSync(fd);
  }
}

/** Fingerprint of the first n decompressed bytes of a .gz file. */
export function gzipFingerprint(p: string, n: number): { fp: string; len: number } | undefined {
  try {
    const fd = fs.openSync(p, 'r');
    try {
      const head = Buffer.alloc(64 * 1024);
      const got = fs.readSync(fd, head, 0, head.length, 0);
      const out = zlib.gunzipSync(head.subarray(0, got), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      const b = out.subarray(0, n);
      return { fp: hash(b), len: b.length };
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** Offset just after the last '\n' in the file (a baseline should not start mid-line). */
function lastLineEnd(p: string, size: number): number {
  if (size === 0) return 0;
  const fd = openLog(p);
  try {
    const n = Math.min(size, 64 * 1024);
    const b = Buffer.alloc(n);
    fs.readSync(fd, b, 0, n, size - n);
    const nl = b.lastIndexOf(10);
    return nl < 0 ? size : size - n + nl + 1;
  } finally {
    fs.closeSync(fd);
  }
}

export interface Rotated {
  path: string;
  gz: boolean;
  /** Bytes (plain) or ISIZE estimate (gz). */
  size: number;
  how: 'inode' | 'fingerprint';
}

/** Names logrotate and savelog give the newest rotated file: x.1, x.0, x-YYYYMMDD[HH], and .gz of each. */
export function rotatedCandidates(p: string): { plain: string[]; gz: string[] } {
  const dir = path.dirname(p);
  const base = path.basename(p);
  let dated: string[] = [];
  try {
    const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{8}(\\d{2})?(\\.gz)?$`);
    dated = fs
      .readdirSync(dir)
      .filter((n) => re.test(n))
      .sort()
      .reverse()
      .map((n) => path.join(dir, n));
  } catch {
    // unreadable dir: only the fixed names
  }
  return {
    plain: [`${p}.1`, `${p}.0`, ...dated.filter((n) => !n.endsWith('.gz'))],
    gz: [`${p}.1.gz`, `${p}.0.gz`, ...dated.filter((n) => n.endsWith('.gz'))],
  };
}

/** The rotated file holding the rest of what the cursor was reading, or undefined. */
export function findRotated(prev: FileCursor): Rotated | undefined {
  const { plain, gz } = rotatedCandidates(prev.path);
  const fpUsable = prev.fpLen > 0;
  for (const c of plain) {
    const st = statOf(c);
    if (!st) continue;
    if (st.dev === prev.dev && st.ino === prev.ino) return { path: c, gz: false, size: st.size, how: 'inode' };
    if (fpUsable && st.size >= prev.offset) {
      const f = fingerprint(c, prev.fpLen);
      if (f.len === prev.fpLen && f.fp === prev.fp) return { path: c, gz: false, size: st.size, how: 'fingerprint' };
    }
  }
  if (!fpUsable) return undefined;
  for (const c of gz) {
    if (!statOf(c)) continue;
    const f = gzipFingerprint(c, prev.fpLen);
    if (f && f.len === prev.fpLen && f.fp === prev.fp) {
      const fd = fs.openSync(c, 'r');
      let size = 0;
      try {
        const b = Buffer.alloc(4);
        const total = fs.fstatSync(fd).size;
        fs.readSync(fd, b, 0, 4, total - 4);
        size = b.readUInt32LE(0);
      } finally {
        fs.closeSync(fd);
      }
      return { path: c, gz: true, size, how: 'fingerprint' };
    }
  }
  return undefined;
}

function cursorFor(p: string, st: Seen, offset: number, extra: Partial<FileCursor> = {}): FileCursor {
  const f = fingerprint(p, FP_LEN);
  return { path: p, dev: st.dev, ino: st.ino, offset, size: st.size, fp: f.fp, fpLen: f.len, ...extra };
}

const name = (p: string) => path.basename(p);

/**
 * Bring one log up to date: decide what is new since `prev` and read it with `reader`.
 * `firstRun`: no state at all (baseline unless fromStart).
 */
export async function tailFile(p: string, prev: FileCursor | undefined, reader: LogReader, o: { firstRun: boolean; fromStart: boolean }): Promise<FileOutcome> {
  const out: FileOutcome = { cursor: prev ?? ({ path: p } as FileCursor), events: [], notes: [], read: 0, skipped: 0 };
  const cur = statOf(p);

  const finishRotated = async (rot: Rotated, why: string): Promise<void> => {
    const from = prev!.offset;
    const r = rot.gz ? await reader.readGzip(rot.path, from) : await reader.readPlain(rot.path, from, rot.size, { final: true, skipFirst: prev!.midLine });
    out.read += r.read;
    out.skipped += r.skipped;
    out.notes.push(`${name(p)} was ${why}: finished ${rot.path} from byte ${from.toLocaleString('en-US')} (${formatBytes(r.read)} read${r.skipped ? `, ${formatBytes(r.skipped)} skipped` : ''})`);
  };

  const readFrom = async (st: Seen, from: number, skipFirst = false): Promise<void> => {
    // Fingerprinted before reading: the log may be rotated away or deleted while it is read, and the
    // cursor must describe the file that was read, not whatever has its name afterwards.
    const f = fingerprint(p, FP_LEN);
    const r = await reader.readPlain(p, from, st.size, { final: false, skipFirst });
    out.read += r.read;
    out.skipped += r.skipped;
    out.cursor = { path: p, dev: st.dev, ino: st.ino, offset: r.resume, size: st.size, fp: f.fp, fpLen: f.len, ...(r.midLine ? { midLine: true } : {}) };
  };

  if (!cur) {
    if (prev && !prev.missing) {
      const rot = findRotated(prev);
      if (rot) {
        await finishRotated(rot, 'rotated');
        out.events.push('rotated', 'missing');
        out.notes.push(`${p} does not exist yet (rotated to ${name(rot.path)}, not recreated)`);
        out.headline = `${name(p)} rotated, not yet recreated`;
        out.cursor = { ...prev, missing: true, offset: 0, size: 0, fp: '', fpLen: 0, midLine: false };
        return out;
      }
    }
    out.events.push('missing');
    out.error = prev
      ? `${p} is gone${prev.missing ? ' (rotated at an earlier run and not recreated)' : ' and no rotated file beside it has its content'}`
      : `${p} not found`;
    out.cursor = { ...(prev ?? { path: p, dev: 0, ino: 0, offset: 0, size: 0, fp: '', fpLen: 0 }), missing: true };
    return out;
  }

  if (!prev) {
    if (o.firstRun && !o.fromStart) {
      const end = lastLineEnd(p, cur.size);
      out.cursor = cursorFor(p, cur, end);
      out.events.push('baseline');
      out.notes.push(`${p}: baseline recorded at byte ${end.toLocaleString('en-US')} of ${formatBytes(cur.size)}; the next run reads what is appended`);
      return out;
    }
    out.events.push(o.firstRun ? 'read' : 'new');
    if (!o.firstRun) out.notes.push(`${p} is new since the last run: read from the start`);
    await readFrom(cur, 0);
    return out;
  }

  if (prev.missing) {
    out.events.push('recreated');
    out.notes.push(`${p} was recreated: read from the start`);
    await readFrom(cur, 0);
    return out;
  }

  if (cur.dev !== prev.dev || cur.ino !== prev.ino) {
    out.events.push('rotated');
    const rot = findRotated(prev);
    if (rot) await finishRotated(rot, `rotated (inode ${prev.ino} -> ${cur.ino})`);
    else
      out.notes.push(
        `${name(p)} was rotated (inode ${prev.ino} -> ${cur.ino}) and no rotated file beside it has its content (looked for .1, .0, -YYYYMMDD and .gz): lines written between the last run and the rotation were not read`,
      );
    out.headline = rot ? `${name(p)} rotated` : `${name(p)} rotated, rotated file not found`;
    await readFrom(cur, 0);
    return out;
  }

  // Same file. Shorter than our offset, or different first bytes: truncated (copytruncate) or rewritten.
  let why: string | undefined;
  if (cur.size < prev.offset) why = `truncated (${formatBytes(cur.size)} now, was read to byte ${prev.offset.toLocaleString('en-US')})`;
  else if (prev.fpLen > 0) {
    const f = fingerprint(p, prev.fpLen);
    if (f.len < prev.fpLen || f.fp !== prev.fp) why = 'rewritten (its first bytes changed)';
  }
  if (why) {
    out.events.push('truncated');
    const rot = prev.fpLen > 0 ? findRotated(prev) : undefined;
    if (rot && !(rot.path === p)) await finishRotated(rot, `${why}; copied first (copytruncate)`);
    out.notes.push(`${name(p)} was ${why}: reading it again from the start`);
    out.headline = `${name(p)} truncated, read from the start`;
    await readFrom(cur, 0);
    return out;
  }
  out.events.push('read');
  await readFrom(cur, prev.offset, prev.midLine);
  return out;
}
