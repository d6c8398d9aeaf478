// What a scan knows about each queued message, in columns of typed arrays with every string
// interned once: 500,000 messages of one flood share one sender, one alias and one client, so a
// record is a few numbers. The same columns are what the envelope cache saves between runs.

import type { QueuedMessage } from '../mta/types.js';

/** Flags a record keeps (bit per flag). Others a driver sets are not needed once read. */
export const FLAG_BITS = ['unreadable', 'incomplete', 'frozen', 'expired', 'truncated', 'quarantined', 'lost', 'held'] as const;
const FLAG_BIT: Record<string, number> = Object.fromEntries(FLAG_BITS.map((f, i) => [f, 1 << i]));
export const FLAG_UNREADABLE = FLAG_BIT.unreadable;
export const FLAG_INCOMPLETE = FLAG_BIT.incomplete;

function flagBits(flags: readonly string[] | undefined): number {
  let f = 0;
  for (const name of flags ?? []) f |= FLAG_BIT[name] ?? 0;
  return f;
}

/** Recipients kept per record: a 5,000-recipient mailing is counted whole, its addresses capped. */
export const MAX_STORED_RECIPIENTS = 256;

export class Interner {
  /** Built on the first id() call: a run that only uses cached records never needs it. */
  private index: Map<string, number> | undefined;
  readonly list: string[];
  constructor(list: string[] = []) {
    this.list = list;
  }
  id(s: string): number {
    if (!this.index) {
      this.index = new Map();
      for (let i = 0; i < this.list.length; i++) this.index.set(this.list[i], i);
    }
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** No value: an unknown arrival or size. */
export const NONE = 0xffffffff;

function grown<T extends Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array>(a: T, need: number, exact = false): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(exact ? need : Math.max(need, a.length * 2, 1024));
  b.set(a);
  return b;
}

/** Two 32-bit FNV-1a variants of a queue ID: the cache's key (a collision among 1M IDs: ~1e-7). */
export function idHash(id: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13);
  }
  return [a >>> 0, b >>> 0];
}

/** idHash of a latin1 ID held as bytes buf[from, to), into hi[i] and lo[i] (the listing hashes every
 *  file: no array per call). */
export function idHashBytesInto(buf: Uint8Array, from: number, to: number, hi: Uint32Array, lo: Uint32Array, i: number): void {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ (to - from);
  for (let k = from; k < to; k++) {
    const c = buf[k];
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13);
  }
  hi[i] = a >>> 0;
  lo[i] = b >>> 0;
}

export class EnvelopeStore {
  strings: Interner;
  n = 0;
  keyHi = new Uint32Array(0);
  keyLo = new Uint32Array(0);
  /** Epoch seconds; NONE when unknown (32 bits: until 2106, and half the bytes of a double). */
  arrival = new Uint32Array(0);
  /** Bytes, saturating at 4 GiB - 2; NONE when unknown. */
  size = new Uint32Array(0);
  /** String index; -1 when the sender could not be read. */
  sender = new Int32Array(0);
  /** String index; -1 when none recorded. */
  client = new Int32Array(0);
  /** String index of the queue the file said (Exim's frozen is only known by reading). */
  queue = new Int32Array(0);
  flags = new Uint8Array(0);
  /** Recipients still to deliver (all of them), and where the stored ones start in `rcpts`. */
  rcptCount = new Uint32Array(0);
  rcptStart = new Uint32Array(0);
  rcptStored = new Uint16Array(0);
  rcpts = new Int32Array(0);
  rcptLen = 0;

  constructor(strings: Interner = new Interner()) {
    this.strings = strings;
  }

  /** Drop every record (and its recipients), keeping the strings and their numbers. */
  clearRecords(): void {
    this.n = 0;
    this.rcptLen = 0;
  }

  /** Room for n records in all (exactly: a store of 1,000,000 must not double to 2,000,000). */
  reserve(n: number): void {
    this.keyHi = grown(this.keyHi, n, true);
    this.keyLo = grown(this.keyLo, n, true);
    this.arrival = grown(this.arrival, n, true);
    this.size = grown(this.size, n, true);
    this.sender = grown(this.sender, n, true);
    this.client = grown(this.client, n, true);
    this.queue = grown(this.queue, n, true);
    this.flags = grown(this.flags, n, true);
    this.rcptCount = grown(this.rcptCount, n, true);
    this.rcptStart = grown(this.rcptStart, n, true);
    this.rcptStored = grown(this.rcptStored, n, true);
  }

  /** Append one message; returns its record index. */
  add(m: QueuedMessage, hash: [number, number] = idHash(m.id)): number {
    const i = this.n++;
    if (this.n > this.keyHi.length) this.reserve(Math.max(this.n, this.keyHi.length * 2, 1024));
    this.keyHi[i] = hash[0];
    this.keyLo[i] = hash[1];
    this.write(i, m, true);
    return i;
  }

  /** Whether record i already says what `m` says (compared as strings: no interning, so a re-read
   *  that finds nothing new never builds the string index of a 400,000-string cache). */
  same(i: number, m: QueuedMessage): boolean {
    const list = this.strings.list;
    const str = (k: number) => (k < 0 ? undefined : list[k]);
    const arrival = m.arrival !== undefined && m.arrival >= 0 && m.arrival < NONE ? Math.floor(m.arrival) : NONE;
    const size = m.size !== undefined && m.size >= 0 && Number.isFinite(m.size) ? Math.min(m.size, NONE - 1) : NONE;
    if (this.arrival[i] !== arrival || this.size[i] !== size) return false;
    if (str(this.sender[i]) !== (m.sender === undefined ? undefined : m.sender.toLowerCase())) return false;
    if (str(this.client[i]) !== (m.client ? m.client : undefined) || list[this.queue[i]] !== m.queue) return false;
    if (this.flags[i] !== flagBits(m.flags)) return false;
    const stored = Math.min(m.recipients.length, MAX_STORED_RECIPIENTS);
    if (this.rcptCount[i] !== m.recipients.length || this.rcptStored[i] !== stored) return false;
    const at = this.rcptStart[i];
    for (let k = 0; k < stored; k++) if (list[this.rcpts[at + k]] !== m.recipients[k].toLowerCase()) return false;
    return true;
  }

