// Where queue data comes from: the spool (fast, direct) or the MTA's own listing command
// (postqueue -j, mailq, exim -bp) when the spool cannot be read. Shared by every queue check.

import type { OptionTable, OptionValues } from '../plugin/options.js';
import fs from 'node:fs';
import { errorCode, ProgramMissing, UnknownError } from '../plugin/errors.js';
import { findProgram, streamCommand, streamFile, untrustedProgram, type StreamOptions, type StreamResult } from '../plugin/exec.js';
import { privileged } from '../plugin/privilege.js';
import { clip, describeUnparsed, looksBinary } from '../plugin/text.js';
import { createListingParser } from '../mta/listing.js';
import { accessRemedy, currentUser, isDenied, refused } from '../mta/access.js';
import { detectFromSpool, detectInstalled, MTA_NAMES, MTAS } from '../mta/index.js';
import type { SkippedPath } from '../mta/skipped.js';
import type { MtaDriver, MtaName, QueuedMessage, SpoolLocation, SpoolWhere } from '../mta/types.js';
import { readSpool, type SpoolReadContext } from './spool-read.js';
import { addMessage, emptySummary, type QueueSummary } from './summary.js';
import { ShapeCounter, type ShapeBy } from './shape.js';

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
  /** --config / --instance: which installation's spools (lib/mta/types.ts SpoolWhere). */
  where?: SpoolWhere;
  /** --shape: domains by age (QueueSummary.shape). */
  shape?: ShapeBy;
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

/** --config and --instance (lib/mta/types.ts SpoolWhere) as table rows. */
const WHERE_ROWS = {
  config: { kind: 'path', describe: "the MTA's configuration to read the spool locations from: a sendmail.cf, an Exim configuration file (exim -C), or a Postfix config directory (postconf -c) [default: the MTA's own]" },
  instance: {
    kind: 'text',
    pattern: /^(-|[A-Za-z0-9][A-Za-z0-9._-]{0,99})$/,
    hint: 'give a Postfix instance name as postmulti -l lists it (postfix-out), or - for the primary one',
    describe: 'Postfix multi-instance: the instance to check (postmulti -l) [default: the primary one, with a note naming the others]',
  },
} as const satisfies OptionTable;

/** The same options as table rows (lib/plugin/options.ts), for checks that declare a table. */
export const SOURCE_TABLE = {
  mta: { kind: 'enum', choices: SOURCE_OPTIONS.mta.choices, default: SOURCE_OPTIONS.mta.default, describe: SOURCE_OPTIONS.mta.describe },
  source: { kind: 'enum', choices: SOURCE_OPTIONS.source.choices, default: SOURCE_OPTIONS.source.default, describe: SOURCE_OPTIONS.source.describe },
  spool: { kind: 'path', list: true, describe: SOURCE_OPTIONS.spool.describe },
  'listing-file': { kind: 'path', list: true, hidden: true, describe: SOURCE_OPTIONS['listing-file'].describe },
  ...WHERE_ROWS,
} as const satisfies OptionTable;

/** --config and --instance as table rows (also for checks that declare their own --mta/--spool rows). */
export function spoolWhereRows(): typeof WHERE_ROWS {
  return WHERE_ROWS;
}

/** --mta auto with --instance (only Postfix has named instances) or --config (a directory holding main.cf is
 *  Postfix's, a file with a QueueDirectory option a sendmail.cf): the MTA they name, before any guess. */
function mtaOfWhere(where?: SpoolWhere): MtaName | undefined {
  if (!where) return undefined;
  const withInstances = MTA_NAMES.filter((n) => MTAS[n].driver.configOption?.instances);
  if (where.instance !== undefined && withInstances.length === 1) return withInstances[0];
  if (where.config === undefined) return undefined;
  try {
    if (fs.statSync(where.config).isDirectory()) return fs.existsSync(`${where.config}/main.cf`) ? 'postfix' : undefined;
    const head = Buffer.alloc(256 * 1024);
    const fd = fs.openSync(where.config, 'r');
    let n = 0;
    try {
      n = fs.readSync(fd, head, 0, head.length, 0);
    } finally {
      fs.closeSync(fd);
    }
    return /^O\s*QueueDirectory\s*=|^OQ\//m.test(head.toString('latin1', 0, n)) ? 'sendmail' : undefined;
  } catch {
    return undefined; // not readable: the driver says why, once the MTA is known
  }
}

/** "--instance postfix-out", "--config /etc/mail/other.cf": where a spool path came from, for an error line. */
export function whereText(where: SpoolWhere): string {
  return where.instance !== undefined ? `--instance ${where.instance}` : `--config ${where.config}`;
}

/** --config/--instance from parsed options (readOptions' camelCase keys). */
export function spoolWhereOption(a: Record<string, unknown>): SpoolWhere | undefined {
  const config = a.config as string | undefined;
  const instance = a.instance as string | undefined;
  if (config !== undefined && instance !== undefined) throw new UnknownError('--config and --instance both name an installation', 'give one of them');
  return config !== undefined || instance !== undefined ? { ...(config !== undefined ? { config } : {}), ...(instance !== undefined ? { instance } : {}) } : undefined;
}

