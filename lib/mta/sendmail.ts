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

// Subdirectories Sendmail itself uses: queue directories from a "QueueDirectory=/var/spool/mqueue/q*"
// glob (any name starting with q, e.g. q1, qd3) and, in any queue directory, a qf/ subdirectory for
// control files. df/ and xf/ hold no control files; other directories (backup copies an admin
// moved aside, .hoststat) are not seen by Sendmail and are not counted.
function wantedSubdir(name: string, depth: number): boolean {
  if (depth === 0) return name.charCodeAt(0) === 0x71 /* q */;
  return name === 'qf';
}

/**
 * A symlinked queue directory (op.me: q* may be symlinks to directories on other disks) is followed
 * only when the link was made by the spool's owner or root: a link another user planted must not
 * lead a root-run check out of the spool. Never to a directory already walked (q1 -> . would count
 * every job twice).
 */
function followable(dir: string, name: string, ownerUid: number, seen: Set<string>): boolean {
  try {
    const link = fs.lstatSync(path.join(dir, name));
    if (link.isSymbolicLink() && link.uid !== ownerUid && link.uid !== 0) return false;
    const st = fs.statSync(path.join(dir, name));
    if (!st.isDirectory()) return false;
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  } catch {
    return false; // vanished or dangling: not there
  }
}

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
  const subdirs: string[] = [];
  try {
    for (let d = handle.readSync(); d !== null; d = handle.readSync()) {
      if (ctx.signal.aborted) return false; // the finally below closes the directory
      if (d.isFile()) {
        const e = sendmailEntry(d.name, dir, queue);
        if (e) yield e;
      } else if (depth < 2 && (d.isDirectory() || d.isSymbolicLink()) && wantedSubdir(d.name, depth)) {
        subdirs.push(d.name);
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
    if (!followable(dir, s, ownerUid, seen)) continue;
    if (!(yield* walkQueueDir(path.join(dir, s), depth + 1, queue, ctx, seen, ownerUid))) return false;
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
