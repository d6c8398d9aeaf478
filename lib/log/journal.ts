// Reading the mail log from journald, for hosts without a mail log file:
//   journalctl -u postfix@-.service --after-cursor 's=...' -o json --output-fields=MESSAGE,... -q --no-pager
// prints one JSON object per entry, each with its own __CURSOR; each is turned into the line
// `-o short-iso` would print (journalEntryLine) and streamed into the reader, so a backlog of any
// size costs no memory, and a run stopped at --max-bytes or the deadline keeps the cursor of the
// last entry it read (short-iso's --show-cursor prints the cursor only at the very end, after the
// whole backlog has been held in memory: 3.3 GB for 600 MB, and no cursor when cut).
// The cursor is kept in the state like a file offset. First run: only the cursor of the newest entry
// (-n 1) is recorded, unless --from-start. No entry yet: the baseline time is kept instead and the next
// run asks for --since @<time>.

import { UnknownError } from '../plugin/errors.js';
import { findProgram, streamCommand } from '../plugin/exec.js';
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
  /** More than --max-bytes after the cursor: read up to there, the rest next run. */
  backlog: boolean;
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
  const args = [...[...new Set(units)].flatMap((u) => ['-u', u]), '-o', 'json', `--output-fields=${JSON_FIELDS.join(',')}`, '-q', '--no-pager'];
  if (o.directory) args.push('--directory', o.directory);
  if (prev?.cursor) return { args: [...args, '--after-cursor', prev.cursor], baseline: false };
  if (prev?.since !== undefined) return { args: [...args, '--since', `@${Math.floor(prev.since)}`], baseline: false };
  if (o.firstRun && !o.fromStart) return { args: [...args, '-n', '1'], baseline: true };
  return { args, baseline: false };
}

/** Fields asked of journalctl -o json (it adds __CURSOR and __REALTIME_TIMESTAMP to every entry). */
export const JSON_FIELDS = ['MESSAGE', 'SYSLOG_IDENTIFIER', '_COMM', 'SYSLOG_PID', '_PID', '_HOSTNAME'];

/** journalctl -o json: one entry per line. A field is a string, an array of bytes (not UTF-8), or an array of those (repeated). */
type Field = string | number[] | (string | number[])[] | null | undefined;

function fieldBytes(v: Field): Buffer | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v.length && typeof v[0] !== 'number') return fieldBytes(v[0] as Field);
  return Buffer.from(v as number[]);
}

function isoSeconds(us: string | undefined): string {
  const ms = Number(us) / 1000;
  if (!Number.isFinite(ms)) return '1970-01-01T00:00:00+0000';
  return `${new Date(ms).toISOString().slice(0, 19)}+0000`;
}

/**
 * One journal entry as the line `journalctl -o short-iso` prints for it (UTC), and its cursor. Pure.
 *   {"__CURSOR":"s=8c6b...;i=2a1","__REALTIME_TIMESTAMP":"1795432263000000","_HOSTNAME":"mx1",
 *    "SYSLOG_IDENTIFIER":"postfix/qmgr","_PID":"5594","MESSAGE":"10295164182: from=<app@qa.example>, ..."}
 *   -> 2026-11-23T11:11:03+0000 mx1 postfix/qmgr[5594]: 10295164182: from=<app@qa.example>, ...
 */
export function journalEntryLine(json: string): { line: Buffer; cursor?: string } | undefined {
  let e: Record<string, Field>;
  try {
    e = JSON.parse(json) as Record<string, Field>;
  } catch {
    return undefined;
  }
  if (!e || typeof e !== 'object') return undefined;
  const text = (v: Field) => fieldBytes(v)?.toString('latin1');
  const ident = text(e.SYSLOG_IDENTIFIER) ?? text(e._COMM) ?? '';
  const pid = text(e.SYSLOG_PID) ?? text(e._PID);
  const host = text(e._HOSTNAME) ?? 'localhost';
  const head = `${isoSeconds(typeof e.__REALTIME_TIMESTAMP === 'string' ? e.__REALTIME_TIMESTAMP : undefined)} ${host} ${ident}${pid ? `[${pid}]` : ''}: `;
  const msg = fieldBytes(e.MESSAGE) ?? Buffer.alloc(0);
  // A multi-line message is one entry: one line here.
  for (let i = msg.indexOf(10); i >= 0; i = msg.indexOf(10, i + 1)) msg[i] = 32;
  return { line: Buffer.concat([Buffer.from(head, 'latin1'), msg, Buffer.from('\n')]), cursor: typeof e.__CURSOR === 'string' ? e.__CURSOR : undefined };
}

/** Thrown from the line handler to stop journalctl once --max-bytes is read. */
class BudgetSpent extends Error {}

/**
 * Stream journalctl's entries into the reader (bounded memory, whatever the backlog), under the
 * deadline and --max-bytes; the cursor moves to the last entry read, so a run stopped by either
 * goes on from there next time, and nothing is read twice.
 */
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
  const command = `journalctl ${args.map((a) => (/^[\w@=./:,-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`;
  const notes: string[] = [];
  let cursor: string | undefined;
  let entries = 0;
  let bad = 0;
  let spent = false;
  const sink = reader.stream();
  let r: Awaited<ReturnType<typeof streamCommand>>;
  try {
    r = await streamCommand(exe, args, {
      signal: o.signal,
      timeoutMs: o.timeoutMs,
      env: o.env as Record<string, string>,
      encoding: 'utf8',
      onLine: (json) => {
        if (!json) return;
        const e = journalEntryLine(json);
        if (!e) {
          bad++;
          return;
        }
        if (e.cursor) cursor = e.cursor;
        if (baseline) return;
        entries++;
        if (!sink.push(e.line)) {
          spent = true;
          throw new BudgetSpent();
        }
      },
    });
  } catch (err) {
    if (!(err instanceof BudgetSpent)) throw err;
    r = { failed: false, timedOut: false, message: '', stderr: '', lines: entries, bytes: 0, truncatedLines: 0 };
  }
  if (!spent && !r.timedOut && r.failed) {
    const why = clip((r.stderr.trim().split('\n')[0] || r.message).trim(), 200);
    throw new UnknownError(`${command} failed: ${why}`, 'run the check as a user in group systemd-journal or adm');
  }
  if (r.timedOut) {
    if (!baseline && entries === 0 && !cursor) throw new UnknownError(`${command} did not finish before the deadline`, 'raise -t or check journald');
    reader.stopped = true;
  }
  sink.end();
  if (bad) notes.push(`journal ${units.join(', ')}: ${bad.toLocaleString('en-US')} line(s) of journalctl output were not JSON entries (skipped)`);
  if (baseline) {
    notes.push(
      cursor
        ? `journal ${units.join(', ')}: baseline recorded at the newest entry; the next run reads what comes after it`
        : `journal ${units.join(', ')}: no entries yet; the next run reads entries since now`,
    );
    return { cursor: cursor ? { units, cursor } : { units, since: o.nowSec }, baseline: true, backlog: false, entries: 0, read: 0, skipped: 0, notes, command };
  }
  if (spent) notes.push(`journal ${units.join(', ')}: stopped at --max-bytes after ${entries.toLocaleString('en-US')} entries; the cursor is at the last one read, the rest is read next run`);
  if (r.timedOut) notes.push(`journal ${units.join(', ')}: stopped at the deadline after ${entries.toLocaleString('en-US')} entries; the cursor is at the last one read`);
  return { cursor: cursor ? { units, cursor } : (mine ?? { units, since: o.nowSec }), baseline: false, backlog: spent, entries, read: 0, skipped: 0, notes, command };
}