/**
 * The spools to read: --spool as given (with --config/--instance too is a contradiction); else the
 * driver's own resolution from its configuration, with notes for the long output.
 */
export async function locateSpools(mta: MtaName, explicit: string[] | undefined, where?: SpoolWhere): Promise<SpoolLocation> {
  const driver = MTAS[mta].driver;
  if (explicit?.length) {
    if (where) throw new UnknownError(`--spool and ${whereText(where)} both say where the queue is`, 'give one of them');
    return { spools: await driver.resolveSpools(explicit), notes: [] };
  }
  if (where && !driver.configOption)
    throw new UnknownError(`--${where.config !== undefined ? 'config' : 'instance'} is not supported for ${mta}`, 'give --spool DIR');
  if (where?.instance !== undefined && !driver.configOption?.instances) throw new UnknownError(`${mta} has no named instances`, 'give --config FILE or --spool DIR');
  if (driver.locateSpools) return driver.locateSpools(where ?? {});
  return { spools: await driver.resolveSpools(), notes: [] };
}

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

/** Where a queue check reads from: --mta, --source, --spool, --listing-file, --config/--instance. */
export interface SourceChoice {
  mta: MtaName | 'auto';
  source: SourceMode;
  spools?: string[];
  listingFiles?: string[];
  /** --config / --instance (lib/mta/types.ts SpoolWhere). */
  where?: SpoolWhere;
}

/** The source options of a queue check, read from its typed argv: --mta, --source, --spool, --listing-file,
 *  --config, --instance. */
export function sourceOptions(a: OptionValues<typeof SOURCE_TABLE>): SourceChoice {
  return {
    mta: a.mta,
    source: a.source,
    spools: a.spool.length ? a.spool : undefined,
    listingFiles: listingFilesOption(a.listingFile.length ? a.listingFile : undefined),
    where: spoolWhereOption(a),
  };
}

/** --queue names this MTA does not have: exit 3 naming the first, with the ones it has. Names of queues
 *  found at run time (Exim named queues) pass here by their form; `found` (after the read: the queues
 *  counted) then refuses one the spool does not have, rather than report a typo as an empty queue. */
export function checkQueueNames(mta: MtaName, queues: string[], found?: Record<string, number>): void {
  const d = MTAS[mta].driver;
  const known = d.queues;
  for (const q of queues) {
    if (known.includes(q)) continue;
    if (!d.queueNames?.pattern.test(q)) throw new UnknownError(`unknown queue '${q}' for ${mta}`, `use one of: ${known.join(', ')}${d.queueNames ? ` ${d.queueNames.describe}` : ''}`);
    if (found && !Object.hasOwn(found, q)) {
      const more = Object.keys(found).filter((n) => !known.includes(n));
      throw new UnknownError(`no ${mta} queue '${q}' found`, `use one of: ${[...known, ...more].join(', ')} (a named queue is there once ${mta} has used it)`);
    }
  }
}

export function resolveMta(mta: MtaName | 'auto', spools?: string[], where?: SpoolWhere): MtaName {
  if (mta !== 'auto') return mta;
  const found = spools?.length ? detectFromSpool(spools[0]) : (mtaOfWhere(where) ?? detectInstalled());
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
  const { result, partial, notes, afterOutput } = await readSpool(driver, spools, { countOnly: opts.countOnly, cache: opts.cache, sizes: opts.sizes, selected: opts.selected, shape: opts.countOnly ? undefined : opts.shape }, ctx);
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
  ctx: { signal: AbortSignal; deadline: number; now: () => number; listingFiles?: string[]; selected?: string[] },
): Promise<{ commands: string[]; messages: number; partial?: string; labels: string[] }> {
  listingFilesOption(ctx.listingFiles);
  const commands: string[] = [];
  const labels: string[] = [];
  let messages = 0;
  let partial: string | undefined;
  const deliver = (m: QueuedMessage) => {
    messages++;
    onMessage(m);
  };
  for (const cmd of driver.listingCommands(spools[0], ctx.selected)) {
    const shown = [cmd.file, ...cmd.args].join(' ');
    commands.push(shown);
    if (cmd.label !== undefined) labels.push(cmd.label);
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
      if (!program) throw missingProgram([cmd.file, ...(cmd.alternatives ?? [])], driver);
      read = (o) => streamCommand(program, cmd.args, o);
    }
    const r = await read({ onLine, signal: ctx.signal, timeoutMs });
    if (r.code === 'ENOENT' || r.code === 'EUNTRUSTED') throw missingProgram([cmd.file, ...(cmd.alternatives ?? [])], driver);
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
  // What no listing command shows here (Exim named queues when the spool root cannot be listed).
  partial ??= driver.listingGap?.(spools[0]);
  return { commands, messages, partial, labels };
}

