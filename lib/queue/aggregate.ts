// From a scan's listing and records to the QueueSummary the checks report: counts from the
// listing, envelope figures from the records. Counting goes by interned string number into typed
// arrays (one pass, no map lookup per message), so the figures are exact; only the largest keys
// are handed to the top lists. When some envelopes are unread, the ones read this run in random
// order stand for them: each counts `weight` = (read + unread) / read times.

import type { MtaDriver } from '../mta/types.js';
import { FLAG_INCOMPLETE, FLAG_UNREADABLE, NONE, type EnvelopeStore } from './store.js';
import { domainOf, emptySelection, emptySummary, NAMED_UNREADABLE, type QueueSummary } from './summary.js';
import { TopCounter } from './topk.js';

/** How each listed message is known this run. */
export const UNKNOWN_ENVELOPE = 0;
export const KNOWN_CACHED = 1;
/** Read this run as part of the random order: these stand for the unread. */
export const KNOWN_READ = 2;
export const VANISHED = 3;
/** Read this run first, out of the random order (the oldest by queue ID). */
export const KNOWN_FIRST = 4;

/** What aggregate() needs of the listing. */
export interface ListedMessages {
  readonly n: number;
  id(i: number): string;
  queueOf(i: number): string;
}

/** Arrival times a damaged queue file may claim (year 275760, 1e20) are no time at all. */
const LATEST_ARRIVAL = 1e11;
/** Counters keep this many keys; the counts here are exact, so only the largest are handed over. */
const TOP_KEPT = 10_000;

/** Feed a counter the TOP_KEPT largest of exact per-string counts (no pruning, so no approximation). */
function addLargest(counter: TopCounter, counts: Float64Array, key: (k: number) => string): void {
  let nonzero = 0;
  for (let k = 0; k < counts.length; k++) if (counts[k] > 0) nonzero++;
  let floor = 0;
  if (nonzero > TOP_KEPT) {
    const sorted = new Float64Array(nonzero);
    let x = 0;
    for (let k = 0; k < counts.length; k++) if (counts[k] > 0) sorted[x++] = counts[k];
    sorted.sort();
    floor = sorted[nonzero - TOP_KEPT];
  }
  let added = 0;
  for (let k = 0; k < counts.length && added < TOP_KEPT; k++)
    if (counts[k] > 0 && counts[k] >= floor) {
      counter.add(key(k), Math.round(counts[k]));
      added++;
    }
  if (nonzero > added) counter.markTruncated(nonzero);
}

/** Queue-ID time and file arrival more than this apart count as disagreeing. */
const ID_SLACK_S = 600;

function idsAgree(
  listing: ListedMessages,
  store: EnvelopeStore,
  recordOf: Int32Array,
  known: Uint8Array,
  idArrival: (id: string) => number | undefined,
): { agree: boolean; compared: number; off: number } {
  let compared = 0;
  let off = 0;
  for (let i = 0; i < listing.n; i++) {
    if (compared >= 10_000 && known[i] !== KNOWN_FIRST) continue;
    const r = recordOf[i];
    if (r < 0 || known[i] === VANISHED || store.arrival[r] === NONE) continue;
    const t = idArrival(listing.id(i));
    if (t === undefined) continue;
    compared++;
    if (Math.abs(t - store.arrival[r]) > ID_SLACK_S) off++;
  }
  // Sendmail reuses a process's first ID second for its later messages: a few may be off.
  return { agree: off <= Math.max(2, compared * 0.05), compared, off };
}

