// Reading the mail log from journald, for hosts without a mail log file:
//   journalctl -u postfix@-.service --after-cursor 's=...' -o short-iso --show-cursor -q --no-pager
// prints the entries since the saved cursor as syslog-like lines, then the new cursor:
//   2026-11-23T11:11:03+0000 mx1 postfix/qmgr[5594]: 10295164182: from=<app@qa.example>, size=1297, nrcpt=1 (queue active)
//   -- cursor: s=8c6b...;i=2a1;b=...;m=...;t=...;x=...
// The cursor is kept in the state like a file offset. First run: only the cursor of the newest entry
// (-n 1) is recorded, unless --from-start. No entry yet: the baseline time is kept instead and the next
// run asks for --since @<time>.

import { UnknownError } from '../plugin/errors.js';
import { findProgram, runCommand } from '../plugin/exec.js';
import { clip } from '../plugin/text.js';
import type { LogReader } from './reader.js';

export interface JournalCursor {
  units: string[];
  cursor?: string;
  /** Epoch seconds: read entries since then (no cursor yet). */
  since?: number;
}

export function isJournalCursor(x: unknown): x is JournalCursor {
  if (!x || typeof x !== 'object') return false;
  const j = x as JournalCursor;
  return Array.isArray(j.units) && j.units.every((u) => typeof u === 'string') && (j.cursor === undefined || typeof j.cursor === 'string') && (j.since === undefined || Number.isFinite(j.since));
}

export interface JournalOutcome {
  cursor: JournalCursor;
  baseline: boolean;
  entries: number;
  read: number;
  skipped: number;
  notes: string[];
  command: string;
}

const CURSOR_PREFIX = '-- cursor: ';

/** Split journalctl's output into the entries and the trailing cursor line. Pure. */
export function splitJournalOutput(stdout: string): { text: string; cursor?: string } {
  let text = stdout;
  let cursor: string | undefined;
  const at = text.lastIndexOf(`\n${CURSOR_PREFIX}`);
  if (text.startsWith(CURSOR_PREFIX) || at >= 0) {
    const start = text.startsWith(CURSOR_PREFIX) ? 0 : at + 1;
    const end = text.indexOf('\n', start);
    cursor = text.slice(start + CURSOR_PREFIX.length, end < 0 ? undefined : end).trim();
    text = text.slice(0, start);
  }
  // journalctl's own notes ("-- No entries --", "-- Boot ... --") are not log lines.
  if (text.includes('\n-- ') || text.startsWith('-- ')) text = text.split('\n').filter((l) => !l.startsWith('-- ')).join('\n');
  return { text, cursor };
}

export function journalArgs(prev: JournalCursor | undefined, units: string[], o: { firstRun: boolean; fromStart: boolean; directory?: string }): { args: string[]; baseline: boolean } {
  const args = [...units.flatMap((u) => ['-u', u]), '-o', 'short-iso', '--show-cursor', '-q', '--no-pager'];
  if (o.directory) args.push('--directory', o.directory);
  if (prev?.cursor) return { args: [...args, '--after-cursor', prev.cursor], baseline: false };
  if (prev?.since !== undefined) return { args: [...args, '--since', `@${Math.floor(prev.since)}`], baseline: false };
  if (o.firstRun && !o.fromStart) return { args: [...args, '-n', '1'], baseline: true };
  return { args, baseline: false };
}

export async function readJournal(
  units: string[],
  prev: JournalCursor | undefined,
  reader: LogReader,
  o: { firstRun: boolean; fromStart: boolean; nowSec: number; env: NodeJS.ProcessEnv; signal: AbortSignal; timeoutMs: number; directory?: string },
): Promise<JournalOutcome> {
  const exe = findProgram(['journalctl'], o.env.PATH ?? '');
  if (!exe) throw new UnknownError('journalctl not found', 'give --log FILE on hosts without systemd-journald');
  // A saved cursor for other units is not ours.
  const mine = prev && prev.units.join('\0') === units.join('\0') ? prev : undefined;
  const { args, baseline } = journalArgs(mine, units, o);
  const r = await runCommand(exe, args, { signal: o.signal, timeoutMs: o.timeoutMs, env: o.env as Record<string, string> });
  const command = `journalctl ${args.map((a) => (/^[\w@=./:-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`;
  if (r.timedOut) throw new UnknownError(`${command} did not finish before the deadline`, 'raise -t or check journald');
  if (r.failed) {
    const why = clip((r.stderr.trim().split('\n')[0] || r.message).trim(), 200);
    throw new UnknownError(`${command} failed: ${why}`, 'run the check as a user in group systemd-journal or adm');
  }
  const { text, cursor } = splitJournalOutput(r.stdout);
  const notes: string[] = [];
  if (baseline) {
    notes.push(
      cursor
        ? `journal ${units.join(', ')}: baseline recorded at the newest entry; the next run reads what comes after it`
        : `journal ${units.join(', ')}: no entries yet; the next run reads entries since now`,
    );
    return { cursor: cursor ? { units, cursor } : { units, since: o.nowSec }, baseline: true, entries: 0, read: 0, skipped: 0, notes, command };
  }
  const res = reader.readBuffer(Buffer.from(text, 'utf8'));
  const entries = text ? text.split('\n').filter(Boolean).length : 0;
  if (res.skipped) notes.push(`journal ${units.join(', ')}: ${entries.toLocaleString('en-US')} entries, only the first part read (--max-bytes)`);
  return { cursor: cursor ? { units, cursor } : (mine ?? { units, since: o.nowSec }), baseline: false, entries, read: res.read, skipped: res.skipped, notes, command };
}
