// Postfix queue files, read record by record (pure: the bytes come from a RecordSource).
//
// A record is a type byte, the payload length in 7-bit groups (low group first, high bit set
// on every byte but the last), then the payload. A file written by cleanup(8) reads:
//
//   C "            313             281              1              0            313              0"
//       content size (M..X), content offset, recipient count, qmgr flags, content length, smtputf8
//   T "1763895300 412345"          arrival: seconds, microseconds (mtime is the next retry, not this)
//   A "log_message_origin=localhost[127.0.0.1]"   named attributes
//   S "alice@lab.example"          sender; "" is the null sender that mailq shows as MAILER-DAEMON
//   R "bob@victim.example"         still to deliver; becomes D when delivered, / when cancelled
//   p "              0"            pointer: 0 is a placeholder, otherwise "continue at this offset"
//   M ""                           the content follows ...
//   N "Subject: hi" / L ...        ... one record per line: skipped whole, C says where it ends
//   X ""                           extracted segment: recipients from headers (sendmail -t) ...
//   E ""                           end of the message (records after it are reached only via p)
//
// A maildrop file (postdrop) has no final C record (at most one with -1 fields), starts with T,
// and keeps the submitter's order: S, R..., M, content, X, R... (sendmail -t), E.

// Text (sender, recipients, origin) is decoded as UTF-8 when valid, else latin1: lib/plugin/text.ts.
import { decodeBytes } from '../plugin/text.js';

/** Where the parser gets bytes: a whole Buffer (tests) or a window over an open file (the driver). */
export interface RecordSource {
  /** Total size of the file in bytes. */
  readonly size: number;
  /** Buffer holding the current window. */
  buf: Buffer;
  /** File offset of buf[0]. */
  base: number;
  /** Number of valid bytes in buf. */
  len: number;
  /** Make bytes [pos, pos + n) addressable in buf (a real file may deliver fewer at its end). */
  load(pos: number, n: number): void;
}

export function bufferSource(buf: Buffer): RecordSource {
  return { size: buf.length, buf, base: 0, len: buf.length, load() {} };
}

/** The C record: fixed-width numbers that cleanup(8) rewrites in place when the file is final. */
export interface SizeRecord {
  /** Bytes from the first content record to the X record (what mailq prints as Size). */
  dataSize: number;
  /** File offset of the first content record, just after the M record. */
  dataOffset: number;
  /** Recipients when the file was written (an upper bound once some are delivered). */
  rcptCount: number;
  qmgrFlags: number;
  /** Length of the message content itself (Postfix >= 2.4; 0 before). */
  contentLength: number;
  /** SMTPUTF8 flags (Postfix >= 3.0). */
  sendopts: number;
}

export interface QueueFileInfo {
  /** T record, epoch seconds. */
  arrival?: number;
  /** S record; '' is the null sender. */
  sender?: string;
  /** R records: recipients still to deliver, in file order. */
  recipients: string[];
  /** D and / records: recipients already delivered or cancelled. */
  done: number;
  /** Who handed the message over: log_message_origin ("name[addr]") or client_address attribute. */
  client?: string;
  /** The first C record, when its fields are numbers (maildrop and unfinished files carry -1 or 0). */
  sizeRecord?: SizeRecord;
  /** mailq's Size: the C record's content size when it is usable, else the file size. */
  size: number;
  /** The E record was reached. */
  complete: boolean;
  /** Why reading stopped before the E record. */
  error?: string;
}

const code = (c: string) => c.charCodeAt(0);
const REC_SIZE = code('C');
const REC_TIME = code('T');
const REC_FROM = code('S');
const REC_RCPT = code('R');
const REC_DONE = code('D');
const REC_DRCP = code('/');
const REC_ATTR = code('A');
const REC_PTR = code('p');
const REC_MESG = code('M');
const REC_XTRA = code('X');
const REC_END = code('E');

function typeTable(types: string): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < types.length; i++) t[types.charCodeAt(i)] = 1;
  return t;
}
// Every record type rec_type.h defines; anything else means the file is not (or no longer) a queue file.
const KNOWN = typeTable('CTcFILSDRO/WAK>fdMLNwXrePpV<ionmE');
// What may follow X in a file without a usable C record (REC_TYPE_EXTRACT).
const EXTRACTED = typeTable('EDRO/PreAFIL>Kon');

/** Records we decode are envelope fields, never this long; a longer one is garbage. */
const MAX_FIELD = 1 << 20;
/** Postfix gives up after this many backward pointer jumps (a loop); so do we. */
const MAX_REVERSE_JUMPS = 10000;
/** Tail sizes tried, in turn, to find the extracted segment of a file without a C record. */
const TAIL_STEPS = [8192, 65536, 1 << 20];

// The last record header read by readHeader (module state: no object per record).
let hType = 0;
let hPayload = 0;
let hLen = 0;

