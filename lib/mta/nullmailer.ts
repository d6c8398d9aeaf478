// nullmailer driver (Debian 12: nullmailer 1:2.2-4). The spool, /var/spool/nullmailer:
//   queue/<epoch>.<pid>   mail waiting: nullmailer-send tries every file in it on each pass
//   failed/<same name>    given up: moved here by nullmailer-send after a permanent error or when
//                         older (by mtime) than queuelifetime (default 7 days); never retried
//   tmp/<pid>             nullmailer-queue writing a message; it links the file into queue/ when
//                         complete and then unlinks this name (queue.cc deliver)
//   trigger               a FIFO nullmailer-queue writes a byte to, to wake nullmailer-send
// Queue files are 0600 mail; queue/ and tmp/ are 0750 mail:root, so reading needs root or user mail.
//
// tmp/ is not counted. A file there is either being written (and about to be linked into queue/:
// for that moment the same message has both names, so counting tmp/ would count it twice) or what a
// killed nullmailer-queue left behind, which nullmailer never sends and mailq never lists.
// The trigger and anything else that is not a regular file is never opened: the walk takes the
// type from readdir and the read opens with O_NONBLOCK|O_NOFOLLOW and checks fstat first.

import { spoolDirEntries } from './spool-dir.js';
import { spoolError } from './access.js';
import fs from 'node:fs';
import path from 'node:path';
import { errorCode } from '../plugin/errors.js';
import { OPEN_QUEUE_FILE, pathExists } from './read.js';
import { createNullmailerMailqParser, parseNullmailerMailq } from './nullmailer-mailq.js';
import { nullmailerEnvelopeEnd, nullmailerNameEpoch, NULLMAILER_RECEIVED_MAX, parseNullmailerQueueFile } from './nullmailer-queuefile.js';
import type { ListingCommand, MtaDriver, QueueEntry, QueuedMessage, SpoolScanContext } from './types.js';

export { createNullmailerMailqParser, parseNullmailerMailq, NULLMAILER_MAILQ_FAILURES, type NullmailerMailqOptions } from './nullmailer-mailq.js';
export { nullmailerEnvelopeEnd, nullmailerNameEpoch, parseNullmailerQueueFile, type NullmailerEnvelope } from './nullmailer-queuefile.js';

export const NULLMAILER_SPOOLS = ['/var/spool/nullmailer'] as const;
export const NULLMAILER_QUEUES = ['queue', 'failed'] as const;

/** Most of a queue file that is read to find the end of its envelope (a 20,000-recipient message fits). */
export const NULLMAILER_ENVELOPE_READ_CAP = 1024 * 1024;
const FIRST_READ = 16 * 1024;

/** The directories to walk for a spool: <spool>/queue and <spool>/failed, or the one queue directory
 *  itself when --spool names it (/var/spool/nullmailer/queue). */
