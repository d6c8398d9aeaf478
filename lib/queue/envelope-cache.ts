// The envelope cache: what earlier runs read from each queue file, so a check run every minute
// on a 500,000-message queue reads only the files it has not seen. One binary file per MTA and
// spool set under the state dir, next to its lock:
//   mailq_envelopes-postfix-var_spool_postfix-3f9a1c2b7e4d.cache
// Layout: "MQENVC01", u32 header length, header JSON {version, n, strings, rcptLen, run, ...},
// u32 length + JSON array of the interned strings, then the store's columns as raw little-endian
// arrays (8-byte aligned), then u32 CRC-32 of everything before it. A record is ~35 bytes plus 4 per
// recipient kept: ~40 MB at 1,000,000 single-recipient messages.
// Trust: a file that fails any check (magic, version, lengths, CRC, an index out of bounds) is
// ignored and rebuilt, never half-used. Writes are atomic (temp, fsync, rename) under the lock.

import path from 'node:path';
import zlib from 'node:zlib';
import { errorCode } from '../plugin/errors.js';
import { LockBusy, type HeldLock } from '../plugin/lock.js';
import { lockStateDir, readRegularFile, removeLeftovers, stateBaseName, stateKey, writeAtomic } from '../plugin/state.js';
import { EnvelopeStore, Interner } from './store.js';

export const CACHE_MAGIC = 'MQENVC01';
// 3: names decoded as UTF-8 (latin1 fallback); older caches held latin1 mojibake.
export const CACHE_VERSION = 3;
export const CACHE_CHECK_ID = 'mailq_envelopes';

export interface CacheHeader {
  version: number;
  what: Record<string, unknown>;
  n: number;
  strings: number;
  rcptLen: number;
  /** Runs so far: chooses which slice of the cached records is re-read this run. */
  run: number;
  saved: number;
}

type Column = 'keyHi' | 'keyLo' | 'arrival' | 'size' | 'sender' | 'client' | 'queue' | 'flags' | 'rcptCount' | 'rcptStart' | 'rcptStored';

const crc32: ((b: Uint8Array, value?: number) => number) | undefined = (zlib as unknown as { crc32?: (b: Uint8Array, value?: number) => number }).crc32;

function pad8(n: number): number {
  return (n + 7) & ~7;
}

type Ctor = { new (b: ArrayBuffer, offset: number, n: number): ArrayLike<number> & { [i: number]: number }; BYTES_PER_ELEMENT: number };
const LAYOUT: [Column | 'rcpts', Ctor][] = [
  ['keyHi', Uint32Array],
  ['keyLo', Uint32Array],
  ['arrival', Uint32Array],
  ['size', Uint32Array],
  ['sender', Int32Array],
  ['client', Int32Array],
  ['queue', Int32Array],
  ['flags', Uint8Array],
  ['rcptCount', Uint32Array],
  ['rcptStart', Uint32Array],
  ['rcptStored', Uint16Array],
  ['rcpts', Int32Array],
];

/**
 * The bytes of a store, records `keep` only (in that order), strings compacted to those used, as
 * parts written one after the other (one column at a time: at 1,000,000 records the whole file in
 * memory at once would be 50 MB more of peak memory). The last part is the CRC-32 of the others.
 */
