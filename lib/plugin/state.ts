// The state store every stateful check uses: a short history of samples kept between runs, so a
// check can say where a queue or a disk is heading (as check_logfiles keeps its offsets).
//
// Layout: one JSON file per check and target under the state dir, next to its lock:
//   /var/lib/mailq-checks/mailq_growth-postfix-var_spool_postfix-3f9a1c2b7e4d.json
//   /var/lib/mailq-checks/mailq_growth-postfix-var_spool_postfix-3f9a1c2b7e4d.lock
// The hash is sha256 of the check id and the options that define what is measured (canonical
// JSON), as monitoring-plugins keys its state files; the readable prefix is for the admin.
// The file:
//   {"version":1,"check":"mailq_growth","key":"3f9a1c2b7e4d","what":{...},"created":..,"updated":..,
//    "samples":[{"t":1718000000,...},...]}
// Writes go to a temp file in the same dir, fsync, rename over the old file, fsync the dir: a
// crash leaves either the old state or the new one, never half of one.
// A file that cannot be read or understood (truncated, edited, from a newer version) is renamed
// aside to <file>.corrupt-<epoch> and a fresh baseline starts, with a line saying so.

import crypto from 'node:crypto';
import fsSync from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errorCode, UnknownError } from './errors.js';
import { acquireLock, fileKind, type HeldLock } from './lock.js';

export const STATE_VERSION = 1;
export const DEFAULT_STATE_DIR = '/var/lib/mailq-checks';
export const STATE_DIR_ENV = 'MAILQ_CHECKS_STATE_DIR';
export const DEFAULT_MAX_SAMPLES = 500;

export const STATE_OPTIONS = {
  'state-dir': {
    type: 'string',
    describe: `where samples are kept between runs [default: $${STATE_DIR_ENV}, else ${DEFAULT_STATE_DIR}, else \${XDG_STATE_HOME:-~/.local/state}/mailq-checks]`,
  },
} as const;

/** STATE_OPTIONS as a table row (lib/plugin/options.ts). */
export const STATE_TABLE = { 'state-dir': { kind: 'path', describe: STATE_OPTIONS['state-dir'].describe } } as const satisfies Record<string, { kind: 'path'; describe: string }>;

export interface Sample {
  /** Epoch seconds. */
  t: number;
}

export interface StateFile<S extends Sample> {
  version: number;
  check: string;
  key: string;
  what: Record<string, unknown>;
  created: number;
  updated: number;
  samples: S[];
}

/** What a state file is keyed by, and the readable part of its name. */
export interface StateTarget {
  what: Record<string, unknown>;
  label: string[];
}

export interface StateStoreOptions<S extends Sample> {
  /** Check id, e.g. mailq_growth. */
  check: string;
  /** The options that define what is measured; they alone choose the file. */
  what: Record<string, unknown>;
  /** Readable parts of the file name, e.g. ['postfix', '/var/spool/postfix']. */
  label: string[];
  /** --state-dir, when given. */
  dir?: string;
  env: NodeJS.ProcessEnv;
  /** Epoch ms (the runner's clock). */
  now: () => number;
  /** Seconds of history to keep: older samples are dropped. */
  window: number;
  maxSamples?: number;
  /** Epoch ms by which this run will have ended (written into the lock). */
  deadline: number;
  /** Is this parsed JSON value a sample this check wrote? */
  isSample: (x: unknown) => x is S;
  /** The system default dir (tests point it somewhere harmless). */
  defaultDir?: string;
  /** What an earlier version keyed this state by (before --window was in the key): a new file starts
   *  from that file's samples still in the window, said once. That file is never modified. */
  previous?: StateTarget | StateTarget[];
  /** Test hook: called with the temp file after it is written and synced, before the rename. */
  beforeRename?: (tmp: string) => void | Promise<void>;
}

export interface OpenState<S extends Sample> {
  dir: string;
  file: string;
  /** Kept samples within the window, oldest first; `record` appends to it. */
  samples: S[];
  /** Long-output lines: fallback dir, corrupt file moved aside, stale lock taken over, clock jump, gap. */
  notes: string[];
  /** False when the state cannot be written this run (disk full): samples are read, not saved. */
  writable: boolean;
  /** Append a sample and save atomically. Never throws: a failed save becomes a note. */
  record(sample: S): Promise<void>;
  release(): Promise<void>;
}

