// Sendmail driver: walks the MTA queue (/var/spool/mqueue) and the MSP queue (submit.cf's
// /var/spool/mqueue-client on Debian, /var/spool/clientmqueue elsewhere) and reads qf files.
// Never `mailq` on the hot path: at 500,000 messages it runs for half an hour, and `grep qf*`
// dies with "argument list too long". The listing is only the fallback for unreadable spools.

import { createMailqParser } from './sendmail-mailq.js';
import fs from 'node:fs';
import { errorCode } from '../plugin/errors.js';
import { pathExists, readBounded } from './read.js';
import path from 'node:path';
import { sendmailIdArrival } from './queue-id.js';
import { countQueueFiles, linkTarget } from './skipped.js';
import type { ListingCommand, MtaDriver, QueueEntry, QueuedMessage, SpoolLocation, SpoolScanContext, SpoolWhere } from './types.js';
import { UnknownError } from '../plugin/errors.js';
import { expandQueuePath, parseSendmailCf, splitQueuePath, type SendmailQueueConfig } from './sendmail-cf.js';
import { deniedError, isDenied } from './access.js';
import { parseMailq } from './sendmail-mailq.js';
import { clientFromSubmitter, parseQf } from './sendmail-qf.js';

export { clientFromSubmitter, normalizeSendmailAddress, parseQf, type QfRecord } from './sendmail-qf.js';
export { mailqRequestCounts, mailqTime, parseMailq, unescapeMailq, type MailqParseOptions } from './sendmail-mailq.js';

export const SENDMAIL_SPOOLS = ['/var/spool/mqueue', '/var/spool/mqueue-client', '/var/spool/clientmqueue'] as const;
export const SENDMAIL_QUEUES = ['mqueue', 'clientmqueue', 'quarantine', 'lost'] as const;

/** Most a qf file is read (5,000 recipients is ~200 KB); beyond it the message is flagged 'truncated'. */
export const QF_READ_CAP = 1024 * 1024;


/** Queue name of a spool directory: the MSP queue is the one with "client" in its name, or in its
 *  parent's for one of several queue directories (QueueDirectory=/var/spool/mqueue-client/q*). */
export function sendmailQueueOf(spool: string): 'mqueue' | 'clientmqueue' {
  const full = path.resolve(spool);
  const known = configuredQueue.get(full);
  if (known) return known;
  if (path.basename(full).includes('client')) return 'clientmqueue';
  return path.basename(path.dirname(full)).includes('client') && /^q/.test(path.basename(full)) ? 'clientmqueue' : 'mqueue';
}

/**
 * Queue entry for a control file name, or undefined for anything else: qf = queued, hf = quarantined
 * (invisible to plain mailq), Qf = "lost" (sendmail gave up on it: needs a human). df (data),
 * xf (transcript) and tf (being written) are not messages.
 */
export function sendmailEntry(name: string, dir: string, queue: string): QueueEntry | undefined {
  if (name.length < 3 || name.charCodeAt(1) !== 0x66 /* f */) return undefined;
  const kind = name.charCodeAt(0);
  let q: string;
  if (kind === 0x71 /* q */) q = queue;
  else if (kind === 0x68 /* h */) q = 'quarantine';
  else if (kind === 0x51 /* Q */) q = 'lost';
  else return undefined;
  for (let i = 2; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (!alnum) return undefined; // editor leftovers such as qfXXXX~ or qfXXXX.bak
  }
  // Not path.join: the directory is already normal, and joining costs more than the whole entry.
  return { id: name.slice(2), queue: q, path: `${dir}/${name}`, dir };
}

/** Names of control and data files Sendmail writes in a queue directory (qf, df, tf, xf, hf, Qf). */
function isQueueDirFile(name: string): boolean {
  return name.length > 2 && name.charCodeAt(1) === 0x66 /* f */ && 'qdtxhQ'.includes(name[0]);
}

const isControlFile = (name: string) => sendmailEntry(name, '', '') !== undefined;

/** Subdirectories of a queue directory that hold its data and transcript files, never control files. */
const DATA_SUBDIRS = new Set(['df', 'xf']);
/** Directories Sendmail keeps in the queue directory that are not mail (HostStatusDirectory's default). */
const NOT_MAIL = new Set(['.hoststat']);

