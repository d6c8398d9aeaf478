// Exim driver: one message per `<id>-H` file under <spool>/input, flat or, with
// split_spool_directory, in input/<6th character of the id>/ (62 subdirectories). The -D file
// holds the body, -J journals deliveries made during a run that crashed, -T / -K are temporaries.
// Named queues (Exim >= 4.88: ACL `queue = bulk`, `-qGbulk`) keep the same layout one level down,
// <spool>/bulk/input/ and <spool>/bulk/msglog/ (seen on Debian 12's 4.96: test/fixtures/mta/exim-named);
// `exim -bp` lists the default queue only, `exim -bp -qGbulk` the named one.

import { createEximBpParser } from './exim-bp.js';
import fs from 'node:fs';
import { errorCode, UnknownError } from '../plugin/errors.js';
import { privileged } from '../plugin/privilege.js';
import { pathExists, readBounded } from './read.js';
import path from 'node:path';
import { eximIdArrival } from './queue-id.js';
import { countQueueFiles, linkTarget, type SkippedPath } from './skipped.js';
import { streamCommand } from '../plugin/exec.js';
import type { ListingCommand, MtaDriver, QueueEntry, QueuedMessage, SpoolScanContext } from './types.js';
import { deniedError, isDenied } from './access.js';
import { parseEximBp } from './exim-bp.js';
import { parseEximHeaderFile } from './exim-spool.js';

export { isEximId, parseEximHeaderFile, stripEximRecipientExtras, type EximHeaderRecord } from './exim-spool.js';
export { formatEximSize, parseEximBp, parseEximBpc, parseEximSize, type EximBpParseOptions } from './exim-bp.js';

export const EXIM_SPOOLS = ['/var/spool/exim4', '/var/spool/exim'] as const;
export const EXIM_QUEUES = ['input', 'frozen'] as const;

/** Most of an -H file that is read; a 16,384-recipient message (Exim's own limit) fits. */
export const EXIM_HEADER_READ_CAP = 1024 * 1024;


/** What else lives in a spool root and is no queue: the default queue's own input/ and msglog/, the
 *  hints databases db/, the content scanner's scan/ (one directory per message being scanned). */
const SPOOL_ROOT_DIRS = new Set(['input', 'msglog', 'db', 'scan']);
/** Named queues counted per spool: each is a metric (and the scan keeps a queue number per message in a byte). */
export const MAX_NAMED_QUEUES = 100;
/** Entries of the spool root looked at (a few on a real spool): a flooded root must not stall the check. */
const SPOOL_ROOT_CAP = 10_000;

/** Names --queue may give for a named queue (Exim forbids only '/'; these are the ones a metric label
 *  and an argv element carry without surprise). Discovered queues need not match: they are walked. */
export const EXIM_QUEUE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export interface EximSpoolLayout {
  /** <spool>/input is there (a directory, or a symlink to one: Exim's own input/ is walked as it is). */
  defaultInput: boolean;
  /** Named queues: subdirectories of the spool root holding an input/ directory, sorted. */
  named: string[];
  /** Symlinked named queues (not followed) and queues beyond MAX_NAMED_QUEUES. */
  skipped: SkippedPath[];
}

/**
 * The queues of a spool root: one readdir of the root and one lstat per subdirectory (never per
 * message). A subdirectory is a named queue when it holds a real input/ directory; db/, msglog/,
 * scan/, input/ itself and dot-directories are not. A symlink in the root (or a symlinked input/ of a
 * named queue) that leads to a queue is reported, not followed: Exim would follow it, so its messages
 * are said to be uncounted. Throws what opening the root throws (EACCES as the spool's denied error).
 */