export function nullmailerQueueDirs(spool: string): { queue: string; dir: string }[] {
  const root = spool.replace(/(.)\/+$/, '$1');
  const base = path.basename(root);
  if ((base === 'queue' || base === 'failed') && !isDirectory(`${root}/queue`)) return [{ queue: base, dir: root }];
  return NULLMAILER_QUEUES.map((queue) => ({ queue, dir: `${root}/${queue}` }));
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function* walkQueueDir(dir: string, queue: string, ctx: SpoolScanContext): Generator<QueueEntry, boolean> {
  let handle: fs.Dir;
  try {
    handle = fs.opendirSync(dir, { bufferSize: 1024 });
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false; // git drops empty dirs; a fresh spool may lack failed/
    throw spoolError(err, dir, 'nullmailer queue directory');
  }
  for (const d of spoolDirEntries(handle, dir, 'nullmailer queue directory', ctx)) {
    const name = d.name;
    // nullmailer-send and mailq skip names starting with '.', and take every other entry.
    if (name.charCodeAt(0) === 46) continue;
    // Regular files only (a FIFO, socket, device or directory is no message); a file system that
    // does not report types (DT_UNKNOWN) yields the entry and readMessage's fstat decides.
    if (d.isFile() || !(d.isDirectory() || d.isFIFO() || d.isSymbolicLink() || d.isSocket() || d.isCharacterDevice() || d.isBlockDevice()))
      yield { id: name, queue, path: `${dir}/${name}`, dir };
  }
  return true;
}

/** Stream the messages of one nullmailer spool: queue/ then failed/. */
export function* listNullmailerEntries(spool: string, ctx: SpoolScanContext): Generator<QueueEntry> {
  let found = 0;
  for (const { queue, dir } of nullmailerQueueDirs(spool)) {
    if (ctx.signal.aborted) return;
    if (yield* walkQueueDir(dir, queue, ctx)) found++;
  }
  if (found > 0 || ctx.signal.aborted) return;
  let st: fs.Stats;
  try {
    st = fs.statSync(spool);
  } catch (err) {
    throw spoolError(err, spool, 'nullmailer spool');
  }
  if (!st.isDirectory()) throw spoolError({ code: 'ENOTDIR' }, spool, 'nullmailer spool');
  // The spool is there but holds neither queue/ nor failed/: a wrong --spool, not an empty queue.
  throw Object.assign(new Error(`no nullmailer queue directories (queue, failed) in ${spool}`), { code: 'ENOENT', path: spool });
}

let scratch = Buffer.allocUnsafe(FIRST_READ);

/**
 * readMessage: the envelope from the start of the file, read in growing pieces until its blank line
 * (plus nullmailer-queue's Received line) is in, never more than `cap` bytes: the body is not read.
 * null = gone (ENOENT) or not a regular file (a FIFO or symlink in its place). `cap` is for tests.
 */
export function readNullmailerMessage(entry: QueueEntry, cap: number = NULLMAILER_ENVELOPE_READ_CAP): QueuedMessage | null {
  let fd: number;
  try {
    fd = fs.openSync(entry.path, OPEN_QUEUE_FILE);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENXIO') return null;
    if (code === 'EACCES' || code === 'EPERM') throw err;
    return { id: entry.id, queue: entry.queue, recipients: [], flags: ['unreadable'] };
  }
  let st: fs.Stats;
  let end = 0;
  try {
    st = fs.fstatSync(fd);
    if (!st.isFile()) return null;
    const limit = Math.min(cap, st.size);
    let envEnd = -1;
    while (end < limit) {
      const want = Math.min(limit, Math.max(FIRST_READ, end * 4));
      if (want > scratch.length) {
        const bigger = Buffer.allocUnsafe(want);
        scratch.copy(bigger, 0, 0, end);
        scratch = bigger;
      }
      const n = fs.readSync(fd, scratch, end, want - end, end);
      if (n === 0) break; // shrank under us
      end += n;
      if (envEnd < 0) envEnd = nullmailerEnvelopeEnd(scratch, end);
      if (envEnd >= 0 && end >= Math.min(limit, envEnd + NULLMAILER_RECEIVED_MAX)) break;
    }
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EACCES' || code === 'EPERM') throw err;
    return { id: entry.id, queue: entry.queue, recipients: [], flags: ['unreadable'] };
  } finally {
    fs.closeSync(fd);
  }
  const whole = end >= st.size;
  const env = parseNullmailerQueueFile(scratch, end, whole);
  const flags: string[] = [];
  if (env.malformed) flags.push('unreadable');
  else if (!env.envelopeComplete) flags.push('truncated');
  const msg: QueuedMessage = {
    id: entry.id,
    queue: entry.queue,
    // mailq's time (the name), else nullmailer-queue's Received line, else the mtime nullmailer-send
    // judges queuelifetime by.
    arrival: nullmailerNameEpoch(entry.id) ?? env.queuedAt ?? Math.floor(st.mtimeMs / 1000),
    sender: env.sender,
    recipients: env.recipients,
    // What nullmailer-send hands to the relay: the file without its envelope.
    size: env.envelopeBytes === undefined ? st.size : st.size - env.envelopeBytes,
  };
  if (env.submitterUid !== undefined) msg.client = `local uid=${env.submitterUid}`;
  if (flags.length) msg.flags = flags;
  return msg;
}


export const nullmailer: MtaDriver = {
  createListingParser: (cmd, _now, emit) => createNullmailerMailqParser({ label: cmd.label }, emit),
  listingQueues: ['queue'],
  name: 'nullmailer',
  queues: NULLMAILER_QUEUES,
  defaultSpools: NULLMAILER_SPOOLS,
  // Not sendmail/mailq: every MTA ships those names.
  binaries: ['nullmailer-send', 'nullmailer-queue', 'nullmailer-inject'],

  async resolveSpools(explicit?: string[]): Promise<string[]> {
    if (explicit?.length) return [...explicit];
    for (const candidate of NULLMAILER_SPOOLS) if (await pathExists(candidate)) return [candidate];
    return [NULLMAILER_SPOOLS[0]];
  },

  listEntries: listNullmailerEntries,
  readMessage: (entry) => readNullmailerMessage(entry),
  // The name's first part is the time nullmailer-queue wrote the file (and what mailq shows).
  idArrival: (id: string) => nullmailerNameEpoch(id),

  listingCommands(): ListingCommand[] {
    // Debian: /usr/bin/mailq (setuid mail). It lists queue/ only and has no option for another spool.
    return [{ file: 'mailq', alternatives: ['/usr/bin/mailq'], args: [] }];
  },

  parseListing(stdout: string, cmd: ListingCommand): QueuedMessage[] {
    return parseNullmailerMailq(stdout, { label: cmd.label });
  },
};

/** For lib/mta/listing.ts createListingParser: the incremental form of parseListing. */
export const createNullmailerListingParser = (cmd: ListingCommand, emit: (m: QueuedMessage) => void) =>
  createNullmailerMailqParser({ label: cmd.label }, emit);
