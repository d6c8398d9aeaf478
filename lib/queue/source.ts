// Where queue data comes from: the spool (fast, direct) or the MTA's own listing command
// (postqueue -j, mailq, exim -bp) when the spool cannot be read. Shared by every queue check.

import fs from 'node:fs';
import { errorCode, ProgramMissing, UnknownError } from '../plugin/errors.js';
import { findProgram, runCommand, type CommandResult } from '../plugin/exec.js';
import { detectFromSpool, detectInstalled, MTA_NAMES, MTAS } from '../mta/index.js';
import type { MtaDriver, MtaName } from '../mta/types.js';
import { formatCount } from './report.js';
import { scanSpools } from './scan.js';
import { addMessage, emptySummary, type QueueSummary } from './summary.js';

export type SourceMode = 'auto' | 'spool' | 'command';

export interface QueueSourceOptions {
  mta: MtaName | 'auto';
  source: SourceMode;
  spools?: string[];
  countOnly: boolean;
  /** Recorded listing outputs instead of running the commands (tests, offline triage): [label=]FILE. */
  listingFiles?: string[];
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

export function resolveMta(mta: MtaName | 'auto', spools?: string[]): MtaName {
  if (mta !== 'auto') return mta;
  const found = spools?.length ? detectFromSpool(spools[0]) : detectInstalled();
  if (found) return found;
  throw new UnknownError(
    spools?.length ? `cannot tell which MTA owns ${spools[0]}` : 'no Postfix, Exim or Sendmail installation found',
    'give --mta postfix|exim|sendmail (and --spool DIR if the queue is elsewhere)',
  );
}


async function fromSpool(driver: MtaDriver, spools: string[], opts: QueueSourceOptions, signal: AbortSignal, timeout: number) {
  const r = await scanSpools(driver, spools, { countOnly: opts.countOnly, signal });
  return {
    summary: r.summary,
    files: r.files,
    vanished: r.vanished,
    partial: r.stoppedEarly ? `scanned ${formatCount(r.files)} files before the ${timeout} s deadline` : undefined,
  };
}

/** "postqueue: fatal: ...", "mailq: panic: ...": the program says it failed, whatever its exit code. */
export const FATAL_LINE = /^[\w./-]+: (?:fatal|panic):.*$/m;
/** How each MTA's listing says the queue is empty (postqueue -j and exim -bp print nothing at all). */
export const EMPTY_LISTING = /^\s*(?:Mail queue is empty|\S.* is empty|Total requests: 0)\s*$/m;

/** A recorded listing stands in for running the command: `label=FILE` or `FILE` for the unlabelled one. */
export function recordedListing(files: string[], label: string | undefined): CommandResult | undefined {
  for (const spec of files) {
    const m = /^([a-z]+)=(.*)$/.exec(spec);
    const [fileLabel, file] = m ? [m[1], m[2]] : [undefined, spec];
    if (fileLabel !== label) continue;
    try {
      return { stdout: fs.readFileSync(file, 'latin1'), stderr: '', exitCode: 0, failed: false, timedOut: false, message: '' };
    } catch (err) {
      throw new UnknownError(`cannot read listing file ${file} (${errorCode(err) ?? String(err)})`, 'check the --listing-file path');
    }
  }
  return files.length ? { stdout: '', stderr: '', exitCode: 0, failed: false, timedOut: false, message: '' } : undefined;
}

async function fromCommand(
  driver: MtaDriver,
  spools: string[],
  signal: AbortSignal,
  deadline: number,
  now: () => number,
  listingFiles: string[] = [],
) {
  const summary = emptySummary(driver.queues, true);
  const commands: string[] = [];
  let partial: string | undefined;
  for (const cmd of driver.listingCommands(spools[0])) {
    const shown = [cmd.file, ...cmd.args].join(' ');
    commands.push(shown);
    let r = recordedListing(listingFiles, cmd.label);
    if (!r) {
      const program = findProgram([cmd.file, ...(cmd.alternatives ?? [])]);
      if (!program) throw new ProgramMissing(cmd.file, MTAS[driver.name].commandHint);
      r = await runCommand(program, cmd.args, { signal, timeoutMs: Math.max(1, deadline - now()) });
    }
    if (r.code === 'ENOENT') throw new ProgramMissing(cmd.file, MTAS[driver.name].commandHint);
    if (r.timedOut) {
      partial = `'${shown}' did not finish before the deadline`;
      break;
    }
    if (r.failed) {
      if (cmd.label === 'quarantine') continue; // optional extra listing; absence is not fatal
      const why = (r.stderr.trim().split('\n')[0] || r.message).slice(0, 200);
      throw new UnknownError(`'${shown}' failed: ${why}`, MTAS[driver.name].accessHint);
    }
    const messages = driver.parseListing(r.stdout, cmd, now());
    // "postqueue: fatal: Queue report unavailable - mail system is down" (or any text we cannot read)
    // is not an empty queue: only an empty output or the MTA's own "is empty" line says that.
    const fatal = FATAL_LINE.exec(r.stdout);
    const unread = messages.length === 0 && r.stdout.trim() !== '' && !EMPTY_LISTING.test(r.stdout);
    if (fatal || unread) {
      if (cmd.label === 'quarantine') continue;
      const line = (fatal?.[0] ?? r.stdout.trim().split('\n')[0]).trim().slice(0, 200);
      throw new UnknownError(`'${shown}' printed no queue listing: ${line}`, MTAS[driver.name].accessHint);
    }
    for (const m of messages) addMessage(summary, m);
  }
  return { summary, files: summary.total, vanished: 0, commands, partial };
}

/** Turn a spool-walk failure into the one line an admin needs. EACCES/EPERM are handled by the caller. */
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
    const code = errorCode(err);
    if (code !== 'EACCES' && code !== 'EPERM') throw spoolFailure(err, mta, present);
    const what = (err as Error).message;
    if (p.source === 'spool') throw new UnknownError(`cannot read the spool (${what})`, MTAS[mta].accessHint);
    return readCommand(`spool not readable (${what})`);
  }
}

export async function collectQueue(
  opts: QueueSourceOptions,
  ctx: { signal: AbortSignal; deadline: number; now: () => number; timeout: number },
): Promise<QueueData> {
  const mta = resolveMta(opts.mta, opts.spools);
  const driver = MTAS[mta].driver;
  const explicit = Boolean(opts.spools?.length);
  const spools = await driver.resolveSpools(explicit ? opts.spools : undefined);
  return spoolOrCommand<QueueData>(
    { mta, source: opts.source, explicit, spools },
    async (present) => {
      const r = await fromSpool(driver, present, opts, ctx.signal, ctx.timeout);
      return { mta, source: 'spool', spools: present, commands: [], ...r };
    },
    async (fallbackReason) => {
      const r = await fromCommand(driver, spools, ctx.signal, ctx.deadline, ctx.now, opts.listingFiles);
      return { mta, source: 'command', spools, ...r, fallbackReason };
    },
  );
}
