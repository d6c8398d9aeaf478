// Bounces (null envelope sender <>, MAILER-DAEMON in mailq) counted over the messages read: all of
// them, or a sample. Pure: check-mailer-daemon's collection (lib/queue/bounce-read.ts) feeds it.

import type { SkippedPath } from '../mta/skipped.js';
import type { MtaName, QueuedMessage } from '../mta/types.js';
import type { SourceChoice } from './source.js';
import { domainOf } from './summary.js';
import { TopCounter } from './topk.js';

/** What reading the queue for bounces needs to know (check-mailer-daemon's options, less its thresholds). */
export interface BounceReadOptions extends SourceChoice {
  /** auto: sample only when an exact read would not fit in the deadline; exact: read all; sample: read sampleSize files. */
  mode: 'auto' | 'exact' | 'sample';
  sampleSize: number;
  seed?: number;
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
