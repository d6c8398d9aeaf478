// OpenSMTPD driver (Debian 12: opensmtpd 6.8.0p2). The spool, /var/spool/smtpd (queue_fs.c,
// queue_backend.c, smtpctl.c offline_file):
//
//   queue/<2 hex>/<msgid>/message            the message; the bucket is the msgid's first byte
//   queue/<2 hex>/<msgid>/<evpid>            one envelope per recipient (16 hex, msgid first),
//                                            removed when that recipient is done: a partly delivered
//                                            message keeps only its pending envelopes
//   incoming/<msgid>/                        the same, while an SMTP session commits the message
//   temporary/<msgid>                        message data still being received (no envelope yet)
//   offline/<epoch>.<random>                 submitted while smtpd was down (sendmail argv line + message)
//   purge/                                   directories moved aside for deletion: not mail
//
// One entry per message directory (not per envelope): the message count is a directory listing,
// no file is opened, and the envelopes are read together when the message is. Message IDs are
// random (queue_generate_msgid: arc4random), so they carry no time; offline file names do.
// A pause (`smtpctl pause envelope`, "suspend" in the listing) lives in the scheduler's memory only:
// the spool cannot show it, `smtpctl show queue` can.

import { spoolDirEntries } from './spool-dir.js';
import { spoolError } from './access.js';
import fs from 'node:fs';
import { errorCode } from '../plugin/errors.js';
import { createShowQueueParser, parseShowQueue } from './opensmtpd-listing.js';
import { opensmtpdClient, parseOpensmtpdEnvelope, parseOpensmtpdOffline, type OpensmtpdEnvelope } from './opensmtpd-envelope.js';
import { pathExists, readBounded } from './read.js';
import type { ListingCommand, MtaDriver, QueueEntry, QueuedMessage, ReadWants, SpoolScanContext } from './types.js';

export { createShowQueueParser, parseShowQueue, parseShowQueueLine, type OpensmtpdListedEnvelope } from './opensmtpd-listing.js';
export { opensmtpdAddress, opensmtpdClient, parseOpensmtpdEnvelope, parseOpensmtpdOffline } from './opensmtpd-envelope.js';
export type { OpensmtpdEnvelope, OpensmtpdOfflineRecord } from './opensmtpd-envelope.js';

export const OPENSMTPD_SPOOLS = ['/var/spool/smtpd'] as const;
/** queue: scheduled (waiting or deferred); suspended: every envelope paused (listing only);
 *  incoming/temporary: being received; offline: submitted while smtpd was down. */
export const OPENSMTPD_QUEUES = ['queue', 'suspended', 'incoming', 'temporary', 'offline'] as const;
/** Queues only smtpd's own listing can tell (the spool keeps no pause). */
export const OPENSMTPD_LISTING_ONLY_QUEUES = ['suspended'] as const;

/** An envelope is at most sizeof(struct envelope) (about 10 KB: errorline is LINE_MAX, names 255). */
export const OPENSMTPD_ENVELOPE_READ_CAP = 16 * 1024;
/** The offline file's first line (sendmail's argv) is read up to this. */
export const OPENSMTPD_OFFLINE_READ_CAP = 64 * 1024;
/** Envelopes read per message; beyond it the message is flagged 'truncated' (recipients are the ones read). */
export const OPENSMTPD_MAX_ENVELOPES = 100_000;

const HEX = /^[0-9a-f]+$/;

function isHex(s: string, len: number): boolean {
  return s.length === len && HEX.test(s);
}

/** Open a directory of the spool; undefined when it is not there (a missing queue is an empty one). */
function openDir(dirPath: string, top: boolean): fs.Dir | undefined {
  try {
    return fs.opendirSync(dirPath, { bufferSize: 1024 });
  } catch (err) {
    const c = errorCode(err);
    if (c === 'ENOENT' || (!top && c === 'ENOTDIR')) return undefined;
    throw spoolError(err, dirPath, 'OpenSMTPD queue directory');
  }
}

/** Its entries, streaming; closed at the end or on abort. */
const readDir = (dir: fs.Dir, dirPath: string, ctx: SpoolScanContext) => spoolDirEntries(dir, dirPath, 'OpenSMTPD queue directory', ctx);

