// Shared wording for queue checks' long output.

import type { QueueData } from './source.js';
import type { SkippedPath } from '../mta/skipped.js';
import type { TopCounter } from './topk.js';
import { proportionInterval } from './sample.js';
import type { QueueSummary } from './summary.js';

/** 512340 -> "512,340". Not toLocaleString: initialising Intl costs more than a whole small scan. */
export function formatCount(n: number): string {
  if (!Number.isInteger(n)) return String(n);
  const s = String(Math.abs(n));
  let out = '';
  for (let i = s.length; i > 0; i -= 3) out = s.slice(Math.max(0, i - 3), i) + (out ? ',' + out : '');
  return (n < 0 ? '-' : '') + out;
}

export function pct(part: number, whole: number): string {
  if (whole <= 0) return '(0%)';
  const p = (100 * part) / whole;
  if (p > 0 && p < 0.1) return '(<0.1%)';
  return `(${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%)`;
}

export function topLines(title: string, counter: TopCounter, whole: number, n: number): string[] {
  if (n <= 0) return [];
  const rows = counter.top(n);
  if (!rows.length) return [];
  const approx = counter.approximate ? ` (approximate: more than ${formatCount(counter.distinct)} distinct)` : '';
  return [
    `${title}${approx}:`,
    ...rows.map((r) => `  ${r.key === '<>' ? '<> (MAILER-DAEMON)' : r.key} ${formatCount(r.count)} ${pct(r.count, whole)}`),
  ];
}

export function describeSource(d: QueueData): string {
  if (d.source === 'spool') {
    const v = d.vanished ? `, ${formatCount(d.vanished)} vanished mid-scan` : '';
    return `source: ${d.mta} spool ${d.spools.join(', ')} (${formatCount(d.files)} queue files${v})`;
  }
  const why = d.fallbackReason ? `; ${d.fallbackReason}` : '';
  return `source: ${d.mta} command ${d.commands.map((c) => `'${c}'`).join(', ')}${why}`;
}

const MTA_TITLE: Record<string, string> = { postfix: 'Postfix', sendmail: 'Sendmail', exim: 'Exim' };

/** A skipped path as the admin knows it: relative to its spool ("deferred/saved"), else as walked. */
function shownPath(p: string, spools: string[]): string {
  for (const s of spools) {
    const root = s.replace(/\/+$/, '');
    if (p.startsWith(`${root}/`)) return p.slice(root.length + 1);
  }
  return p;
}

const files = (n: number, more?: boolean) => `${more ? 'more than ' : ''}${formatCount(n)} queue file${n === 1 && !more ? '' : 's'}`;

/**
 * What the spool walk left out (lib/mta/skipped.ts), said rather than skipped silently: one line each
 * for the long output, and for line one the symlinks the MTA itself follows (their messages are
 * queued but not counted here).
 */
export function skippedReport(skipped: readonly SkippedPath[], mta: string, spools: string[]): { details: string[]; summary?: string } {
  const who = MTA_TITLE[mta] ?? mta;
  const seen = new Set<string>();
  const details: string[] = [];
  const hidden: string[] = [];
  let limited = 0;
  for (const s of skipped) {
    const key = `${s.why}\0${s.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const rel = shownPath(s.path, spools);
    if (s.why === 'not-queue-dir') details.push(`${rel}/: ${files(s.files, s.more)} not counted (not a queue directory ${who} scans)`);
    else if (s.why === 'queue-limit') {
      details.push(`${rel}/: named queue not counted (more named queues than a check counts)`);
      limited++;
    } else if (s.why === 'misplaced')
      details.push(`${rel}/: ${files(s.files)} not counted (not in the hash directory of their ID: ${who} does not see them until postsuper repairs the queue)`);
    else if (s.files > 0) {
      details.push(`${rel}/: ${formatCount(s.files)} symlinked queue file${s.files === 1 ? '' : 's'} not counted (${s.mtaSees ? `${who} reads them` : `${who} reads regular files only`})`);
      if (s.mtaSees) hidden.push(`${rel}/`);
    } else {
      details.push(`${rel}${s.target !== undefined ? ` -> ${s.target}` : ''}: symlink not followed${s.mtaSees ? ` (${who} follows it: the messages there are not counted)` : ''}`);
      if (s.mtaSees) hidden.push(rel);
    }
  }
  const parts: string[] = [];
  if (hidden.length) parts.push(`${hidden.length === 1 ? `symlink ${hidden[0]}` : `${hidden.length} symlinks (${hidden[0]}, ...)`} not followed`);
  if (limited) parts.push(`${formatCount(limited)} more named queue${limited === 1 ? '' : 's'} not read`);
  const summary = parts.length ? `${parts.join(', ')}: the messages there are not counted` : undefined;
  return { details, summary };
}

/** Who the line-one names are drawn from: the selected queues (--queue), else the whole queue. */
export interface NameView {
  total: number;
  recipients: number;
  senders: QueueSummary['senders'];
  recipientDomains: QueueSummary['recipientDomains'];
  recipientAddresses: QueueSummary['recipientAddresses'];
  clients: QueueSummary['clients'];
  estimate?: QueueSummary['estimate'];
}

/** How an incomplete scan's top sender is said: its estimated share and the 95% interval. */
export function estimatedShare(v: NameView, key: string, count: number): string {
  const e = v.estimate!;
  const k = e.sampleSenders.get(key);
  const population = e.sampled + e.unread;
  const known = count - k * e.weight;
  const iv = proportionInterval(k, e.sampled, population);
  const lo = (known + iv.low * population) / v.total;
  const hi = (known + iv.high * population) / v.total;
  const p = (x: number) => (100 * x >= 10 ? (100 * x).toFixed(0) : (100 * x).toFixed(1));
  return `(~${p(count / v.total)}%, 95% ${p(lo)}-${p(hi)}%)`;
}

/** An age rounded to what its arrival is known to (whole minutes, hours, days). */
export function roundTo(age: number, precision: number | undefined): number {
  return precision && precision > 1 ? Math.round(age / precision) * precision : age;
}

/** When it arrived, with no more digits than are known: 2026-11-23T11:06Z to the minute. */
export function arrivedText(arrival: number, precision: number | undefined): string {
  const iso = new Date(arrival * 1000).toISOString();
  if (!precision || precision <= 1) return iso;
  return `~${precision >= 86400 ? iso.slice(0, 10) : precision >= 3600 ? `${iso.slice(0, 13)}Z` : `${iso.slice(0, 16)}Z`}`;
}
