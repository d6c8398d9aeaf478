// Walk a spool with an MTA driver in two phases, so the deadline never leaves a check with nothing:
//  1. the directory listing (no file opened): exact counts per queue, and arrival times for MTAs
//     whose queue IDs carry them (Sendmail, Exim, Postfix long IDs);
//  2. envelope reads, in uniformly random order, of the files the envelope cache does not know,
//     until done or until the deadline; then a random 1% of the cached ones is re-read (recipients
//     marked done in place). What was not read is estimated from what was: the read files are a
//     uniform random sample of the unread ones.
// Memory is bounded by the listing: an ID string and a few numbers per queued message.

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { SkippedPath } from '../mta/skipped.js';
import type { EntryBatch } from '../mta/batches.js';
import { walkSpools } from './walk.js';
import type { MtaDriver, QueueEntry } from '../mta/types.js';
import { seededRandom, randomSeed, type Random } from './sample.js';
import { MIN_PARALLEL_READS, startReader, type ParallelReader } from './read-worker.js';
import { aggregate, KNOWN_CACHED, KNOWN_FIRST, KNOWN_READ, VANISHED, type ListedMessages } from './aggregate.js';
import { appendBatch, EnvelopeStore, idHashBytesInto, Interner, KeyIndex, NONE } from './store.js';
import { emptySummary, type QueueSummary } from './summary.js';
import { shapeOfRecords, type ShapeBy } from './shape.js';

export interface ScanResult {
  summary: QueueSummary;
  /** Queue files listed (including ones that vanished before they could be read). */
  files: number;
  vanished: number;
  /** Set when the deadline stopped the listing or the reads early. */
  stoppedEarly: boolean;
  /** The directory listing finished: the counts are exact (otherwise they are lower bounds). */
  listingComplete: boolean;
  /** Envelopes known from the cache, read this run, and re-read to refresh the cache. */
  cached: number;
  read: number;
  reread: number;
  /** Listed messages whose envelope is unknown this run (the deadline came first). */
  unread: number;
  /** Of `read`, how many the second reader thread read. */
  readByWorker: number;
  /** Every listed message's arrival is known (file, cache or queue ID): the oldest age is exact. */
  oldestExact: boolean;
  /** The records of the listed messages, for the envelope cache. */
  store: EnvelopeStore;
  keep: Int32Array;
  /** Whether the cache would be different from the one loaded. */
  cacheChanged: boolean;
  /** Per listed message: its record in `store` (-1: none) and how it is known (aggregate.ts KNOWN_*). */
  listing: ListedMessages;
  recordOf: Int32Array;
  known: Uint8Array;
  /** What the walk left out (directories the MTA does not scan, symlinks not followed). */
  skipped: SkippedPath[];
}

export interface ScanOptions {
  countOnly: boolean;
  signal: AbortSignal;
  /** Epoch ms clock (the runner's). */
  now?: () => number;
  /** Epoch ms after which no more envelopes are read: the time left is for aggregating and answering. */
  readUntil?: number;
  /** Records from earlier runs and the run number (chooses the re-read slice). */
  cache?: { store: EnvelopeStore; run: number };
  /** Arrival from the queue ID alone, epoch seconds. */
  idArrival?: (id: string) => number | undefined;
  random?: Random;
  /** Each cached record is re-read once every this many runs. */
  rereadEvery?: number;
  /** Time kept back from readUntil for aggregating, given how many files were listed. */
  reserveMs?: (listed: number) => number;
  /** The bundle to run as a second reader thread (lib/queue/read-worker.ts); none: one thread. */
  readerScript?: string;
  /** Read message sizes where they cost a stat of the data file (default false). */
  sizes?: boolean;
  /** --queue: also figure who the messages of these queues are from and to (QueueSummary.selection). */
  selected?: string[];
  /** --shape: domains by age (QueueSummary.shape), over the selected queues or all. */
  shape?: ShapeBy;
}

/** Cached records re-read per run besides the ones that moved queue: 1 in 100 (5,000 at 500,000 queued). */
export const REREAD_EVERY = 100;
const READ_CHECK_EVERY = 64;