export function* encodeCacheParts(
  store: EnvelopeStore,
  keep: Int32Array | number[],
  header: Omit<CacheHeader, 'n' | 'strings' | 'rcptLen' | 'version'>,
): Generator<Buffer> {
  const n = keep.length;
  const remap = new Int32Array(store.strings.list.length).fill(-1);
  const strings: string[] = [];
  const str = (k: number) => {
    if (k < 0) return -1;
    let r = remap[k];
    if (r < 0) {
      r = remap[k] = strings.length;
      strings.push(store.strings.list[k]);
    }
    return r;
  };
  let rcptLen = 0;
  for (let x = 0; x < n; x++) rcptLen += store.rcptStored[keep[x]];
  // String numbers first: the strings section comes before the columns that use them.
  const senders = new Int32Array(n);
  const clients = new Int32Array(n);
  const queues = new Int32Array(n);
  const rcpts = new Int32Array(rcptLen);
  let r = 0;
  for (let x = 0; x < n; x++) {
    const j = keep[x];
    senders[x] = str(store.sender[j]);
    clients[x] = str(store.client[j]);
    queues[x] = str(store.queue[j]);
    const from = store.rcptStart[j];
    for (let k = 0; k < store.rcptStored[j]; k++) rcpts[r++] = str(store.rcpts[from + k]);
  }
  let crc = 0;
  const part = (b: Buffer): Buffer => {
    const padded = b.length % 8 ? Buffer.concat([b, Buffer.alloc(pad8(b.length) - b.length)]) : b;
    if (crc32) crc = crc32(padded, crc);
    return padded;
  };
  const head = Buffer.from(JSON.stringify({ ...header, version: CACHE_VERSION, n, strings: strings.length, rcptLen } satisfies CacheHeader));
  const first = Buffer.alloc(12 + head.length);
  first.write(CACHE_MAGIC, 0, 'latin1');
  first.writeUInt32LE(head.length, 8);
  head.copy(first, 12);
  yield part(first);
  const strs = Buffer.from(JSON.stringify(strings));
  const lenBuf = Buffer.alloc(4);
  lenBuf.writeUInt32LE(strs.length);
  yield part(Buffer.concat([lenBuf, strs]));
  const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  let rStart = 0;
  for (const [name, C] of LAYOUT) {
    if (name === 'rcpts') yield part(bytesOf(rcpts));
    else if (name === 'sender') yield part(bytesOf(senders));
    else if (name === 'client') yield part(bytesOf(clients));
    else if (name === 'queue') yield part(bytesOf(queues));
    else {
      const view = new C(new ArrayBuffer(n * C.BYTES_PER_ELEMENT), 0, n);
      if (name === 'rcptStart')
        for (let x = 0; x < n; x++) {
          view[x] = rStart;
          rStart += store.rcptStored[keep[x]];
        }
      else {
        const col = store[name];
        for (let x = 0; x < n; x++) view[x] = col[keep[x]];
      }
      yield part(bytesOf(view as unknown as ArrayBufferView));
    }
  }
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(crc >>> 0);
  yield tail;
}

/** The whole cache file as one buffer (tests, small stores). */
export function encodeCache(store: EnvelopeStore, keep: Int32Array | number[], header: Omit<CacheHeader, 'n' | 'strings' | 'rcptLen' | 'version'>): Buffer {
  return Buffer.concat([...encodeCacheParts(store, keep, header)]);
}

export class CacheDamaged extends Error {}

/** Parse cache bytes into a store; throws CacheDamaged on anything that does not check out. */
export function decodeCache(buf: Buffer, what: Record<string, unknown>): { store: EnvelopeStore; header: CacheHeader } {
  const bad = (why: string) => new CacheDamaged(why);
  if (buf.length < 24 || buf.toString('latin1', 0, 8) !== CACHE_MAGIC) throw bad('not an envelope cache');
  const body = buf.subarray(0, buf.length - 4);
  if (crc32 && crc32(body) !== buf.readUInt32LE(buf.length - 4)) throw bad('checksum mismatch');
  let off = 8;
  const hlen = buf.readUInt32LE(off);
  off += 4;
  if (off + hlen > body.length) throw bad('truncated header');
  let header: CacheHeader;
  try {
    header = JSON.parse(buf.toString('utf8', off, off + hlen)) as CacheHeader;
  } catch {
    throw bad('unreadable header');
  }
  if (header.version !== CACHE_VERSION) throw bad(`version ${String(header.version)}`);
  if (JSON.stringify(header.what) !== JSON.stringify(what)) throw bad('made for another spool');
  const { n, strings: nStrings, rcptLen } = header;
  for (const v of [n, nStrings, rcptLen, header.run]) if (!Number.isInteger(v) || v < 0) throw bad('bad counts');
  off = pad8(off + hlen);
  if (off + 4 > body.length) throw bad('truncated');
  const slen = buf.readUInt32LE(off);
  off += 4;
  if (off + slen > body.length) throw bad('truncated strings');
  let list: unknown;
  try {
    list = JSON.parse(buf.toString('utf8', off, off + slen));
  } catch {
    throw bad('unreadable strings');
  }
  if (!Array.isArray(list) || list.length !== nStrings || !list.every((x) => typeof x === 'string')) throw bad('bad strings');
  off = pad8(off + slen);
  const store = new EnvelopeStore(new Interner(list as string[]));
  const take = <T>(Ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }, count: number): T => {
    const bytes = count * Ctor.BYTES_PER_ELEMENT;
    if (off + bytes > body.length) throw bad('truncated columns');
    const at = buf.byteOffset + off;
    off = pad8(off + bytes);
    // A view on the file's own bytes where aligned (readFile's buffer is), else a copy.
    if (at % 8 === 0) return new Ctor(buf.buffer as ArrayBuffer, at, count);
    const copy = new ArrayBuffer(bytes);
    new Uint8Array(copy).set(buf.subarray(at - buf.byteOffset, at - buf.byteOffset + bytes));
    return new Ctor(copy, 0, count);
  };
  store.keyHi = take(Uint32Array, n);
  store.keyLo = take(Uint32Array, n);
  store.arrival = take(Uint32Array, n);
  store.size = take(Uint32Array, n);
  store.sender = take(Int32Array, n);
  store.client = take(Int32Array, n);
  store.queue = take(Int32Array, n);
  store.flags = take(Uint8Array, n);
  store.rcptCount = take(Uint32Array, n);
  store.rcptStart = take(Uint32Array, n);
  store.rcptStored = take(Uint16Array, n);
  store.rcpts = take(Int32Array, rcptLen);
  if (off !== body.length) throw bad('trailing bytes');
  store.n = n;
  store.rcptLen = rcptLen;
  for (let i = 0; i < n; i++) {
    if (store.sender[i] < -1 || store.sender[i] >= nStrings) throw bad('sender out of range');
    if (store.client[i] < -1 || store.client[i] >= nStrings) throw bad('client out of range');
    if (store.queue[i] < 0 || store.queue[i] >= nStrings) throw bad('queue out of range');
    if (store.rcptStart[i] + store.rcptStored[i] > rcptLen || store.rcptStored[i] > store.rcptCount[i]) throw bad('recipients out of range');
  }
  for (let k = 0; k < rcptLen; k++) if (store.rcpts[k] < 0 || store.rcpts[k] >= nStrings) throw bad('recipient out of range');
  return { store, header };
}

