// Shared wording for queue checks' long output.

import type { QueueData } from './source.js';
import type { SkippedPath } from '../mta/skipped.js';
import type { TopCounter } from './topk.js';

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