/** Canonical JSON: object keys sorted, so the same options always give the same key. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

export function stateKey(check: string, what: Record<string, unknown>): string {
  return crypto.createHash('sha256').update(canonical({ check, what })).digest('hex').slice(0, 12);
}

/** File name without extension: check id, readable label, key. */
export function stateBaseName(check: string, label: string[], key: string): string {
  const readable = label
    .map((l) => l.replace(/^\/+|\/+$/g, '').replace(/[^A-Za-z0-9_.-]+/g, '_'))
    .filter(Boolean)
    .join('-')
    .slice(0, 80);
  return [check, readable, key].filter(Boolean).join('-');
}

/** The per-user fallback: ${XDG_STATE_HOME:-$HOME/.local/state}/mailq-checks. */
export function userStateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(base, 'mailq-checks');
}

interface Candidate {
  dir: string;
  explicit: boolean;
  source: string;
}

export function stateDirCandidates(dir: string | undefined, env: NodeJS.ProcessEnv, defaultDir = DEFAULT_STATE_DIR): Candidate[] {
  if (dir) return [{ dir: path.resolve(dir), explicit: true, source: '--state-dir' }];
  if (env[STATE_DIR_ENV]) return [{ dir: path.resolve(env[STATE_DIR_ENV]!), explicit: true, source: STATE_DIR_ENV }];
  return [
    { dir: defaultDir, explicit: false, source: 'default' },
    { dir: userStateDir(env), explicit: false, source: 'per-user fallback' },
  ];
}

/**
 * Why this state dir is not safe to write in, or undefined. Another user who can write the dir, or
 * any dir or symlink on the way to it, could swap in a symlink and have a root-run check create its
 * files anywhere (a symlink attack). Every component, symlinks resolved one by one, must belong to
 * this user or root, and none but a sticky one (/tmp) may be writable by group or others; the state
 * dir itself not even then.
 */
export async function unsafeDirReason(dir: string, uid: number | undefined = process.geteuid?.()): Promise<string | undefined> {
  if (uid === undefined) return undefined; // no uids (Windows)
  let resolved = '/';
  let rest = path.resolve(dir).split('/').filter(Boolean);
  let links = 0;
  // Asynchronous: a hung NFS or FUSE mount on the way blocks a pool thread, not the deadline timers.
  for (let st = await fsp.lstat('/'); ; ) {
    if (st.uid !== uid && st.uid !== 0) return `${resolved} belongs to uid ${st.uid}`;
    const last = rest.length === 0;
    if (!st.isSymbolicLink() && st.mode & 0o022 && (last || !(st.mode & 0o1000)))
      return `${resolved} is writable by ${st.mode & 0o002 ? 'all users' : 'its group'}`;
    if (last) return st.isDirectory() ? undefined : `${resolved} is not a directory`;
    const next = path.join(resolved, rest.shift()!);
    st = await fsp.lstat(next);
    if (st.isSymbolicLink()) {
      if (st.uid !== uid && st.uid !== 0) return `symlink ${next} belongs to uid ${st.uid}`;
      if (++links > 40) return `too many symlinks under ${next}`;
      const target = await fsp.readlink(next);
      rest = [...target.split('/').filter(Boolean), ...rest];
      if (target.startsWith('/')) resolved = '/';
      st = await fsp.lstat(resolved);
      continue;
    }
    resolved = next;
  }
}

/** Errors meaning "this dir cannot take our files now" but reading may still work. */
const FULL = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

type Loaded<S> = { samples: S[]; created?: number; notes: string[] };

