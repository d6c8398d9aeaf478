// The one runner every check uses: parse argv (yargs, never exiting 1), arm the deadline,
// validate -> collect -> evaluate, render in the chosen format, and exit with the state.
// Any throw becomes UNKNOWN with one line. Everything from the outside world (argv, clock,
// output, exit, hostname, signals) comes through RunContext so tests run checks in-process.
//
// What every answer is, in each --format (the exit code is the state in all of them, 0..3):
//   nagios    `SERVICE STATE - summary | perfdata` and the long output. An error (bad option or range,
//             missing spool, exception), the deadline backstop and SIGTERM: one line,
//             `SERVICE UNKNOWN - what failed: how to fix it | ` (an internal error adds a few stack lines).
//   json      one object (check, service, status, code, summary, time, metrics, details, facts). Errors,
//             the backstop and SIGTERM too: status UNKNOWN, code 3, the same summary, metrics [].
//   graphite  `<scheme>.<check>.<metric> <value> <epoch>` lines only. An answer with no metric to give
//             (every error, the backstop, SIGTERM, a run cut before anything exact was known) is the one
//             line `<scheme>.<check>.state <code> <epoch>`: never empty, and still only graphite lines.
//   prometheus  the text exposition format; every answer, errors included, has mailq_check_state{...}
//             with the code, so an error is the value 3, never an empty or invalid exposition.
//   influx    line protocol; every answer has the check's line with state=<code>i and summary="...".
//   --textfile DIR (any --format): the answer is also written, in the prometheus format, to
//             DIR/<check>[-<suffix>].prom, atomically (lib/plugin/textfile.ts); stdout is the --format
//             answer as without it, so a scheduler still gets its verdict. A file that cannot be written
//             makes the answer UNKNOWN, saying why and how to fix it.
//   --help and --version print their text whatever --format says (they are not answers).
// Only one answer is ever written: SIGTERM or an exception after the answer (during afterOutput work,
// or while it is being flushed) ends the process with that answer's state and prints nothing more.
//
// Exit: the answer is flushed before the process ends. process.exit() right after a write to a pipe
// drops what the pipe (64 KiB) has not taken yet, so exit waits until stdout and stderr have written
// everything (at most FLUSH_MS, for a reader that never reads). And exit must happen whatever the
// process is stuck in: Node's exit (process.exit, even the C exit()) joins every libuv thread-pool
// thread, so one blocked in the kernel (open() of a FIFO, a hung hard NFS mount) would hang the
// process after its answer, past -t, forever. The files this suite keeps are opened so that they
// cannot block (lib/plugin/state.ts readRegularFile, lib/plugin/lock.ts); for what cannot be prevented,
// a run that was cut (deadline, SIGTERM, crash) starts a small watchdog process before exiting, which
// kills it with SIGKILL if it is still there EXIT_GRACE_MS later. Its answer is already out whole; Nagios
// then sees a death by signal instead of exit 3 (there is no way to exit with a code past a stuck thread).

import os from 'node:os';
import type { Argv } from 'yargs';
import { UnknownError } from './errors.js';
import { runAsWorker } from './worker.js';
import { killAllChildren } from './exec.js';
import { parseGraphiteTarget, sendGraphite, type GraphiteTarget } from './graphite-send.js';
import { parseRange, type Range } from './range.js';
import { declareOptions, implicitNames, readOptions, withThresholdDefaults, type ArgvOf, type OptionTable } from './options.js';
import { textfileName, writeTextfile } from './textfile.js';
import { FORMATS, RENDERERS, type Format } from './render/index.js';
import { State, STATE_NAMES, type CheckResult, type Metric } from './result.js';

export interface CommonOptions {
  warning?: Range;
  critical?: Range;
  timeout: number;
  format: Format;
  scheme: string;
  verbose: number;
  graphiteSend?: GraphiteTarget;
  /** --textfile: the directory the prometheus answer is also written to. */
  textfile?: string;
  textfileSuffix?: string;
  /** False with --no-default-thresholds. */
  defaultThresholds: boolean;
}

