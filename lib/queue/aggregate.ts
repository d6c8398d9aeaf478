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
  /** Per listed message its queue's number in queueNames. */
  readonly queue: Uint16Array;
  readonly queueNames: readonly string[];
}

/** Arrival times a damaged queue file may claim (year 275760, 1e20) are no time at all. */
const LATEST_ARRIVAL = 1e11;
/** Counters keep this many keys (--top lists at most 100); the counts here are exact, so only the largest are handed over. */
const TOP_KEPT = 1_000;

/** Feed a counter the TOP_KEPT largest of exact per-string counts (no pruning, so no approximation),
 *  by count and then by key, as TopCounter.top() orders them: which of many equal counts are kept
 *  never depends on the order strings were first seen in (a reader thread numbers them otherwise). */
function addLargest(counter: TopCounter, counts: Float64Array, key: (k: number) => string): void {
  let nonzero = 0;
  for (let k = 0; k < counts.length; k++) if (counts[k] > 0) nonzero++;
  if (nonzero <= TOP_KEPT) {
    for (let k = 0; k < counts.length; k++) if (counts[k] > 0) counter.add(key(k), Math.round(counts[k]));
    return;
  }
  const sorted = new Float64Array(nonzero);
  let x = 0;
  for (let k = 0; k < counts.length; k++) if (counts[k] > 0) sorted[x++] = counts[k];
  sorted.sort();
  const floor = sorted[nonzero - TOP_KEPT];
  const tied: number[] = [];
  let added = 0;
  for (let k = 0; k < counts.length; k++) {
    if (counts[k] > floor) {
      counter.add(key(k), Math.round(counts[k]));
      added++;
    } else if (counts[k] === floor) tied.push(k);
  }
  const room = TOP_KEPT - added;
  const keys = tied.map(key);
  if (keys.length > room) keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let t = 0; t < room && t < keys.length; t++) counter.add(keys[t], Math.round(floor));
  counter.markTruncated(nonzero);
}

/** Queue-ID time and file arrival more than this apart count as disagreeing. */
const ID_SLACK_S = 600;
/** Listed messages whose ID time is compared with their file's (besides the oldest by ID). */
const ID_CHECKS = 20_000;

