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
import type { ListingCommand, MtaDriver, QueueEntry, QueuedMessage, SpoolScanContext } from './types.js';
import { deniedError, isDenied } from './access.js';
import { parseMailq } from './sendmail-mailq.js';
import { clientFromSubmitter, parseQf } from './sendmail-qf.js';

export { clientFromSubmitter, normalizeSendmailAddress, parseQf, type QfRecord } from './sendmail-qf.js';
export { mailqRequestCounts, mailqTime, parseMailq, unescapeMailq, type MailqParseOptions } from './sendmail-mailq.js';

export const SENDMAIL_SPOOLS = ['/var/spool/mqueue', '/var/spool/mqueue-client', '/var/spool/clientmqueue'] as const;
export const SENDMAIL_QUEUES = ['mqueue', 'clientmqueue', 'quarantine', 'lost'] as const;

/** Most a qf file is read (5,000 recipients is ~200 KB); beyond it the message is flagged 'truncated'. */
export const QF_READ_CAP = 1024 * 1024;


/** Queue name of a spool directory: the MSP queue is the one with "client" in its name. */
export function sendmailQueueOf(spool: string): 'mqueue' | 'clientmqueue' {
  return path.basename(path.resolve(spool)).includes('client') ? 'clientmqueue' : 'mqueue';
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


export const sendmail: MtaDriver = {
  createListingParser: (cmd, now, emit) => createMailqParser({ label: cmd.label, now }, emit),
  name: 'sendmail',
  queues: SENDMAIL_QUEUES,
  defaultSpools: SENDMAIL_SPOOLS,
  // Not sendmail/mailq: every MTA ships those names.
  binaries: ['sendmail-mta', 'sendmail-msp', 'sendmail.sendmail'],

  async resolveSpools(explicit?: string[]): Promise<string[]> {
    if (explicit?.length) return [...explicit];
    const found: string[] = [];
    for (const candidate of SENDMAIL_SPOOLS) if (await pathExists(candidate)) found.push(candidate);
    return found.length ? found : [SENDMAIL_SPOOLS[0]];
  },

  *listEntries(spool: string, ctx: SpoolScanContext): Iterable<QueueEntry> {
    yield* walkQueueDir(path.normalize(spool).replace(/(.)\/+$/, '$1'), 0, sendmailQueueOf(spool), ctx);
  },

  sizeNeedsStat: true,
  readMessage: (entry, want) => readSendmailMessage(entry, QF_READ_CAP, want?.sizes !== false),
  idArrival: (id: string, nowSec: number) => sendmailIdArrival(id, nowSec),

  listingCommands(spool?: string): ListingCommand[] {
    // Debian's mailq wrapper lists the MSP queue and then the MTA queue; -qQ lists quarantined
    // (hf) jobs, which plain mailq never shows.
    if (spool === undefined || (SENDMAIL_SPOOLS as readonly string[]).includes(spool)) {
      return [
        { file: 'mailq', args: [] },
        { file: 'mailq', args: ['-qQ'], label: 'quarantine' },
      ];
    }
    const dirOpt = `-OQueueDirectory=${spool}`;
    return [
      { file: '/usr/sbin/sendmail', args: ['-bp', dirOpt] },
      { file: '/usr/sbin/sendmail', args: ['-bp', '-qQ', dirOpt], label: 'quarantine' },
    ];
  },

  parseListing(stdout: string, cmd: ListingCommand, now?: number): QueuedMessage[] {
    return parseMailq(stdout, { label: cmd.label, now });
  },
};
