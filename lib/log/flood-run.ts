// The I/O side of check-maillog-flood: open the state, load the cursor, read what was appended to
// each log (or the journal) since it, analyse it, save the cursor, record the run.

import { formatDuration } from '../plugin/duration.js';
import { errorCode } from '../plugin/errors.js';
import type { CollectContext, CollectStatus } from '../plugin/check.js';
import { formatBytes } from '../plugin/size.js';
import { openState } from '../plugin/state.js';
import { loadSticky, saveSticky, stickyFileOf } from '../plugin/sticky-file.js';
import type { StickyDoc } from '../plugin/sticky.js';
import { formatCount } from '../queue/report.js';
import { cursorFileOf, loadCursor, saveCursor, type CursorDoc } from './cursor.js';
import { FloodAnalyser, instanceNotes, type FloodStats } from './flood.js';
import { isJournalCursor, readJournal, type JournalCursor } from './journal.js';
import { LogReader } from './reader.js';
import { defaultLog, GLOB, resolveLogs, sameFiles } from './sources.js';
import { isFileCursor, tailFile, type FileCursor, type FileEvent } from './tail.js';
import path from 'node:path';

export const FLOOD_CHECK_ID = 'maillog_flood';
/** How long a cursor is kept without a run before the next run starts a new baseline. */
export const STATE_WINDOW = 30 * 86400;

/** What reading the logs needs to know (check-maillog-flood's options, less its thresholds). */
export interface FloodReadOptions {
  /** --instance: only mail-flow lines tagged "<instance>/..." (a Postfix syslog_name). */
  instance?: string;
  logs: string[];
  logsGiven: boolean;
  journal: string[];
  journalDirectory?: string;
  fromStart: boolean;
  maxBytes: number;
  exactLimit: number;
  maxLine: number;
  top: number;
  stateDir?: string;
  /** --sticky, seconds (0: off): the record of alerts seen is loaded here and saved after the verdict. */
  sticky?: number;
}

/** Runs kept in the state file's history (lines, bytes per run; the cursor is kept apart). */
export const HISTORY_SAMPLES = 10;

/** One run's record in the state file. */
export interface FloodSample {
  t: number;
  /** Only in states written by earlier versions (the cursor is in its own file now: lib/log/cursor.ts). */
  files?: FileCursor[];
  journal?: JournalCursor;
  lines: number;
  bytes: number;
  skipped: number;
}

export function isFloodSample(x: unknown): x is FloodSample {
  if (!x || typeof x !== 'object') return false;
  const s = x as FloodSample;
  return (
    Number.isFinite(s.t) &&
    (s.files === undefined || (Array.isArray(s.files) && s.files.every(isFileCursor))) &&
    (s.journal === undefined || isJournalCursor(s.journal)) &&
    Number.isFinite(s.lines) &&
    Number.isFinite(s.bytes) &&
    Number.isFinite(s.skipped)
  );
}


export interface FileReport {
  path: string;
  events: FileEvent[];
  read: number;
  skipped: number;
  headline?: string;
}

export interface FloodData extends CollectStatus {
  /** Nothing measured: this run recorded where the logs end. */
  baseline: boolean;
  /** Seconds the measures cover. */
  interval: number;
  /** Where the interval comes from. */
  intervalFrom: 'last run' | 'log timestamps' | 'none';
  previousRun?: number;
  /** Every line read (exact). */
  lines: number;
  bytes: number;
  skipped: number;
  /** Lines seen per line analysed (> 1 when sampling). */
  scale: number;
  sampledBytes: number;
  stats: FloodStats;
  files: FileReport[];
  journal?: { units: string[]; entries: number; command: string };
  notes: string[];
  /** What could not be read this run (phrases for line one): WARNING at least. */
  unread: string[];
  /** NUL-filled holes skipped (copytruncate under a writer without O_APPEND). */
  holes?: { bytes: number; where: string[] };
  /** --sticky: the alerts earlier runs saw (undefined: none, or sticky is off). */
  sticky?: StickyDoc;
  /** --sticky: why this run's record could not be saved (a line for the long output). */
  stickyNote?: string;
  /** Set when the clock stepped since the last run: the interval, and so the rates, are unknown. */
  rateUnknown?: string;
  /** The journal had more than --max-bytes after the cursor: the cursor stops at what was read. */
  backlog?: boolean;
  /** Logs that cannot be read: the run is UNKNOWN. */
  errors: string[];
  stateFile?: string;
}