/** A --textfile-suffix: part of a file name and a label value. */
const SUFFIX = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** Options every check has that are rows of the option table (the older ones are declared in parser()). */
export const COMMON_TABLE = {
  textfile: { kind: 'path', describe: "also write the answer (prometheus format) to DIR/<check>[-<suffix>].prom, atomically, for node_exporter's textfile collector" },
  'textfile-suffix': {
    kind: 'text',
    pattern: SUFFIX,
    hint: 'use letters, digits, _ . - (up to 64), e.g. the instance or queue this run watches',
    describe: 'tells this run from others of the same check: the file <check>-SUFFIX.prom and the label/tag suffix="SUFFIX"',
  },
  'default-thresholds': {
    kind: 'flag',
    default: true,
    describe:
      'each family of thresholds you give no option of (-w/-c, --age-*, ...) gets the default shown next to it; --no-default-thresholds: no defaults, pure metrics collection (OK unless a threshold is given)',
  },
} as const satisfies OptionTable;

export interface RunContext {
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** When the process started (epoch ms): -t counts from there, not from after module loading. */
  started?: number;
  hostname: string;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** End the run with this exit code. `how.cut`: the run was cut (deadline, signal, crash), so
   *  something may still be blocked in the kernel: end the process even then. */
  exit: (code: number, how?: ExitHow) => void;
  /** Hands the runner its answers to process-wide events (SIGTERM, an uncaught exception), so they
   *  are answered in the --format asked for, and only when no answer was written yet. */
  processEvents?: (handlers: ProcessHandlers) => void;
}

export interface ExitHow {
  cut?: boolean;
}

export interface ProcessHandlers {
  signal: (name: string) => void;
  crash: (err: unknown) => void;
}

export interface CollectContext {
  signal: AbortSignal;
  /** Epoch ms when collection must stop. */
  deadline: number;
  /** The -t value in seconds, for messages. */
  timeout: number;
  now: () => number;
  env: NodeJS.ProcessEnv;
  /** Adds a line to the long output when -v is given. */
  verbose: (line: string) => void;
}

/** What collect() may report besides its data: a partial result stops the check at UNKNOWN. */
export interface CollectStatus {
  /** e.g. "scanned 312,400 files before the 10 s deadline" */
  partial?: string;
  /** Work done after the answer is written and before exit (saving a cache), cut off at -t. */
  afterOutput?: () => Promise<void>;
}

export type Evaluation = Pick<CheckResult, 'state' | 'summary' | 'metrics' | 'details'> & {
  facts?: Record<string, unknown>;
  /** evaluate() judged a partial result itself (the verdict what was read decides, its own metrics);
   *  otherwise a partial result is UNKNOWN with no metrics. */
  partialHandled?: boolean;
};

export interface CheckSpec<O, D extends CollectStatus, T extends OptionTable = OptionTable> {
  /** Binary name, e.g. check-mailq-depth. */
  name: string;
  /** Nagios service name, e.g. MAILQ. */
  service: string;
  /** Short id for graphite paths and JSON, e.g. mailq_depth. */
  id: string;
  description: string;
  version: string;
  /** The check's own options: one row each (lib/plugin/options.ts), parsed by their kind before
   *  validate() sees them, so validate() gets ranges, seconds, bytes and counts, never raw text. */
  table?: T;
  /** Options not (yet) in the table, added to the parser as they are. */
  options?: (y: Argv) => Argv;
  /** Examples shown in --help. */
  examples?: [string, string][];
  /** The incidents this check's default thresholds catch: the end of --help, one each. */
  incidents?: IncidentExample[];
  /** Pure: turn parsed argv into options, throwing UnknownError for anything invalid. */
  validate(argv: ArgvOf<T>, common: CommonOptions): O;
  /** I/O only. Must honour ctx.signal and return what it has when aborted (with `partial`). */
  collect: (opts: O, ctx: CollectContext) => Promise<D>;
  /** Pure: data -> state, summary, metrics, details. */
  evaluate: (data: D, opts: O, now: number) => Evaluation;
}

/** One incident of /work/shared/incidents a check's defaults catch, as --help ends with it. */
export interface IncidentExample {
  /** '000' */
  id: string;
  /** What happened, in a few words: 'notification flood, 500,000 queued to one alias'. */
  what: string;
  /** The command line, no threshold options. */
  command: string;
  /** What it answers in the replay (test/incidents): 'WARNING within 3 runs, naming qanotify@lab.example'. */
  fires: string;
}