/**
 * Phase 1's memory: per listed file its ID (latin1 bytes in one buffer: queue IDs are ASCII, and a
 * string each would cost 32 bytes more at 1,000,000 messages), the ID's key hash (computed as the
 * bytes are written: the cache lookup needs it for every file), its queue, and the rest of its path
 * as an interned (prefix, suffix) pair, since path = prefix + id + suffix ("/var/spool/mqueue/qf" + id).
 */
class Listing implements ListedMessages {
  n = 0;
  private bytes = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  private end = new Uint32Array(1024);
  hi = new Uint32Array(1024);
  lo = new Uint32Array(1024);
  queue = new Uint16Array(1024);
  shape = new Int32Array(1024);
  readonly queues = new Interner();
  readonly shapes: [string, string][] = [];
  private readonly shapeIndex = new Map<string, number>();

  constructor(expected = 0) {
    if (expected > this.end.length) {
      this.end = new Uint32Array(expected);
      this.hi = new Uint32Array(expected);
      this.lo = new Uint32Array(expected);
      this.queue = new Uint16Array(expected);
      this.shape = new Int32Array(expected);
      this.bytes = Buffer.allocUnsafe(expected * 12);
    }
  }

  /** One directory's batch: a shape lookup for the batch, then bytes and hashes per ID. */
  pushBatch(b: EntryBatch): void {
    const count = b.ids.length;
    const need = this.n + count;
    if (need > this.end.length) {
      const cap = Math.max(need, Math.ceil(this.end.length * 1.5));
      this.end = grow(this.end, cap);
      this.hi = grow(this.hi, cap);
      this.lo = grow(this.lo, cap);
      this.queue = grow(this.queue, cap);
      this.shape = grow(this.shape, cap);
    }
    const queue = this.queues.id(b.queue);
    const shape = this.shapeOf(b.prefix, b.suffix);
    this.queue.fill(queue, this.n, need);
    this.shape.fill(shape, this.n, need);
    for (let k = 0; k < count; k++) {
      const id = b.ids[k];
      const len = id.length;
      if (this.used + len > this.bytes.length) {
        const grown = Buffer.allocUnsafe(Math.max(Math.ceil(this.bytes.length * 1.5), this.used + len));
        this.bytes.copy(grown, 0, 0, this.used);
        this.bytes = grown;
      }
      const from = this.used;
      this.used += this.bytes.write(id, from, 'latin1');
      const i = this.n++;
      this.end[i] = this.used;
      idHashBytesInto(this.bytes, from, this.used, this.hi, this.lo, i);
    }
  }

  id(i: number): string {
    return this.bytes.toString('latin1', i === 0 ? 0 : this.end[i - 1], this.end[i]);
  }

  /** The ID's key hash (the same as idHash of the string). */
  hash(i: number): [number, number] {
    return [this.hi[i], this.lo[i]];
  }

  /** The IDs of `which`, packed as the reader thread takes them. */
  packIds(which: Int32Array): { ids: Buffer; idEnd: Uint32Array } {
    let bytes = 0;
    for (const i of which) bytes += this.end[i] - (i === 0 ? 0 : this.end[i - 1]);
    const ids = Buffer.allocUnsafe(bytes);
    const idEnd = new Uint32Array(which.length);
    let at = 0;
    which.forEach((i, k) => {
      const from = i === 0 ? 0 : this.end[i - 1];
      at += this.bytes.copy(ids, at, from, this.end[i]);
      idEnd[k] = at;
    });
    return { ids, idEnd };
  }

  queueOf(i: number): string {
    return this.queues.list[this.queue[i]];
  }

  get queueNames(): readonly string[] {
    return this.queues.list;
  }

  private shapeOf(pre: string, post: string): number {
    const key = `${pre}\0${post}`;
    let s = this.shapeIndex.get(key);
    if (s === undefined) {
      s = this.shapes.length;
      this.shapes.push([pre, post]);
      this.shapeIndex.set(key, s);
    }
    return s;
  }