/**
 * Read what the logs gained since the last run and record the run. With --sticky, `judge` (the check's
 * pure evaluation) says which alerts this run holds for the next ones: they are saved before the lock
 * is let go, as check-mailq-growth saves its verdict with its sample (lib/queue/growth-read.ts).
 */
export async function readFlood(o: FloodReadOptions, ctx: CollectContext, judge?: (data: FloodData, now: number) => StickyDoc | undefined): Promise<FloodData> {
  const patterns = !o.logsGiven && !o.journal.length ? [defaultLog()] : o.logs;
  const target = o.journal.length
    ? { what: { journal: o.journal, directory: o.journalDirectory }, label: ['journal', ...o.journal] }
    : { what: { logs: patterns.map((p) => (GLOB.test(p) ? p : path.resolve(p))) }, label: patterns };
  // One cursor per instance watched: two checks of one shared log must not take each other's lines.
  if (o.instance !== undefined) Object.assign(target, { what: { ...target.what, instance: o.instance }, label: [...target.label, o.instance] });
  const st = await openState<FloodSample>({
    check: FLOOD_CHECK_ID,
    ...target,
    dir: o.stateDir,
    env: ctx.env,
    now: ctx.now,
    window: STATE_WINDOW,
    maxSamples: HISTORY_SAMPLES,
    deadline: ctx.now() + ctx.timeout * 1000,
    isSample: isFloodSample,
  });
  try {
    const nowSec = ctx.now() / 1000;
    const notes = [...st.notes];
    // The cursor lives in its own file, whatever the clock says (lib/log/cursor.ts); a state from
    // an earlier version had it in its newest sample.
    const cursorFile = cursorFileOf(st.file);
    const loaded = await loadCursor(cursorFile, nowSec);
    notes.push(...loaded.notes);
    const legacy = [...st.samples].reverse().find((x) => x.files?.length || x.journal);
    const prev: CursorDoc | undefined = loaded.doc ?? (legacy && !loaded.notes.length ? { version: 1, t: legacy.t, files: legacy.files ?? [], journal: legacy.journal } : undefined);
    // The history keeps no cursors from now on (they were copied into every sample).
    for (const x of st.samples) delete x.files;
    const firstRun = !prev;
    const analyser = new FloodAnalyser(nowSec, { instance: o.instance });
    const reader = new LogReader(analyser, {
      maxBytes: o.maxBytes,
      exactLimit: o.exactLimit,
      maxLine: o.maxLine,
      deadline: ctx.deadline,
      now: ctx.now,
      signal: ctx.signal,
    });
    const errors: string[] = [];
    const unread: string[] = [];
    const files: FileReport[] = [];
    const cursors: FileCursor[] = [];
    let journalCursor: JournalCursor | undefined;
    let journalInfo: FloodData['journal'];
    let baseline = firstRun && !o.fromStart;
    let backlog = false;

    if (o.journal.length) {
      const j = await readJournal(o.journal, prev?.journal, reader, {
        firstRun,
        fromStart: o.fromStart,
        nowSec,
        env: ctx.env,
        signal: ctx.signal,
        timeoutMs: Math.max(500, ctx.deadline - ctx.now()),
        directory: o.journalDirectory,
      });
      journalCursor = j.cursor;
      journalInfo = { units: o.journal, entries: j.entries, command: j.command };
      notes.push(...j.notes);
      baseline = j.baseline;
      backlog = j.backlog;
    } else {
      const resolved = await resolveLogs(patterns);
      errors.push(...resolved.errors);
      const byPath = new Map((prev?.files ?? []).map((c) => [c.path, c]));
      const unique = sameFiles(resolved.files, byPath);
      notes.push(...unique.notes);
      for (const file of unique.files) {
        const r = await tailFile(file, byPath.get(file), reader, { firstRun, fromStart: o.fromStart });
        cursors.push(r.cursor);
        files.push({ path: file, events: r.events, read: r.read, skipped: r.skipped, headline: r.headline });
        notes.push(...r.notes);
        unread.push(...r.unread);
        if (r.error) errors.push(r.error);
        if (reader.stopped) break;
      }
      // Files not reached before the deadline keep their old cursor.
      for (const c of prev?.files ?? []) if (!cursors.some((x) => x.path === c.path) && unique.files.includes(c.path)) cursors.push(c);
    }

    reader.finish();
    const stats = analyser.stats(Math.max(o.top, 1));
    notes.push(...instanceNotes(stats, o.instance));
    // The interval is the only thing the clock decides; a step is said, and the rates of this run are unknown.
    let rateUnknown: string | undefined;
    let interval = prev ? nowSec - prev.t : stats.firstTime !== undefined ? Math.max(0, nowSec - stats.firstTime) : 0;
    if (prev && interval < 0) rateUnknown = `clock moved back ${formatDuration(-interval)} since the last run (at ${new Date(prev.t * 1000).toISOString()})`;
    else if (prev && interval > STATE_WINDOW) rateUnknown = `the last run was ${formatDuration(interval)} ago by the clock (a clock step, or no run for that long)`;
    if (rateUnknown) interval = 0;
    if (st.writable) {
      try {
        await saveCursor(cursorFile, { version: 1, t: nowSec, files: cursors, ...(journalCursor ? { journal: journalCursor } : {}) });
      } catch (err) {
        notes.push(`could not save the cursor to ${cursorFile} (${errorCode(err) ?? (err as Error).message}): the next run reads this run's lines again`);
      }
    }
    await st.record({ t: nowSec, lines: reader.lines, bytes: reader.bytes, skipped: reader.skipped });
    notes.push(...st.notes.filter((n) => !notes.includes(n)));
    // --sticky: the record is read under the lock, and saved under it once the verdict is known (below).
    let sticky: StickyDoc | undefined;
    let stickyFile: string | undefined;
    if (o.sticky) {
      stickyFile = stickyFileOf(st.file);
      const l = await loadSticky(stickyFile);
      sticky = l.doc;
      notes.push(...l.notes);
    }
    const holes = reader.holeBytes ? { bytes: reader.holeBytes, where: reader.holes.map((h) => `${h.file} at byte ${h.at}`) } : undefined;
    const data: FloodData = {
      baseline: baseline && !rateUnknown,
      interval,
      intervalFrom: prev ? 'last run' : stats.firstTime !== undefined ? 'log timestamps' : 'none',
      previousRun: prev?.t,
      lines: reader.lines,
      bytes: reader.bytes,
      skipped: reader.skipped,
      scale: reader.scale,
      sampledBytes: reader.sampledBytes,
      stats,
      files,
      journal: journalInfo,
      notes,
      unread,
      holes,
      rateUnknown,
      backlog,
      errors,
      ...(o.sticky ? { sticky } : {}),
      stateFile: st.writable ? st.file : undefined,
      partial: reader.stopped ? `read ${formatBytes(reader.bytes)} (${formatCount(reader.lines)} lines) before the ${ctx.timeout} s deadline; the rest is read next run` : undefined,
    };
    const keep = o.sticky ? judge?.(data, nowSec) : undefined;
    if (keep) {
      const note = await saveSticky(st.writable ? stickyFile : undefined, keep);
      if (note) data.stickyNote = note;
    }
    return data;
  } finally {
    await st.release();
  }
}