/**
 * Stream the messages of one OpenSMTPD spool: a directory per message in queue/ and incoming/, a
 * file per message in temporary/ and offline/. Names smtpd itself would skip (a bucket that is not
 * 2 hex digits, a message directory that is not 8) are skipped; symlinks are not followed.
 */
export function* listOpensmtpdEntries(spool: string, ctx: SpoolScanContext): Generator<QueueEntry> {
  const root = spool.replace(/\/+$/, '') || '/';
  let found = 0;

  const queueDir = `${root}/queue`;
  const q = openDir(queueDir, true);
  if (q) {
    found++;
    // The buckets first (at most 256 names), so that no two directory handles stay open.
    const buckets: string[] = [];
    for (const d of readDir(q, queueDir, ctx)) if (d.isDirectory() && isHex(d.name, 2)) buckets.push(d.name);
    for (const b of buckets) {
      if (ctx.signal.aborted) return;
      const bucketDir = `${queueDir}/${b}`;
      const bd = openDir(bucketDir, false);
      if (!bd) continue; // emptied and removed since
      for (const d of readDir(bd, bucketDir, ctx)) {
        if (d.isDirectory() && isHex(d.name, 8)) yield { id: d.name, queue: 'queue', path: `${bucketDir}/${d.name}`, dir: bucketDir };
      }
    }
  }

  for (const queue of ['incoming', 'temporary', 'offline'] as const) {
    if (ctx.signal.aborted) return;
    const dirPath = `${root}/${queue}`;
    const h = openDir(dirPath, true);
    if (!h) continue;
    found++;
    for (const d of readDir(h, dirPath, ctx)) {
      const name = d.name;
      const ok =
        queue === 'incoming'
          ? d.isDirectory() && isHex(name, 8)
          : queue === 'temporary'
            ? d.isFile() && isHex(name, 8)
            : d.isFile(); // smtpd's offline_scan takes every regular file at depth 1
      if (ok) yield { id: name, queue, path: `${dirPath}/${name}`, dir: dirPath };
    }
  }

  if (found > 0 || ctx.signal.aborted) return;
  let st: fs.Stats;
  try {
    st = fs.statSync(spool);
  } catch (err) {
    throw spoolError(err, spool, 'OpenSMTPD spool');
  }
  if (!st.isDirectory()) throw spoolError({ code: 'ENOTDIR' }, spool, 'OpenSMTPD spool');
  throw Object.assign(new Error(`no OpenSMTPD queue directories (queue, incoming, temporary, offline) in ${spool}`), { code: 'ENOENT', path: spool });
}

