// Streaming aggregation of queued messages: what check-mailq-depth (and later checks) report.
// Memory is bounded: counters per queue, min arrival, and capped heavy-hitter tables.

import type { QueuedMessage } from '../mta/types.js';
import type { QueueShape } from './shape.js';
import { TopCounter } from './topk.js';

export interface QueueSummary {
  total: number;
  byQueue: Record<string, number>;
  bytes: number;
  recipients: number;
  /** Messages whose sender is the null sender (bounces, MAILER-DAEMON). */
  nullSender: number;
  /** Oldest arrival, epoch seconds (undefined when none known). */
  oldestArrival?: number;
  oldestId?: string;
  /** Seconds: the oldest arrival is known only this closely (a listing's minute column); undefined: exact. */
  oldestPrecision?: number;
  /** The oldest message of each queue, so `--queue deferred --age-*` judges that queue alone. */
  oldestByQueue: Record<string, { arrival: number; id: string; precision?: number }>;
  senders: TopCounter;
  recipientDomains: TopCounter;
  recipientAddresses: TopCounter;
  clients: TopCounter;
  /** Queue files that could not be parsed (still counted in total). */
  unreadable: number;
  /** The first few of them as queue/id, to name in the long output. */
  unreadableIds: string[];
  /** Files still being written by the MTA (counted). */
  incomplete: number;
  /** Whether per-message details (age, senders) were read, or only the directory entries counted. */
  detailed: boolean;
  /** Set when the queue IDs' times disagreed with the files read: not used for the unread. */
  idArrivalDistrusted?: { compared: number; off: number };
  /** Messages read without their size (Sendmail and Exim unless sizes are asked for). */
  sizesUnknown?: number;
  /** The arrival of every counted message is known: the oldest is the oldest (not a lower bound). */
  oldestExact?: boolean;
  /** Set when envelopes were left unread: the `sampled` read this run stand for `unread` more
   *  (each counts `weight` times in the envelope figures, which are then estimates). */
  estimate?: { sampled: number; unread: number; weight: number; sampleSenders: TopCounter };
  /** With --queue: the names of the selected queues alone, so line one never names a culprit whose
   *  mail is in another queue ("320 in hold, top sender X" where X has no message in hold). */
  selection?: SelectionFigures;
  /** --shape: domains by age, as qshape(1) shows them (lib/queue/shape.ts). */
  shape?: QueueShape;
}

/** Who the messages of the selected queues are from and to (the same figures as the whole queue's). */
export interface SelectionFigures {
  queues: string[];
  total: number;
  recipients: number;
  senders: TopCounter;
  recipientDomains: TopCounter;
  recipientAddresses: TopCounter;
  clients: TopCounter;
  estimate?: { sampled: number; unread: number; weight: number; sampleSenders: TopCounter };
}

export function emptySelection(queues: string[]): SelectionFigures {
  return { queues, total: 0, recipients: 0, senders: new TopCounter(), recipientDomains: new TopCounter(), recipientAddresses: new TopCounter(), clients: new TopCounter() };
}

export function emptySummary(queues: readonly string[], detailed: boolean, selected?: string[]): QueueSummary {
  return {
    ...(selected?.length && detailed ? { selection: emptySelection(selected) } : {}),
    total: 0,
    byQueue: Object.fromEntries(queues.map((q) => [q, 0])),
    bytes: 0,
    recipients: 0,
    oldestByQueue: Object.create(null) as Record<string, { arrival: number; id: string; precision?: number }>,
    nullSender: 0,
    senders: new TopCounter(),
    recipientDomains: new TopCounter(),
    recipientAddresses: new TopCounter(),
    clients: new TopCounter(),
    unreadable: 0,
    unreadableIds: [],
    incomplete: 0,
    detailed,
  };
}

/** Display form of a sender: the null sender is `<>` (MAILER-DAEMON). */
export function senderKey(sender: string | undefined): string {
  if (sender === undefined) return '(unknown)';
  return sender === '' ? '<>' : sender.toLowerCase();
}

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return '(local)';
  return address.slice(at + 1).toLowerCase();
}

/** How many unreadable queue files are named in the long output. */
export const NAMED_UNREADABLE = 10;

export function countEntry(s: QueueSummary, queue: string): void {
  s.total++;
  // A queue name read from a listing ("constructor", "__proto__") must not reach Object.prototype.
  s.byQueue[queue] = (Object.hasOwn(s.byQueue, queue) ? s.byQueue[queue] : 0) + 1;
}

/** Who one message is from and to, counted into the whole queue's figures or the selection's. */
function countParties(t: Pick<SelectionFigures, 'recipients' | 'senders' | 'recipientDomains' | 'recipientAddresses' | 'clients'>, m: QueuedMessage): void {
  t.senders.add(senderKey(m.sender));
  t.recipients += m.recipients.length;
  for (const r of m.recipients) {
    t.recipientDomains.add(domainOf(r));
    t.recipientAddresses.add(r.toLowerCase());
  }
  if (m.client) t.clients.add(m.client);
}

/** Arrival times a damaged queue file may claim (year 275760, 1e20) are no time at all. */
const LATEST_ARRIVAL = 1e11;

export function addMessage(s: QueueSummary, m: QueuedMessage): void {
  countEntry(s, m.queue);
  if (m.size !== undefined && m.size >= 0 && m.size <= Number.MAX_SAFE_INTEGER) s.bytes += m.size;
  if (m.arrival !== undefined && Number.isFinite(m.arrival) && m.arrival >= 0 && m.arrival < LATEST_ARRIVAL) {
    const precision = m.arrivalPrecision && m.arrivalPrecision > 1 ? m.arrivalPrecision : undefined;
    if (s.oldestArrival === undefined || m.arrival < s.oldestArrival) {
      s.oldestArrival = m.arrival;
      s.oldestId = m.id;
      s.oldestPrecision = precision;
    }
    const q = Object.hasOwn(s.oldestByQueue, m.queue) ? s.oldestByQueue[m.queue] : undefined;
    if (!q || m.arrival < q.arrival) s.oldestByQueue[m.queue] = precision ? { arrival: m.arrival, id: m.id, precision } : { arrival: m.arrival, id: m.id };
  }
  if (m.sender === '') s.nullSender++;
  countParties(s, m);
  const sel = s.selection;
  if (sel && sel.queues.includes(m.queue)) {
    sel.total++;
    countParties(sel, m);
  }
  if (m.flags) {
    if (m.flags.includes('unreadable') && ++s.unreadable <= NAMED_UNREADABLE) s.unreadableIds.push(`${m.queue}/${m.id}`);
    if (m.flags.includes('incomplete')) s.incomplete++;
  }
}
