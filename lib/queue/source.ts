// Where queue data comes from: the spool (fast, direct) or the MTA's own listing command
// (postqueue -j, mailq, exim -bp) when the spool cannot be read. Shared by every queue check.

import type { OptionTable, OptionValues } from '../plugin/options.js';
import fs from 'node:fs';
import { errorCode, ProgramMissing, UnknownError } from '../plugin/errors.js';
import { findProgram, streamCommand, streamFile, type StreamOptions, type StreamResult } from '../plugin/exec.js';
import { privileged } from '../plugin/privilege.js';
import { clip, describeUnparsed, looksBinary } from '../plugin/text.js';
import { createListingParser } from '../mta/listing.js';
import { accessRemedy, currentUser, isDenied, refused } from '../mta/access.js';
import { detectFromSpool, detectInstalled, MTA_NAMES, MTAS } from '../mta/index.js';
import type { SkippedPath } from '../mta/skipped.js';
import type { MtaDriver, MtaName, QueuedMessage } from '../mta/types.js';
import { readSpool, type SpoolReadContext } from './spool-read.js';
import { addMessage, emptySummary, type QueueSummary } from './summary.js';

export type SourceMode = 'auto' | 'spool' | 'command';

export interface QueueSourceOptions {
  mta: MtaName | 'auto';
  source: SourceMode;
  spools?: string[];
  countOnly: boolean;
  /** Recorded listing outputs instead of running the commands (tests, offline triage): [label=]FILE. */
  listingFiles?: string[];
  /** Keep envelopes between runs (lib/queue/envelope-cache.ts); undefined: no cache (--no-cache). */
  cache?: { dir?: string; defaultDir?: string; rereadEvery?: number };
  /** Read message sizes where they cost a stat of the data file (Sendmail, Exim). */
  sizes?: boolean;
  /** --queue: the selected queues' own senders and recipients too (QueueSummary.selection). */
  selected?: string[];
}

export interface QueueData {
  mta: MtaName;
  source: 'spool' | 'command';
  spools: string[];
  summary: QueueSummary;
  files: number;
  vanished: number;
  commands: string[];
  /** Why auto mode used the command instead of the spool. */
  fallbackReason?: string;
  partial?: string;
  /** The listing (spool directory walk, or the whole command output) finished: counts are exact. */
  countsExact?: boolean;
  /** Spool reads: envelopes from the cache, read now, and re-read; listed but not read (deadline). */
  reads?: { cached: number; read: number; reread: number; unread: number };
  /** Lines about the envelope cache for the long output. */
  notes?: string[];
  /** What the spool walk left out (directories the MTA does not scan, symlinks not followed). */
  skipped?: SkippedPath[];
  /** Work to do once the answer is out (saving the envelope cache, releasing its lock). */
  afterOutput?: () => Promise<void>;
}

export const SOURCE_OPTIONS = {
  mta: { type: 'string', choices: ['auto', ...MTA_NAMES], default: 'auto', describe: 'which MTA owns the queue' },
  source: {
    type: 'string',
    choices: ['auto', 'spool', 'command'],
    default: 'auto',
    describe: 'read the spool directly, run the MTA listing command, or spool with command fallback',
  },
  spool: { type: 'string', array: true, describe: 'spool/queue directory (repeatable) [default: per MTA]' },
  'listing-file': {
    type: 'string',
    array: true,
    hidden: true,
    describe: "read the listing command's output from FILE ([label=]FILE) instead of running it",
  },
} as const;

/** The same options as table rows (lib/plugin/options.ts), for checks that declare a table. */
export const SOURCE_TABLE = {
  mta: { kind: 'enum', choices: SOURCE_OPTIONS.mta.choices, default: SOURCE_OPTIONS.mta.default, describe: SOURCE_OPTIONS.mta.describe },
  source: { kind: 'enum', choices: SOURCE_OPTIONS.source.choices, default: SOURCE_OPTIONS.source.default, describe: SOURCE_OPTIONS.source.describe },
  spool: { kind: 'path', list: true, describe: SOURCE_OPTIONS.spool.describe },
  'listing-file': { kind: 'path', list: true, hidden: true, describe: SOURCE_OPTIONS['listing-file'].describe },
} as const satisfies OptionTable;

/**
 * --listing-file reads any file and parses it as a listing: a test and offline-triage option. A
 * privileged run (root, capabilities, sudo: lib/plugin/privilege.ts) refuses it, so a caller allowed
 * to run a check through sudo cannot make it read a file it could not read itself. Called by every
 * check's validate() and again where the files are opened.
 */