function lstatSize(p: string): number | undefined {
  try {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    return st?.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Read a message directory (queue/ or incoming/): every envelope file in it, each read up to
 * `cap` bytes, and the size of `message`. null when the directory is gone (delivered or expired
 * since the walk). Flags: 'unreadable' (an envelope smtpd could not load either: damaged, unknown
 * version, compressed or encrypted queue), 'truncated' (an envelope or the envelope count over its
 * cap), 'incomplete' (no envelope, or no message file: a message being committed or removed),
 * 'bouncing' (a bounce is due for one of its recipients), 'bounce' (EF_BOUNCE in the envelope: not set
 * on the DSN 6.8.0p2 queued in the capture, which is known by its null sender like any bounce).
 */
export function readOpensmtpdMessageDir(
  entry: QueueEntry,
  sizes = true,
  cap: number = OPENSMTPD_ENVELOPE_READ_CAP,
  maxEnvelopes: number = OPENSMTPD_MAX_ENVELOPES,
): QueuedMessage | null {
  let dir: fs.Dir;
  try {
    dir = fs.opendirSync(entry.path, { bufferSize: 256 });
  } catch (err) {
    const c = errorCode(err);
    if (c === 'ENOENT' || c === 'ENOTDIR') return null;
    if (c === 'EACCES' || c === 'EPERM') throw err;
    return { id: entry.id, queue: entry.queue, recipients: [], flags: ['unreadable'] };
  }
  const names: string[] = [];
  let hasMessage = false;
  let tooMany = false;
  try {
    for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
      if (!d.isFile()) continue;
      if (d.name === 'message') hasMessage = true;
      else if (d.name.length === 16 && d.name.startsWith(entry.id) && HEX.test(d.name)) {
        if (names.length < maxEnvelopes) names.push(d.name);
        else tooMany = true;
      }
    }
  } catch (err) {
    const c = errorCode(err);
    if (c === 'EACCES' || c === 'EPERM') throw err;
    if (c !== 'ENOENT') return { id: entry.id, queue: entry.queue, recipients: [], flags: ['unreadable'] };
  } finally {
    try {
      dir.closeSync();
    } catch {
      /* already closed */
    }
  }
  names.sort(); // readdir order is the file system's; the listing's order is the evpid's

  const flags = new Set<string>();
  const recipients: string[] = [];
  let first: OpensmtpdEnvelope | undefined;
  let arrival: number | undefined;
  let reason: string | undefined;
  let vanished = 0;
  for (const name of names) {
    const r = readBounded(`${entry.path}/${name}`, cap);
    if (r === null) {
      vanished++; // that recipient was delivered (or bounced) since the directory was read
      continue;
    }
    if ('error' in r) {
      flags.add('unreadable');
      continue;
    }
    const e = parseOpensmtpdEnvelope(r.buf, r.end, !r.truncated);
    if (r.truncated || e.cut) flags.add('truncated');
    if (e.format !== 'ascii') {
      flags.add('unreadable').add(e.format === 'gzip' ? 'compressed' : 'encrypted');
      continue;
    }
    if (e.malformed || e.unknownVersion) flags.add('unreadable');
    if (e.unknownVersion) flags.add('unknown-version');
    first ??= e;
    const rcpt = e.dest || e.rcpt;
    if (rcpt !== undefined) recipients.push(rcpt);
    if (e.ctime !== undefined && (arrival === undefined || e.ctime < arrival)) arrival = e.ctime;
    if (reason === undefined && e.errorline) reason = e.errorline;
    if (e.type === 'bounce') flags.add('bouncing');
    if (e.flags.includes('bounce')) flags.add('bounce');
  }
  if (tooMany) flags.add('truncated');
  if (names.length > 0 && vanished === names.length && !fs.existsSync(entry.path)) return null; // done meanwhile
  if (names.length - vanished === 0 || !hasMessage) flags.add('incomplete');

  const msg: QueuedMessage = { id: entry.id, queue: entry.queue, recipients };
  // The sender is the same in every envelope of a message (one MAIL FROM).
  if (first?.sender !== undefined) msg.sender = first.sender;
  if (arrival !== undefined) msg.arrival = arrival;
  const client = first ? opensmtpdClient(first) : undefined;
  if (client !== undefined) msg.client = client;
  if (sizes && hasMessage) {
    const size = lstatSize(`${entry.path}/message`);
    if (size !== undefined) msg.size = size;
  }
  if (reason !== undefined) msg.reason = reason;
  if (flags.size) msg.flags = [...flags];
  return msg;
}

/** Arrival from an offline file's name, `<epoch>.<mkstemp suffix>` (smtpctl.c offline_file). */
export function opensmtpdOfflineArrival(name: string): number | undefined {
  const m = /^(\d{1,12})\.[^.]+$/.exec(name);
  return m ? Number.parseInt(m[1], 10) : undefined;
}

/** An offline file: sender and recipients from its first line, arrival from its name. */
export function readOpensmtpdOffline(entry: QueueEntry, sizes = true, cap: number = OPENSMTPD_OFFLINE_READ_CAP): QueuedMessage | null {
  const msg: QueuedMessage = { id: entry.id, queue: entry.queue, recipients: [] };
  const arrival = opensmtpdOfflineArrival(entry.id);
  if (arrival !== undefined) msg.arrival = arrival;
  let r: ReturnType<typeof readBounded>;
  try {
    r = readBounded(entry.path, cap);
  } catch (err) {
    // Offline files are 0600 and owned by whoever submitted them: a check running as opensmtpq
    // can list offline/ (0770 root:opensmtpq) but read none of them. Counted and dated, not read.
    const c = errorCode(err);
    if (c !== 'EACCES' && c !== 'EPERM') throw err;
    msg.flags = ['unreadable'];
    return msg;
  }
  if (r === null) return null;
  if ('error' in r) {
    msg.flags = ['unreadable'];
    return msg;
  }
  // smtpd deletes empty offline files instead of enqueueing them.
  if (r.end === 0) {
    msg.flags = ['incomplete'];
    return msg;
  }
  const rec = parseOpensmtpdOffline(r.buf, r.end);
  if (rec.sender !== undefined) msg.sender = rec.sender;
  msg.recipients = rec.recipients;
  const flags: string[] = [];
  if (!rec.complete) flags.push('truncated');
  if (rec.fromHeaders) flags.push('recipients-in-headers');
  if (flags.length) msg.flags = flags;
  if (sizes && rec.complete) {
    const size = lstatSize(entry.path);
    const nl = r.buf.indexOf(10);
    if (size !== undefined && nl >= 0) msg.size = size - (nl + 1);
  }
  return msg;
}

/** A temporary/ file: message data of a session still in DATA. Only its size and age are known. */
function readOpensmtpdTemporary(entry: QueueEntry, sizes: boolean): QueuedMessage | null {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(entry.path, { throwIfNoEntry: false });
  } catch (err) {
    const c = errorCode(err);
    if (c === 'EACCES' || c === 'EPERM') throw err;
    return { id: entry.id, queue: entry.queue, recipients: [], flags: ['unreadable'] };
  }
  if (!st?.isFile()) return null;
  const msg: QueuedMessage = { id: entry.id, queue: entry.queue, recipients: [], arrival: Math.floor(st.mtimeMs / 1000), flags: ['incomplete'] };
  if (sizes) msg.size = st.size;
  return msg;
}

