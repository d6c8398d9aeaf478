// Where the flood check stopped reading, kept apart from its run history and from the clock:
//   /var/lib/mailq-checks/maillog_flood-var_log_mail.log-3f9a1c2b7e4d.cursor
//   {"version":1,"t":1795434493.1,"files":[{"path":"/var/log/mail.log","dev":2049,"ino":131090,
//     "offset":18578,"size":18578,"fp":"3f9a1c2b7e4d5a61","fpLen":256}]}
// One cursor per file, rewritten each run (atomically, under the state file's lock). The history of
// runs (lines, bytes per run) stays in the state file, a few samples long. The cursor is never
// dropped for its age or for a time in the future: byte offsets do not depend on the clock, so a
// clock step neither re-reads counted lines nor loses appended ones (only that run's rate is unknown).
// Earlier versions kept a full copy of every file cursor in each of 50 samples (19 MB rewritten
// and fsynced every run for a 3,000-file glob); such a state is read once and not written again.

import fsp from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from '../plugin/errors.js';
import { readRegularFile, writeAtomic } from '../plugin/state.js';
import { isJournalCursor, type JournalCursor } from './journal.js';
import { isFileCursor, type FileCursor } from './tail.js';

export const CURSOR_VERSION = 1;

export interface CursorDoc {
  version: number;
  /** Epoch seconds of the run that wrote it (for the interval only). */
  t: number;
  files: FileCursor[];
  journal?: JournalCursor;
}

export function isCursorDoc(x: unknown): x is CursorDoc {
  const d = x as CursorDoc;
  return !!d && typeof d === 'object' && d.version === CURSOR_VERSION && Number.isFinite(d.t) && Array.isArray(d.files) && d.files.every(isFileCursor) && (d.journal === undefined || isJournalCursor(d.journal));
}

/** The cursor file beside a state file. */
export function cursorFileOf(stateFile: string): string {
  return stateFile.replace(/\.json$/, '') + '.cursor';
}

/** Read the cursor; a damaged one is moved aside (said) and the run starts a baseline. */
export async function loadCursor(file: string, nowSec: number): Promise<{ doc?: CursorDoc; notes: string[] }> {
  let text: string;
  try {
    text = (await readRegularFile(file)).toString('utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { notes: [] };
    return aside(file, nowSec, `unreadable (${errorCode(err) ?? (err as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return aside(file, nowSec, text.length ? 'not valid JSON' : 'empty');
  }
  if (!isCursorDoc(doc)) {
    const v = (doc as CursorDoc | null)?.version;
    return aside(file, nowSec, typeof v === 'number' && v > CURSOR_VERSION ? `written by a newer version (format ${v})` : 'not a cursor');
  }
  return { doc, notes: [] };
}

async function aside(file: string, nowSec: number, why: string): Promise<{ notes: string[] }> {
  const target = `${file}.corrupt-${Math.floor(nowSec)}`;
  const moved = await fsp.rename(file, target).then(
    () => true,
    () => false,
  );
  return {
    notes: [moved ? `cursor file was ${why}: moved aside to ${path.basename(target)}; starting a fresh baseline` : `cursor file was ${why} and could not be moved aside; starting a fresh baseline`],
  };
}

export async function saveCursor(file: string, doc: CursorDoc): Promise<void> {
  await writeAtomic(file, JSON.stringify(doc) + '\n');
}