export function listingFilesOption(value: unknown): string[] | undefined {
  const files = Array.isArray(value) ? value.map(String) : value === undefined ? undefined : [String(value)];
  if (files?.length && privileged())
    throw new UnknownError('--listing-file is a test option, not allowed as root or under sudo', 'run the check without it (it reads the MTA listing itself)');
  return files;
}

/** The source options of a queue check, read from its typed argv: --mta, --source, --spool, --listing-file. */
export function sourceOptions(a: OptionValues<typeof SOURCE_TABLE>): { mta: MtaName | 'auto'; source: SourceMode; spools?: string[]; listingFiles?: string[] } {
  return {
    mta: a.mta,
    source: a.source,
    spools: a.spool.length ? a.spool : undefined,
    listingFiles: listingFilesOption(a.listingFile.length ? a.listingFile : undefined),
  };
}

/** --queue names this MTA does not have: exit 3 naming the first, with the ones it has. */
export function checkQueueNames(mta: MtaName, queues: string[]): void {
  const known = MTAS[mta].driver.queues;
  for (const q of queues)
    if (!known.includes(q)) throw new UnknownError(`unknown queue '${q}' for ${mta}`, `use one of: ${known.join(', ')}`);
}

export function resolveMta(mta: MtaName | 'auto', spools?: string[]): MtaName {
  if (mta !== 'auto') return mta;
  const found = spools?.length ? detectFromSpool(spools[0]) : detectInstalled();
  if (found) return found;
  throw new UnknownError(
    spools?.length ? `cannot tell which MTA owns ${spools[0]}` : `no ${MTA_NAMES.join(', ')} installation or spool found`,
    `give --mta ${MTA_NAMES.join('|')} (and --spool DIR if the queue is elsewhere)`,
  );
}


async function fromSpool(
  driver: MtaDriver,
  spools: string[],
  opts: QueueSourceOptions,
  ctx: SpoolReadContext,
): Promise<Omit<QueueData, 'mta' | 'source' | 'spools' | 'commands'>> {
  const { result, partial, notes, afterOutput } = await readSpool(driver, spools, { countOnly: opts.countOnly, cache: opts.cache, sizes: opts.sizes, selected: opts.selected }, ctx);
  return {
    summary: result.summary,
    files: result.files,
    vanished: result.vanished,
    partial,
    countsExact: result.listingComplete,
    reads: opts.countOnly ? undefined : { cached: result.cached, read: result.read, reread: result.reread, unread: result.unread },
    notes,
    skipped: result.skipped,
    afterOutput,
  };
}

/** "postqueue: fatal: ...", "mailq: panic: ...": the program says it failed, whatever its exit code. */
export const FATAL_LINE = /^[\w./-]+: (?:fatal|panic):.*$/m;
/** How each MTA's listing says the queue is empty (postqueue -j and exim -bp print nothing at all). */
export const EMPTY_LISTING = /^\s*(?:Mail queue is empty|\S.* is empty|Total requests: 0)\s*$/m;

/** An MTA's own error line as an error line quotes it: at most 200 characters (the renderers clean it). */
const clipped = (line: string | undefined) => (line === undefined ? undefined : clip(line.trim(), 200));

/** A listing's lines, from the command itself or from a recorded --listing-file. */
export type ListingReader = (o: StreamOptions) => Promise<StreamResult>;

/** A recorded listing stands in for running the command: `label=FILE` or `FILE` for the unlabelled one.
 *  Read as a stream, like the command's output. */
export function recordedListing(files: string[], label: string | undefined): ListingReader | undefined {
  for (const spec of files) {
    const m = /^([a-z]+)=(.*)$/.exec(spec);
    const [fileLabel, file] = m ? [m[1], m[2]] : [undefined, spec];
    if (fileLabel !== label) continue;
    return async (o) => {
      listingFilesOption(files);
      try {
        return await streamFile(file, o);
      } catch (err) {
        if (errorCode(err) === undefined) throw err; // from the line handler, not the file
        throw new UnknownError(`cannot read listing file ${file} (${errorCode(err)})`, 'check the --listing-file path');
      }
    };
  }
  // Listing files given, none for this label: that listing printed nothing.
  const empty = (): StreamResult => ({ stderr: '', exitCode: 0, failed: false, timedOut: false, message: '', lines: 0, bytes: 0, truncatedLines: 0 });
  return files.length ? async () => empty() : undefined;
}

/** Messages of an optional listing held back until it has succeeded (beyond that, they are real mail). */
const OPTIONAL_HOLD = 10_000;

