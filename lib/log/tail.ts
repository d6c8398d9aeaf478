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
// - rotated more than once between runs (a missed run, size-triggered logrotate): every rotated
//   generation newer than the one holding the cursor is read whole, oldest first (mail.log.2.gz from
//   the offset, then mail.log.1, then mail.log). A numbered rotation may give the new file the inode
//   of a deleted one: a cursor's inode only counts with its fingerprint.
// - stopped by the deadline in a rotated file: it is kept as pending (found again by inode or
//   fingerprint) and finished first next run; a .gz that cannot even be inflated up to its offset
//   within MAX_STALLS runs is given up and said.
// - NUL runs (the hole copytruncate leaves under a writer without O_APPEND) are skipped and said.
// - first run (no cursor at all): record the end and read nothing (a baseline), unless --from-start.
// - a file first seen on a later run (a new match of a --log glob): read from its start.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { errorCode, UnknownError } from '../plugin/errors.js';
import { formatBytes } from '../plugin/size.js';
import { gzipSize, type LogReader } from './reader.js';

export const FP_LEN = 256;
/** Rotated files kept pending at most (a run reads them in order: more would be a backlog of rotations). */
export const MAX_PENDING = 20;
/** Runs in a row a pending .gz may stop before reaching its offset before it is given up (and said). */
export const MAX_STALLS = 2;

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
  /** Rotated files a run stopped in (the deadline): finished first next run, oldest first. */
  pending?: PendingPart[];
}

/** A rotated file still to finish, found again by its identity wherever rotation has moved it since. */
export interface PendingPart {
  path: string;
  gz: boolean;
  dev: number;
  ino: number;
  /** Fingerprint of its first bytes (decompressed for .gz), as FileCursor.fp. */
  fp: string;
  fpLen: number;
  /** Next (decompressed) byte to read. */
  offset: number;
  /** Runs in a row that stopped before getting back to `offset` (a large .gz cannot be seeked). */
  stalls?: number;
}