export function readOpensmtpdMessage(entry: QueueEntry, want?: ReadWants): QueuedMessage | null {
  const sizes = want?.sizes !== false;
  if (entry.queue === 'offline') return readOpensmtpdOffline(entry, sizes);
  if (entry.queue === 'temporary') return readOpensmtpdTemporary(entry, sizes);
  return readOpensmtpdMessageDir(entry, sizes);
}

export const opensmtpd: MtaDriver = {
  // Pauses live in the scheduler's memory only; offline/ and in-flight files appear in no listing.
  spoolQueues: OPENSMTPD_QUEUES.filter((q) => q !== 'suspended'),
  listingQueues: ['queue', 'suspended'],
  createListingParser: (cmd, _now, emit) => createOpensmtpdListingParser(cmd, emit),
  name: 'opensmtpd',
  queues: OPENSMTPD_QUEUES,
  defaultSpools: OPENSMTPD_SPOOLS,
  binaries: ['smtpctl', 'smtpd'],
  // The size is a stat of `message`, beside the envelopes the reader opens anyway.
  sizeNeedsStat: false,

  async resolveSpools(explicit?: string[]): Promise<string[]> {
    if (explicit?.length) return [...explicit];
    // The spool is compiled in (--with-path-queue); Debian's is /var/spool/smtpd, smtpd.conf cannot move it.
    for (const candidate of OPENSMTPD_SPOOLS) if (await pathExists(candidate)) return [candidate];
    return [OPENSMTPD_SPOOLS[0]];
  },

  listEntries: listOpensmtpdEntries,
  readMessage: readOpensmtpdMessage,
  idArrival: (id: string) => opensmtpdOfflineArrival(id),

  // Needs root: the control socket refuses the listing to other users, and with smtpd down
  // smtpctl chroots into the spool to read it. offline/ messages are not listed.
  listingCommands: (): ListingCommand[] => [{ file: 'smtpctl', args: ['show', 'queue'] }],
  parseListing: (stdout: string, cmd: ListingCommand) => parseShowQueue(stdout, { label: cmd.label }),
};

/** The incremental listing parser (lib/mta/listing.ts createListingParser needs a case for it). */
export const createOpensmtpdListingParser = (cmd: ListingCommand, emit: (m: QueuedMessage) => void) =>
  createShowQueueParser({ label: cmd.label }, emit);