/**
 * Every listing command of the driver, streamed: each message goes to `onMessage` as it is parsed,
 * never into an array of them all. The rules of a whole listing still hold: a fatal line anywhere,
 * or output with no message and no "is empty" line, is UNKNOWN, not an empty queue. At the deadline
 * the messages read so far have been handed on and `partial` says which command was cut short.
 */
export async function streamListings(
  driver: MtaDriver,
  spools: string[],
  onMessage: (m: QueuedMessage) => void,
  ctx: { signal: AbortSignal; deadline: number; now: () => number; listingFiles?: string[] },
): Promise<{ commands: string[]; messages: number; partial?: string }> {
  listingFilesOption(ctx.listingFiles);
  const commands: string[] = [];
  let messages = 0;
  let partial: string | undefined;
  const deliver = (m: QueuedMessage) => {
    messages++;
    onMessage(m);
  };
  for (const cmd of driver.listingCommands(spools[0])) {
    const shown = [cmd.file, ...cmd.args].join(' ');
    commands.push(shown);
    // An optional extra listing (mailq -qQ) that fails is left out, so its messages wait for the verdict.
    const optional = cmd.label === 'quarantine';
    let held: QueuedMessage[] | undefined = optional ? [] : undefined;
    let listed = 0;
    const parser = createListingParser(driver, cmd, ctx.now(), (m) => {
      listed++;
      if (!held) return deliver(m);
      held.push(m);
      if (held.length >= OPTIONAL_HOLD) {
        held.forEach(deliver);
        held = undefined;
      }
    });
    // What the whole-output rules need, kept while streaming. Output that is no listing is described
    // (size, text or binary), never quoted: it may be a file the caller could not read itself. Only
    // the MTA's own "program: fatal: ..." line is quoted, cut to 200 characters (the renderers clean it).
    let text = false;
    let binary = false;
    let looked = 0;
    let fatal: string | undefined;
    let saysEmpty = false;
    const onLine = (line: string, truncated: boolean) => {
      if (!text && /\S/.test(line)) text = true;
      if (listed === 0 && looked < 64) {
        looked++;
        binary ||= looksBinary(line);
      }
      if (fatal === undefined && (line.includes(': fatal:') || line.includes(': panic:'))) fatal = clipped(FATAL_LINE.exec(line)?.[0]);
      if (!saysEmpty && (line.includes('is empty') || line.includes('Total requests: 0'))) saysEmpty = EMPTY_LISTING.test(line);
      parser.line(line, truncated);
    };
    const timeoutMs = Math.max(1, ctx.deadline - ctx.now());
    let read = recordedListing(ctx.listingFiles ?? [], cmd.label);
    if (!read) {
      const program = findProgram([cmd.file, ...(cmd.alternatives ?? [])]);
      if (!program) throw new ProgramMissing(cmd.file, MTAS[driver.name].commandHint);
      read = (o) => streamCommand(program, cmd.args, o);
    }
    const r = await read({ onLine, signal: ctx.signal, timeoutMs });
    if (r.code === 'ENOENT') throw new ProgramMissing(cmd.file, MTAS[driver.name].commandHint);
    parser.end();
    if (r.timedOut) {
      held?.forEach(deliver);
      partial = `'${shown}' did not finish before the deadline`;
      break;
    }
    if (r.failed) {
      if (optional) continue; // optional extra listing; absence is not fatal
      const why = clipped(r.stderr.trim().split('\n')[0] || r.message);
      throw new UnknownError(`'${shown}' failed: ${why}`, MTAS[driver.name].listingHint(currentUser()));
    }
    // "postqueue: fatal: Queue report unavailable - mail system is down" (or any text we cannot read)
    // is not an empty queue: only an empty output or the MTA's own "is empty" line says that.
    if (fatal !== undefined || (listed === 0 && text && !saysEmpty)) {
      if (optional) continue;
      const what = fatal !== undefined ? `: ${fatal}` : ` (${describeUnparsed({ bytes: r.bytes, lines: r.lines, binary })})`;
      throw new UnknownError(`'${shown}' printed no queue listing${what}`, MTAS[driver.name].listingHint(currentUser()));
    }
    held?.forEach(deliver);
  }
  return { commands, messages, partial };
}

async function fromCommand(
  driver: MtaDriver,
  spools: string[],
  signal: AbortSignal,
  deadline: number,
  now: () => number,
  listingFiles: string[] = [],
  selected?: string[],
) {
  // What was read before a deadline stays in the summary: the counts are then lower bounds.
  const summary = emptySummary(driver.queues, true, selected);
  const r = await streamListings(driver, spools, (m) => addMessage(summary, m), { signal, deadline, now, listingFiles });
  return { summary, files: summary.total, vanished: 0, commands: r.commands, partial: r.partial };
}

