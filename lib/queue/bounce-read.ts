// The I/O side of check-mailer-daemon: read the queue for bounces, exactly or as a uniform random
// sample, from the spool or the MTA's listing. --sample auto's orchestration lives here: list, time
// a probe of the sample, try the exact read while it is on course to finish, else read the sample.

import type { CollectContext } from '../plugin/check.js';
import { MTAS } from '../mta/index.js';
import type { SkippedPath } from '../mta/skipped.js';
import type { MtaDriver, QueuedMessage } from '../mta/types.js';
import { KNOWN_READ, VANISHED } from './aggregate.js';
import { emptyTally, tallyMessage, type BounceData, type BounceReadOptions } from './bounces.js';
import { formatCount } from './report.js';
import { exactReadOnCourse, projectedFinishMs, randomSeed, seededRandom, type ScanProgress } from './sample.js';
import { listAndSample, readAllMessages, readEntries } from './sample-read.js';
import { locateSpools, resolveMta, spoolOrCommand, streamListings } from './source.js';
import { readSpool } from './spool-read.js';
import type { EnvelopeStore } from './store.js';

/** --sample auto: how many files to read when the queue is too big for an exact read in time. */
export const AUTO_SAMPLE = 10_000;
/** Sampled files --sample auto reads (and times) first: the cost of the sample, should the exact read not fit. */
export const PROBE_FILES = 200;
export const MIN_SAMPLE = 100;
export const MAX_SAMPLE = 200_000;

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

export type SpoolResult = Omit<BounceData, 'mta' | 'source' | 'spools' | 'commands'>;

/** A record of the scan's store as the message tallyMessage counts (queue, sender, recipients kept). */
function recordMessage(store: EnvelopeStore, r: number, queue: string): QueuedMessage {
  const strings = store.strings.list;
  const from = store.rcptStart[r];
  const recipients: string[] = [];
  for (let k = 0; k < store.rcptStored[r]; k++) recipients.push(strings[store.rcpts[from + k]]);
  return { id: '', queue, sender: store.sender[r] < 0 ? undefined : strings[store.sender[r]], recipients };
}

/**
 * --exact: the shared two-phase scan (listing, the envelope cache, reads in random order on two
 * threads). When the deadline leaves envelopes unread, the answer is not UNKNOWN: the messages
 * known exactly (cache, first reads) are counted as they are and the ones read at random stand for
 * the unread, with a 95% interval (stratified: exact part plus an estimated part).
 */
async function collectExact(driver: MtaDriver, spools: string[], o: BounceReadOptions, ctx: CollectContext): Promise<SpoolResult> {
  const seed = o.seed ?? randomSeed();
  const read = await readSpool(driver, spools, { countOnly: false, cache: o.cache ? { dir: o.stateDir } : undefined, random: seededRandom(seed) }, ctx);
  const r = read.result;
  const known = emptyTally(driver.queues);
  const sample = emptyTally(driver.queues);
  const strings = r.store.strings.list;
  const readable = new Set(driver.needsReading ?? []);
  for (let i = 0; i < r.listing.n; i++) {
    const rec = r.recordOf[i];
    if (rec < 0 || r.known[i] === VANISHED) continue;
    const listedQueue = r.listing.queueOf(i);
    const readQueue = strings[r.store.queue[rec]];
    const m = recordMessage(r.store, rec, readable.has(readQueue) ? readQueue : listedQueue);
    tallyMessage(r.unread > 0 && r.known[i] === KNOWN_READ ? sample : known, m);
  }
  const base = { files: r.files, vanished: r.vanished, seed, notes: read.notes, skipped: r.skipped, afterOutput: read.afterOutput };
  if (!r.listingComplete)
    return { ...base, sampled: true, tally: emptyTally(driver.queues), population: r.files, why: '--exact', partial: read.partial + ', read none' };
  if (r.unread === 0)
    return { ...base, sampled: false, tally: known, population: known.messages, why: '--exact: every queue file read (or known from the envelope cache)' };
  return {
    ...base,
    sampled: true,
    tally: sample,
    known,
    population: known.messages + sample.messages + r.unread,
    why:
      `--exact: the deadline came after ${formatCount(sample.messages)} of ${formatCount(sample.messages + r.unread)} files not in the cache; ` +
      `${formatCount(known.messages)} known exactly, the files read at random stand for the unread`,
    partial: sample.messages === 0 ? read.partial : undefined,
  };
}