/**
 * A symlinked queue directory (op.me: q* may be symlinks to directories on other disks) is followed
 * only when the link was made by the spool's owner or root: a link another user planted must not
 * lead a root-run check out of the spool. Never to a directory already walked (q1 -> . would count
 * every job twice). Says why not, for the long output: 'foreign' (sendmail would follow it),
 * 'dangling', 'not a directory'; undefined for a directory already walked (counted there).
 */
function followable(dir: string, name: string, ownerUid: number, seen: Set<string>): true | 'foreign' | 'dangling' | 'not a directory' | undefined {
  let link: fs.Stats;
  try {
    link = fs.lstatSync(path.join(dir, name));
  } catch {
    return undefined; // vanished: not there
  }
  if (link.isSymbolicLink() && link.uid !== ownerUid && link.uid !== 0) return 'foreign';
  let st: fs.Stats;
  try {
    st = fs.statSync(path.join(dir, name));
  } catch {
    return link.isSymbolicLink() ? 'dangling' : undefined;
  }
  if (!st.isDirectory()) return link.isSymbolicLink() ? 'not a directory' : undefined;
  const key = `${st.dev}:${st.ino}`;
  if (seen.has(key)) return undefined;
  seen.add(key);
  return true;
}

/**
 * The control files Sendmail's queue runs see (queue.c gatherq): those of a queue directory and of
 * its qf/ subdirectory (df/ and xf/ hold no control files). The spool is a queue directory of its
 * own when it holds queue files or a qf/, df/ or xf/ subdirectory; only otherwise are its q*
 * subdirectories taken for the directories of a "QueueDirectory=.../q*" queue group (op.me). So a
 * mqueue/queue.old/ next to the live queue, or any other directory an admin made, is not counted:
 * it is handed to ctx.onSkipped when it holds control files, as is a symlink not followed.
 * (An empty single queue whose only subdirectory is a q* one cannot be told from a queue group.)
 */
function* walkQueueDir(
  dir: string,
  depth: number,
  queue: string,
  ctx: SpoolScanContext,
  seen: Set<string> = new Set(),
  ownerUid = -1,
): Generator<QueueEntry, boolean> {
  let handle: fs.Dir;
  try {
    handle = fs.opendirSync(dir, { bufferSize: 1024 });
  } catch (err) {
    const code = errorCode(err);
    // The top-level spool must be readable (EACCES -> the caller reports it or falls back to mailq);
    // a subdirectory that vanished or is a dangling/non-directory symlink is simply not there.
    if (depth > 0 && (code === 'ENOENT' || code === 'ENOTDIR')) return true;
    // Node's opendir error does not say which directory: the line must (lib/mta/access.ts).
    if (isDenied(err)) throw deniedError(err, dir, 'Sendmail queue directory');
    throw err;
  }
  if (depth === 0) {
    try {
      const st = fs.statSync(dir);
      ownerUid = st.uid;
      seen.add(`${st.dev}:${st.ino}`);
    } catch {
      /* walked below all the same */
    }
  }
  // Below a queue-group directory or a qf/: what this directory is.
  const inQf = path.basename(dir) === 'qf' && depth > 0;
  const subdirs: string[] = [];
  let queueDir = false;
  try {
    for (let d = handle.readSync(); d !== null; d = handle.readSync()) {
      if (ctx.signal.aborted) return false; // the finally below closes the directory
      const name = d.name;
      if (d.isFile()) {
        const e = sendmailEntry(name, dir, queue);
        if (e) yield e;
        if (!queueDir && isQueueDirFile(name)) queueDir = true;
      } else if (d.isDirectory() || d.isSymbolicLink()) {
        if (!queueDir && !inQf && (name === 'qf' || DATA_SUBDIRS.has(name))) queueDir = true;
        subdirs.push(name);
      }
    }
  } finally {
    try {
      handle.closeSync();
    } catch {
      /* already closed */
    }
  }
  // The spool with no queue files of its own: its q* subdirectories are a queue group's directories.
  const groupRoot = depth === 0 && !queueDir;
  const report = ctx.onSkipped;
  for (const s of subdirs) {
    if (ctx.signal.aborted) return false;
    if (DATA_SUBDIRS.has(s) || NOT_MAIL.has(s)) continue;
    const wanted = !inQf && (s === 'qf' || (groupRoot && s.charCodeAt(0) === 0x71 /* q */));
    const p = path.join(dir, s);
    if (!wanted) {
      if (!report) continue;
      let isLink = false;
      try {
        isLink = fs.lstatSync(p).isSymbolicLink();
      } catch {
        continue;
      }
      const n = isLink ? { files: 0, more: false } : countQueueFiles(p, isControlFile, ctx.signal);
      if (isLink || n.files > 0 || n.more)
        report({ path: p, why: isLink ? 'symlink' : 'not-queue-dir', files: n.files, more: n.more, mtaSees: false, ...(isLink ? { target: linkTarget(p) } : {}) });
      continue;
    }
    const ok = followable(dir, s, ownerUid, seen);
    if (ok !== true) {
      if (ok !== undefined) report?.({ path: p, why: 'symlink', files: 0, mtaSees: ok === 'foreign', target: linkTarget(p) });
      continue;
    }
    if (!(yield* walkQueueDir(p, depth + 1, queue, ctx, seen, ownerUid))) return false;
  }
  return true;
}