function isPendingPart(x: unknown): x is PendingPart {
  const q = x as PendingPart;
  return !!q && typeof q === 'object' && typeof q.path === 'string' && typeof q.gz === 'boolean' && Number.isFinite(q.dev) && Number.isFinite(q.ino) && typeof q.fp === 'string' && Number.isInteger(q.fpLen) && Number.isInteger(q.offset) && q.offset >= 0;
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
    Number.isInteger(c.fpLen) &&
    (c.pending === undefined || (Array.isArray(c.pending) && c.pending.length <= MAX_PENDING && c.pending.every(isPendingPart)))
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
  /** What could not be read (phrases for the summary): the run is not OK. */
  unread: string[];
  /** NUL-filled hole bytes skipped in this file (copytruncate under a writer without O_APPEND). */
  holes: number;
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
      const head = Buffer.alloc(16 * 1024);
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

/** A rotated generation of a log, newest first. */
export interface Generation {
  path: string;
  gz: boolean;
}

/**
 * Every rotated generation beside a log, newest first: logrotate's x.1, x.2, ... (savelog's x.0
 * first), each plain or .gz, then x-YYYYMMDD[HH] (dateext), newest date first.
 */
export function generations(p: string): Generation[] {
  const dir = path.dirname(p);
  const base = path.basename(p);
  const esc = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const numbered = new RegExp(`^${esc}\\.(\\d{1,4})(\\.gz)?$`);
  const dated = new RegExp(`^${esc}-(\\d{8}(\\d{2})?)(\\.gz)?$`);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const nums: { n: number; name: string }[] = [];
  const dates: { d: string; name: string }[] = [];
  for (const n of names) {
    const m = numbered.exec(n);
    if (m) nums.push({ n: Number(m[1]), name: n });
    const d = dated.exec(n);
    if (d) dates.push({ d: d[1].padEnd(10, '0'), name: n });
  }
  nums.sort((x, y) => x.n - y.n || (x.name < y.name ? -1 : 1));
  dates.sort((x, y) => (x.d < y.d ? 1 : x.d > y.d ? -1 : x.name < y.name ? -1 : 1));
  return [...nums, ...dates].map((e) => ({ path: path.join(dir, e.name), gz: e.name.endsWith('.gz') }));
}

interface Identity {
  dev: number;
  ino: number;
  fp: string;
  fpLen: number;
  offset: number;
}

/** Does this generation hold the content `c` describes? Plain: same inode and first bytes, or a copy (same first bytes, long enough). gz: same first decompressed bytes. */
function holds(g: Generation, c: Identity): boolean {
  if (!g.gz) {
    const st = statOf(g.path);
    if (!st) return false;
    const fpOk = () => {
      const f = fingerprint(g.path, c.fpLen);
      return f.len === c.fpLen && f.fp === c.fp;
    };
    if (st.dev === c.dev && st.ino === c.ino) return c.fpLen === 0 || fpOk();
    return c.fpLen > 0 && st.size >= c.offset && fpOk();
  }
  if (c.fpLen === 0) return false;
  const f = gzipFingerprint(g.path, c.fpLen);
  return !!f && f.len === c.fpLen && f.fp === c.fp;
}

/** Index in `gens` of the generation holding `c`, or -1. */
export function locate(gens: Generation[], c: Identity): number {
  return gens.findIndex((g) => holds(g, c));
}

/** The identity of a generation as it is now (to find it again next run). */
function identityOf(g: Generation): Omit<PendingPart, 'offset' | 'path' | 'gz'> | undefined {
  const st = statOf(g.path);
  if (!st) return undefined;
  const f = g.gz ? gzipFingerprint(g.path, FP_LEN) : fingerprint(g.path, FP_LEN);
  if (!f) return undefined;
  return { dev: st.dev, ino: st.ino, fp: f.fp, fpLen: f.len };
}

function cursorFor(p: string, st: Seen, offset: number, extra: Partial<FileCursor> = {}): FileCursor {
  const f = fingerprint(p, FP_LEN);
  return { path: p, dev: st.dev, ino: st.ino, offset, size: st.size, fp: f.fp, fpLen: f.len, ...extra };
}

const name = (p: string) => path.basename(p);

/** A rotated file to read whole (from `from`) before the live one. */
interface Part {
  gen: Generation;
  from: number;
  skipFirst?: boolean;
  /** Identity kept from the cursor or pending entry (what it was found by). */
  id?: Omit<PendingPart, 'offset' | 'path' | 'gz'>;
  stalls?: number;
}

/**
 * Bring one log up to date: decide what is new since `prev` and read it with `reader`.
 * `firstRun`: no state at all (baseline unless fromStart).
 */
export async function tailFile(p: string, prev: FileCursor | undefined, reader: LogReader, o: { firstRun: boolean; fromStart: boolean }): Promise<FileOutcome> {
  const out: FileOutcome = { cursor: prev ?? ({ path: p } as FileCursor), events: [], notes: [], read: 0, skipped: 0, unread: [], holes: 0 };
  const holesBefore = reader.holeBytes;
  const cur = statOf(p);
  // Listed only when needed: a plain append (the common case) reads no directory.
  let listed: Generation[] | undefined;
  const gens = (): Generation[] => (listed ??= generations(p));
  const parts: Part[] = [];
  const pending: PendingPart[] = [];

  // Rotated files an earlier run stopped in come first: they are the oldest lines.
  for (const pp of prev?.pending ?? []) {
    const i = locate(gens(), pp);
    if (i >= 0) parts.push({ gen: gens()[i], from: pp.offset, id: pp, stalls: pp.stalls });
    else out.unread.push(`${name(pp.path)} (left unfinished by an earlier run at byte ${pp.offset.toLocaleString('en-US')}) is gone`);
  }

  /** The generation holding the cursor and every newer one, oldest first. false: not found. */
  const chain = (why: string): boolean => {
    const g = gens();
    const i = locate(g, prev!);
    if (i < 0) return false;
    parts.push({ gen: g[i], from: prev!.offset, skipFirst: prev!.midLine, id: prev });
    for (let k = i - 1; k >= 0; k--) parts.push({ gen: g[k], from: 0 });
    const newer = g.slice(0, i).map((g) => name(g.path));
    out.notes.push(`${name(p)} was ${why}: finished ${g[i].path} from byte ${prev!.offset.toLocaleString('en-US')}${newer.length ? `, then reading ${newer.reverse().join(', ')} whole (rotated ${i + 1} times since the last run)` : ''}`);
    return true;
  };

  const readParts = async (): Promise<void> => {
    for (const [n, part] of parts.entries()) {
      if (parts.slice(0, n).some((x) => x.gen.path === part.gen.path)) continue; // found twice
      const id = part.id ? { dev: part.id.dev, ino: part.id.ino, fp: part.id.fp, fpLen: part.id.fpLen } : identityOf(part.gen);
      if (reader.stopped) {
        if (id) pending.push({ path: part.gen.path, gz: part.gen.gz, ...id, offset: part.from, ...(part.stalls ? { stalls: part.stalls } : {}) });
        continue;
      }
      const st = statOf(part.gen.path);
      if (!st) {
        // ENOENT between listing and reading (rotated on, or deleted): said, not an error.
        out.unread.push(`${name(part.gen.path)} vanished before it was read`);
        continue;
      }
      let r: Awaited<ReturnType<LogReader['readPlain']>>;
      try {
        r = part.gen.gz ? await reader.readGzip(part.gen.path, part.from) : await reader.readPlain(part.gen.path, part.from, st.size, { final: true, skipFirst: part.skipFirst });
      } catch (err) {
        // Gone between the stat and the open (logrotate's next step, a cleanup): normal, said.
        if (statOf(part.gen.path)) throw err;
        out.unread.push(`${name(part.gen.path)} vanished before it was read`);
        continue;
      }
      out.read += r.read;
      out.skipped += r.skipped;
      out.notes.push(`  ${part.gen.path}: ${formatBytes(r.read)} read from byte ${part.from.toLocaleString('en-US')}${r.skipped ? `, ${formatBytes(r.skipped)} skipped` : ''}${r.stopped ? ' (stopped at the deadline)' : ''}`);
      if (!r.stopped) continue;
      const stalls = r.stalled ? (part.stalls ?? 0) + 1 : 0;
      if (stalls >= MAX_STALLS) {
        const total = gzipSize(part.gen.path);
        out.unread.push(
          `${name(part.gen.path)} from byte ${part.from.toLocaleString('en-US')}${total !== undefined ? ` (${formatBytes(Math.max(0, total - part.from))})` : ''}: inflating it up to there takes longer than -t allows (given up after ${stalls} runs)`,
        );
        continue;
      }
      if (id) pending.push({ path: part.gen.path, gz: part.gen.gz, ...id, offset: r.resume, ...(stalls ? { stalls } : {}) });
    }
    if (pending.length) {
      out.notes.push(`${pending.map((x) => `${name(x.path)} from byte ${x.offset.toLocaleString('en-US')}`).join(', ')}: not finished before the deadline; read first next run`);
      out.headline = out.headline ?? `${name(p)}: rotated files left for the next run`;
    }
  };

  const readFrom = async (st: Seen, from: number, skipFirst = false): Promise<void> => {
    // Fingerprinted before reading: the log may be rotated away or deleted while it is read, and the
    // cursor must describe the file that was read, not whatever has its name afterwards.
    const f = fingerprint(p, FP_LEN);
    let resume = from;
    let midLine = false;
    if (!reader.stopped) {
      const r = await reader.readPlain(p, from, st.size, { final: false, skipFirst });
      out.read += r.read;
      out.skipped += r.skipped;
      resume = r.resume;
      midLine = r.midLine;
    } else midLine = skipFirst;
    out.cursor = { path: p, dev: st.dev, ino: st.ino, offset: resume, size: st.size, fp: f.fp, fpLen: f.len, ...(midLine ? { midLine: true } : {}) };
  };

  const done = (): FileOutcome => {
    if (pending.length) out.cursor = { ...out.cursor, pending: pending.slice(-MAX_PENDING) };
    else if (out.cursor.pending) {
      const { pending: _gone, ...rest } = out.cursor;
      out.cursor = rest;
    }
    out.holes = reader.holeBytes - holesBefore;
    if (out.holes > 0) {
      const where = reader.holes.filter((h) => h.file === p || parts.some((x) => x.gen.path === h.file));
      out.notes.push(`copytruncate hole: ${formatBytes(out.holes)} of NUL bytes skipped (${where.map((h) => `${name(h.file)} at byte ${h.at.toLocaleString('en-US')}`).join(', ') || name(p)}): the log was truncated under a writer without O_APPEND; the lines after it were read`);
      out.headline = `${name(p)}: copytruncate hole of ${formatBytes(out.holes)} skipped`;
    }
    return out;
  };

  if (!cur) {
    if (prev && !prev.missing) {
      if (chain('rotated')) {
        await readParts();
        out.events.push('rotated', 'missing');
        out.notes.push(`${p} does not exist yet (rotated, not recreated)`);
        out.headline = `${name(p)} rotated, not yet recreated`;
        out.cursor = { ...prev, missing: true, offset: 0, size: 0, fp: '', fpLen: 0, midLine: false, pending: undefined };
        return done();
      }
    }
    await readParts();
    out.events.push('missing');
    out.error = prev
      ? `${p} is gone${prev.missing ? ' (rotated at an earlier run and not recreated)' : ' and no rotated file beside it has its content'}`
      : `${p} not found`;
    out.cursor = { ...(prev ?? { path: p, dev: 0, ino: 0, offset: 0, size: 0, fp: '', fpLen: 0 }), missing: true, pending: undefined };
    return done();
  }

  if (!prev) {
    if (o.firstRun && !o.fromStart) {
      const end = lastLineEnd(p, cur.size);
      out.cursor = cursorFor(p, cur, end);
      out.events.push('baseline');
      out.notes.push(`${p}: baseline recorded at byte ${end.toLocaleString('en-US')} of ${formatBytes(cur.size)}; the next run reads what is appended`);
      return done();
    }
    out.events.push(o.firstRun ? 'read' : 'new');
    if (!o.firstRun) out.notes.push(`${p} is new since the last run: read from the start`);
    await readFrom(cur, 0);
    return done();
  }

  if (prev.missing) {
    out.events.push('recreated');
    out.notes.push(`${p} was recreated: read from the start`);
    await readParts();
    await readFrom(cur, 0);
    return done();
  }

  // A different inode, or our inode with other first bytes and no longer the same file: a numbered
  // rotation can hand the new log the inode of a deleted one.
  const sameInode = cur.dev === prev.dev && cur.ino === prev.ino;
  if (!sameInode) {
    out.events.push('rotated');
    const found = chain(`rotated (inode ${prev.ino} -> ${cur.ino})`);
    if (!found) {
      out.unread.push(`${name(p)} was rotated and the file read last run is not beside it (looked in ${gens().length} rotated file(s)): lines written before the rotation`);
      out.notes.push(
        `${name(p)} was rotated (inode ${prev.ino} -> ${cur.ino}) and no rotated file beside it has its content (looked for .N, -YYYYMMDD and .gz): lines written between the last run and the rotation were not read`,
      );
    }
    out.headline = found ? `${name(p)} rotated` : `${name(p)} rotated, rotated file not found`;
    await readParts();
    await readFrom(cur, 0);
    return done();
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
    // Not found in a rotated file while there are some: a rotation that gave the new log our old
    // inode (tmpfs, ext4 reuse freed inodes at once), or a copy we cannot see. What was written
    // between the last run and then is not knowable: said.
    const found = prev.fpLen > 0 && chain(`${why}; copied first (copytruncate)`);
    if (!found && gens().length > 0)
      out.unread.push(`${name(p)} was rotated or truncated (same inode, ${why.replace(/ \(.*/, '')}) and no rotated file beside it has what was read last run: lines written before that`);
    out.notes.push(`${name(p)} was ${why}: reading it again from the start`);
    out.headline = `${name(p)} truncated, read from the start`;
    await readParts();
    await readFrom(cur, 0);
    return done();
  }
  out.events.push('read');
  await readParts();
  await readFrom(cur, prev.offset, prev.midLine);
  return done();
}