/** Pure: keep valid samples within (now - window, now], oldest first, no two at the same time, at most max. */
export function tidySamples<S extends Sample>(samples: S[], nowSec: number, window: number, max: number): { samples: S[]; notes: string[] } {
  const notes: string[] = [];
  const future = samples.filter((s) => s.t > nowSec);
  if (future.length)
    notes.push(`clock moved back: dropped ${future.length} sample(s) newer than now (latest ${new Date(Math.max(...future.map((s) => s.t)) * 1000).toISOString()})`);
  const past = samples.filter((s) => s.t <= nowSec);
  const kept = past.filter((s) => s.t > nowSec - window);
  if (past.length && !kept.length) {
    const last = Math.max(...past.map((s) => s.t));
    notes.push(`last sample was ${formatAgo(nowSec - last)} ago, older than the window: starting a new baseline`);
  }
  kept.sort((a, b) => a.t - b.t);
  const out: S[] = [];
  for (const s of kept) {
    if (out.length && s.t <= out[out.length - 1].t) out[out.length - 1] = s;
    else out.push(s);
  }
  return { samples: out.length > max ? out.slice(out.length - max) : out, notes };
}

function formatAgo(s: number): string {
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

async function moveAside(file: string, nowSec: number): Promise<string | undefined> {
  const base = `${file}.corrupt-${Math.floor(nowSec)}`;
  for (let i = 0; i < 100; i++) {
    const target = i ? `${base}.${i}` : base;
    try {
      await fsp.access(target);
      continue;
    } catch {
      // free name
    }
    try {
      await fsp.rename(file, target);
      return target;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Flags for opening a state, cache or lock file to read: never follow a symlink, never wait for a FIFO's writer. */
export const O_READ_SAFE = fsSync.constants.O_RDONLY | fsSync.constants.O_NONBLOCK | fsSync.constants.O_NOFOLLOW;

/**
 * Read a file this check keeps (state, envelope cache) whole, refusing anything but a regular file.
 * A FIFO, a device or a symlink put in its place (a hostile or confused admin, a hung FUSE mount that
 * shows one) would block a thread of libuv's pool in open() or read() forever, and Node's own exit
 * waits for every pool thread: the run would outlive its deadline, and so would the next. O_NONBLOCK
 * makes open() of a FIFO return at once, O_NOFOLLOW refuses a symlink (ELOOP), and fstat on the open
 * descriptor refuses whatever is not a regular file before a single read.
 * Errors keep their code (ENOENT, ELOOP, EACCES); a non-regular file throws one whose message says what it is.
 */
export async function readRegularFile(file: string): Promise<Buffer> {
  const fh = await fsp.open(file, O_READ_SAFE);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${fileKind(st)}, not a regular file`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

const NO_SAMPLES = 'no earlier samples: starting a baseline';

/** The samples of the first earlier version's state file (o.previous, newest key first) that has any within (now - window, now]; read only. */
async function previousSamples<S extends Sample>(dir: string, o: StateStoreOptions<S>, nowSec: number): Promise<{ file: string; samples: S[] }> {
  const targets = Array.isArray(o.previous) ? o.previous : o.previous ? [o.previous] : [];
  let found = { file: '', samples: [] as S[] };
  for (const t of targets) {
    found = await previousOf(dir, o, t, nowSec);
    if (found.samples.length) return found;
  }
  return found;
}

async function previousOf<S extends Sample>(dir: string, o: StateStoreOptions<S>, target: StateTarget, nowSec: number): Promise<{ file: string; samples: S[] }> {
  const key = stateKey(o.check, target.what);
  const file = path.join(dir, `${stateBaseName(o.check, target.label, key)}.json`);
  try {
    const doc = JSON.parse((await readRegularFile(file)).toString('utf8')) as { check?: unknown; key?: unknown; samples?: unknown };
    if (doc?.check !== o.check || doc.key !== key || !Array.isArray(doc.samples)) return { file, samples: [] };
    const samples = doc.samples.filter((x): x is S => o.isSample(x) && x.t <= nowSec && x.t > nowSec - o.window).sort((a, b) => a.t - b.t);
    return { file, samples };
  } catch {
    return { file, samples: [] }; // none, or not readable: a fresh baseline
  }
}

/** Read and validate the state file. Anything wrong: move it aside and start fresh, saying so. */
async function load<S extends Sample>(file: string, o: StateStoreOptions<S>, key: string, nowSec: number): Promise<Loaded<S>> {
  let text: string;
  try {
    text = (await readRegularFile(file)).toString('utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { samples: [], notes: [NO_SAMPLES] };
    return aside(file, nowSec, `unreadable (${errorCode(err) ?? (err as Error).message})`);
  }
  let doc: Partial<StateFile<S>>;
  try {
    doc = JSON.parse(text) as Partial<StateFile<S>>;
  } catch {
    return aside(file, nowSec, text.length ? 'not valid JSON' : 'empty');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return aside(file, nowSec, 'not a state object');
  if (doc.version !== STATE_VERSION)
    return aside(file, nowSec, typeof doc.version === 'number' && doc.version > STATE_VERSION ? `written by a newer version (format ${doc.version})` : `unknown format ${String(doc.version)}`);
  if (doc.check !== o.check || doc.key !== key) return aside(file, nowSec, `belongs to ${String(doc.check)}/${String(doc.key)}`);
  if (!Array.isArray(doc.samples) || !doc.samples.every((s) => o.isSample(s))) return aside(file, nowSec, 'has malformed samples');
  return { samples: doc.samples, created: Number.isFinite(doc.created) ? doc.created : undefined, notes: [] };
}

async function aside<S>(file: string, nowSec: number, why: string): Promise<Loaded<S>> {
  const moved = await moveAside(file, nowSec);
  return {
    samples: [],
    notes: [moved ? `state file was ${why}: moved aside to ${path.basename(moved)}; starting a fresh baseline` : `state file was ${why} and could not be moved aside; starting a fresh baseline`],
  };
}

/** Write text to file atomically: temp file in the same dir, fsync, rename, fsync the dir. */
export async function writeAtomic(
  file: string,
  text: string | Uint8Array | Iterable<Uint8Array>,
  beforeRename?: (tmp: string) => void | Promise<void>,
): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const fh = await fsp.open(tmp, 'wx', 0o600);
  try {
    try {
      // Parts are written one at a time (a large file need not be in memory whole).
      if (typeof text === 'string' || text instanceof Uint8Array) await fh.writeFile(text);
      else for (const chunk of text) await fh.write(chunk);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await beforeRename?.(tmp);
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
  // The rename is durable only once the directory entry is on disk.
  const dh = await fsp.open(path.dirname(file), 'r').catch(() => undefined);
  if (dh) {
    await dh.sync().catch(() => undefined);
    await dh.close().catch(() => undefined);
  }
}

/** Temp files of this state file left by a run that died between write and rename. We hold the lock: none is live. */
export async function removeLeftovers(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.tmp-`;
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => fsp.unlink(path.join(dir, n)).catch(() => undefined)));
}

export interface LockedDir {
  /** The dir whose lock is held, when one could be locked. */
  dir?: string;
  lock?: HeldLock;
  /** A dir that exists but is full or read-only (incident 001's /var): readable, not writable. */
  readOnlyDir?: string;
  failures: string[];
  notes: string[];
}

/**
 * Pick the state dir (--state-dir, $MAILQ_CHECKS_STATE_DIR, the default, the per-user fallback) and
 * take the lock `<base>.lock` in it. Throws LockBusy when another run holds it, UnknownError when an
 * explicitly given dir is unusable or unsafe.
 */
export async function lockStateDir(
  base: string,
  o: { dir?: string; env: NodeJS.ProcessEnv; now: () => number; deadline: number; defaultDir?: string },
): Promise<LockedDir> {
  const notes: string[] = [];
  const failures: string[] = [];
  let readOnlyDir: string | undefined;
  for (const c of stateDirCandidates(o.dir, o.env, o.defaultDir)) {
    try {
      await fsp.mkdir(c.dir, { recursive: true, mode: 0o700 });
      const unsafe = await unsafeDirReason(c.dir);
      if (unsafe) {
        if (c.explicit)
          throw new UnknownError(
            `refusing state dir ${c.dir} from ${c.source}: ${unsafe}`,
            'another user could redirect the state files with a symlink: use a directory only this user (or root) can write',
          );
        failures.push(`${c.dir} (unsafe: ${unsafe})`);
        continue;
      }
      const lock = await acquireLock(path.join(c.dir, `${base}.lock`), { now: o.now, deadline: o.deadline });
      if (failures.length) notes.push(`state dir ${failures.join(', ')} not writable: using ${c.dir}`);
      return { dir: c.dir, lock, failures, notes };
    } catch (err) {
      if (err instanceof UnknownError) throw err; // LockBusy: another run is at it
      const code = errorCode(err) ?? (err as Error).message;
      if (c.explicit && !FULL.has(code))
        throw new UnknownError(`cannot use state dir ${c.dir} from ${c.source} (${code})`, 'give --state-dir a directory this user can create and write');
      failures.push(`${c.dir} (${code})`);
      if (FULL.has(code) && !readOnlyDir) readOnlyDir = c.dir;
    }
  }
  return { readOnlyDir, failures, notes };
}

/**
 * Lock this check's state and load its samples. Throws LockBusy (UNKNOWN) when another run holds
 * the lock, UnknownError when an explicitly given state dir cannot be used. Call release() in finally.
 */
export async function openState<S extends Sample>(o: StateStoreOptions<S>): Promise<OpenState<S>> {
  const key = stateKey(o.check, o.what);
  const base = stateBaseName(o.check, o.label, key);
  const max = o.maxSamples ?? DEFAULT_MAX_SAMPLES;
  const picked = await lockStateDir(base, o);
  const notes: string[] = [...picked.notes];
  const { lock, dir, readOnlyDir, failures } = picked;
  if (!lock || !dir) {
    if (!readOnlyDir)
      throw new UnknownError(`no usable state dir: ${failures.join(', ')}`, `give --state-dir (or ${STATE_DIR_ENV}) a directory this user can write`);
    // The disk holding the state is full (incident 001: /var). Still read the history, so the
    // projection keeps working, and still answer; just do not save this run's sample.
    const file = path.join(readOnlyDir, `${base}.json`);
    const nowSec = o.now() / 1000;
    const loaded = await load(file, o, key, nowSec).catch(() => ({ samples: [] as S[], notes: [] as string[] }));
    const tidy = tidySamples(loaded.samples, nowSec, o.window, max);
    return {
      dir: readOnlyDir,
      file,
      samples: tidy.samples,
      notes: [`state not saved this run: ${failures.join(', ')}`, ...loaded.notes, ...tidy.notes],
      writable: false,
      record: async (s) => void tidy.samples.push(s),
      release: async () => undefined,
    };
  }

  const file = path.join(dir, `${base}.json`);
  const nowSec = o.now() / 1000;
  notes.push(...lock.notes);
  await removeLeftovers(file);
  const loaded = await load(file, o, key, nowSec);
  if (loaded.samples.length === 0 && o.previous && loaded.notes.includes(NO_SAMPLES)) {
    const before = await previousSamples(dir, o, nowSec);
    if (before.samples.length) {
      loaded.samples = before.samples;
      loaded.notes = [`started from ${before.samples.length} sample(s) of ${path.basename(before.file)} (the state file of an earlier version)`];
    }
  }
  const tidy = tidySamples(loaded.samples, nowSec, o.window, max);
  notes.push(...loaded.notes, ...tidy.notes);
  const samples = tidy.samples;
  const created = loaded.created ?? nowSec;
  const heldLock = lock;

  // The lock needs no data block (lib/plugin/lock.ts), so it is held even on a full filesystem; the
  // save then fails, and from then on the state counts as not writable this run.
  let saveFailed = false;
  return {
    dir,
    file,
    samples,
    notes,
    get writable() {
      return !saveFailed;
    },
    async record(sample) {
      const t = sample.t;
      while (samples.length && samples[samples.length - 1].t >= t) samples.pop();
      samples.push(sample);
      if (samples.length > max) samples.splice(0, samples.length - max);
      const doc: StateFile<S> = { version: STATE_VERSION, check: o.check, key, what: o.what, created, updated: t, samples };
      try {
        // A run that outlived its lock (frozen, then taken over) must not overwrite the newer run's state.
        if (!(await heldLock.stillHeld())) {
          notes.push('lock was taken over by a later run: this sample was not saved');
          return;
        }
        await writeAtomic(file, JSON.stringify(doc) + '\n', o.beforeRename);
      } catch (err) {
        const code = errorCode(err) ?? (err as Error).message;
        saveFailed = true;
        // Said as when the state dir was found full before the run (incident 001's /var).
        notes.push(FULL.has(code) ? `state not saved this run: ${file} (${code})` : `could not save state to ${file} (${code}): this sample is not kept`);
      }
    },
    release: () => heldLock.release(),
  };
}