const HDR_OK = 0;
const HDR_EOF = 1; // no byte left at pos
const HDR_TRUNCATED = 2; // the length runs past the end of the file
const HDR_BAD_LENGTH = 3;

function ensure(src: RecordSource, pos: number, n: number): boolean {
  if (pos < src.base || pos + n > src.base + src.len) src.load(pos, n);
  return pos >= src.base && pos + n <= src.base + src.len;
}

function readHeader(src: RecordSource, pos: number): number {
  const avail = src.size - pos;
  if (avail <= 0) return HDR_EOF;
  // Type byte plus at most 4 length bytes (Postfix refuses lengths that need 32 bits or more).
  const want = avail < 5 ? avail : 5;
  if (!ensure(src, pos, want)) return HDR_TRUNCATED;
  const buf = src.buf;
  let i = pos - src.base;
  hType = buf[i++];
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    if (shift > 21) return HDR_BAD_LENGTH;
    if (i >= pos - src.base + want) return HDR_TRUNCATED;
    const b = buf[i++];
    len += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  hPayload = src.base + i;
  hLen = len;
  return HDR_OK;
}

/** The leading unsigned integer of a payload ("1763895300 412345" -> 1763895300), or -1. */
function leadingInt(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end && buf[i] === 0x20) i++;
  let n = -1;
  for (; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) break;
    n = (n < 0 ? 0 : n * 10) + d;
  }
  return n;
}

/** The space-separated signed integers of a C record; stops at the first thing that is not one. */
function parseSizeRecord(buf: Buffer, start: number, end: number): SizeRecord | undefined {
  const f = [0, 0, 0, 0, 0, 0];
  let count = 0;
  let i = start;
  while (count < 6) {
    while (i < end && buf[i] === 0x20) i++;
    if (i >= end) break;
    let neg = false;
    if (buf[i] === 0x2d) {
      neg = true;
      i++;
    }
    let n = 0;
    let digits = 0;
    for (; i < end; i++) {
      const d = buf[i] - 0x30;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
      digits++;
    }
    if (digits === 0 || (i < end && buf[i] !== 0x20)) return undefined;
    f[count++] = neg ? -n : n;
  }
  if (count < 3) return undefined; // Postfix < 1.0 wrote only the size
  return { dataSize: f[0], dataOffset: f[1], rcptCount: f[2], qmgrFlags: f[3], contentLength: f[4], sendopts: f[5] };
}

function hasPrefix(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[start + i] !== prefix[i]) return false;
  return true;
}
const ATTR_ORIGIN = Buffer.from('log_message_origin=');
const ATTR_CLIENT_ADDR = Buffer.from('client_address=');

/** Does a well-formed run of extracted-segment records start at pos and end with E at the end of file? */
function extractedRunsToEnd(src: RecordSource, pos: number): boolean {
  for (;;) {
    if (readHeader(src, pos) !== HDR_OK || EXTRACTED[hType] === 0) return false;
    const end = hPayload + hLen;
    if (end > src.size) return false;
    if (hType === REC_END) return hLen === 0 && end === src.size;
    pos = end;
  }
}

/**
 * Find the X record of a file whose C record cannot tell where the content ends (maildrop):
 * look for an empty X record in the last bytes that starts a clean run of records up to a
 * final E. Envelope records hold no NUL bytes, so "X\0" inside the extracted segment cannot
 * be anything but that record; the rightmost match wins. Returns -1 when not found.
 */
function findExtracted(src: RecordSource, from: number): number {
  for (const tail of TAIL_STEPS) {
    const start = Math.max(from, src.size - tail);
    if (!ensure(src, start, src.size - start)) return -1;
    for (let pos = src.size - 2; pos >= start; pos--) {
      const i = pos - src.base;
      if (src.buf[i] === REC_XTRA && src.buf[i + 1] === 0 && extractedRunsToEnd(src, pos + 2)) return pos;
    }
    if (start === from) return -1;
  }
  return -1;
}

function describeHeader(status: number, pos: number): string {
  if (status === HDR_EOF) return `no end record (file ends at offset ${pos})`;
  if (status === HDR_BAD_LENGTH) return `malformed record length at offset ${pos}`;
  return `truncated record at offset ${pos}`;
}

export interface ReadOptions {
  /**
   * When the C record does not say where the content ends: look for the extracted segment at
   * the end of the file, else walk the content record by record (true, the default); or stop at
   * the M record (false: a file still being written has no extracted segment yet, and its
   * content may be large).
   */
  walkContent?: boolean;
}

/**
 * Read the envelope of one queue file: arrival, sender, recipients still to deliver, size.
 * Never reads the message content: the C record says where it ends, and without one (maildrop)
 * the X record is looked for at the end of the file. Never throws on bad data: `error` says why
 * it stopped and the fields hold what was read until then.
 */