  /** Overwrite record i with what its file says now (a re-read); true when anything changed. */
  replace(i: number, m: QueuedMessage): boolean {
    if (this.same(i, m)) return false;
    const before = [this.arrival[i], this.size[i], this.sender[i], this.client[i], this.queue[i], this.flags[i], this.rcptCount[i], this.rcptStored[i]];
    const rcptsBefore = this.rcpts.slice(this.rcptStart[i], this.rcptStart[i] + this.rcptStored[i]);
    this.write(i, m, false);
    const after = [this.arrival[i], this.size[i], this.sender[i], this.client[i], this.queue[i], this.flags[i], this.rcptCount[i], this.rcptStored[i]];
    if (before.some((v, k) => v !== after[k])) return true;
    for (let k = 0; k < rcptsBefore.length; k++) if (this.rcpts[this.rcptStart[i] + k] !== rcptsBefore[k]) return true;
    return false;
  }

  private write(i: number, m: QueuedMessage, fresh: boolean): void {
    const storedBefore = fresh ? -1 : this.rcptStored[i];
    this.arrival[i] = m.arrival !== undefined && m.arrival >= 0 && m.arrival < NONE ? Math.floor(m.arrival) : NONE;
    this.size[i] = m.size !== undefined && m.size >= 0 && Number.isFinite(m.size) ? Math.min(m.size, NONE - 1) : NONE;
    this.sender[i] = m.sender === undefined ? -1 : this.strings.id(m.sender === '' ? '' : m.sender.toLowerCase());
    this.client[i] = m.client ? this.strings.id(m.client) : -1;
    this.queue[i] = this.strings.id(m.queue);
    this.flags[i] = flagBits(m.flags);
    const stored = Math.min(m.recipients.length, MAX_STORED_RECIPIENTS);
    this.rcptCount[i] = m.recipients.length;
    this.rcptStored[i] = stored;
    // A re-read with no more recipients than before reuses their place; more go to the end.
    if (stored > storedBefore) {
      this.rcptStart[i] = this.rcptLen;
      this.rcpts = grown(this.rcpts, this.rcptLen + stored);
      this.rcptLen += stored;
    }
    const at = this.rcptStart[i];
    for (let k = 0; k < stored; k++) this.rcpts[at + k] = this.strings.id(m.recipients[k].toLowerCase());
  }
}

/** Columns of records made elsewhere (a reader thread), with their own string numbering. */
export interface RecordBatch {
  arrival: Uint32Array;
  size: Uint32Array;
  sender: Int32Array;
  client: Int32Array;
  queue: Int32Array;
  flags: Uint8Array;
  rcptCount: Uint32Array;
  rcptStored: Uint16Array;
}

/** Append a batch; `strings` maps the batch's string numbers to this store's. Returns the first index. */
export function appendBatch(store: EnvelopeStore, b: RecordBatch, rcpts: Int32Array, strings: Int32Array, keys: (k: number) => [number, number]): number {
  const first = store.n;
  const count = b.arrival.length;
  store.reserve(Math.max(store.keyHi.length, first + count));
  const map = (k: number) => (k < 0 ? -1 : strings[k]);
  let r = 0;
  for (let k = 0; k < count; k++) {
    const i = store.n;
    store.add({ id: '', queue: '', recipients: [] }, keys(k));
    store.arrival[i] = b.arrival[k];
    store.size[i] = b.size[k];
    store.sender[i] = map(b.sender[k]);
    store.client[i] = map(b.client[k]);
    store.queue[i] = map(b.queue[k]);
    store.flags[i] = b.flags[k];
    store.rcptCount[i] = b.rcptCount[k];
    const stored = b.rcptStored[k];
    store.rcptStored[i] = stored;
    store.rcptStart[i] = store.rcptLen;
    store.rcpts = grown(store.rcpts, store.rcptLen + stored);
    for (let x = 0; x < stored; x++) store.rcpts[store.rcptLen++] = map(rcpts[r++]);
  }
  return first;
}

/** Open addressing over the records' key hashes: record index by queue ID, no string per entry. */
export class KeyIndex {
  private readonly mask: number;
  private readonly slots: Int32Array;
  constructor(private readonly store: EnvelopeStore) {
    let cap = 1024;
    while (cap < store.n * 2) cap *= 2;
    this.mask = cap - 1;
    this.slots = new Int32Array(cap).fill(-1);
    for (let i = 0; i < store.n; i++) {
      let s = (store.keyHi[i] ^ Math.imul(store.keyLo[i], 0x9e3779b1)) & this.mask;
      while (this.slots[s] >= 0) s = (s + 1) & this.mask;
      this.slots[s] = i;
    }
  }
  find(hi: number, lo: number): number {
    const st = this.store;
    let s = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.mask;
    for (;;) {
      const i = this.slots[s];
      if (i < 0) return -1;
      if (st.keyHi[i] === hi && st.keyLo[i] === lo) return i;
      s = (s + 1) & this.mask;
    }
  }
}
