// One run at a time per check and target. Incident 001: the cron queue check ran longer than its
// interval and stacked up on itself until the box fell over. Here the second run answers UNKNOWN
// at once instead.
//
// The lock is a symlink, created atomically by symlink(2) (it fails with EEXIST like O_EXCL), whose
// target is not a path but who took it and until when:
//   mailq_growth-….lock -> 4242:1718000000:1718000010:9f3c1a2b:mx1
//   (pid, started and deadline in epoch seconds, a random token, the host cut to 16 characters)
// A short symlink's target lives in the inode itself (ext4 under 60 bytes, tmpfs under 128, XFS, btrfs
// inline): taking the lock needs no data block, so it still works on the full /var of incident 001,
// where a lock file with content could not be written and two overlapping runs would both go ahead.
// Reading it (readlink) never opens anything, so a FIFO or device put in its place cannot block a run.
// It is stale, and taken over, when its process is gone (same host, kill(pid, 0) says ESRCH) or
// when it is older than its own deadline plus a grace period: the runner's hard deadline (-t) ends
// every run, so an older lock belongs to a run that was killed, frozen or lost. Anything else at the
// lock's name (a FIFO, a socket) is no lock: taken over at once. A regular file there is a lock of an
// earlier version (JSON); one that does not parse is given a few seconds, then taken over.
// Taking over is itself serialised by a second symlink (`<lock>.takeover` -> `pid:host`: one left by a
// run killed in between is removed as soon as that pid is gone), and the lock is
// only removed if it is still the very one judged stale, so two runs that both found a stale lock
// cannot both end up holding it.

import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errorCode, UnknownError } from './errors.js';

export interface LockInfo {
  pid: number;
  host: string;
  /** Epoch ms when the run took the lock (the check's clock). */
  started: number;
  /** Epoch ms by which that run will have ended (its -t). */
  deadline: number;
  token: string;
}

export interface LockOptions {
  /** Epoch ms (the check's clock). */
  now: () => number;
  /** Epoch ms by which this run will have finished. */
  deadline: number;
  /** Past the holder's deadline by this much, a lock is stale even if its pid exists (pid reuse, frozen run). */
  graceMs?: number;
  /** A lock older than this is stale whatever deadline it claims. */
  maxAgeMs?: number;
  pid?: number;
  host?: string;
}