function idsAgree(
  listing: ListedMessages,
  store: EnvelopeStore,
  recordOf: Int32Array,
  known: Uint8Array,
  idArrival: (id: string) => number | undefined,
): { agree: boolean; compared: number; off: number } {
  let compared = 0;
  let off = 0;
  const compare = (i: number) => {
    const r = recordOf[i];
    if (r < 0 || known[i] === VANISHED || store.arrival[r] === NONE) return;
    const t = idArrival(listing.id(i));
    if (t === undefined) return;
    compared++;
    if (Math.abs(t - store.arrival[r]) > ID_SLACK_S) off++;
  };
  // Every one read first (the oldest by ID), and an even spread of up to ID_CHECKS others: a
  // spread, not the first ones listed, so a queue whose older part has short Postfix IDs (no time)
  // and newer part long ones is still checked, and a 500,000 queue of short IDs costs 20,000 tries.
  for (let i = 0; i < listing.n; i++) if (known[i] === KNOWN_FIRST) compare(i);
  const stride = Math.max(1, Math.floor(listing.n / ID_CHECKS));
  for (let i = 0; i < listing.n; i += stride) if (known[i] !== KNOWN_FIRST) compare(i);
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
  // Queues by number, not by name, in the per-message loop: the listing's queue numbers, then the
  // names a file may say instead (Exim's frozen: driver.needsReading) by their string numbers.
  const qNames = [...listing.queueNames];
  const fromRead = new Map<number, number>();
  for (const name of readable) {
    const k = strings.indexOf(name);
    if (k < 0) continue;
    let u = qNames.indexOf(name);
    if (u < 0) u = qNames.push(name) - 1;
    fromRead.set(k, u);
  }
  const qCount = new Float64Array(qNames.length);
  const qOldest = new Float64Array(qNames.length).fill(Infinity);
  const qOldestAt = new Int32Array(qNames.length).fill(-1);
  const qSelected = Uint8Array.from(qNames, (q) => (selected?.has(q) ? 1 : 0));
  /** Queue numbers in the order their first message came (the order byQueue keys get). */
  const qOrder: number[] = [];
  const oldestOrder: number[] = [];
  let oldest = Infinity;
  let oldestAt = -1;
  const setOldest = (arrival: number, i: number, u: number) => {
    if (!(arrival >= 0 && arrival < LATEST_ARRIVAL)) return;
    arrivalsKnown++;
    if (arrival < oldest) {
      oldest = arrival;
      oldestAt = i;
    }
    if (arrival < qOldest[u]) {
      if (qOldestAt[u] < 0) oldestOrder.push(u);
      qOldest[u] = arrival;
      qOldestAt[u] = i;
    }
  };
  // The queue IDs' times stand in for unread files only while they agree with the files read: a
  // clock that was wrong when the IDs were made, a patched MTA or another ID format must not make
  // every unread message 20 years old. Checked on the oldest by ID (read first) and up to 20,000 others.
  // Only asked when some listed message has no arrival of its own (unread, or a file without one):
  // a repeat run that knows every envelope from the cache makes no ID string at all.
  let needIds = false;
  for (let i = 0; i < n && !needIds; i++) {
    const r = recordOf[i];
    needIds = r < 0 ? known[i] !== VANISHED : store.arrival[r] === NONE;
  }
  const trust =
    opts.idArrival && !opts.countOnly && needIds ? idsAgree(listing, store, recordOf, known, opts.idArrival) : { agree: true, compared: 0, off: 0 };
  if (!trust.agree) s.idArrivalDistrusted = trust;
  const useIds = Boolean(opts.idArrival) && trust.agree;
  const idArrival = (i: number) => (useIds ? (opts.idArrival!(listing.id(i)) ?? NaN) : NaN);
  const listedQueue = listing.queue;
  const nullIdx = strings.indexOf('');
  let bytes = 0;
  let recipients = 0;
  let nullSender = 0;
  let counted = 0;
  for (let i = 0; i < n; i++) {
    if (known[i] === VANISHED) continue;
    counted++;
    const r = recordOf[i];
    let u = listedQueue[i];
    if (r >= 0 && fromRead.size) u = fromRead.get(store.queue[r]) ?? u;
    if (qCount[u]++ === 0) qOrder.push(u);
    if (opts.countOnly) continue;
    const inSel = qSelected[u] === 1;
    if (inSel) selTotal++;
    if (r < 0) {
      if (useIds) setOldest(idArrival(i), i, u);
      if (inSel) selUnread++;
      continue;
    }
    setOldest(store.arrival[r] === NONE ? idArrival(i) : store.arrival[r], i, u);
    const w = known[i] === KNOWN_READ ? weight : 1;
    if (store.size[r] !== NONE) bytes += store.size[r] * w;
    else sizesUnknown++;
    const snd = store.sender[r];
    if (snd < 0) unknownSenders += w;
    else {
      senderCount[snd] += w;
      if (snd === nullIdx) nullSender += w;
    }
    recipients += store.rcptCount[r] * w;
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
    if (f & FLAG_UNREADABLE && ++s.unreadable <= NAMED_UNREADABLE) s.unreadableIds.push(`${qNames[u]}/${listing.id(i)}`);
    if (f & FLAG_INCOMPLETE) s.incomplete++;
  }
  // A queue name from a damaged listing ("constructor", "__proto__") must not reach Object.prototype.
  const byQueue = s.byQueue;
  for (const u of qOrder) byQueue[qNames[u]] = (Object.hasOwn(byQueue, qNames[u]) ? byQueue[qNames[u]] : 0) + qCount[u];
  s.total = counted;
  s.bytes = bytes;
  s.recipients = recipients;
  s.nullSender = nullSender;
  if (oldestAt >= 0) {
    s.oldestArrival = oldest;
    s.oldestId = listing.id(oldestAt);
  }
  for (const u of oldestOrder) s.oldestByQueue[qNames[u]] = { arrival: qOldest[u], id: listing.id(qOldestAt[u]) };
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