export interface OpenCache {
  file: string;
  /** Records from earlier runs (empty on the first run or after damage). */
  store: EnvelopeStore;
  run: number;
  notes: string[];
  /** Save the records `keep` of `store` (atomic). Never throws: a failure becomes a note. */
  save(store: EnvelopeStore, keep: Int32Array | number[], now: number): Promise<void>;
  release(): Promise<void>;
}

/**
 * Lock and load the cache for one MTA and spool set. undefined (with a note) when it cannot be
 * used this run: no writable state dir, or another run holds the lock (this run then reads without
 * it rather than wait: a scheduler must never see runs stack up).
 */
export async function openCache(o: {
  mta: string;
  spools: string[];
  dir?: string;
  env: NodeJS.ProcessEnv;
  now: () => number;
  deadline: number;
  defaultDir?: string;
}): Promise<{ cache?: OpenCache; notes: string[] }> {
  const what = { mta: o.mta, spools: o.spools.map((s) => path.resolve(s)) };
  const base = stateBaseName(CACHE_CHECK_ID, [o.mta, ...what.spools], stateKey(CACHE_CHECK_ID, what));
  let lock: HeldLock | undefined;
  let dir: string | undefined;
  const notes: string[] = [];
  try {
    const picked = await lockStateDir(base, o);
    notes.push(...picked.notes);
    lock = picked.lock;
    dir = picked.dir ?? picked.readOnlyDir;
    if (!dir) return { notes: [...notes, `envelope cache not used: no writable state dir (${picked.failures.join(', ')})`] };
    if (!lock) notes.push(`envelope cache not saved this run: ${picked.failures.join(', ')}`);
  } catch (err) {
    // Another run holds the lock (the alert and the metrics variant of a check started together):
    // read what it saved last, just do not write. Never wait for it.
    if (!(err instanceof LockBusy)) return { notes: [`envelope cache not used this run: ${(err as Error).message}`] };
    dir = path.dirname(err.lockPath);
    notes.push(`envelope cache read but not saved: another run holds it (${err.message})`);
  }
  const file = path.join(dir, `${base}.cache`);
  let store = new EnvelopeStore();
  let run = 0;
  try {
    // Never a FIFO, device or symlink put in the cache's place: it would block a pool thread (and exit).
    const buf = await readRegularFile(file);
    const d = decodeCache(buf, what);
    store = d.store;
    run = d.header.run + 1;
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') {
      const why = err instanceof CacheDamaged ? err.message : (errorCode(err) ?? (err as Error).message);
      notes.push(`envelope cache ${path.basename(file)} was not usable (${why}): rebuilt from the spool`);
    }
  }
  const held = lock;
  if (held) await removeLeftovers(file);
  return {
    notes,
    cache: {
      file,
      store,
      run,
      notes,
      async save(s, keep, now) {
        if (!held) return;
        try {
          if (!(await held.stillHeld())) {
            notes.push('envelope cache lock was taken over by a later run: not saved');
            return;
          }
          await writeAtomic(file, encodeCacheParts(s, keep, { what, run, saved: Math.floor(now / 1000) }));
        } catch (err) {
          notes.push(`could not save the envelope cache ${file} (${errorCode(err) ?? (err as Error).message})`);
        }
      },
      release: async () => held?.release(),
    },
  };
}