export interface HeldLock {
  path: string;
  info: LockInfo;
  /** Lines for the long output (a stale lock taken over). */
  notes: string[];
  /** True while the lock file is still ours (not taken over by a later run). */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

/** Another run holds the lock: UNKNOWN, at once. */
export class LockBusy extends UnknownError {
  constructor(
    readonly holder: LockInfo | undefined,
    readonly lockPath: string,
  ) {
    super(
      holder
        ? `previous run still in progress since ${clockTime(holder.started)} (pid ${holder.pid}${holder.host !== lockHost(os.hostname()) ? ` on ${holder.host}` : ''})`
        : 'previous run still in progress (its lock file is being written)',
      `not starting a second one; if no check is running, remove ${lockPath}`,
    );
    this.name = 'LockBusy';
  }
}

const DEFAULT_GRACE_MS = 30_000;
const DEFAULT_MAX_AGE_MS = 3_600_000;
/** A lock file we cannot parse is given this long (real time) to be written before it counts as stale. */
const UNPARSED_GRACE_MS = 10_000;

/** HH:MM:SS in local time, as an admin reads it next to their syslog. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Hosts are kept this short in the lock so its target stays under 60 bytes (an ext4 fast symlink). */
const HOST_MAX = 16;

/** The host as a lock names it: its first 16 characters of [A-Za-z0-9.-]. */
export function lockHost(host: string): string {
  return host.replace(/[^A-Za-z0-9.-]/g, '_').slice(0, HOST_MAX);
}

/** The symlink target that says who holds a lock. */
export function lockTarget(info: LockInfo): string {
  return [info.pid, Math.floor(info.started / 1000), Math.ceil(info.deadline / 1000), info.token, lockHost(info.host)].join(':');
}

/** Who holds a lock, from its symlink target (or the JSON of an earlier version's lock file). */
export function parseLockInfo(text: string): LockInfo | undefined {
  const m = /^([1-9]\d{0,9}):(\d{1,12}):(\d{1,12}):([0-9a-f]{1,32}):([A-Za-z0-9._-]{0,16})$/.exec(text);
  if (m) return { pid: Number(m[1]), started: Number(m[2]) * 1000, deadline: Number(m[3]) * 1000, token: m[4], host: m[5] };
  try {
    const o = JSON.parse(text) as Partial<LockInfo>;
    if (
      typeof o === 'object' &&
      o !== null &&
      Number.isInteger(o.pid) &&
      (o.pid as number) > 0 &&
      typeof o.host === 'string' &&
      Number.isFinite(o.started) &&
      Number.isFinite(o.deadline) &&
      typeof o.token === 'string'
    )
      return { ...(o as LockInfo), host: lockHost(o.host as string) };
  } catch {
    // fall through
  }
  return undefined;
}

/** An earlier version's lock file is JSON of ~120 bytes: more than this is not one. */
const LEGACY_MAX = 4096;
const O_READ_SAFE = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW;

/** What is at the lock's path, read without ever opening anything but a regular file (no FIFO can block it).
 *  Synchronous: for readLockInfo (tests, tools) and the exit hook; the runner itself uses observe(). */
function inspectSync(p: string): Observed | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const base = { ino: st.ino, mtimeMs: st.mtimeMs };
  if (st.isSymbolicLink()) {
    const raw = fs.readlinkSync(p);
    return { ...base, kind: 'symlink', raw, info: parseLockInfo(raw) };
  }
  if (!st.isFile()) return { ...base, kind: fileKind(st), raw: '' };
  let raw = '';
  try {
    const fd = fs.openSync(p, O_READ_SAFE);
    try {
      if (!fs.fstatSync(fd).isFile()) return { ...base, kind: 'not a regular file', raw: '' };
      const buf = Buffer.alloc(LEGACY_MAX);
      raw = buf.subarray(0, fs.readSync(fd, buf, 0, LEGACY_MAX, 0)).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  return { ...base, kind: 'file', raw, info: parseLockInfo(raw) };
}

/** Who holds the lock at this path (undefined when there is none, or it does not say). Never blocks on a FIFO. */
export function readLockInfo(p: string): LockInfo | undefined {
  try {
    return inspectSync(p)?.info;
  } catch {
    return undefined;
  }
}

/** 'a FIFO', 'a socket', ... for what is in the lock's place. */
export function fileKind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSymbolicLink()) return 'a symlink';
  return st.isFile() ? 'a regular file' : 'not a regular file';
}

/** Is a process with this pid running? EPERM means it runs as another user: alive. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) !== 'ESRCH';
  }
}

// Locks this process holds, removed on exit: the runner's hard deadline calls process.exit while
// collect may still be inside its try/finally.
const held = new Map<string, string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [p, token] of held) {
      try {
        if (fs.lstatSync(p).isSymbolicLink() && parseLockInfo(fs.readlinkSync(p))?.token === token) fs.unlinkSync(p);
      } catch {
        // already gone
      }
    }
  });
}

interface Observed {
  info?: LockInfo;
  /** 'symlink' (this version's lock), 'file' (an earlier version's), or what else is in its place. */
  kind: string;
  raw: string;
  ino: number;
  mtimeMs: number;
}