export function eximSpoolLayout(spool: string): EximSpoolLayout {
  let handle: fs.Dir;
  try {
    handle = fs.opendirSync(spool, { bufferSize: 256 });
  } catch (err) {
    if (isDenied(err)) throw deniedError(err, spool, 'Exim spool directory');
    throw err;
  }
  const layout: EximSpoolLayout = { defaultInput: false, named: [], skipped: [] };
  const linked: string[] = [];
  try {
    let seen = 0;
    for (let d = handle.readSync(); d !== null && ++seen <= SPOOL_ROOT_CAP; d = handle.readSync()) {
      const name = d.name;
      if (name === 'input') layout.defaultInput = d.isDirectory() || d.isSymbolicLink();
      if (SPOOL_ROOT_DIRS.has(name) || name.charCodeAt(0) === 0x2e /* . */) continue;
      if (d.isDirectory()) {
        const input = lstatOrUndefined(`${spool}/${name}/input`);
        if (input?.isDirectory()) layout.named.push(name);
        else if (input?.isSymbolicLink())
          layout.skipped.push({ path: `${spool}/${name}/input`, why: 'symlink', files: 0, mtaSees: true, target: linkTarget(`${spool}/${name}/input`) });
      } else if (d.isSymbolicLink()) linked.push(name);
    }
  } catch (err) {
    // The root vanished or failed mid-read: what was read stands (ENOENT is normal).
    if (errorCode(err) !== 'ENOENT') throw err;
  } finally {
    try {
      handle.closeSync();
    } catch {
      /* already closed */
    }
  }
  for (const name of linked) {
    // A stat through the link, only to tell a queue from any other symlink; nothing under it is read.
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(`${spool}/${name}/input`, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) layout.skipped.push({ path: `${spool}/${name}`, why: 'symlink', files: 0, mtaSees: true, target: linkTarget(`${spool}/${name}`) });
  }
  layout.named.sort();
  for (const name of layout.named.splice(MAX_NAMED_QUEUES))
    layout.skipped.push({ path: `${spool}/${name}`, why: 'queue-limit', files: 0, mtaSees: true });
  return layout;
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** The named queues of a spool for the listing commands, or why they cannot be known. */
function namedQueuesForListing(spool: string | undefined): { named: string[]; unknown?: string } {
  if (spool === undefined) return { named: [], unknown: 'no spool directory' };
  if (path.basename(spool) === 'input') return { named: [] };
  try {
    return { named: eximSpoolLayout(spool).named };
  } catch (err) {
    const code = errorCode(err);
    // No spool where Exim's own configuration puts it (exim -bP): no queue of any name there.
    if (code === 'ENOENT' || code === 'ENOTDIR') return { named: [] };
    return { named: [], unknown: `cannot list ${spool}: ${code ?? (err as Error).message}` };
  }
}

/** `<id>-H` with a 16-character (4.96 and older) or 23-character (4.97+) id -> the id. */
export function eximHeaderFileId(name: string): string | undefined {
  const len = name.length;
  if ((len !== 18 && len !== 25) || name.charCodeAt(len - 2) !== 0x2d || name.charCodeAt(len - 1) !== 0x48) return undefined;
  if (name.charCodeAt(6) !== 0x2d /* - */) return undefined;
  return name.slice(0, len - 2);
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

const isHeaderFile = (name: string) => eximHeaderFileId(name) !== undefined;

/**
 * The -H files Exim's queue runner and exim -bp see (queue.c queue_get_spool_list): those in input/
 * and in its split subdirectories, named by one base-62 character (Exim scans them whether or not
 * split_spool_directory is set now: it may have been before). Anything else (input/old/, a
 * subdirectory of a split directory, a symlinked split directory, a symlinked -H file) is left out
 * and handed to ctx.onSkipped, so the check can say so. Exim itself would follow a symlinked split
 * directory or -H file, but it is never followed here (out of the spool, or a loop).
 */
function* walkInput(dir: string, queue: string, top: boolean, ctx: SpoolScanContext, named = false): Generator<QueueEntry, boolean> {
  let handle: fs.Dir;
  try {
    handle = fs.opendirSync(dir, { bufferSize: 1024 });
  } catch (err) {
    const code = errorCode(err);
    // A split subdirectory, or a named queue, gone since it was listed.
    if ((!top || named) && (code === 'ENOENT' || code === 'ENOTDIR')) return true;
    // Node's opendir error does not say which directory: the line must (lib/mta/access.ts).
    if (isDenied(err)) throw deniedError(err, dir, 'Exim spool directory');
    throw err;
  }
  // Said even when empty: a named queue Exim has used is a queue with 0 messages, not an unknown one.
  if (named && top) ctx.onQueue?.(queue);
  const subdirs: string[] = [];
  const skippedDirs: string[] = [];
  const linkedDirs: string[] = [];
  let linkedFiles = 0;
  try {
    for (let d = handle.readSync(); d !== null; d = handle.readSync()) {
      if (ctx.signal.aborted) return false;
      const name = d.name;
      if (d.isFile()) {
        const id = eximHeaderFileId(name);
        if (id !== undefined) yield { id, queue, path: `${dir}/${name}`, dir };
      } else if (d.isDirectory()) {
        if (top && name.length === 1 && isAlnum(name.charCodeAt(0))) subdirs.push(name);
        else skippedDirs.push(name);
      } else if (d.isSymbolicLink()) {
        if (top && name.length === 1 && isAlnum(name.charCodeAt(0))) linkedDirs.push(name);
        else if (isHeaderFile(name)) linkedFiles++;
      }
    }
  } finally {
    try {
      handle.closeSync();
    } catch {
      /* already closed */
    }
  }
  for (const s of subdirs) {
    if (ctx.signal.aborted) return false;
    if (!(yield* walkInput(path.join(dir, s), queue, false, ctx, named))) return false;
  }
  const report = ctx.onSkipped;
  if (report && !ctx.signal.aborted) {
    for (const s of skippedDirs) {
      const n = countQueueFiles(`${dir}/${s}`, isHeaderFile, ctx.signal);
      if (n.files > 0 || n.more) report({ path: `${dir}/${s}`, why: 'not-queue-dir', files: n.files, more: n.more, mtaSees: false });
    }
    for (const s of linkedDirs) report({ path: `${dir}/${s}`, why: 'symlink', files: 0, mtaSees: true, target: linkTarget(`${dir}/${s}`) });
    if (linkedFiles) report({ path: dir, why: 'symlink', files: linkedFiles, mtaSees: true });
  }
  return true;
}

/**
 * Message size as exim -bp computes it: the live headers plus the -D file without its first line
 * (`<id>-D\n`), plus one for the blank line between them. Without the header sizes (cut read),
 * just the body part. Undefined when the -D file is missing.
 */
export function eximMessageSize(dataFileSize: number | undefined, id: string, headerBytes: number | undefined): number | undefined {
  if (dataFileSize === undefined) return undefined;
  return Math.max(0, dataFileSize - (id.length + 3)) + 1 + (headerBytes ?? 0);
}

function dataFileSize(headerPath: string): number | undefined {
  try {
    const st = fs.lstatSync(`${headerPath.slice(0, -1)}D`, { throwIfNoEntry: false });
    return st?.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** readMessage: parse one -H file (bounded, sync) and stat its -D file. `cap` is for tests. */
export function readEximMessage(entry: QueueEntry, cap: number = EXIM_HEADER_READ_CAP, sizes = true): QueuedMessage | null {
  const r = readBounded(entry.path, cap);
  if (r === null) return null;
  if ('error' in r) return { id: entry.id, queue: entry.queue, recipients: [], flags: ['unreadable'] };
  const rec = parseEximHeaderFile(r.buf, r.end, !r.truncated);
  const flags: string[] = [];
  if (rec.frozen) flags.push('frozen');
  if (r.truncated && !rec.envelopeComplete) flags.push('truncated');
  // A format error, or a whole file that ends before its recipient list does.
  if (rec.malformed || rec.id !== entry.id || (!r.truncated && !rec.envelopeComplete)) flags.push('unreadable');
  const msg: QueuedMessage = {
    id: entry.id,
    queue: rec.frozen ? 'frozen' : entry.queue,
    arrival: rec.arrival,
    sender: rec.sender,
    recipients: rec.recipients,
    size: sizes ? eximMessageSize(dataFileSize(entry.path), entry.id, rec.headerBytes) : undefined,
  };
  if (rec.client !== undefined) msg.client = rec.client;
  if (flags.length) msg.flags = flags;
  return msg;
}


/** `exim -bP spool_directory` -> the directory: "spool_directory = /var/spool/exim4". Pure. An
 *  unexpanded value (a macro, "$...") or anything not an absolute path is no answer. */
export function parseEximSpoolDirectory(stdout: string): string | undefined {
  const m = /^\s*spool_directory\s*=\s*(\S.*?)\s*$/m.exec(stdout);
  const dir = m?.[1];
  return dir && dir.startsWith('/') && !dir.includes('$') ? dir : undefined;
}

export type EximRunner = (file: string, args: string[]) => Promise<{ stdout: string; failed: boolean }>;

const SPOOL_LINE = /^\s*spool_directory\s*=/;
/** Lines of `exim -bP` output looked at: the answer is one line; a program that prints a listing
 *  (or anything else) instead is stopped, not buffered. */
const BP_LINES = 64;

/** exim -bP, streamed (lib/plugin/exec.ts finds the program, privileged runs in root-owned system
 *  directories only) and stopped at the spool_directory line, 64 lines or 5 s, whichever comes first. */
const runExim: EximRunner = async (file, args) => {
  const stop = new AbortController();
  const kept: string[] = [];
  let answered = false;
  const r = await streamCommand(file, args, {
    signal: stop.signal,
    timeoutMs: 5000,
    maxLineBytes: 4096,
    onLine: (line) => {
      if (stop.signal.aborted) return;
      kept.push(line);
      answered = SPOOL_LINE.test(line);
      if (answered || kept.length >= BP_LINES) stop.abort();
    },
  });
  // Stopped on purpose once the answer was there: no failure.
  return { stdout: kept.join('\n'), failed: answered ? false : r.failed };
};

/** `exim [-C FILE] -bP spool_directory`, exim then exim4 (runCommand finds them on PATH and in the
 *  sbin directories, or only in root-owned system directories in a privileged run). */
async function askEximSpool(run: EximRunner, config?: string): Promise<string | undefined> {
  for (const file of ['exim', 'exim4']) {
    const r = await run(file, [...(config !== undefined ? ['-C', config] : []), '-bP', 'spool_directory']);
    const dir = r.failed ? undefined : parseEximSpoolDirectory(r.stdout);
    if (dir) return dir;
  }
  return undefined;
}

/**
 * --spool when given; else what `exim -bP spool_directory` says; else the first of /var/spool/exim4
 * (Debian's exim4) and /var/spool/exim that exists.
 */
export async function resolveEximSpools(explicit?: string[], run: EximRunner = runExim): Promise<string[]> {
  if (explicit?.length) return [...explicit];
  const dir = await askEximSpool(run);
  if (dir) return [dir];
  for (const candidate of EXIM_SPOOLS) if (await pathExists(candidate)) return [candidate];
  return [EXIM_SPOOLS[0]];
}

/**
 * May `exim -C FILE` run with this file? Exim keeps root for -C when the caller is root, so in a
 * privileged run (root, sudo: lib/plugin/privilege.ts) a configuration someone else can write is code
 * they run as root (${run...}): only a regular file root owns and nobody else may write, in a directory
 * the same holds for, is taken. Unprivileged, exim drops its own privilege for a -C file not in its
 * TRUSTED_CONFIG_LIST: any readable file will do. Throws UnknownError naming what is wrong.
 */
export function checkEximConfig(file: string, isPrivileged: () => boolean = privileged): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new UnknownError(`cannot read Exim configuration ${file} (${errorCode(err) ?? 'stat failed'})`, 'give --config the file exim -C takes (exim -bV names the default)');
  }
  if (!st.isFile()) throw new UnknownError(`Exim configuration ${file} is not a regular file`, 'give --config the file exim -C takes');
  if (!isPrivileged()) return;
  const safe = (s: fs.Stats) => s.uid === 0 && (s.mode & 0o022) === 0;
  let dirOk = false;
  try {
    const real = fs.realpathSync(file);
    dirOk = safe(fs.statSync(real)) && safe(fs.statSync(path.dirname(real)));
  } catch {
    dirOk = false;
  }
  if (!dirOk)
    throw new UnknownError(
      `Exim configuration ${file} is not root's alone: a privileged run does not give it to exim -C`,
      'make it and its directory owned by root and writable by nobody else, or run the check unprivileged (exim drops root for -C then)',
    );
}

/**
 * --config for Exim (a host with several Exim configurations: exim -C FILE): the spool that
 * configuration names (`exim -C FILE -bP spool_directory`), or UnknownError when it names none.
 * Without a file, resolveEximSpools. For the --config/--instance rows (SpoolWhere) once they land.
 */
export async function locateEximSpools(where: { config?: string }, run: EximRunner = runExim): Promise<{ spools: string[]; notes: string[] }> {
  const config = where.config;
  if (config === undefined) return { spools: await resolveEximSpools(undefined, run), notes: [] };
  checkEximConfig(config);
  const dir = await askEximSpool(run, config);
  if (dir) return { spools: [dir], notes: [`spool ${dir} from exim -C ${config} -bP spool_directory`] };
  throw new UnknownError(`exim -C ${config} -bP spool_directory named no spool directory`, 'check the file with exim -C FILE -bV, or give --spool DIR');
}

/**
 * `exim -bp` for the default queue, then `exim -bp -qG<name>` for each named queue found in the spool
 * root. When the root cannot be listed, for each one --queue names too (exim itself reads the spool).
 * Never for a --queue name the listed root does not have: `exim -bp -qGnosuch` prints nothing and
 * exits 0 (4.96, as an empty queue), so the check refuses the name instead of listing it as 0.
 */
export function eximListingCommands(spool: string | undefined, selected: readonly string[] = [], config?: string): ListingCommand[] {
  const pre = config ? ['-C', config] : [];
  const cmds: ListingCommand[] = [{ file: 'exim', alternatives: ['exim4'], args: [...pre, '-bp'] }];
  const found = namedQueuesForListing(spool);
  const names = new Set(found.named);
  if (found.unknown !== undefined)
    for (const q of selected) if (!(EXIM_QUEUES as readonly string[]).includes(q) && EXIM_QUEUE_NAME.test(q)) names.add(q);
  for (const q of [...names].sort()) cmds.push({ file: 'exim', alternatives: ['exim4'], args: [...pre, '-bp', `-qG${q}`], label: q });
  return cmds;
}

/** The --config file each spool came from, for its listing commands (exim -C FILE -bp). */
const configOfSpool = new Map<string, string>();

export const exim: MtaDriver = {
  createListingParser: (cmd, now, emit) => createEximBpParser({ label: cmd.label, now }, emit),
  name: 'exim',
  needsReading: ['frozen'],
  countedTogether: ['input', 'frozen'],
  queues: EXIM_QUEUES,
  queueNames: { pattern: EXIM_QUEUE_NAME, describe: 'or a named queue (Exim queue = NAME, -qGNAME), e.g. bulk' },
  defaultSpools: EXIM_SPOOLS,
  binaries: ['exim4', 'exim'],

  resolveSpools: (explicit?: string[]) => resolveEximSpools(explicit),

  *listEntries(spool: string, ctx: SpoolScanContext): Iterable<QueueEntry> {
    if (path.basename(spool) === 'input') {
      yield* walkInput(spool, 'input', true, ctx);
      return;
    }
    const layout = eximSpoolLayout(spool);
    if (ctx.onSkipped) for (const s of layout.skipped) ctx.onSkipped(s);
    // No input/ but named queues: the default queue has not been used (Exim makes input/ on first use).
    // Neither: walked anyway, so a wrong --spool is the "no queue found" error it always was.
    if (layout.defaultInput || layout.named.length === 0) {
      if (!(yield* walkInput(path.join(spool, 'input'), 'input', true, ctx))) return;
    }
    for (const q of layout.named) {
      if (ctx.signal.aborted) return;
      if (!(yield* walkInput(`${spool}/${q}/input`, q, true, ctx, true))) return;
    }
  },

  sizeNeedsStat: true,
  readMessage: (entry, want) => readEximMessage(entry, EXIM_HEADER_READ_CAP, want?.sizes !== false),
  idArrival: (id: string) => eximIdArrival(id),

  // --config FILE: exim -C FILE names the spool, and lists it with -C FILE too.
  locateSpools: async (where) => {
    const found = await locateEximSpools(where);
    if (where.config !== undefined) for (const s of found.spools) configOfSpool.set(s, where.config);
    return found;
  },
  configOption: { config: 'an Exim configuration file (exim -C FILE -bP spool_directory; listed with exim -C FILE -bp)' },
  listingCommands: (spool, selected) => eximListingCommands(spool, selected, spool === undefined ? undefined : configOfSpool.get(spool)),

  listingGap(spool?: string): string | undefined {
    const { unknown } = namedQueuesForListing(spool);
    return unknown === undefined ? undefined : `Exim named queues unknown (${unknown}): exim -bp lists the default queue only`;
  },

  parseListing(stdout: string, cmd: ListingCommand, now?: number): QueuedMessage[] {
    return parseEximBp(stdout, { label: cmd.label, now });
  },
};