/** The spool side of collect (exported so tests can hand it a wrapped driver). */
export async function collectFromSpool(driver: MtaDriver, spools: string[], o: BounceReadOptions, ctx: CollectContext): Promise<SpoolResult> {
  if (o.mode === 'exact') return collectExact(driver, spools, o, ctx);

  const seed = o.seed ?? randomSeed();
  const t0 = ctx.now();
  const skipped: SkippedPath[] = [];
  const onSkipped = (x: SkippedPath) => void skipped.push(x);
  const listed = await listAndSample(driver, spools, o.sampleSize, seededRandom(seed), ctx.signal, onSkipped);
  ctx.verbose(`listed ${formatCount(listed.population)} queue files in ${secs(ctx.now() - t0)}`);
  const N = listed.population;
  const tally = emptyTally(driver.queues);
  const base = { tally, population: N, files: N, requested: o.sampleSize, seed, skipped };
  if (listed.stoppedEarly)
    return { ...base, sampled: true, vanished: 0, why: 'listing', partial: `listed ${formatCount(N)} queue files before the ${ctx.timeout} s deadline, read none` };

  const entries = listed.entries;
  const onMessage = (m: QueuedMessage) => tallyMessage(tally, m);
  let why: string;
  let first = { read: 0, vanished: 0, next: 0, stoppedEarly: false };
  if (o.mode === 'auto' && !listed.complete) {
    // 1. The first sampled files, timed: what reading the sample costs if the exact read gives up.
    //    They are random files, as cold as the rest of the sample will be.
    const p0 = ctx.now();
    first = await readEntries(driver, entries, onMessage, ctx.signal, 0, Math.min(PROBE_FILES, entries.length));
    const probed = first.read + first.vanished;
    const reserveMs = ((ctx.now() - p0) / Math.max(1, probed)) * (entries.length - first.next);
    ctx.verbose(`read ${probed} sampled files: the rest of the sample would take about ${secs(reserveMs)}`);
    // 2. The exact read, watched: it goes on while its own rate says it will finish in time, with
    //    the sample's reading time to spare. If it gives up, the sample is read instead.
    const all = emptyTally(driver.queues);
    const s0 = ctx.now();
    const budgetMs = ctx.deadline - s0;
    let progress: ScanProgress | undefined;
    const r = first.stoppedEarly
      ? undefined
      : await readAllMessages(driver, spools, (m) => tallyMessage(all, m), ctx.signal, (files) => {
          const now = ctx.now();
          progress = { population: N, files, elapsedMs: now - s0, remainingMs: ctx.deadline - now, budgetMs, reserveMs };
          return exactReadOnCourse(progress);
        }, onSkipped);
    if (r && !r.stoppedEarly) {
      return {
        sampled: false,
        tally: all,
        population: all.messages,
        files: r.files,
        vanished: r.vanished,
        skipped,
        why: `--sample auto: an exact read of ${formatCount(N)} files fitted in the deadline (${secs(ctx.now() - s0)}): every file read`,
      };
    }
    if (r?.gaveUp && progress) {
      why =
        `--sample auto: an exact read of ${formatCount(N)} files was on course to take about ${secs(progress.elapsedMs + projectedFinishMs(progress))}` +
        ` with ${secs(progress.remainingMs)} left, so it stopped after ${formatCount(progress.files)} files and a sample of ${formatCount(o.sampleSize)} was read`;
    } else {
      why = `--sample auto: the deadline stopped the exact read${r ? ` after ${formatCount(r.files)} files` : ''}: the sample read before it is used`;
    }
    ctx.verbose(why);
  } else if (listed.complete) {
    why = o.mode === 'auto'
      ? `--sample auto: ${formatCount(N)} queued, no more than ${formatCount(o.sampleSize)}: every file read`
      : `--sample ${o.sampleSize} covers the whole queue of ${formatCount(N)}: every file read`;
  } else {
    why = `--sample ${o.sampleSize}: a uniform random sample of the queue files`;
  }
  const rest = await readEntries(driver, entries, onMessage, ctx.signal, first.next);
  const vanished = first.vanished + rest.vanished;
  const stopped = first.stoppedEarly || rest.stoppedEarly;
  if (stopped) why += `; the deadline stopped the read after ${formatCount(tally.messages + vanished)} of ${formatCount(entries.length)} sampled files`;
  if (listed.complete && !stopped) {
    // The sample was the whole queue: this is an exact count of what was read.
    return { ...base, sampled: false, population: tally.messages, requested: undefined, vanished, why };
  }
  return {
    ...base,
    sampled: true,
    vanished,
    why,
    // A shorter sample is still uniform (the entries are in random order); an empty one says nothing.
    partial: tally.messages === 0 ? `read no sampled file before the ${ctx.timeout} s deadline` : undefined,
  };
}

export async function readBounces(o: BounceReadOptions, ctx: CollectContext): Promise<BounceData> {
  const mta = resolveMta(o.mta, o.spools, o.where);
  const driver = MTAS[mta].driver;
  const explicit = Boolean(o.spools?.length) || o.where !== undefined;
  const { spools, notes } = await locateSpools(mta, o.spools, o.where);

  const command = async (fallbackReason?: string): Promise<BounceData> => {
    const tally = emptyTally(driver.queues);
    const r = await streamListings(driver, spools, (m) => tallyMessage(tally, m), { ...ctx, listingFiles: o.listingFiles });
    const why =
      o.mode === 'sample' ? `--sample ${o.sampleSize} needs the spool: the listing gives every message, all counted` : 'every message of the listing counted';
    return {
      mta, source: 'command', spools, commands: r.commands, fallbackReason, sampled: false, tally,
      population: tally.messages, files: tally.messages, vanished: 0, why, partial: r.partial, notes,
    };
  };
  return spoolOrCommand<BounceData>(
    { mta, source: o.source, explicit, spools, where: o.where },
    async (present) => {
      const r = await collectFromSpool(driver, present, o, ctx);
      return { mta, source: 'spool', spools: present, commands: [], ...r, notes: [...notes, ...(r.notes ?? [])] };
    },
    command,
  );
}