/** The lines --help ends with: one per incident the defaults catch. */
export function incidentLines(incidents: readonly IncidentExample[]): string[] {
  if (!incidents.length) return [];
  return [
    'Incidents the default thresholds catch (replayed in test/incidents, see docs/incidents.md):',
    ...incidents.flatMap((x) => [`  incident ${x.id} (${x.what}):`, `    ${x.command} -> ${x.fires}`]),
  ];
}

/** Longest wait for stdout/stderr to take the answer before exiting anyway (a reader that never reads). */
export const FLUSH_MS = 5000;
/** How long a cut run's process.exit() may take before the watchdog ends the process with SIGKILL. */
export const EXIT_GRACE_MS = 1000;

// Started (detached, no stdout or stderr of ours) just before a cut run exits. It reads its stdin, a
// pipe from us: end of file means we are gone and it leaves; still there at the given time, it kills us.
const WATCHDOG = `const [pid, at] = process.argv.slice(1).map(Number);
const t = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch {} process.exit(0); }, Math.max(0, at - Date.now()));
process.stdin.on('data', () => {}).on('end', () => process.exit(0)).on('error', () => process.exit(0));`;

async function startWatchdog(ms: number): Promise<void> {
  try {
    // execa, as every child of this suite is started (no shell; lib/ uses no child_process directly).
    // cleanup: false, or execa would kill the watchdog in the 'exit' handlers, before the exit that hangs.
    const { execa } = await import('execa');
    const w = execa(process.execPath, ['-e', WATCHDOG, String(process.pid), String(Date.now() + ms)], {
      stdin: 'pipe',
      stdout: 'ignore',
      stderr: 'ignore',
      detached: true,
      env: {},
      extendEnv: false,
      cleanup: false,
      reject: false,
      buffer: false,
    });
    w.catch(() => undefined);
    w.stdin?.on('error', () => undefined);
    w.unref();
  } catch {
    // No watchdog (no process left to spawn): the exit below is all there is.
  }
}

const flushed = (s: NodeJS.WriteStream) => s.destroyed || s.writableLength === 0;

let exiting = false;
/** End the process once stdout and stderr took everything written (at most FLUSH_MS), then exit with code. */
export function exitProcess(code: number, how: ExitHow = {}): void {
  if (exiting) return;
  exiting = true;
  killAllChildren();
  process.exitCode = code;
  let done = false;
  const end = () => {
    if (done) return;
    done = true;
    if (!how.cut) return process.exit(code);
    void startWatchdog(EXIT_GRACE_MS).finally(() => process.exit(code));
  };
  if (flushed(process.stdout) && flushed(process.stderr)) return end();
  const giveUp = setTimeout(end, FLUSH_MS);
  const poll = setInterval(() => {
    if (!flushed(process.stdout) || !flushed(process.stderr)) return;
    clearInterval(poll);
    clearTimeout(giveUp);
    end();
  }, 5);
}

export function defaultContext(): RunContext {
  // A reader that went away (EPIPE) is not a crash of ours: what it did not take is lost either way.
  for (const s of [process.stdout, process.stderr]) if (s.listenerCount('error') === 0) s.on('error', () => undefined);
  return {
    argv: process.argv.slice(2),
    env: process.env,
    now: () => Date.now(),
    started: Math.min(Date.now(), performance.timeOrigin),
    hostname: os.hostname(),
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    exit: exitProcess,
    processEvents: (h) => {
      process.on('uncaughtException', h.crash);
      process.on('unhandledRejection', h.crash);
      // Killed by the scheduler's own timeout: still answer, and let exit hooks release the state lock.
      process.once('SIGTERM', () => h.signal('SIGTERM'));
    },
  };
}

