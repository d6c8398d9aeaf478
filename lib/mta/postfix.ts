// Postfix: walk the queue directories and read each queue file's envelope (never `mailq`:
// at 500,000 messages it takes half an hour), plus parsers for `postqueue -j` and `postqueue -p`
// output for when the spool is not readable.

import { createPostfixListingParser } from './postqueue.js';
import fs from 'node:fs';
import { errorCode } from '../plugin/errors.js';
import { runCommand } from '../plugin/exec.js';
import { OPEN_QUEUE_FILE } from './read.js';
import { readQueueFile, type RecordSource } from './postfix-queuefile.js';
import { parsePostfixListing } from './postqueue.js';
import { postfixHashName, postfixIdArrival } from './queue-id.js';
import { deniedError, isDenied, spoolError } from './access.js';
import { BATCH_SIZE, entriesOf, type EntryBatch } from './batches.js';
import { countQueueFiles, linkTarget } from './skipped.js';
import type { MtaDriver, QueueEntry, QueuedMessage, SpoolLocation, SpoolScanContext, SpoolWhere } from './types.js';
import { UnknownError } from '../plugin/errors.js';
import { describeInstances, INSTANCE_PARAMETERS, instanceFromPostconf, instanceNameProblem, parseInstanceDirectories, type PostfixInstance } from './postmulti.js';

export { bufferSource, parseQueueFile, readQueueFile } from './postfix-queuefile.js';
export type { QueueFileInfo, ReadOptions, RecordSource, SizeRecord } from './postfix-queuefile.js';

/** Queues that hold messages. defer/, bounce/, trace/ (delivery logs) and flush/ hold none. */
export const POSTFIX_QUEUES = ['incoming', 'active', 'deferred', 'hold', 'maildrop', 'corrupt'] as const;
export const DEFAULT_SPOOL = '/var/spool/postfix';

// ---------------------------------------------------------------------------------------------
// Reading queue files

const CHUNK = 8192;
const MAX_CHUNK = 1 << 20;
// Buffers shared by every file: readMessage is synchronous, so no two reads ever overlap.
const headBuf = Buffer.allocUnsafe(CHUNK);
let windowBuf = Buffer.allocUnsafe(4 * CHUNK);

/**
 * Two windows over an open queue file: its first 8 KB (envelope) and one more, normally its
 * last 8 KB (extracted recipients, E, and the heap of records that pointers lead to). A file of
 * any size costs two reads; only a file whose layout defeats that is read on in growing pieces.
 */
class FileSource implements RecordSource {
  buf: Buffer = headBuf;
  base = 0;
  len = 0;
  private headLen = -1;
  private winBase = 0;
  private winLen = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  load(pos: number, n: number): void {
    const end = Math.min(pos + n, this.size);
    if (end <= CHUNK) {
      if (this.headLen < 0) this.headLen = fs.readSync(this.fd, headBuf, 0, Math.min(CHUNK, this.size), 0);
      this.use(headBuf, 0, this.headLen);
      return;
    }
    if (pos >= this.winBase && end <= this.winBase + this.winLen) {
      this.use(windowBuf, this.winBase, this.winLen);
      return;
    }
    let start = pos;
    let want: number;
    if (pos >= this.size - CHUNK && end - pos <= CHUNK) {
      start = Math.max(0, this.size - CHUNK);
      want = this.size - start;
    } else {
      // Reading on from the end of the window means walking content: bigger pieces each time.
      const sequential = this.winLen > 0 && pos === this.winBase + this.winLen;
      want = Math.min(Math.max(end - pos, sequential ? Math.min(this.winLen * 4, MAX_CHUNK) : CHUNK), this.size - pos);
    }
    if (want > windowBuf.length) windowBuf = Buffer.allocUnsafe(want);
    this.winBase = start;
    this.winLen = 0;
    this.winLen = fs.readSync(this.fd, windowBuf, 0, want, start);
    this.use(windowBuf, this.winBase, this.winLen);
  }

