// check-mailer-daemon: the share of bounces (null envelope sender <>, MAILER-DAEMON in mailq) in
// the queue, and where they are going. Incident 001: over half of a 500,000-message Sendmail queue
// was MAILER-DAEMON messages; incident 002: backscatter from spam forged with the site's own domain.
// On a huge queue it reads a uniform random sample of the queue files and reports a 95% interval.

import { parseCount } from '../plugin/options.js';
import { metric, type CheckSpec, type CollectContext, type Evaluation } from '../plugin/check.js';
import { UnknownError } from '../plugin/errors.js';
import type { Range } from '../plugin/range.js';
import { State, type Metric } from '../plugin/result.js';
import { MTAS } from '../mta/index.js';
import type { MtaDriver, MtaName, QueuedMessage } from '../mta/types.js';
import { formatCount, skippedReport, topLines } from '../queue/report.js';
import type { SkippedPath } from '../mta/skipped.js';
import {
  exactReadOnCourse,
  intervalState,
  projectedFinishMs,
  proportionInterval,
  randomSeed,
  rangeOverlap,
  seededRandom,
  type Interval,
  type ScanProgress,
} from '../queue/sample.js';
import { listAndSample, readAllMessages, readEntries, readListing } from '../queue/sample-read.js';
import { locateSpools, resolveMta, listingFilesOption, SOURCE_TABLE, type SourceMode, spoolOrCommand, spoolWhereOption } from '../queue/source.js';
import type { SpoolWhere } from '../mta/types.js';
import { KNOWN_READ, VANISHED } from '../queue/aggregate.js';
import { readSpool } from '../queue/spool-read.js';
import type { EnvelopeStore } from '../queue/store.js';
import { STATE_TABLE } from '../plugin/state.js';
import { domainOf } from '../queue/summary.js';
import { TopCounter } from '../queue/topk.js';
import { VERSION } from '../version.js';

/** --sample auto: how many files to read when the queue is too big for an exact read in time. */
export const AUTO_SAMPLE = 10_000;
/** Sampled files --sample auto reads (and times) first: the cost of the sample, should the exact read not fit. */
export const PROBE_FILES = 200;
export const MIN_SAMPLE = 100;
export const MAX_SAMPLE = 200_000;

export interface BounceOptions {
  mta: MtaName | 'auto';
  source: SourceMode;
  spools?: string[];
  where?: SpoolWhere;
  listingFiles?: string[];
  /** auto: sample only when an exact read would not fit in the deadline; exact: read all; sample: read sampleSize files. */
  mode: 'auto' | 'exact' | 'sample';
  sampleSize: number;
  minMessages: number;
  top: number;
  seed?: number;
  warning?: Range;
  critical?: Range;
  timeout: number;
  /** --exact keeps envelopes between runs (shared with check-mailq-depth); false with --no-cache. */
  cache?: boolean;
  stateDir?: string;
}

/** What was counted over the messages read: all of them (exact) or the sample. */
export interface BounceTally {
  messages: number;
  byQueue: Record<string, number>;
  bounces: number;
  bouncesByQueue: Record<string, number>;
  /** Recipient domains of the bounces, counted once per bounce message. */
  domains: TopCounter;
  /** Recipient addresses of the bounces (a bounce loop is one address; backscatter is many). */
  recipients: TopCounter;
  /** Messages whose sender could not be read (damaged or half-written files): counted, not bounces. */
  unknownSender: number;
}

export function emptyTally(queues: readonly string[]): BounceTally {
  // No prototype: a queue name read from a listing ("constructor", "__proto__") is just a name.
  const zero = (): Record<string, number> => Object.assign(Object.create(null), Object.fromEntries(queues.map((q) => [q, 0])));
  return {
    messages: 0,
    byQueue: zero(),
    bounces: 0,
    bouncesByQueue: zero(),
    domains: new TopCounter(),
    recipients: new TopCounter(),
    unknownSender: 0,
  };
}

export function tallyMessage(t: BounceTally, m: QueuedMessage): void {
  t.messages++;
  t.byQueue[m.queue] = (t.byQueue[m.queue] ?? 0) + 1;
  if (m.sender === undefined) t.unknownSender++;
  if (m.sender !== '') return;
  t.bounces++;
  t.bouncesByQueue[m.queue] = (t.bouncesByQueue[m.queue] ?? 0) + 1;
  const seen = new Set<string>();
  for (const r of m.recipients) {
    const d = domainOf(r);
    if (!seen.has(d)) t.domains.add(d);
    seen.add(d);
    t.recipients.add(r.toLowerCase());
  }
}