function statSize(p: string): number | undefined {
  try {
    // lstat: a df symlink is not followed out of the spool (and is not a data file).
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    return st?.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Size of the message as mailq shows it: the df file's size. The df file sits next to the qf,
 * or in the sibling df/ when control files live in qf/, or (d record) in another queue directory
 * of the same queue group. Usually one stat.
 */
export function sendmailDataFileSize(qfPath: string, id: string, dataDir?: string): number | undefined {
  const dir = path.dirname(qfPath);
  const name = `df${id}`;
  const queueDir = path.basename(dir) === 'qf' ? path.dirname(dir) : dir;
  const candidates: string[] = [];
  // The d line names a sibling queue directory, never a path ("../../etc" stays in the spool).
  if (dataDir && !dataDir.includes('/') && dataDir !== '.' && dataDir !== '..') {
    const group = path.dirname(queueDir);
    candidates.push(path.join(group, dataDir, 'df', name), path.join(group, dataDir, name));
  }
  if (queueDir !== dir) candidates.push(path.join(queueDir, 'df', name), path.join(queueDir, name));
  else candidates.push(path.join(dir, name), path.join(dir, 'df', name));
  for (const c of candidates) {
    const size = statSize(c);
    if (size !== undefined) return size;
  }
  return undefined;
}

function lastLineEnd(buf: Buffer, end: number): number {
  const nl = buf.lastIndexOf(10, end - 1);
  return nl < 0 ? 0 : nl + 1;
}

/** readMessage: parse one control file (bounded read, sync). `cap` is for tests. */
export function readSendmailMessage(entry: QueueEntry, cap: number = QF_READ_CAP, sizes = true): QueuedMessage | null {
  const r = readBounded(entry.path, cap);
  if (r === null) return null;
  const flags: string[] = [];
  if (entry.queue === 'quarantine') flags.push('quarantined');
  if (entry.queue === 'lost') flags.push('lost');
  if ('error' in r) {
    flags.push('unreadable');
    return { id: entry.id, queue: entry.queue, recipients: [], flags };
  }
  const end = r.truncated ? lastLineEnd(r.buf, r.end) : r.end;
  const rec = parseQf(r.buf, end);
  if (r.truncated) flags.push('truncated');
  // No S line: sendmail's readqf gives up on such a file too ("sender not specified in queue file").
  if (rec.malformed || (!rec.complete && !r.truncated) || (rec.complete && rec.sender === undefined)) flags.push('unreadable');
  const msg: QueuedMessage = {
    id: entry.id,
    queue: entry.queue,
    arrival: rec.arrival,
    sender: rec.sender,
    recipients: rec.recipients,
    size: sizes ? sendmailDataFileSize(entry.path, entry.id, rec.dataDir) : undefined,
  };
  const reason = entry.queue === 'quarantine' ? (rec.quarantineReason ?? rec.reason) : rec.reason;
  if (reason !== undefined) msg.reason = reason;
  const client = clientFromSubmitter(rec.submitter);
  if (client !== undefined) msg.client = client;
  if (flags.length) msg.flags = flags;
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Where the queues are: sendmail.cf and submit.cf (lib/mta/sendmail-cf.ts parses them)

export const SENDMAIL_CF = '/etc/mail/sendmail.cf';
export const SUBMIT_CF = '/etc/mail/submit.cf';

/** Queue name and QueueDirectory value of each directory a cf named (for listEntries and listingCommands). */
const configuredQueue = new Map<string, 'mqueue' | 'clientmqueue'>();
const configuredValue = new Map<string, { value: string; fromDefault: boolean }>();

/** Read and parse a cf file; the errno code when it cannot be read. Bounded: a cf is a few hundred KB at most. */
export function readSendmailCf(file: string): SendmailQueueConfig | { error: string } {
  let text: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      text = buf.toString('latin1', 0, n);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    return { error: errorCode(err) ?? (err as Error).message };
  }
  return parseSendmailCf(text);
}

/**
 * Is `p` (an entry of a wildcard's parent) a queue directory sendmail would use? A directory, or a
 * symlink to one made by the parent's owner or root: the same rule walkQueueDir applies to the q*
 * subdirectories it follows, so a link another user planted does not lead a root-run check away.
 */
function queueDirEntry(p: string, parentUid: number, refused: string[]): boolean {
  try {
    const l = fs.lstatSync(p);
    if (l.isSymbolicLink() && l.uid !== parentUid && l.uid !== 0) {
      refused.push(p);
      return false;
    }
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The directories one QueueDirectory or queue-group Path stands for, read off the disk now. */
export function expandOnDisk(value: string, refused: string[] = []): string[] {
  const p = splitQueuePath(value);
  if (!p) return [];
  if (p.prefix === undefined) return [p.dir];
  let names: string[];
  let uid = -1;
  try {
    uid = fs.statSync(p.dir).uid;
    names = fs.readdirSync(p.dir);
  } catch {
    return [];
  }
  return expandQueuePath(p, names, (d) => queueDirEntry(d, uid, refused));
}

/** The queue directories of one cf: QueueDirectory's, then each queue group's not already among them. */
function cfSpools(cfg: SendmailQueueConfig, refused: string[]): { spools: string[]; wildcardParent?: string } {
  const out: string[] = [];
  // Once per directory: sendmail takes q1 and a qlink -> q1 for two queue directories (strace of the
  // real binary, test/fixtures/config/sendmail-cf), which would count every job in them twice.
  const inodes = new Set<string>();
  const add = (d: string) => {
    let key = d;
    try {
      const st = fs.statSync(d);
      key = `${st.dev}:${st.ino}`;
    } catch {
      /* not there (yet): by its name */
    }
    if (inodes.has(key)) return;
    inodes.add(key);
    out.push(d);
  };
  const q = cfg.queueDirectory === undefined ? undefined : splitQueuePath(cfg.queueDirectory);
  for (const d of expandOnDisk(cfg.queueDirectory ?? '', refused)) add(d);
  for (const g of cfg.groupPaths) for (const d of expandOnDisk(g.path, refused)) add(d);
  // A wildcard that matches nothing: the parent, so the reader says what is (not) there.
  return { spools: out, wildcardParent: q?.prefix !== undefined ? q.dir : undefined };
}

/**
 * The spools of one cf file, or undefined when it is missing, unreadable or names no QueueDirectory
 * (the caller then falls back to the usual places). Remembers each directory's queue name.
 */
function spoolsFromCf(file: string, queue: 'mqueue' | 'clientmqueue', fromDefault: boolean, notes: string[]): string[] | undefined {
  const cfg = readSendmailCf(file);
  if ('error' in cfg || cfg.queueDirectory === undefined) return undefined;
  const refused: string[] = [];
  const { spools, wildcardParent } = cfSpools(cfg, refused);
  const found = spools.length ? spools : wildcardParent ? [wildcardParent] : [];
  for (const d of found) {
    configuredQueue.set(path.resolve(d), queue);
    configuredValue.set(d, { value: cfg.queueDirectory, fromDefault });
  }
  const groups = cfg.groupPaths.length ? ` and ${cfg.groupPaths.length} queue group path${cfg.groupPaths.length === 1 ? '' : 's'}` : '';
  if (cfg.queueDirectory.includes('*') || cfg.groupPaths.length)
    notes.push(`${file}: QueueDirectory=${cfg.queueDirectory}${groups}: ${spools.length} queue director${spools.length === 1 ? 'y' : 'ies'} (${spools.join(', ') || 'none yet'})`);
  for (const r of refused) notes.push(`${r} is a symlink made by another user than the spool's owner or root: not followed`);
  return found.length ? found : undefined;
}

/**
 * --config FILE: only that cf's queues (a second Sendmail with its own cf). Otherwise sendmail.cf's
 * queues (else /var/spool/mqueue) and submit.cf's (else the MSP queue that exists), as today's
 * defaults when the files are not there or not readable.
 */
export async function locateSendmailSpools(where: SpoolWhere = {}, files = { mta: SENDMAIL_CF, msp: SUBMIT_CF }): Promise<SpoolLocation> {
  if (where.instance !== undefined)
    throw new UnknownError('--instance names a Postfix instance (postmulti)', 'for a second Sendmail give --config with its sendmail.cf');
  const notes: string[] = [];
  if (where.config !== undefined) {
    const cfg = readSendmailCf(where.config);
    if ('error' in cfg) throw new UnknownError(`cannot read --config ${where.config} (${cfg.error})`, 'give the sendmail.cf of the queue to check');
    if (cfg.queueDirectory === undefined) throw new UnknownError(`no QueueDirectory option in ${where.config}`, 'give a sendmail.cf (O QueueDirectory=...), or --spool DIR');
    const spools = spoolsFromCf(where.config, sendmailQueueOf(cfg.queueDirectory.replace(/\/?[^/]*\*$/, '') || '/'), false, notes);
    return { spools: spools ?? [cfg.queueDirectory], notes };
  }
  const found: string[] = [];
  const mta = spoolsFromCf(files.mta, 'mqueue', true, notes);
  const msp = spoolsFromCf(files.msp, 'clientmqueue', true, notes);
  for (const s of mta ?? [SENDMAIL_SPOOLS[0]]) if (mta || (await pathExists(s))) found.push(s);
  for (const s of msp ?? SENDMAIL_SPOOLS.slice(1)) if (msp || (await pathExists(s))) found.push(s);
  return { spools: found.length ? found : [SENDMAIL_SPOOLS[0]], notes };
}

export const sendmail: MtaDriver = {
  createListingParser: (cmd, now, emit) => createMailqParser({ label: cmd.label, now }, emit),
  name: 'sendmail',
  queues: SENDMAIL_QUEUES,
  defaultSpools: SENDMAIL_SPOOLS,
  // Not sendmail/mailq: every MTA ships those names.
  binaries: ['sendmail-mta', 'sendmail-msp', 'sendmail.sendmail'],

  async resolveSpools(explicit?: string[]): Promise<string[]> {
    if (explicit?.length) return [...explicit];
    return (await locateSendmailSpools()).spools;
  },
  locateSpools: (where) => locateSendmailSpools(where),
  configOption: { config: 'a sendmail.cf file (its QueueDirectory and queue groups) [default: /etc/mail/sendmail.cf and submit.cf]' },

  *listEntries(spool: string, ctx: SpoolScanContext): Iterable<QueueEntry> {
    yield* walkQueueDir(path.normalize(spool).replace(/(.)\/+$/, '$1'), 0, sendmailQueueOf(spool), ctx);
  },

  sizeNeedsStat: true,
  readMessage: (entry, want) => readSendmailMessage(entry, QF_READ_CAP, want?.sizes !== false),
  idArrival: (id: string, nowSec: number) => sendmailIdArrival(id, nowSec),

  listingCommands(spool?: string): ListingCommand[] {
    // Debian's mailq wrapper lists the MSP queue and then the MTA queue; -qQ lists quarantined
    // (hf) jobs, which plain mailq never shows.
    const configured = spool === undefined ? undefined : configuredValue.get(spool);
    if (spool === undefined || (SENDMAIL_SPOOLS as readonly string[]).includes(spool) || configured?.fromDefault) {
      return [
        { file: 'mailq', args: [] },
        { file: 'mailq', args: ['-qQ'], label: 'quarantine' },
      ];
    }
    // A --config cf's QueueDirectory as written (q* included): sendmail lists every directory it stands for.
    const dirOpt = `-OQueueDirectory=${configured?.value ?? spool}`;
    return [
      { file: '/usr/sbin/sendmail', args: ['-bp', dirOpt] },
      { file: '/usr/sbin/sendmail', args: ['-bp', '-qQ', dirOpt], label: 'quarantine' },
    ];
  },

  parseListing(stdout: string, cmd: ListingCommand, now?: number): QueuedMessage[] {
    return parseMailq(stdout, { label: cmd.label, now });
  },
};