async function parser(spec: CheckSpec<unknown, CollectStatus>, argv: string[]): Promise<Argv> {
  // Loaded lazily so a pre-rendered --help (see .ci/build.mjs) never pays for it.
  const { default: yargs } = await import('yargs');
  let y: Argv = yargs(argv)
    .scriptName(spec.name)
    .usage(`${spec.name}: ${spec.description}\n\nUsage: ${spec.name} [options]`)
    .exitProcess(false)
    .help(false)
    .version(false)
    .strict()
    .parserConfiguration({ 'strip-aliased': true, 'camel-case-expansion': true })
    .fail((msg, err) => {
      throw err instanceof UnknownError ? err : new UnknownError(msg || err?.message || 'invalid arguments', `see ${spec.name} --help`);
    })
    .option('timeout', { alias: 't', type: 'string', default: '10', describe: 'hard deadline in seconds: UNKNOWN with what was found by then' })
    .option('format', { type: 'string', choices: FORMATS, default: 'nagios', describe: 'output format' })
    .option('scheme', { type: 'string', describe: 'graphite path prefix [default: <short hostname>.mail]' })
    .option('graphite-send', { type: 'string', describe: 'also send the metrics to carbon at HOST:PORT (plaintext TCP)' })
    .option('verbose', { alias: 'v', type: 'count', describe: 'more detail in the long output' })
    .option('help', { alias: 'h', type: 'boolean', describe: 'show this help' })
    .option('version', { alias: 'V', type: 'boolean', describe: 'show the version' })
    .wrap(Math.min(110, process.stdout.columns || 100));
  // -w/-c: a check that gives them a meaning (and a default) declares them in its table.
  if (!spec.table?.warning) y = y.option('warning', { alias: 'w', type: 'string', describe: 'WARNING range (Nagios syntax: 10, 10:, ~:10, 10:20, @10:20)' });
  if (!spec.table?.critical) y = y.option('critical', { alias: 'c', type: 'string', describe: 'CRITICAL range (evaluated before WARNING)' });
  y = declareOptions(y, COMMON_TABLE);
  y = checkOptions(spec, y);
  for (const [cmd, what] of spec.examples ?? []) y = y.example(cmd, what);
  const incidents = incidentLines(spec.incidents ?? []);
  if (incidents.length) y = y.epilog(incidents.join('\n'));
  return y;
}

/** A check's own options (its table, then any declared the old way) added to a parser. */
export function checkOptions(spec: Pick<CheckSpec<unknown, CollectStatus>, 'table' | 'options'>, y: Argv): Argv {
  if (spec.table) y = declareOptions(y, spec.table);
  return spec.options ? spec.options(y) : y;
}

/** Longest -t a timer can hold (setTimeout takes at most 2^31-1 ms; past that it fires at once). */
export const MAX_TIMEOUT = 2_147_483;

function parseCommon(a: Record<string, unknown>, hostname: string): CommonOptions {
  const timeout = Number(a.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw new UnknownError(`invalid timeout '${String(a.timeout)}'`, 'give -t a number of seconds greater than 0');
  if (timeout > MAX_TIMEOUT) throw new UnknownError(`invalid timeout '${String(a.timeout)}'`, `give -t at most ${MAX_TIMEOUT} seconds`);
  const scheme = a.scheme !== undefined ? String(a.scheme) : defaultScheme(hostname);
  if (!SCHEME.test(scheme)) throw new UnknownError(`invalid scheme '${scheme}'`, 'use letters, digits, _ - and dots');
  const rows = readOptions(COMMON_TABLE, a) as { textfile?: string; textfileSuffix?: string; defaultThresholds: boolean };
  return {
    ...rows,
    warning: parseRange(a.warning as string | undefined, 'warning'),
    critical: parseRange(a.critical as string | undefined, 'critical'),
    timeout,
    format: a.format as Format,
    scheme,
    verbose: Number(a.verbose ?? 0),
    graphiteSend: a.graphiteSend !== undefined ? parseGraphiteTarget(String(a.graphiteSend)) : undefined,
  };
}

/** The last value of --name in argv that passes `valid`, read before the parser so its own errors can use it. */
function requested(argv: string[], name: string, valid: (v: string) => boolean): string | undefined {
  let found: string | undefined;
  argv.forEach((arg, i) => {
    const v = arg === name ? argv[i + 1] : arg.startsWith(`${name}=`) ? arg.slice(name.length + 1) : undefined;
    if (v !== undefined && valid(v)) found = v;
  });
  return found;
}

const SCHEME = /^[A-Za-z0-9_.-]+$/;
const defaultScheme = (hostname: string) => `${hostname.split('.')[0] || 'localhost'}.mail`;

/** The last valid --format in argv: a rejected command line is answered in the format asked for. */
function requestedFormat(argv: string[]): Format | undefined {
  return requested(argv, '--format', (v) => (FORMATS as string[]).includes(v)) as Format | undefined;
}

/**
 * An option given with nothing in it (`-w ''`, `--window ' '`, `--spool=`, an empty Nagios $ARG$) would
 * silently mean "no threshold" or "the default" (yargs even drops empty values of repeatable options):
 * a check that can never alert, or that watches something else. Refuse it, naming what was typed.
 */
function blankArgument(argv: string[]): { name: string; value: string } | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') break;
    const eq = /^(--?[A-Za-z][\w-]*)=([\s\S]*)$/.exec(arg);
    if (eq) {
      if (eq[2].trim() === '') return { name: eq[1], value: eq[2] };
    } else if (/^--?[A-Za-z]/.test(arg) && i + 1 < argv.length && argv[i + 1].trim() === '') {
      return { name: arg, value: argv[i + 1] };
    }
  }
  return undefined;
}