export interface BounceData {
  mta: MtaName;
  source: 'spool' | 'command';
  spools: string[];
  commands: string[];
  fallbackReason?: string;
  /** The tally covers a sample of the queue, not all of it. */
  sampled: boolean;
  tally: BounceTally;
  /** Messages in the queue: the messages read (exact) or the files listed (sampled). */
  population: number;
  /** Queue files seen, and how many of them were gone when opened. */
  files: number;
  vanished: number;
  /** Sample size asked for (sampled runs). */
  requested?: number;
  seed?: number;
  /** Why this mode was used, in one line. */
  why: string;
  partial?: string;
  /** Sampled runs of --exact: the messages known exactly (cache, first reads); `tally` is then the
   *  random part only, standing for population - known.messages messages. */
  known?: BounceTally;
  notes?: string[];
  /** What the spool walk left out (directories the MTA does not scan, symlinks not followed). */
  skipped?: SkippedPath[];
  afterOutput?: () => Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Collecting

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
async function collectExact(driver: MtaDriver, spools: string[], o: BounceOptions, ctx: CollectContext): Promise<SpoolResult> {
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
export async function collectFromSpool(driver: MtaDriver, spools: string[], o: BounceOptions, ctx: CollectContext): Promise<SpoolResult> {
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

export async function collectBounces(o: BounceOptions, ctx: CollectContext): Promise<BounceData> {
  const mta = resolveMta(o.mta, o.spools, o.where);
  const driver = MTAS[mta].driver;
  const explicit = Boolean(o.spools?.length) || o.where !== undefined;
  const { spools, notes } = await locateSpools(mta, o.spools, o.where);

  const command = async (fallbackReason?: string): Promise<BounceData> => {
    const tally = emptyTally(driver.queues);
    const r = await readListing(driver, spools, (m) => tallyMessage(tally, m), { ...ctx, listingFiles: o.listingFiles });
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

// ---------------------------------------------------------------------------------------------
// Evaluating

/** A percentage (0-100) for people: 82.1%, 0.35%, 0%. */
export function percent(v: number): string {
  if (v === 0) return '0%';
  return `${v < 1 ? v.toFixed(2) : v.toFixed(1)}%`;
}

/**
 * "52.1% ±0.9%" when the interval is nearly symmetric (the wider side is shown, never the
 * narrower), else the bounds, "1.20% (0.85%-1.69%)": near 0% the Wilson interval is lopsided.
 */
export function intervalText(iv: Interval): string {
  const p = iv.estimate * 100;
  const up = (iv.high - iv.estimate) * 100;
  const down = (iv.estimate - iv.low) * 100;
  const wide = Math.max(up, down);
  const pm = (v: number) => (v < 0.1 ? v.toFixed(2) : v.toFixed(1));
  if (wide === 0) return percent(p);
  if (Math.min(up, down) >= wide / 1.25) return `${percent(p)} ±${pm(wide)}%`;
  return `${percent(p)} (${percent(iv.low * 100)}-${percent(iv.high * 100)})`;
}

function share(part: number, whole: number): string {
  if (whole <= 0 || part <= 0) return '0%';
  const v = (100 * part) / whole;
  return v < 1 ? '<1%' : `${Math.round(v)}%`;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** What the interval says that the point estimate alone would hide (sampled runs). */
function samplingNote(iv: Interval, o: BounceOptions): string | undefined {
  const [p, lo, hi] = [iv.estimate * 100, iv.low * 100, iv.high * 100];
  const span = `95% interval ${percent(lo)}-${percent(hi)}`;
  if (rangeOverlap(o.critical, lo, hi) === 'some') {
    return intervalState(p, p, o.warning, o.critical) === State.CRITICAL
      ? `not CRITICAL: only part of the ${span} is in the critical range ${o.critical?.text}`
      : `may be CRITICAL: the ${span} reaches the critical range ${o.critical?.text}`;
  }
  if (intervalState(p, p, o.warning, o.critical) === State.OK && intervalState(lo, hi, o.warning, o.critical) === State.WARNING)
    return `the ${span} reaches the warning range ${o.warning?.text}`;
  return undefined;
}

export function evaluateBounces(d: BounceData, o: BounceOptions): Evaluation {
  const t = d.tally;
  const N = d.population;
  const n = t.messages;
  // Stratified (--exact cut by the deadline): K messages known exactly, the sample stands for the other M.
  const K = d.known?.messages ?? 0;
  const Kb = d.known?.bounces ?? 0;
  const M = N - K;
  const part = d.sampled ? proportionInterval(t.bounces, n, M) : undefined;
  const iv: Interval = part
    ? { estimate: (Kb + M * part.estimate) / N, low: (Kb + M * part.low) / N, high: (Kb + M * part.high) / N }
    : { estimate: n ? t.bounces / n : 0, low: n ? t.bounces / n : 0, high: n ? t.bounces / n : 0 };
  // Sampled counts are scaled up to the part they stand for: M * (hits / n).
  const scale = d.sampled && n > 0 ? M / n : 1;
  const estimate = (k: number, exact = 0) => exact + Math.round(k * scale);
  const bounces = estimate(t.bounces, Kb);
  const [topDomain] = t.domains.top(1);
  const queuesWithBounces = Object.keys(t.bouncesByQueue)
    .filter((q) => t.bouncesByQueue[q] > 0)
    .sort((a, b) => t.bouncesByQueue[b] - t.bouncesByQueue[a]);

  let state: State;
  let summary: string;
  const ratioText = d.sampled ? intervalText(iv) : percent(iv.estimate * 100);
  const where = topDomain ? `, ${share(topDomain.count, t.bounces)} of them to ${topDomain.key}` : '';
  const sampledText = d.sampled ? `sampled ${formatCount(n)} of ${formatCount(d.known ? M : N)}${d.known ? ` not in the cache, ${formatCount(K)} known` : ''}` : '';
  if (d.partial && n === 0) {
    // The deadline came before any message was read: nothing to judge (the runner says UNKNOWN).
    state = State.UNKNOWN;
    summary = N ? `${formatCount(N)} queue files listed, none read` : 'no queue file read';
  } else if (N === 0) {
    state = State.OK;
    summary = 'no message queued';
  } else if (N < o.minMessages) {
    state = State.OK;
    summary =
      `${formatCount(N)} queued, ${formatCount(bounces)} bounce${bounces === 1 ? '' : 's'} (${ratioText})${sampledText ? `, ${sampledText}` : ''}` +
      `${where}: fewer than --min-messages ${o.minMessages}, not judged`;
  } else if (d.sampled && n === 0) {
    state = State.UNKNOWN;
    summary = `${formatCount(N)} queued, no queue file read (${sampledText})`;
  } else {
    state = intervalState(iv.low * 100, iv.high * 100, o.warning, o.critical);
    const inQueue =
      !d.sampled && queuesWithBounces.length > 0 ? `, ${share(t.bouncesByQueue[queuesWithBounces[0]], t.bounces)} in ${queuesWithBounces[0]}` : '';
    summary = `${ratioText} of ${formatCount(N)} queued are bounces (${d.sampled ? sampledText : formatCount(bounces)}${inQueue})${where}`;
    const note = d.sampled ? samplingNote(iv, o) : undefined;
    if (note) summary += `; ${note}`;
  }
  const skipped = skippedReport(d.skipped ?? [], d.mta, d.spools);
  if (skipped.summary) summary += `; ${skipped.summary}`;

  const metrics: Metric[] = [
    metric('ratio', round3(iv.estimate * 100), { uom: '%', warn: o.warning, crit: o.critical, min: 0, max: 100 }),
    metric('ratio_low', round3(iv.low * 100), { uom: '%', min: 0, max: 100 }),
    metric('ratio_high', round3(iv.high * 100), { uom: '%', min: 0, max: 100 }),
    metric('bounces', bounces, { min: 0 }),
    metric('total', N, { min: 0 }),
  ];
  for (const q of Object.keys(t.bouncesByQueue)) metrics.push(metric(`bounces_${q}`, estimate(t.bouncesByQueue[q], d.known?.bouncesByQueue[q] ?? 0), { min: 0 }));
  metrics.push(metric('sampled', d.sampled ? 1 : 0, { min: 0, max: 1 }), metric('sample_size', n, { min: 0 }));

  const inSample = d.sampled ? ' (in the sample)' : '';
  const details: string[] = [];
  if (t.bounces > 0) {
    details.push(`bounces by queue${inSample}: ${queuesWithBounces.map((q) => `${q} ${formatCount(t.bouncesByQueue[q])} (${share(t.bouncesByQueue[q], t.bounces)})`).join(', ')}`);
    details.push(...topLines(`top bounce recipient domains${inSample}`, t.domains, t.bounces, o.top));
    // Backscatter goes to random addresses (each about once: not worth listing); a bounce loop
    // hammers one. Listed when one address gets at least 1% of the bounces (and more than one).
    const [topRcpt] = t.recipients.top(1);
    if (topRcpt && topRcpt.count > 1 && topRcpt.count >= 0.01 * t.bounces) details.push(...topLines(`top bounce recipients${inSample}`, t.recipients, t.bounces, o.top));
  }
  if (d.sampled) {
    details.push(
      `95% interval ${percent(iv.low * 100)}-${percent(iv.high * 100)} (Wilson score, finite population): ${formatCount(t.bounces)} bounces in ` +
        `${formatCount(n)} files read at random of ${formatCount(N)} listed, about ${formatCount(bounces)} bounces in the queue (seed ${d.seed})`,
    );
    details.push('sampled verdict: CRITICAL only when the whole interval is in the critical range; WARNING when it reaches the critical or warning range');
  }
  details.push(`mode: ${d.why}`);
  if (d.known) details.push(`known exactly: ${formatCount(Kb)} bounces in ${formatCount(K)} messages (envelope cache and first reads)`);
  details.push(...(d.notes ?? []));
  if (t.unknownSender) details.push(`${formatCount(t.unknownSender)} message(s) with an unreadable sender (counted, not as bounces)`);
  if (d.source === 'spool') {
    const v = d.vanished ? `, ${formatCount(d.vanished)} vanished before they were read` : '';
    details.push(`source: ${d.mta} spool ${d.spools.join(', ')} (${formatCount(d.files)} queue files${v})`);
    details.push(...skipped.details);
  } else {
    details.push(`source: ${d.mta} command ${d.commands.map((c) => `'${c}'`).join(', ')}${d.fallbackReason ? `; ${d.fallbackReason}` : ''}`);
  }

  return {
    state,
    summary,
    metrics,
    details,
    facts: {
      mta: d.mta,
      source: d.source,
      spools: d.spools,
      commands: d.commands,
      sampled: d.sampled,
      why: d.why,
      ratio: { estimate: round6(iv.estimate * 100), low: round6(iv.low * 100), high: round6(iv.high * 100), confidence: d.sampled ? 0.95 : 1 },
      sample: d.sampled ? { read: n, requested: d.requested, population: N, bounces: t.bounces, seed: d.seed } : null,
      topBounceDomain: topDomain?.key ?? null,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The check

export const mailerDaemonCheck: CheckSpec<BounceOptions, BounceData> = {
  name: 'check-mailer-daemon',
  service: 'MAILER-DAEMON',
  id: 'mailer_daemon',
  version: VERSION,
  description: 'share of bounces (null sender, MAILER-DAEMON) in the queue and where they go; exact or sampled with a 95% interval',
  table: {
    ...SOURCE_TABLE,
    sample: {
      kind: 'text',
      default: 'auto',
      describe: `read a uniform random sample of N queue files (${MIN_SAMPLE}-${formatCount(MAX_SAMPLE)}); auto: sample ${formatCount(AUTO_SAMPLE)} only when an exact read would not fit in -t`,
    },
    exact: { kind: 'flag', default: false, describe: 'read every queue file, however long it takes (up to -t)' },
    'min-messages': { kind: 'count', default: '100', describe: 'with fewer messages queued the check is OK and says why' },
    top: { kind: 'count', min: 0, max: 100, default: '5', describe: 'how many bounce destinations to list' },
    seed: { kind: 'count', max: 2 ** 32 - 1, hidden: true, describe: 'random seed of the sample (tests, replaying a run)' },
    cache: { kind: 'flag', default: true, describe: '--exact keeps envelopes between runs so a run reads only new queue files (--no-cache: stateless)' },
    ...STATE_TABLE,
  },
  examples: [
    ['check-mailer-daemon -w 20 -c 50', 'WARNING above 20% bounces, CRITICAL above 50%'],
    ['check-mailer-daemon -w 20 -c 50 --sample 10000 -t 5', 'a huge queue: 10,000 files read at random, verdict from the 95% interval'],
    ['check-mailer-daemon --exact --format graphite', 'every file read, metrics for Graphite'],
  ],
  validate(a, common) {
    const source = a.source as SourceMode;
    const exact = a.exact as boolean;
    const rawSample = a.sample as string;
    const auto = rawSample.toLowerCase() === 'auto';
    const sampleSize = auto ? AUTO_SAMPLE : parseCount(rawSample, '--sample', MIN_SAMPLE, MAX_SAMPLE);
    if (exact && !auto) throw new UnknownError(`--exact and --sample ${rawSample} contradict each other`, 'give one of them');
    if (!auto && source === 'command')
      throw new UnknownError(`--sample ${rawSample} needs the spool`, 'the listing command lists every message: drop --sample or --source command');
    return {
      mta: a.mta as BounceOptions['mta'],
      source,
      spools: (a.spool as string[]).length ? (a.spool as string[]) : undefined,
      where: spoolWhereOption(a),
      listingFiles: listingFilesOption((a.listingFile as string[]).length ? a.listingFile : undefined),
      mode: exact ? 'exact' : auto ? 'auto' : 'sample',
      sampleSize,
      minMessages: a.minMessages as number,
      top: a.top as number,
      seed: a.seed as number | undefined,
      warning: common.warning,
      critical: common.critical,
      timeout: common.timeout,
      cache: a.cache as boolean,
      stateDir: a.stateDir as string | undefined,
    };
  },
  collect: collectBounces,
  evaluate: (d, o) => evaluateBounces(d, o),
};