  entry(i: number): QueueEntry {
    const [pre, post] = this.shapes[this.shape[i]];
    const id = this.id(i);
    return { id, queue: this.queues.list[this.queue[i]], path: pre + id + post };
  }
}


function grow<T extends Uint32Array | Uint16Array | Uint8Array | Int32Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

function shuffle(a: Int32Array, random: Random): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/** How many of the oldest-by-ID files are read before the random order. */
const FIRST_READS = 64;
const STOP_GRACE_MS = 50;

function concatInt32(a: Int32Array, b: Int32Array): Int32Array<ArrayBuffer> {
  const c = new Int32Array(a.length + b.length);
  c.set(a);
  c.set(b, a.length);
  return c;
}

/** The `k` listed indices with the earliest arrival by queue ID (IDs without one are skipped). */
function oldestByIdArrival(candidates: number[], listing: Listing, idArrival: (id: string) => number | undefined, k: number): number[] {
  const best: { i: number; t: number }[] = [];
  for (const i of candidates) {
    const t = idArrival(listing.id(i));
    if (t === undefined) continue;
    if (best.length === k && t >= best[k - 1].t) continue;
    let at = best.length;
    while (at > 0 && best[at - 1].t > t) at--;
    best.splice(at, 0, { i, t });
    if (best.length > k) best.pop();
  }
  return best.map((b) => b.i);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** Resolves at epoch ms `until` (by the injected clock's reckoning) or when the signal aborts. */
function sleepUntil(until: number, now: () => number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, Math.max(0, Math.min(until - now(), 2 ** 31 - 1)));
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

/** Queues the walk found at run time (Exim named queues) are counted, 0 when empty. */
function seedQueues(summary: QueueSummary, found: Set<string>): void {
  for (const q of found) if (!Object.hasOwn(summary.byQueue, q)) summary.byQueue[q] = 0;
}

/** --count-only: the listing alone, counted per queue as it streams by (nothing kept per file). */
async function countSpools(driver: MtaDriver, spools: string[], signal: AbortSignal): Promise<ScanResult> {
  const summary = emptySummary(driver.queues, false);
  let queue = '';
  let count = 0;
  const flush = () => {
    if (count) summary.byQueue[queue] = (Object.hasOwn(summary.byQueue, queue) ? summary.byQueue[queue] : 0) + count;
    summary.total += count;
    count = 0;
  };
  const skipped: SkippedPath[] = [];
  const found = new Set<string>();
  const walk = { signal, onSkipped: (x: SkippedPath) => void skipped.push(x), onQueue: (q: string) => void found.add(q) };
  const listingComplete = await walkSpools(driver, spools, walk, (batch) => {
    if (batch.queue !== queue) {
      flush();
      queue = batch.queue;
    }
    count += batch.ids.length;
  });
  flush();
  seedQueues(summary, found);
  const store = new EnvelopeStore();
  return {
    summary,
    files: summary.total,
    vanished: 0,
    stoppedEarly: !listingComplete,
    listingComplete,
    cached: 0,
    read: 0,
    reread: 0,
    unread: 0,
    readByWorker: 0,
    oldestExact: false,
    store,
    keep: new Int32Array(0),
    cacheChanged: false,
    listing: { n: 0, id: () => '', queueOf: () => '', queue: new Uint16Array(0), queueNames: [] },
    recordOf: new Int32Array(0),
    known: new Uint8Array(0),
    skipped,
  };
}

export async function scanSpools(driver: MtaDriver, spools: string[], opts: ScanOptions): Promise<ScanResult> {
  const now = opts.now ?? Date.now;
  if (opts.countOnly) return countSpools(driver, spools, opts.signal);
  // Sized for the last run's queue (+1/8), so 1,000,000 IDs do not end in arrays grown to 2,097,152.
  const listing = new Listing(opts.cache ? opts.cache.store.n + (opts.cache.store.n >> 3) : 0);
  const skipped: SkippedPath[] = [];
  const found = new Set<string>();
  const walk = { signal: opts.signal, onSkipped: (x: SkippedPath) => void skipped.push(x), onQueue: (q: string) => void found.add(q) };
  const listingComplete = await walkSpools(driver, spools, walk, (batch) => listing.pushBatch(batch));
  const n = listing.n;
  const store = opts.cache?.store ?? new EnvelopeStore();
  const recordOf = new Int32Array(n).fill(-1);
  const known = new Uint8Array(n);
  let cached = 0;
  let read = 0;
  let reread = 0;
  let vanished = 0;
  let stoppedEarly = !listingComplete;
  let readByWorker = 0;
  /** Whether the cache needs writing: new or changed records (dropped ones are checked below). */
  let changed = false;
  /** Cached records superseded by a re-read (or whose file is gone): not to be kept. */
  const replaced = new Set<number>();

  if (!opts.countOnly) {
    const random = opts.random ?? seededRandom(randomSeed());
    const index = opts.cache && opts.cache.store.n ? new KeyIndex(opts.cache.store) : undefined;
    const rereadEvery = opts.rereadEvery ?? REREAD_EVERY;
    const wantSizes = Boolean(opts.sizes && driver.sizeNeedsStat);
    const want = { sizes: Boolean(opts.sizes) };
    const misses: number[] = [];
    const refresh: number[] = [];
    const { hi, lo } = listing;
    for (let i = 0; i < n; i++) {
      let j = index ? index.find(hi[i], lo[i]) : -1;
      // Sizes asked for, and this record was read without them: read it again.
      if (j >= 0 && wantSizes && store.size[j] === NONE) j = -1;
      if (j < 0) misses.push(i);
      else {
        recordOf[i] = j;
        known[i] = KNOWN_CACHED;
        cached++;
        // Re-read when the file moved queue (Postfix moves a message to deferred after a delivery
        // attempt, when recipients may have been marked done in place), and at random 1 in
        // rereadEvery anyway (a counter would need the cache rewritten on runs that change nothing).
        if (random() * rereadEvery < 1 || store.strings.list[store.queue[j]] !== listing.queues.list[listing.queue[i]]) refresh.push(i);
      }
    }
    // The oldest messages by queue ID are read first: a Sendmail ID can be older than its qf's
    // T line (a process reuses its first ID's second), so the oldest is confirmed by its file.
    const first = opts.idArrival ? oldestByIdArrival(misses, listing, opts.idArrival, FIRST_READS) : [];
    const firstSet = new Set(first);
    const order = Int32Array.from(firstSet.size ? misses.filter((i) => !firstSet.has(i)) : misses);
    shuffle(order, random);
    const refreshOrder = Int32Array.from(refresh);
    shuffle(refreshOrder, random);
    const readUntil = (opts.readUntil ?? Infinity) - (opts.reserveMs?.(n) ?? 0);
    const timeUp = () => opts.signal.aborted || now() >= readUntil;
    let rereadChanged = false;
    store.reserve(store.n + misses.length);
    const readOne = (i: number): boolean => {
      const m = driver.readMessage(listing.entry(i), want);
      if (!m) {
        known[i] = VANISHED;
        vanished++;
        return false;
      }
      // The listing already hashed this ID (for the cache lookup): not again from the string.
      recordOf[i] = store.add(m, listing.hash(i));
      return true;
    };
    for (const i of first) if (!timeUp() && readOne(i)) known[i] = KNOWN_FIRST;

    const script = opts.readerScript && order.length >= MIN_PARALLEL_READS && !timeUp() ? opts.readerScript : undefined;
    let mine = order;
    let reader: ParallelReader | undefined;
    let readerError: Error | undefined;
    let workerStrings = new Int32Array(0);
    if (script) {
      // Every other file of the random order to the worker: each half is itself in random order,
      // so what both have read by the deadline is still a uniform sample.
      const theirs = order.filter((_, x) => x % 2 === 1);
      mine = order.filter((_, x) => x % 2 === 0);
      reader = startReader(
        script,
        {
          mta: driver.name,
          shapes: listing.shapes,
          queues: listing.queues.list,
          ...listing.packIds(theirs),
          shape: Int32Array.from(theirs, (i) => listing.shape[i]),
          queue: Uint16Array.from(theirs, (i) => listing.queue[i]),
          listed: theirs,
          sizes: want.sizes,
        },
        (b) => {
          const map = Int32Array.from(b.strings, (str) => store.strings.id(str));
          workerStrings = concatInt32(workerStrings, map);
          const at = appendBatch(store, b.cols, b.rcpts, workerStrings, (k) => listing.hash(b.listed[k]));
          for (let k = 0; k < b.listed.length; k++) {
            recordOf[b.listed[k]] = at + k;
            known[b.listed[k]] = KNOWN_READ;
            read++;
            readByWorker++;
          }
          for (const i of b.vanished) {
            known[i] = VANISHED;
            vanished++;
          }
        },
        (err) => (readerError = err),
      );
    }
    let done = 0;
    for (let x = 0; x < mine.length; x++) {
      if (++done % READ_CHECK_EVERY === 0) {
        if (timeUp()) break;
        if (done % (READ_CHECK_EVERY * 4) === 0) await yieldToLoop();
      }
      const i = mine[x];
      if (readOne(i)) {
        known[i] = KNOWN_READ;
        read++;
      }
    }
    if (reader) {
      if (!timeUp()) await Promise.race([reader.finished, sleepUntil(readUntil, now, opts.signal)]);
      reader.stop();
      // A worker blocked in the kernel (hung NFS) does not get to hold up the answer.
      await Promise.race([reader.finished, sleep(STOP_GRACE_MS)]);
      reader.terminate();
      if (readerError) throw readerError;
    }
    const firstRead = first.filter((i) => known[i] === KNOWN_FIRST).length;
    if (firstRead + read + vanished < misses.length) stoppedEarly = true;
    else {
      for (let x = 0; x < refreshOrder.length; x++) {
        if (++done % READ_CHECK_EVERY === 0) {
          if (timeUp()) break;
          if (done % (READ_CHECK_EVERY * 4) === 0) await yieldToLoop();
        }
        const i = refreshOrder[x];
        const m = driver.readMessage(listing.entry(i), want);
        if (m) {
          reread++;
          if (store.replace(recordOf[i], m)) rereadChanged = true;
        } else {
          replaced.add(recordOf[i]);
          known[i] = VANISHED;
          vanished++;
          cached--;
        }
      }
    }
    read += firstRead;
    changed = read > 0 || rereadChanged;
  }

  const unread = opts.countOnly ? 0 : n - cached - read - vanished;
  const summary = aggregate(driver, listing, store, recordOf, known, unread, opts);
  seedQueues(summary, found);
  if (opts.shape) summary.shape = shapeOfRecords(opts.shape, now() / 1000, listing, store, recordOf, (i) => known[i] === VANISHED, opts.selected);
  // The cache keeps the records of the listed messages; a cut listing has not seen every file, so
  // the earlier records it did not reach are kept too (dropped once a listing completes without them).
  const keep: number[] = [];
  const oldN = opts.cache?.store.n ?? 0;
  const referenced = listingComplete ? undefined : new Uint8Array(oldN);
  for (let i = 0; i < n; i++)
    if (recordOf[i] >= 0 && known[i] !== VANISHED) {
      keep.push(recordOf[i]);
      if (referenced && recordOf[i] < oldN) referenced[recordOf[i]] = 1;
    }
  if (referenced) for (let j = 0; j < oldN; j++) if (!referenced[j] && !replaced.has(j)) keep.push(j);
  return {
    summary,
    files: n,
    vanished,
    stoppedEarly,
    listingComplete,
    cached,
    read,
    reread,
    unread,
    readByWorker,
    oldestExact: summary.oldestExact ?? false,
    store,
    keep: Int32Array.from(keep),
    cacheChanged: changed || vanished > 0 || keep.length !== (opts.cache?.store.n ?? 0),
    listing,
    recordOf,
    known,
    skipped,
  };
}
