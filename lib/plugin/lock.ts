// One run at a time per check and target. Incident 001: the cron queue check ran longer than its
// interval and stacked up on itself until the box fell over. Here the second run answers UNKNOWN
// at once instead.
//
// The lock is a file created with O_EXCL (open 'wx'), holding who took it and until when:
//   {"pid":4242,"host":"mx1","started":1718000000000,"deadline":1718000010000,"token":"9f3c…"}
// It is stale, and taken over, when its process is gone (same host, kill(pid, 0) says ESRCH) or
// when it is older than its own deadline plus a grace period: the runner's hard deadline (-t) ends
// every run, so an older lock belongs to a run that was killed, frozen or lost.
// Taking over is itself serialised by a second O_EXCL file (`<lock>.takeover`), and the lock is
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
        ? `previous run still in progress since ${clockTime(holder.started)} (pid ${holder.pid}${holder.host !== os.hostname() ? ` on ${holder.host}` : ''})`
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

export function parseLockInfo(text: string): LockInfo | undefined {
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
      return o as LockInfo;
  } catch {
    // fall through
  }
  return undefined;
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
        if (parseLockInfo(fs.readFileSync(p, 'utf8'))?.token === token) fs.unlinkSync(p);
      } catch {
        // already gone
      }
    }
  });
}

interface Observed {
  info?: LockInfo;
  raw: string;
  ino: number;
  mtimeMs: number;
}

async function observe(p: string): Promise<Observed | undefined> {
  try {
    const [raw, st] = await Promise.all([fsp.readFile(p, 'utf8'), fsp.stat(p)]);
    return { info: parseLockInfo(raw), raw, ino: st.ino, mtimeMs: st.mtimeMs };
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
  if (!h) return Date.now() - o.mtimeMs > UNPARSED_GRACE_MS ? 'an unreadable lock file' : undefined;
  const since = clockTime(h.started);
  if (h.host === opts.host && !pidAlive(h.pid)) return `a stale lock from pid ${h.pid} (started ${since}; that process is gone)`;
  const limit = Math.min(h.deadline, h.started + opts.maxAgeMs) + opts.graceMs;
  if (now > limit) return `a stale lock from pid ${h.pid}${h.host !== opts.host ? ` on ${h.host}` : ''} (started ${since}, past its deadline)`;
  return undefined;
}

async function createLock(p: string, info: LockInfo): Promise<boolean> {
  // Written whole to a private file, then linked into place (link fails with EEXIST like O_EXCL): a run
  // killed at any moment leaves either no lock or a complete one, never an empty file that the next
  // runs would have to wait out as "being written".
  const tmp = `${p}.new-${info.token}`;
  const fh = await fsp.open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(JSON.stringify(info) + '\n');
    } finally {
      await fh.close();
    }
    await fsp.link(tmp, p);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  } finally {
    await fsp.unlink(tmp).catch(() => undefined);
  }
}

/** Lock drafts (`<lock>.new-<token>`) left by runs killed before they linked theirs; a young one may be live. */
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
  const info: LockInfo = { pid: o.pid ?? process.pid, host, started: o.now(), deadline: o.deadline, token: crypto.randomBytes(8).toString('hex') };
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
        stillHeld: async () => (await observe(p).catch(() => undefined))?.info?.token === info.token,
        release: async () => {
          held.delete(p);
          const cur = await observe(p).catch(() => undefined);
          if (cur?.info?.token === info.token) await fsp.unlink(p).catch(() => undefined);
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

/** Remove the stale lock `seen`, unless someone changed it meanwhile. True when we removed it. */
async function takeOver(p: string, seen: Observed): Promise<boolean> {
  const guard = `${p}.takeover`;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(guard, 'wx', 0o600);
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
    // A guard is held for microseconds; one that lingers is from a run killed in between.
    const st = await fsp.stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > UNPARSED_GRACE_MS) await fsp.unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    await fh.close();
    if (!same(seen, await observe(p))) return false;
    await fsp.unlink(p).catch((err) => {
      if (errorCode(err) !== 'ENOENT') throw err;
    });
    return true;
  } finally {
    await fsp.unlink(guard).catch(() => undefined);
  }
}