/** inspectSync, without blocking the main thread (a hung NFS state dir must not stop the deadline timers). */
async function observe(p: string): Promise<Observed | undefined> {
  let st: fs.Stats;
  try {
    st = await fsp.lstat(p);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const base = { ino: st.ino, mtimeMs: st.mtimeMs };
  try {
    if (st.isSymbolicLink()) {
      const raw = await fsp.readlink(p);
      return { ...base, kind: 'symlink', raw, info: parseLockInfo(raw) };
    }
    if (!st.isFile()) return { ...base, kind: fileKind(st), raw: '' };
    const fh = await fsp.open(p, O_READ_SAFE);
    try {
      if (!(await fh.stat()).isFile()) return { ...base, kind: 'not a regular file', raw: '' };
      const buf = Buffer.alloc(LEGACY_MAX);
      const { bytesRead } = await fh.read(buf, 0, LEGACY_MAX, 0);
      const raw = buf.subarray(0, bytesRead).toString('utf8');
      return { ...base, kind: 'file', raw, info: parseLockInfo(raw) };
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function same(a: Observed, b: Observed | undefined): boolean {
  return b !== undefined && a.ino === b.ino && a.raw === b.raw;
}

/** Why this lock is stale, or undefined when its run may still be going. */
export function staleReason(o: Observed, now: number, opts: { host: string; graceMs: number; maxAgeMs: number }): string | undefined {
  const h = o.info;
  if (o.kind !== 'symlink' && o.kind !== 'file') return `${o.kind} in place of the lock file`;
  if (!h) return Date.now() - o.mtimeMs > UNPARSED_GRACE_MS ? 'an unreadable lock file' : undefined;
  const since = clockTime(h.started);
  const host = lockHost(opts.host);
  if (h.host === host && !pidAlive(h.pid)) return `a stale lock from pid ${h.pid} (started ${since}; that process is gone)`;
  const limit = Math.min(h.deadline, h.started + opts.maxAgeMs) + opts.graceMs;
  if (now > limit) return `a stale lock from pid ${h.pid}${h.host !== host ? ` on ${h.host}` : ''} (started ${since}, past its deadline)`;
  return undefined;
}

async function createLock(p: string, info: LockInfo): Promise<boolean> {
  // One syscall, atomic, no data written: a run killed at any moment leaves either no lock or a whole one.
  try {
    await fsp.symlink(lockTarget(info), p);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  }
}

/** Lock drafts (`<lock>.new-<token>`) left by an earlier version's runs killed before they linked theirs; a young one may be live. */
async function removeOldDrafts(p: string): Promise<void> {
  const dir = path.dirname(p);
  const prefix = `${path.basename(p)}.new-`;
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const n of names.filter((x) => x.startsWith(prefix))) {
    const st = await fsp.stat(path.join(dir, n)).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > UNPARSED_GRACE_MS) await fsp.unlink(path.join(dir, n)).catch(() => undefined);
  }
}

/** Take the lock or throw LockBusy. Other errors (EACCES, ENOSPC, ...) are thrown as they are. */
export async function acquireLock(p: string, o: LockOptions): Promise<HeldLock> {
  const host = o.host ?? os.hostname();
  const judge = { host, graceMs: o.graceMs ?? DEFAULT_GRACE_MS, maxAgeMs: o.maxAgeMs ?? DEFAULT_MAX_AGE_MS };
  const info: LockInfo = { pid: o.pid ?? process.pid, host: lockHost(host), started: o.now(), deadline: o.deadline, token: crypto.randomBytes(4).toString('hex') };
  const notes: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createLock(p, info)) {
      await removeOldDrafts(p);
      installExitHook();
      held.set(p, info.token);
      return {
        path: p,
        info,
        notes,
        stillHeld: async () => ours(await observe(p).catch(() => undefined), info),
        release: async () => {
          held.delete(p);
          if (ours(await observe(p).catch(() => undefined), info)) await fsp.unlink(p).catch(() => undefined);
        },
      };
    }
    const seen = await observe(p);
    if (!seen) continue; // released between our open and our read
    const reason = staleReason(seen, o.now(), judge);
    if (!reason) throw new LockBusy(seen.info, p);
    if (await takeOver(p, seen)) notes.push(`took over ${reason}`);
  }
  throw new LockBusy(undefined, p);
}

function ours(o: Observed | undefined, info: LockInfo): boolean {
  return o?.kind === 'symlink' && o.info?.token === info.token && o.info.pid === info.pid;
}

/** Remove the stale lock `seen`, unless someone changed it meanwhile. True when we removed it. */
async function takeOver(p: string, seen: Observed): Promise<boolean> {
  const guard = `${p}.takeover`;
  // The guard is a symlink naming its taker (pid:host), made atomically like the lock itself.
  try {
    await fsp.symlink(`${process.pid}:${lockHost(os.hostname())}`, guard);
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
    // A guard is held for microseconds; one that lingers is from a run killed in between: gone at once
    // when its taker is a process of this host that no longer exists, else after the grace period.
    const taker = /^(\d+):(.*)$/.exec((await fsp.readlink(guard).catch(() => '')) || '');
    const gone = taker !== null && taker[2] === lockHost(os.hostname()) && !pidAlive(Number(taker[1]));
    const st = await fsp.lstat(guard).catch(() => undefined);
    if (gone || (st && Date.now() - st.mtimeMs > UNPARSED_GRACE_MS)) await fsp.unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    if (!same(seen, await observe(p))) return false;
    await fsp.unlink(p).catch((err) => {
      if (errorCode(err) !== 'ENOENT') throw err;
    });
    return true;
  } finally {
    await fsp.unlink(guard).catch(() => undefined);
  }
}