  private use(buf: Buffer, base: number, len: number): void {
    this.buf = buf;
    this.base = base;
    this.len = len;
  }
}

/**
 * Open and parse one queue file: two small reads whatever the message size (the head, and the
 * extracted recipients after the content when there are any). null when the file vanished.
 * EACCES/EPERM are thrown: the caller explains how to grant access. A damaged file is still a
 * queued message: it is returned with what could be read and the flag 'unreadable'.
 */
export function readPostfixMessage(entry: QueueEntry): QueuedMessage | null {
  let fd: number;
  try {
    fd = fs.openSync(entry.path, OPEN_QUEUE_FILE);
  } catch (err) {
    const c = errorCode(err);
    if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'EISDIR' || c === 'ELOOP') return null;
    if (isDenied(err)) throw deniedError(err, entry.path, 'Postfix queue file');
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return null;
    const msg: QueuedMessage = { id: entry.id, queue: entry.queue, recipients: [], size: st.size };
    let flags: string[] | undefined;
    // Postfix sets owner-x once the file is complete; until then cleanup/postdrop is still writing.
    // (Files it moves to corrupt/ get mode 0400: that is not "being written".)
    const incomplete = (st.mode & 0o100) === 0 && entry.queue !== 'corrupt';
    if (incomplete) flags = ['incomplete'];
    try {
      const info = readQueueFile(new FileSource(fd, st.size), { walkContent: !incomplete });
      msg.recipients = info.recipients;
      if (info.arrival !== undefined) msg.arrival = info.arrival;
      if (info.sender !== undefined) msg.sender = info.sender;
      if (info.client !== undefined) msg.client = info.client;
      // As showq: maildrop files carry no final C record, their size is the file size.
      if (entry.queue !== 'maildrop') msg.size = info.size;
      if (!info.complete && !incomplete) (flags ??= []).push('unreadable');
    } catch (err) {
      // A read error (EIO) in the middle of the file: still a queued message.
      if (isDenied(err)) throw deniedError(err, entry.path, 'Postfix queue file');
      if (!incomplete) (flags ??= []).push('unreadable');
    }
    // Group-x is Postfix's "forced to expire" mark (postsuper -e); postqueue shows it as '#'.
    if (st.mode & 0o010) (flags ??= []).push('expired');
    if (flags) msg.flags = flags;
    return msg;
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Walking the spool

/** Same rule as Postfix's mail_queue_id_ok(): letters, digits and '_' only (skips editor leftovers). */
function isQueueId(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    if (!ok) return false;
  }
  return true;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A hash directory name: dir_forest() makes them from the characters of the hash name, which are
 *  upper-case hex (short IDs, and long IDs' microseconds in hex). */
function isHashDirName(name: string): boolean {
  if (name.length !== 1) return false;
  const c = name.charCodeAt(0);
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70);
}

/** Deeper than any hash_queue_depth a Postfix allows: never followed further. */
const MAX_HASH_DEPTH = 16;

/**
 * The queue files of one queue directory as qmgr and showq see them (src/global/mail_scan_dir.c:
 * one-character names are hash subdirectories, everything else a queue ID; mail_open_ok() then
 * opens the ID at its hash path with lstat(), regular files only):
 *  - hash subdirectories are single upper-case hex characters, and a file counts only where its ID
 *    hashes to (deferred/4/4F1C21A0B2; a long ID by its microseconds in hex). The depth is taken
 *    from where the files are (hash_queue_depth and hash_queue_names are not known from a --spool);
 *  - maildrop is never hashed (pickup scans it flat);
 *  - anything else (an admin's deferred/saved/, a file in the wrong hash directory, a symlink) is
 *    left out and handed to ctx.onSkipped, so the check can say so.
 * Returns false when the directory does not exist (a missing queue, or a hash dir that just went away).
 */
function* walkQueue(dirPath: string, queue: string, ctx: SpoolScanContext, hashed = '', top = false): Generator<EntryBatch, boolean> {
  let dir: fs.Dir;
  try {
    dir = fs.opendirSync(dirPath, { bufferSize: 1024 });
  } catch (err) {
    const c = errorCode(err);
    // A queue that is a file (or a symlink to one) hides its messages: only a hash dir may vanish.
    // (When the spool itself is not a directory, listPostfixEntries says so once.)
    if (c === 'ENOENT' || (c === 'ENOTDIR' && (!top || !isDirectory(dirPath.slice(0, dirPath.lastIndexOf('/')) || '/')))) return false;
    throw spoolError(err, dirPath, 'Postfix queue directory');
  }
  const depth = hashed.length;
  const flat = queue === 'maildrop';
  let misplaced = 0;
  let linkedFiles = 0;
  const skippedDirs: string[] = [];
  const linkedDirs: string[] = [];
  const subdirs: string[] = [];
  const prefix = `${dirPath}/`;
  let ids: string[] = [];
  try {
    while (!ctx.signal.aborted) {
      let d: fs.Dirent | null;
      try {
        d = dir.readSync();
      } catch (err) {
        if (errorCode(err) === 'ENOENT') break;
        throw spoolError(err, dirPath, 'Postfix queue directory');
      }
      if (d === null) break;
      const name = d.name;
      // Dirent types come from readdir itself: no stat per file.
      if (d.isFile()) {
        if (!isQueueId(name) || ctx.signal.aborted) continue;
        if (depth === 0 || postfixHashName(name)?.startsWith(hashed)) {
          ids.push(name);
          if (ids.length === BATCH_SIZE) {
            yield { queue, prefix, suffix: '', dir: dirPath, ids };
            ids = [];
          }
        } else misplaced++;
      } else if (d.isDirectory()) {
        if (!flat && isHashDirName(name) && depth < MAX_HASH_DEPTH) subdirs.push(name);
        else skippedDirs.push(name);
      } else if (d.isSymbolicLink()) {
        // qmgr would open a symlinked hash directory (opendir follows it); a symlinked queue file it refuses.
        if (!flat && isHashDirName(name)) linkedDirs.push(name);
        else if (isQueueId(name)) linkedFiles++;
      }
    }
  } finally {
    try {
      dir.closeSync();
    } catch {
      /* already closed */
    }
  }
  if (ids.length && !ctx.signal.aborted) yield { queue, prefix, suffix: '', dir: dirPath, ids };
  for (const s of subdirs) {
    if (ctx.signal.aborted) return true;
    yield* walkQueue(`${dirPath}/${s}`, queue, ctx, hashed + s);
  }
  const report = ctx.onSkipped;
  if (report && !ctx.signal.aborted) {
    for (const s of skippedDirs) {
      const n = countQueueFiles(`${dirPath}/${s}`, isQueueId, ctx.signal);
      if (n.files > 0 || n.more) report({ path: `${dirPath}/${s}`, why: 'not-queue-dir', files: n.files, more: n.more, mtaSees: false });
    }
    for (const s of linkedDirs) report({ path: `${dirPath}/${s}`, why: 'symlink', files: 0, mtaSees: true, target: linkTarget(`${dirPath}/${s}`) });
    if (linkedFiles) report({ path: dirPath, why: 'symlink', files: linkedFiles, mtaSees: false });
    if (misplaced) report({ path: dirPath, why: 'misplaced', files: misplaced, mtaSees: false });
  }
  return true;
}

/**
 * Stream the queue files of one Postfix spool. The spool must be a directory holding at least
 * one queue: anything else is a wrong --spool, and a check must say so rather than report an
 * empty queue.
 */
export function listPostfixEntries(spool: string, ctx: SpoolScanContext): Generator<QueueEntry> {
  return entriesOf(listPostfixBatches(spool, ctx), ctx.signal);
}

/** listPostfixEntries in batches of IDs per directory (lib/mta/batches.ts). */
export function* listPostfixBatches(spool: string, ctx: SpoolScanContext): Generator<EntryBatch> {
  const root = spool.replace(/\/+$/, '') || '/';
  let found = 0;
  for (const queue of POSTFIX_QUEUES) {
    if (ctx.signal.aborted) return;
    if (yield* walkQueue(`${root}/${queue}`, queue, ctx, '', true)) found++;
  }
  if (found > 0 || ctx.signal.aborted) return;
  // Say why: the spool is missing, not a directory, or not a Postfix spool.
  let st: fs.Stats;
  try {
    st = fs.statSync(spool);
  } catch (err) {
    throw spoolError(err, spool, 'Postfix spool');
  }
  if (!st.isDirectory()) throw spoolError({ code: 'ENOTDIR' }, spool, 'Postfix spool');
  const e = new Error(`no Postfix queue directories (${POSTFIX_QUEUES.join(', ')}) in ${spool}`);
  throw Object.assign(e, { code: 'ENOENT', path: spool });
}

// ---------------------------------------------------------------------------------------------
// Where the spool is

export type CommandRunner = (file: string, args: string[]) => Promise<{ stdout: string; failed: boolean }>;

const runPostconf: CommandRunner = (file, args) => runCommand(file, args, { timeoutMs: 5000 });

/**
 * --spool when given; else what `postconf -h queue_directory` says (found by runCommand's findProgram:
 * PATH then the sbin directories, or only the system directories when run as root or through sudo;
 * then /usr/sbin/postconf); else /var/spool/postfix.
 */
export async function resolvePostfixSpools(explicit?: string[], run: CommandRunner = runPostconf): Promise<string[]> {
  if (explicit?.length) return explicit;
  for (const file of ['postconf', '/usr/sbin/postconf']) {
    const r = await run(file, ['-h', 'queue_directory']);
    const dir = r.stdout.trim();
    if (!r.failed && dir.startsWith('/') && !dir.includes('\n')) return [dir];
  }
  return [DEFAULT_SPOOL];
}

/** postconf's output for these arguments (the first program of the two that answers), or undefined. */
async function postconfOutput(run: CommandRunner, args: string[]): Promise<string | undefined> {
  for (const file of ['postconf', '/usr/sbin/postconf']) {
    const r = await run(file, args);
    if (!r.failed && r.stdout !== '' && !r.stdout.includes(': fatal:')) return r.stdout;
  }
  return undefined;
}

/** One line per parameter asked (an empty value is an empty line). */
async function postconfLines(run: CommandRunner, args: string[]): Promise<string[] | undefined> {
  return (await postconfOutput(run, args))?.replace(/\n$/, '').split('\n');
}

/** The other instances the primary's main.cf lists (multi_instance_directories), each read with postconf -c. */
export async function listPostfixInstances(dirs: string[], run: CommandRunner = runPostconf): Promise<PostfixInstance[]> {
  const out: PostfixInstance[] = [];
  for (const dir of dirs) {
    if (!dir.startsWith('/')) continue;
    const stdout = await postconfOutput(run, ['-c', dir, '-h', ...INSTANCE_PARAMETERS]);
    const inst = stdout === undefined ? undefined : instanceFromPostconf(dir, stdout);
    // An instance whose main.cf cannot be read is still one: named by its directory.
    out.push(inst ?? { name: '-', enabled: false, configDirectory: dir });
  }
  return out;
}

/** Config directory of each queue directory found through --config or --instance: postqueue -c needs it. */
const configOfSpool = new Map<string, string>();

const absoluteDir = (v: string | undefined): v is string => v !== undefined && v.startsWith('/') && !v.includes('\n');

/**
 * Where the queue is, and what the long output must say:
 *  - --config DIR: `postconf -c DIR -h queue_directory` (DIR is a config directory, as postconf -c);
 *  - --instance NAME: the instance of that name among multi_instance_directories (postmulti's way);
 *  - neither: the primary instance (as resolvePostfixSpools), with a note naming every other
 *    instance the host has, whose mail is not counted.
 */
export async function locatePostfixSpools(where: SpoolWhere = {}, run: CommandRunner = runPostconf): Promise<SpoolLocation> {
  const notes: string[] = [];
  if (where.config !== undefined) {
    if (!where.config.startsWith('/')) throw new UnknownError(`--config ${where.config} is not an absolute path`, 'give the Postfix configuration directory, e.g. --config /etc/postfix-out');
    const lines = await postconfLines(run, ['-c', where.config, '-h', 'queue_directory']);
    const dir = lines?.length === 1 ? lines[0].trim() : undefined;
    if (!absoluteDir(dir))
      throw new UnknownError(`no queue_directory from postconf -c ${where.config}`, 'give the directory that holds the instance\'s main.cf (postmulti -l lists them)');
    configOfSpool.set(dir, where.config);
    return { spools: [dir], notes };
  }
  const instance = where.instance === '-' ? undefined : where.instance;
  if (instance !== undefined) {
    const problem = instanceNameProblem(instance);
    if (problem) throw new UnknownError(`invalid --instance '${instance}'`, problem);
  }
  const top = await postconfLines(run, ['-h', 'queue_directory', 'multi_instance_directories']);
  // A Postfix older than 2.6 has no multi_instance_directories: ask for the queue alone.
  const primary = top?.length === 2 ? top[0].trim() : (await resolvePostfixSpools(undefined, run))[0];
  const others = top?.length === 2 ? await listPostfixInstances(parseInstanceDirectories(top[1]), run) : [];
  if (instance !== undefined) {
    const found = others.find((i) => i.name === instance);
    if (!found)
      throw new UnknownError(
        `no Postfix instance '${instance}' in multi_instance_directories`,
        others.length ? `this host has: ${others.map((i) => i.name).join(', ')} (postmulti -l)` : 'this host has one Postfix instance: drop --instance',
      );
    if (!absoluteDir(found.queueDirectory)) throw new UnknownError(`no queue_directory for instance '${instance}' (postconf -c ${found.configDirectory})`, 'check its main.cf');
    if (!found.enabled) notes.push(`instance ${instance} is disabled (multi_instance_enable = no): its queue is read all the same`);
    configOfSpool.set(found.queueDirectory, found.configDirectory);
    return { spools: [found.queueDirectory], notes };
  }
  if (others.length)
    notes.push(`other Postfix instances on this host are not counted: ${describeInstances(others)}; check each with --instance NAME`);
  return { spools: [absoluteDir(primary) ? primary : DEFAULT_SPOOL], notes };
}

// ---------------------------------------------------------------------------------------------
// Listings: postqueue.ts

export { createPostfixListingParser, createPostqueueJsonParser, createPostqueueTextParser, parsePostfixListing, parsePostqueueJson, parsePostqueueText } from './postqueue.js';

export const postfix: MtaDriver = {
  createListingParser: (cmd, now, emit) => createPostfixListingParser({ label: cmd.label, now: new Date(now) }, emit),
  name: 'postfix',
  queues: POSTFIX_QUEUES,
  defaultSpools: [DEFAULT_SPOOL],
  binaries: ['postconf', 'postqueue', 'postsuper'],
  resolveSpools: (explicit) => resolvePostfixSpools(explicit),
  locateSpools: (where) => locatePostfixSpools(where),
  configOption: { config: 'Postfix configuration directory (postconf -c), e.g. /etc/postfix-out', instances: true },
  listEntries: listPostfixEntries,
  listBatches: listPostfixBatches,
  readMessage: readPostfixMessage,
  idArrival: (id: string) => postfixIdArrival(id),
  // An instance's queue is listed by its own showq: postqueue -c its config directory.
  listingCommands: (spool) => {
    const config = spool === undefined ? undefined : configOfSpool.get(spool);
    return [{ file: 'postqueue', args: config ? ['-c', config, '-j'] : ['-j'] }];
  },
  parseListing: (stdout, cmd) => parsePostfixListing(stdout, cmd),
};