/** A number or range that starts with '-': the value of the option before it, never options itself. */
const NEGATIVE_VALUE = /^-(?:\d|\.\d)/;
const OPTION_TOKEN = /^(?:-[A-Za-z]|--[A-Za-z][\w-]*)$/;

/**
 * Option values as getopt (and so every monitoring-plugin) takes them: an option that takes a value
 * takes the next argument, also when it starts with '-' and is a number or range (`-w -10:10`,
 * `--warning -5:`, a falling growth rate), which yargs would read as the flags -1, -0, ... ("Unknown
 * arguments: 0, 1"): such pairs are rewritten as `-w=-10:10`. An option followed by nothing, or by
 * another option (`-w -v`), has no value: that is said, where yargs would take it as "no threshold" or
 * as the default, a check that silently can never alert.
 */
export function valueArguments(argv: string[], takesValue: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (!OPTION_TOKEN.test(arg) || !takesValue(arg.replace(/^--?/, ''))) {
      out.push(arg);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined) throw new UnknownError(`no value given to ${arg}`, `give it one: ${arg} VALUE`);
    if (NEGATIVE_VALUE.test(next)) out.push(`${arg}=${next}`);
    else if (next.startsWith('-') && next !== '-')
      throw new UnknownError(`no value given to ${arg} (the next argument, ${next}, is an option)`, `give it one, or ${arg}=VALUE for a value that starts with '-'`);
    else out.push(arg, next);
    i++;
  }
  return out;
}

/** The names (and aliases, and camelCase forms) of the parser's options that take a value. */
function valueOptionNames(y: Argv): Set<string> {
  const o = (y as unknown as { getOptions(): { string?: string[]; number?: string[]; alias?: Record<string, string[]> } }).getOptions();
  const names = new Set([...(o.string ?? []), ...(o.number ?? [])]);
  for (const n of [...names]) {
    for (const a of o.alias?.[n] ?? []) names.add(a);
    names.add(n.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()));
  }
  return names;
}