/** Turn a spool-walk failure into the one line an admin needs. EACCES/EPERM are handled by the caller. */
export function spoolFailure(err: unknown, mta: MtaName, spools: string[]): UnknownError {
  if (err instanceof UnknownError) return err;
  const code = errorCode(err);
  const what = (err as Error).message;
  if (code === 'ENOENT') return new UnknownError(`no ${mta} queue found in ${spools.join(', ')} (${what})`, 'check --spool and --mta');
  // Only when the spool itself is not a directory: a queue inside it that is a file is damage, said as it is.
  const where = (err as { path?: string }).path;
  if (code === 'ENOTDIR' && (where === undefined || spools.includes(where)))
    return new UnknownError(`spool ${spools.join(', ')} is not a directory`, 'give --spool the queue directory');
  if (code) return new UnknownError(`cannot read the spool (${what})`, 'check the spool path and the file system');
  return new UnknownError(`reading the spool failed: ${what}`, 'run with -v and report it');
}

/**
 * The source rules every queue check follows: --source command runs the listing; otherwise the
 * spool is read, and in auto mode a missing default spool or a permission problem falls back to
 * the listing command (the reason is passed on for the long output). An explicit --spool that is
 * not there is a typo, not a reason to run mailq.
 */
export async function spoolOrCommand<T>(
  p: { mta: MtaName; source: SourceMode; explicit: boolean; spools: string[] },
  readSpool: (present: string[]) => Promise<T>,
  readCommand: (fallbackReason?: string) => Promise<T>,
): Promise<T> {
  const { mta, spools } = p;
  if (p.source === 'command') return readCommand();
  const present = spools.filter((s) => fs.existsSync(s));
  if (present.length === 0) {
    if (p.explicit || p.source === 'spool')
      throw new UnknownError(`spool ${spools[0]} not found`, p.explicit ? 'check the --spool path' : `is ${mta} installed here? give --spool DIR or --mta`);
    try {
      return await readCommand(`spool ${spools.join(', ')} not found`);
    } catch (err) {
      if (err instanceof ProgramMissing)
        throw new UnknownError(`spool ${spools[0]} not found and ${err.program} is not installed`, `is ${mta} installed here? give --mta and --spool DIR`);
      throw err;
    }
  }
  try {
    return await readSpool(present);
  } catch (err) {
    if (!isDenied(err)) throw spoolFailure(err, mta, present);
    const what = (err as Error).message;
    if (p.source === 'spool') throw new UnknownError(`cannot read the spool (${what})`, spoolAccessHint(mta, err, true));
    try {
      return await readCommand(`spool not readable (${what})`);
    } catch (e) {
      if (!(e instanceof UnknownError)) throw e;
      // The listing failed too: say both, and give the spool's remedy (the command just failed).
      const also = e instanceof ProgramMissing ? `${e.program} is not installed` : e.message;
      throw new UnknownError(`cannot read the spool (${what}) and ${also}`, spoolAccessHint(mta, err, false));
    }
  }
}

/**
 * The remedy for a refused spool directory or queue file, read off that path's owner, group and mode
 * (lib/mta/access.ts); the MTA's usual layout when the path cannot be stat'ed. The listing command is
 * offered beside it only where it works for any user and has not just failed.
 */
function spoolAccessHint(mta: MtaName, err: unknown, offerListing: boolean): string {
  const where = (err as { path?: unknown }).path;
  const r = typeof where === 'string' ? refused(where) : undefined;
  const alternative = offerListing ? MTAS[mta].listingForUsers : undefined;
  return r ? accessRemedy(r, alternative, where as string) : MTAS[mta].spoolHint + (alternative ? `, or ${alternative}` : '');
}

export async function collectQueue(
  opts: QueueSourceOptions,
  ctx: SpoolReadContext,
): Promise<QueueData> {
  const mta = resolveMta(opts.mta, opts.spools);
  const driver = MTAS[mta].driver;
  const explicit = Boolean(opts.spools?.length);
  const spools = await driver.resolveSpools(explicit ? opts.spools : undefined);
  return spoolOrCommand<QueueData>(
    { mta, source: opts.source, explicit, spools },
    async (present) => {
      const r = await fromSpool(driver, present, opts, ctx);
      return { mta, source: 'spool', spools: present, commands: [], ...r };
    },
    async (fallbackReason) => {
      const r = await fromCommand(driver, spools, ctx.signal, ctx.deadline, ctx.now, opts.listingFiles, opts.selected);
      return { mta, source: 'command', spools, ...r, fallbackReason, countsExact: !r.partial, notes: [] };
    },
  );
}
