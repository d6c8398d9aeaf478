// The second core for the first read: a worker thread opens and parses half of the queue files
// while the main thread does the other half (each sync fs call costs ~10 us through Node's
// bindings, the kernel's open() as much again: at 500,000 files one thread is the bottleneck).
// The worker is the check's own bundle started again as a thread (registerWorker); it sends back
// batches of records (the store's columns plus the strings new since its last batch) and stops at
// once when the main thread raises the shared stop flag. A worker stuck in the kernel is not
// waited for: the main thread keeps what arrived and terminates it.

import { Worker, parentPort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { errorCode } from '../plugin/errors.js';
import { registerWorker } from '../plugin/worker.js';
import { MTAS } from '../mta/index.js';
import type { MtaName, QueueEntry } from '../mta/types.js';
import { EnvelopeStore } from './store.js';

export const READER_ROLE = 'envelope-reader';
/** Records per batch sent back: small enough that a deadline loses little, big enough to be cheap. */
const BATCH = 2000;
/** Below this many files to read, starting a thread costs more than it saves. */
export const MIN_PARALLEL_READS = 4000;

export interface ReaderJob {
  role: typeof READER_ROLE;
  mta: MtaName;
  /** Path of each file = shapes[shape][0] + id + shapes[shape][1]. */
  shapes: [string, string][];
  queues: string[];
  /** The IDs as latin1 bytes, ID k ending at idEnd[k] (a string each would cost 32 bytes more). */
  ids: Buffer;
  idEnd: Uint32Array;
  shape: Int32Array;
  queue: Uint16Array;
  /** The listed index each job item stands for (sent back with each record). */
  listed: Int32Array;
  sizes: boolean;
  stop: SharedArrayBuffer;
}

export interface ReaderBatch {
  strings: string[];
  listed: Int32Array;
  vanished: Int32Array;
  cols: Pick<EnvelopeStore, 'arrival' | 'size' | 'sender' | 'client' | 'queue' | 'flags' | 'rcptCount' | 'rcptStored'>;
  rcpts: Int32Array;
  done?: boolean;
  error?: { code?: string; message: string; path?: string };
}

function runReader(job: ReaderJob): void {
  const driver = MTAS[job.mta].driver;
  const stop = new Int32Array(job.stop);
  const want = { sizes: job.sizes };
  // A Buffer arrives through postMessage as a plain Uint8Array.
  const ids = Buffer.from(job.ids.buffer, job.ids.byteOffset, job.ids.byteLength);
  const store = new EnvelopeStore();
  let sentStrings = 0;
  let from = 0;
  let listed: number[] = [];
  let vanished: number[] = [];
  const flush = (done: boolean) => {
    const to = store.n;
    const rcptFrom = from < to ? store.rcptStart[from] : store.rcptLen;
    const batch: ReaderBatch = {
      strings: store.strings.list.slice(sentStrings),
      listed: Int32Array.from(listed),
      vanished: Int32Array.from(vanished),
      cols: {
        arrival: store.arrival.slice(from, to),
        size: store.size.slice(from, to),
        sender: store.sender.slice(from, to),
        client: store.client.slice(from, to),
        queue: store.queue.slice(from, to),
        flags: store.flags.slice(from, to),
        rcptCount: store.rcptCount.slice(from, to),
        rcptStored: store.rcptStored.slice(from, to),
      },
      rcpts: store.rcpts.slice(rcptFrom, store.rcptLen),
      done,
    };
    sentStrings = store.strings.list.length;
    // The records are the main thread's now: keep only the strings (their numbering is shared).
    store.clearRecords();
    from = 0;
    listed = [];
    vanished = [];
    parentPort!.postMessage(batch);
  };
  try {
    for (let k = 0; k < job.idEnd.length; k++) {
      if (Atomics.load(stop, 0)) break;
      const [pre, post] = job.shapes[job.shape[k]];
      const id = ids.toString('latin1', k === 0 ? 0 : job.idEnd[k - 1], job.idEnd[k]);
      const entry: QueueEntry = { id, queue: job.queues[job.queue[k]], path: pre + id + post };
      const m = driver.readMessage(entry, want);
      if (m) {
        store.add(m);
        listed.push(job.listed[k]);
      } else vanished.push(job.listed[k]);
      if (listed.length + vanished.length >= BATCH) flush(false);
    }
    flush(true);
  } catch (err) {
    flush(false);
    parentPort!.postMessage({ error: { code: errorCode(err), message: (err as Error).message, path: (err as { path?: string }).path } });
  }
}

registerWorker(READER_ROLE, (data) => runReader(data as ReaderJob));

/** The bundle to start as a worker, or undefined where there is none (tests run the TypeScript). */
export function readerScript(env: NodeJS.ProcessEnv): string | undefined {
  if (env.MAILQ_CHECKS_THREADS === '1') return undefined;
  const self = import.meta.url;
  if (!self.startsWith('file:') || !self.endsWith('.js')) return undefined;
  return fileURLToPath(self);
}

export interface ParallelReader {
  /** Resolves when the worker has sent its last batch (or failed). */
  finished: Promise<void>;
  /** Ask the worker to stop after the file it is reading. */
  stop(): void;
  terminate(): void;
}

/** Start a worker on `items` (listed indices); onBatch is called for each batch as it arrives. */
export function startReader(
  script: string,
  job: Omit<ReaderJob, 'role' | 'stop'>,
  onBatch: (b: ReaderBatch) => void,
  onError: (err: Error) => void,
): ParallelReader {
  const stop = new SharedArrayBuffer(4);
  const flag = new Int32Array(stop);
  const worker = new Worker(script, { workerData: { ...job, role: READER_ROLE, stop }, stdout: true, stderr: true, argv: [] });
  worker.unref();
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  worker.on('message', (msg: ReaderBatch) => {
    if (msg.error) {
      const e = Object.assign(new Error(msg.error.message), { code: msg.error.code, path: msg.error.path });
      onError(e);
      resolve();
      return;
    }
    onBatch(msg);
    if (msg.done) resolve();
  });
  worker.on('error', (err) => {
    onError(err);
    resolve();
  });
  worker.on('exit', () => resolve());
  return {
    finished,
    stop: () => Atomics.store(flag, 0, 1),
    terminate: () => void worker.terminate(),
  };
}