export function aggregate(
  driver: MtaDriver,
  listing: ListedMessages,
  store: EnvelopeStore,
  recordOf: Int32Array,
  known: Uint8Array,
  unread: number,
  opts: { countOnly: boolean; idArrival?: (id: string) => number | undefined; selected?: string[] },
): QueueSummary {
  const s = emptySummary(driver.queues, !opts.countOnly);
  // --queue: the same envelope figures once more, over the selected queues only.
  const selected = !opts.countOnly && opts.selected?.length ? new Set(opts.selected) : undefined;
  const selCount = selected ? { sender: new Float64Array(store.strings.list.length), rcpt: new Float64Array(store.strings.list.length), client: new Float64Array(store.strings.list.length) } : undefined;
  let selTotal = 0;
  let selRecipients = 0;
  let selSampled = 0;
  let selUnread = 0;
  let selUnknownSenders = 0;
  const selSampleSenders = new TopCounter();
  const n = listing.n;
  const readable = new Set(driver.needsReading ?? []);
  const strings = store.strings.list;
  let sampled = 0;
  for (let i = 0; i < n; i++) if (known[i] === KNOWN_READ) sampled++;
  const weight = unread > 0 && sampled > 0 ? (sampled + unread) / sampled : 1;
  const sampleSenders = new TopCounter();
  const senderCount = new Float64Array(opts.countOnly ? 0 : strings.length);
  const rcptCount = new Float64Array(opts.countOnly ? 0 : strings.length);
  const clientCount = new Float64Array(opts.countOnly ? 0 : strings.length);
  let unknownSenders = 0;
  let sizesUnknown = 0;
  let arrivalsKnown = 0;
  const byQueue = s.byQueue;
  const setOldest = (arrival: number, i: number, queue: string) => {
    if (!(arrival >= 0 && arrival < LATEST_ARRIVAL)) return;
    arrivalsKnown++;
    if (s.oldestArrival === undefined || arrival < s.oldestArrival) {
      s.oldestArrival = arrival;
      s.oldestId = listing.id(i);
    }
    const q = Object.hasOwn(s.oldestByQueue, queue) ? s.oldestByQueue[queue] : undefined;
    if (!q || arrival < q.arrival) s.oldestByQueue[queue] = { arrival, id: listing.id(i) };
  };
  // The queue IDs' times stand in for unread files only while they agree with the files read: a
  // clock that was wrong when the IDs were made, a patched MTA or another ID format must not make
  // every unread message 20 years old. Checked on the oldest by ID (read first) and up to 10,000 others.
  const trust = opts.idArrival && !opts.countOnly ? idsAgree(listing, store, recordOf, known, opts.idArrival) : { agree: true, compared: 0, off: 0 };
  if (!trust.agree) s.idArrivalDistrusted = trust;
  const useIds = Boolean(opts.idArrival) && trust.agree;
  const idArrival = (i: number) => (useIds ? (opts.idArrival!(listing.id(i)) ?? NaN) : NaN);
  let counted = 0;
  for (let i = 0; i < n; i++) {
    if (known[i] === VANISHED) continue;
    counted++;
    const r = recordOf[i];
    let queue = listing.queueOf(i);
    if (r >= 0) {
      const readQueue = strings[store.queue[r]];
      if (readable.has(readQueue)) queue = readQueue;
    }
    // A queue name from a damaged listing ("constructor", "__proto__") must not reach Object.prototype.
    byQueue[queue] = (Object.hasOwn(byQueue, queue) ? byQueue[queue] : 0) + 1;
    s.total++;
    if (opts.countOnly) continue;
    const inSel = selected?.has(queue) ?? false;
    if (inSel) selTotal++;
    if (r < 0) {
      if (useIds) setOldest(idArrival(i), i, queue);
      if (inSel) selUnread++;
      continue;
    }
    setOldest(store.arrival[r] === NONE ? idArrival(i) : store.arrival[r], i, queue);
    const w = known[i] === KNOWN_READ ? weight : 1;
    if (store.size[r] !== NONE) s.bytes += store.size[r] * w;
    else sizesUnknown++;
    const snd = store.sender[r];
    if (snd < 0) unknownSenders += w;
    else {
      senderCount[snd] += w;
      if (strings[snd] === '') s.nullSender += w;
    }
    s.recipients += store.rcptCount[r] * w;
    const from = store.rcptStart[r];
    const stored = store.rcptStored[r];
    for (let k = 0; k < stored; k++) rcptCount[store.rcpts[from + k]] += w;
    if (store.client[r] >= 0) clientCount[store.client[r]] += w;
    if (weight !== 1 && known[i] === KNOWN_READ) sampleSenders.add(snd < 0 ? '(unknown)' : strings[snd] === '' ? '<>' : strings[snd]);
    if (inSel && selCount) {
      if (snd < 0) selUnknownSenders += w;
      else selCount.sender[snd] += w;
      selRecipients += store.rcptCount[r] * w;
      for (let k = 0; k < stored; k++) selCount.rcpt[store.rcpts[from + k]] += w;
      if (store.client[r] >= 0) selCount.client[store.client[r]] += w;
      if (known[i] === KNOWN_READ) selSampled++;
      if (weight !== 1 && known[i] === KNOWN_READ) selSampleSenders.add(snd < 0 ? '(unknown)' : strings[snd] === '' ? '<>' : strings[snd]);
    }
    const f = store.flags[r];
    if (f & FLAG_UNREADABLE && ++s.unreadable <= NAMED_UNREADABLE) s.unreadableIds.push(`${queue}/${listing.id(i)}`);
    if (f & FLAG_INCOMPLETE) s.incomplete++;
  }
  if (opts.countOnly) return s;
  s.oldestExact = arrivalsKnown === counted;
  s.sizesUnknown = sizesUnknown;
  s.bytes = Math.round(s.bytes);
  s.recipients = Math.round(s.recipients);
  s.nullSender = Math.round(s.nullSender);
  const domainCount = new Map<string, number>();
  for (let k = 0; k < strings.length; k++) {
    if (rcptCount[k] > 0) {
      const d = domainOf(strings[k]);
      domainCount.set(d, (domainCount.get(d) ?? 0) + rcptCount[k]);
    }
  }
  addLargest(s.senders, senderCount, (k) => (strings[k] === '' ? '<>' : strings[k]));
  addLargest(s.clients, clientCount, (k) => strings[k]);
  addLargest(s.recipientAddresses, rcptCount, (k) => strings[k]);
  if (unknownSenders > 0) s.senders.add('(unknown)', Math.round(unknownSenders));
  for (const [d, c] of domainCount) s.recipientDomains.add(d, Math.round(c));
  if (unread > 0) s.estimate = { sampled, unread, weight, sampleSenders };
  if (selected && selCount) {
    const sel = emptySelection([...selected]);
    sel.total = selTotal;
    sel.recipients = Math.round(selRecipients);
    addLargest(sel.senders, selCount.sender, (k) => (strings[k] === '' ? '<>' : strings[k]));
    addLargest(sel.clients, selCount.client, (k) => strings[k]);
    addLargest(sel.recipientAddresses, selCount.rcpt, (k) => strings[k]);
    if (selUnknownSenders > 0) sel.senders.add('(unknown)', Math.round(selUnknownSenders));
    const selDomains = new Map<string, number>();
    for (let k = 0; k < strings.length; k++)
      if (selCount.rcpt[k] > 0) {
        const d = domainOf(strings[k]);
        selDomains.set(d, (selDomains.get(d) ?? 0) + selCount.rcpt[k]);
      }
    for (const [d, c] of selDomains) sel.recipientDomains.add(d, Math.round(c));
    if (unread > 0) sel.estimate = { sampled: selSampled, unread: selUnread, weight, sampleSenders: selSampleSenders };
    s.selection = sel;
  }
  return s;
}