async function fromCommand(
  driver: MtaDriver,
  spools: string[],
  signal: AbortSignal,
  deadline: number,
  now: () => number,
  listingFiles: string[] = [],
  selected?: string[],
  shapeBy?: ShapeBy,
) {
  // What was read before a deadline stays in the summary: the counts are then lower bounds.
  const summary = emptySummary(driver.queues, true, selected);
  const shape = shapeBy ? new ShapeCounter(shapeBy, now() / 1000) : undefined;
  const inShape = selected?.length ? new Set(selected) : undefined;
  const r = await streamListings(
    driver,
    spools,
    (m) => {
      addMessage(summary, m);
      if (shape && (!inShape || inShape.has(m.queue))) shape.add(m.arrival, m.sender, m.recipients);
    },
    { signal, deadline, now, listingFiles, selected },
  );
  if (shape) summary.shape = shape.result();
  // A queue listed by its own command (exim -bp -qGbulk) is counted, 0 when it listed nothing.
  for (const q of r.labels) if (!Object.hasOwn(summary.byQueue, q)) summary.byQueue[q] = 0;
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
  p: { mta: MtaName; source: SourceMode; explicit: boolean; spools: string[]; where?: SpoolWhere },
  readSpool: (present: string[]) => Promise<T>,
  readCommand: (fallbackReason?: string) => Promise<T>,
): Promise<T> {
  const { mta, spools } = p;
  if (p.source === 'command') return readCommand();
  const present = spools.filter((s) => fs.existsSync(s));
  if (present.length === 0) {
    if (p.explicit || p.source === 'spool')
      throw new UnknownError(
        `spool ${spools[0]} not found`,
        p.where ? `${whereText(p.where)} names it: check that configuration` : p.explicit ? 'check the --spool path' : `is ${mta} installed here? give --spool DIR or --mta`,
      );
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
  const mta = resolveMta(opts.mta, opts.spools, opts.where);
  const driver = MTAS[mta].driver;
  const explicit = Boolean(opts.spools?.length);
  const { spools, notes } = await locateSpools(mta, opts.spools, opts.where);
  const data = await spoolOrCommand<QueueData>(
    // A spool named by --config/--instance that is not there is a mistake too, not a reason to run mailq.
    { mta, source: opts.source, explicit: explicit || opts.where !== undefined, spools, where: opts.where },
    async (present) => {
      const r = await fromSpool(driver, present, opts, ctx);
      return { mta, source: 'spool', spools: present, commands: [], ...r, notes: [...notes, ...(r.notes ?? [])] };
    },
    async (fallbackReason) => {
      const r = await fromCommand(driver, spools, ctx.signal, ctx.deadline, ctx.now, opts.listingFiles, opts.selected, opts.countOnly ? undefined : opts.shape);
      return { mta, source: 'command', spools, ...r, fallbackReason, countsExact: !r.partial, notes };
    },
  );
  // A --queue name of a run-time queue (Exim named queue) the read did not find: a typo, not 0.
  if (opts.selected?.length && driver.queueNames && !data.partial) checkQueueNames(mta, opts.selected, data.summary.byQueue);
  leaveOutUnseen(driver, data, opts.selected);
  return data;
}

/**
 * Queues this source cannot show (nullmailer's mailq lists queue/ only, not failed/; OpenSMTPD's
 * pauses live in smtpd's memory, not the spool): unknown, so no count, metric or 0 for them, and a
 * note saying so; a --queue that selects one is refused with the source that can count it.
 */
/** The listing program is not there, or (a privileged run) is there but not root's alone: say which. */
function missingProgram(names: string[], driver: MtaDriver): UnknownError {
  for (const name of names) {
    const u = untrustedProgram(name);
    if (u)
      return new UnknownError(
        `${u.path} refused: a privileged run executes only programs root owns alone (this one is uid ${u.owner}'s)`,
        `run the check unprivileged, as the monitoring user (${MTAS[driver.name].listingForUsers ?? 'see README \'Spool access\''}), or read the spool: ${MTAS[driver.name].spoolHint}`,
      );
  }
  return new ProgramMissing(names[0], MTAS[driver.name].commandHint);
}

export function leaveOutUnseen(driver: MtaDriver, data: QueueData, selected?: string[]): void {
  const shown = data.source === 'command' ? driver.listingQueues : driver.spoolQueues;
  if (!shown) return;
  const unseen = driver.queues.filter((q) => !shown.includes(q));
  const other = data.source === 'command' ? 'spool' : 'command';
  const what = data.source === 'command' ? `${driver.name}'s listing` : `the ${driver.name} spool`;
  for (const q of selected ?? [])
    if (unseen.includes(q)) throw new UnknownError(`--queue ${q} is not shown by ${what}`, `read it with --source ${other}`);
  const byQueue = data.summary.byQueue;
  const left: string[] = [];
  for (const q of unseen)
    if (Object.hasOwn(byQueue, q) && byQueue[q] === 0) {
      delete byQueue[q];
      left.push(q);
    }
  if (left.length) (data.notes ??= []).push(`${left.join(', ')}: not shown by ${what}, so not counted (no metric rather than a false 0; --source ${other} counts it)`);
}