export function readQueueFile(src: RecordSource, opts: ReadOptions = {}): QueueFileInfo {
  const info: QueueFileInfo = { recipients: [], done: 0, size: src.size, complete: false };
  let pos = 0;
  // Content to skip, from the C record: [skipFrom, skipTo) ends at the X record.
  let skipFrom = -1;
  let skipTo = -1;
  let expectXtra = false;
  let lastJump = 0;
  let reverseJumps = 0;
  let seenSize = false;
  // smtpd(8) writes both; the origin ("name[addr]", as in the log's client=) is the better key.
  let origin: string | undefined;
  let clientAddr: string | undefined;

  loop: for (;;) {
    if (pos === skipFrom) {
      pos = skipTo;
      skipFrom = -1;
      expectXtra = true;
    }
    const status = readHeader(src, pos);
    if (status !== HDR_OK) {
      info.error = describeHeader(status, pos);
      break;
    }
    const type = hType;
    const start = hPayload;
    const end = start + hLen;
    if (expectXtra) {
      expectXtra = false;
      if (type !== REC_XTRA) {
        // The C record lied (edited file?): walk the content record by record instead.
        pos = skipTo - info.sizeRecord!.dataSize;
        continue;
      }
    }
    if (KNOWN[type] === 0) {
      info.error = `unknown record type 0x${type.toString(16).padStart(2, '0')} at offset ${pos}`;
      break;
    }
    if (end > src.size) {
      info.error = `truncated record at offset ${pos}`;
      break;
    }
    // Payload bytes are loaded only for the records we decode.
    const decode =
      type === REC_RCPT || type === REC_FROM || type === REC_TIME || type === REC_ATTR || type === REC_PTR || type === REC_SIZE;
    if (decode) {
      if (hLen > MAX_FIELD) {
        info.error = `oversized '${String.fromCharCode(type)}' record at offset ${pos}`;
        break;
      }
      if (!ensure(src, start, hLen)) {
        info.error = `truncated record at offset ${pos}`;
        break;
      }
    }
    const buf = src.buf;
    const s = start - src.base;
    const e = end - src.base;
    switch (type) {
      case REC_RCPT:
        info.recipients.push(decodeBytes(buf, s, e));
        break;
      case REC_DONE:
      case REC_DRCP:
        info.done++;
        break;
      case REC_FROM:
        if (info.sender === undefined) info.sender = decodeBytes(buf, s, e);
        break;
      case REC_TIME:
        if (info.arrival === undefined) {
          const t = leadingInt(buf, s, e);
          if (t >= 0) info.arrival = t;
        }
        break;
      case REC_ATTR:
        if (origin === undefined && hasPrefix(buf, s, e, ATTR_ORIGIN)) {
          origin = decodeBytes(buf, s + ATTR_ORIGIN.length, e);
        } else if (clientAddr === undefined && hasPrefix(buf, s, e, ATTR_CLIENT_ADDR)) {
          clientAddr = decodeBytes(buf, s + ATTR_CLIENT_ADDR.length, e);
        }
        break;
      case REC_SIZE:
        // Only the first one counts: "postsuper -r" of very old files can leave stale ones.
        if (!seenSize) {
          seenSize = true;
          const c = parseSizeRecord(buf, s, e);
          if (c) {
            info.sizeRecord = c;
            if (c.dataOffset > 0 && c.dataSize > 0 && c.dataOffset + c.dataSize < src.size) {
              skipFrom = c.dataOffset;
              skipTo = c.dataOffset + c.dataSize;
              info.size = c.dataSize;
            }
          }
        }
        break;
      case REC_PTR: {
        const target = leadingInt(buf, s, e);
        if (target > 0) {
          if (target >= src.size) {
            info.error = `pointer to offset ${target} beyond the end of the file`;
            break loop;
          }
          if (target <= lastJump && ++reverseJumps > MAX_REVERSE_JUMPS) {
            info.error = 'pointer loop';
            break loop;
          }
          lastJump = target;
          pos = target;
          continue;
        }
        break;
      }
      case REC_MESG:
        if (skipFrom < 0 || end !== skipFrom) {
          if (opts.walkContent === false) {
            info.error = 'content not read: no usable C record';
            break loop;
          }
          const x = findExtracted(src, end);
          if (x >= 0) {
            skipFrom = -1;
            pos = x;
            continue;
          }
        }
        break;
      case REC_END:
        info.complete = true;
        break loop;
    }
    pos = end;
  }
  const client = origin || clientAddr;
  if (client) info.client = client;
  return info;
}

/** Pure convenience for a whole file in memory. */
export function parseQueueFile(buf: Buffer): QueueFileInfo {
  return readQueueFile(bufferSource(buf));
}