/** Run a check to completion; resolves with the exit code after ctx.exit was called. */
export async function runCheck<O, D extends CollectStatus>(spec: CheckSpec<O, D>, ctx: RunContext = defaultContext()): Promise<number> {
  const started = ctx.started ?? ctx.now();
  let format: Format = 'nagios';
  let scheme = 'localhost.mail';
  let textfile: string | undefined;
  let suffix: string | undefined;
  let finished = false;
  const verboseLines: string[] = [];
  const timers: NodeJS.Timeout[] = [];

  /** The state of an answer already written while afterOutput work runs; the hard deadline exits with it. */
  let answered: State | undefined;
  /** Set once the deadline, a signal or a crash cut the run: its exit must not wait on anything stuck. */
  let cut = false;
  let exited = false;
  const exit = (code: number) => {
    if (exited) return;
    exited = true;
    for (const t of timers) clearTimeout(t);
    ctx.exit(code, cut ? { cut: true } : {});
  };
  const finish = (result: CheckResult, after?: () => Promise<void>): number | Promise<number> => {
    if (finished) return result.state;
    finished = true;
    let r = result;
    let text: string;
    const ro = { scheme, hostname: ctx.hostname, suffix };
    try {
      if (textfile) {
        try {
          writeTextfile(textfile, textfileName(spec.id, suffix), RENDERERS.prometheus(r, ro));
        } catch (err) {
          if (!(err instanceof UnknownError)) throw err;
          // The scheduler hears of it (the file keeps its last answer; node_textfile_mtime_seconds ages).
          const verdict = `not written: ${STATE_NAMES[r.state]} - ${r.summary}`;
          r = { ...r, state: State.UNKNOWN, summary: err.line(), metrics: [], details: [verdict], facts: {} };
          after = undefined;
        }
      }
      text = RENDERERS[format](r, ro);
    } catch (err) {
      // Whatever happens, one answer and an exit: a renderer that throws must not leave the run unanswered.
      r = { ...r, state: State.UNKNOWN, summary: `internal error: cannot render the answer (${(err as Error)?.message ?? String(err)})`, metrics: [], details: [], facts: {} };
      after = undefined;
      try {
        text = RENDERERS[format](r, ro);
      } catch {
        text = `${spec.service} UNKNOWN - internal error: cannot render the answer | \n`;
      }
    }
    ctx.stdout(text);
    if (!after) {
      exit(r.state);
      return r.state;
    }
    answered = r.state;
    return after()
      .catch(() => undefined)
      .then(() => {
        if (answered !== undefined) exit(r.state);
        answered = undefined;
        return r.state;
      });
  };
  const unknown = (line: string, extra: Partial<CheckResult> = {}): number =>
    finish({ service: spec.service, check: spec.id, state: State.UNKNOWN, summary: line, metrics: [], details: [], time: ctx.now() / 1000, ...extra }) as number;

  // One answer per run: an event after the answer was written ends the run with that answer's state.
  const afterAnswer = (): boolean => {
    if (!finished) return false;
    cut = true;
    const st = answered;
    answered = undefined;
    if (st !== undefined) exit(st);
    return true;
  };
  ctx.processEvents?.({
    signal: (name) => {
      cut = true;
      if (!afterAnswer()) unknown(`killed by ${name} (the scheduler's timeout is shorter than -t?)`);
    },
    crash: (err) => {
      cut = true;
      if (!afterAnswer()) unknown(`internal error: ${(err as Error)?.message ?? String(err)}`, { details: stackLines(err as Error) });
    },
  });

  try {
    // Even a rejected command line is answered in the format asked for (a JSON consumer must get JSON),
    // and under the graphite path asked for.
    format = requestedFormat(ctx.argv) ?? format;
    scheme = requested(ctx.argv, '--scheme', (v) => SCHEME.test(v)) ?? defaultScheme(ctx.hostname);
    // And written to the textfile asked for: a bad -w there is a 3 on the dashboard, not a stale value.
    textfile = requested(ctx.argv, '--textfile', (v) => v.trim() !== '' && !v.includes('\0'));
    suffix = requested(ctx.argv, '--textfile-suffix', (v) => SUFFIX.test(v));
    const blank = blankArgument(ctx.argv);
    if (blank) throw new UnknownError(`invalid ${blank.name} '${blank.value}'`, 'give it a value, or leave the option out');
    const y = await parser(spec as unknown as CheckSpec<unknown, CollectStatus>, ctx.argv);
    const names = valueOptionNames(y);
    // An option whose value may be left out (--shape) is not held to "the next argument is its value".
    for (const n of implicitNames(spec.table ?? {})) names.delete(n);
    const a = (await y.parseAsync(valueArguments(ctx.argv, (n) => names.has(n)))) as Record<string, unknown>;
    if (a.help || a.version) {
      ctx.stdout(a.help ? (await y.getHelp()) + '\n' : `${spec.name} ${spec.version}\n`);
      finished = true;
      exit(State.OK);
      return State.OK;
    }
    // Each threshold family the user gave no option of gets its defaults here, as text, and is
    // parsed below like a user's value (lib/plugin/options.ts withThresholdDefaults).
    const filled = withThresholdDefaults(spec.table ?? {}, a, a.defaultThresholds === false);
    const common = parseCommon(filled.argv, ctx.hostname);
    format = common.format;
    scheme = common.scheme;
    textfile = common.textfile;
    suffix = common.textfileSuffix;
    const opts = spec.validate((spec.table ? { ...filled.argv, ...readOptions(spec.table, filled.argv) } : filled.argv) as ArgvOf<OptionTable>, common);

    // Deadline: collection is told to stop a little before -t so there is time to report what it
    // found; if it still has not returned at -t, the backstop answers UNKNOWN and exits anyway.
    const timeoutMs = common.timeout * 1000;
    const softMs = timeoutMs - Math.min(1000, timeoutMs * 0.2);
    const abort = new AbortController();
    const deadline = started + softMs;
    let phase = 'starting';
    timers.push(
      setTimeout(() => {
        // What runs past this point was cut: a reader thread may still be in the kernel.
        cut = true;
        abort.abort();
      }, Math.max(0, deadline - ctx.now())),
    );
    const hard = new Promise<number>((resolve) => {
      timers.push(
        setTimeout(() => {
          cut = true;
          abort.abort();
          if (answered !== undefined) {
            // The answer is out; what came after it (a cache save) ran out of time.
            const st = answered;
            afterAnswer();
            resolve(st);
            return;
          }
          resolve(unknown(`timed out after ${common.timeout} s while ${phase}`, {}));
        }, Math.max(0, started + timeoutMs - ctx.now())),
      );
    });

    const work = (async () => {
      phase = 'collecting';
      const data = await spec.collect(opts, {
        signal: abort.signal,
        deadline,
        timeout: common.timeout,
        now: ctx.now,
        env: ctx.env,
        verbose: (line) => verboseLines.push(line),
      });
      if (finished) return State.UNKNOWN;
      phase = 'evaluating';
      const ev = spec.evaluate(data, opts, ctx.now() / 1000);
      const details = [...ev.details];
      if (common.verbose > 0) details.push(...verboseLines, `took ${((ctx.now() - started) / 1000).toFixed(2)} s`);
      let { state, summary } = ev;
      const judged = !data.partial || ev.partialHandled;
      if (!judged) {
        state = State.UNKNOWN;
        summary = `incomplete: ${data.partial}; ${summary}`;
      }
      const result: CheckResult = {
        service: spec.service,
        check: spec.id,
        state,
        summary,
        // A partial count would graph as a sudden drop: report no numbers rather than wrong ones
        // (unless evaluate chose the ones it knows exactly).
        metrics: judged ? ev.metrics : [],
        details,
        facts: { ...ev.facts, ...(data.partial ? { partial: data.partial } : {}) },
        time: ctx.now() / 1000,
      };
      if (common.graphiteSend) {
        const budget = Math.max(100, Math.min(2000, started + timeoutMs - ctx.now() - 50));
        details.push(await sendGraphite(common.graphiteSend, RENDERERS.graphite(result, { scheme }), budget));
      }
      return finish(result, data.afterOutput);
    })();
    return await Promise.race([work, hard]);
  } catch (err) {
    if (err instanceof UnknownError) return unknown(err.line());
    const e = err as Error;
    return unknown(`internal error: ${e?.message ?? String(err)}`, {
      details: stackLines(e),
    });
  }
}

function stackLines(e: Error): string[] {
  return (e?.stack ?? '').split('\n').slice(1, 6).map((l) => l.trim());
}

// The --help text rendered at build time (.ci/build.mjs), so `check --help` starts without yargs.
declare const __HELP__: string | undefined;

/** Entry point used by the thin files in checks/: run with the real process. */
export function main<O, D extends CollectStatus>(spec: CheckSpec<O, D>): void {
  if (runAsWorker()) return;
  const ctx = defaultContext();
  if (ctx.argv.length === 1 && (ctx.argv[0] === '--help' || ctx.argv[0] === '-h') && typeof __HELP__ === 'string') {
    ctx.stdout(__HELP__);
    return ctx.exit(State.OK);
  }
  // Node's own warnings would land on stderr, which Sensu merges into the check output.
  process.removeAllListeners('warning');
  // SIGTERM and uncaught exceptions are answered by the runner (ctx.processEvents), in the asked format.
  void runCheck(spec, ctx);
}

/** Helper for evaluate(): a metric with thresholds. */
export function metric(label: string, value: number, extra: Omit<Metric, 'label' | 'value'> = {}): Metric {
  return { label, value, ...extra };
}

export { State, STATE_NAMES };
