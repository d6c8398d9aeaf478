// The one runner every check uses: parse argv (yargs, never exiting 1), arm the deadline,
// validate -> collect -> evaluate, render in the chosen format, and exit with the state.
// Any throw becomes UNKNOWN with one line. Everything from the outside world (argv, clock,
// output, exit, hostname) comes through RunContext so tests run checks in-process.

import os from 'node:os';
import type { Argv } from 'yargs';
import { UnknownError } from './errors.js';
import { runAsWorker } from './worker.js';
import { killAllChildren } from './exec.js';
import { parseGraphiteTarget, sendGraphite, type GraphiteTarget } from './graphite-send.js';
import { parseRange, type Range } from './range.js';
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
}

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
  exit: (code: number) => void;
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

export interface CheckSpec<O, D extends CollectStatus> {
  /** Binary name, e.g. check-mailq-depth. */
  name: string;
  /** Nagios service name, e.g. MAILQ. */
  service: string;
  /** Short id for graphite paths and JSON, e.g. mailq_depth. */
  id: string;
  description: string;
  version: string;
  /** Adds the check's own options to the parser. */
  options: (y: Argv) => Argv;
  /** Examples shown in --help. */
  examples?: [string, string][];
  /** Pure: turn parsed argv into options, throwing UnknownError for anything invalid. */
  validate: (argv: Record<string, unknown>, common: CommonOptions) => O;
  /** I/O only. Must honour ctx.signal and return what it has when aborted (with `partial`). */
  collect: (opts: O, ctx: CollectContext) => Promise<D>;
  /** Pure: data -> state, summary, metrics, details. */
  evaluate: (data: D, opts: O, now: number) => Evaluation;
}

export function defaultContext(): RunContext {
  return {
    argv: process.argv.slice(2),
    env: process.env,
    now: () => Date.now(),
    started: Math.min(Date.now(), performance.timeOrigin),
    hostname: os.hostname(),
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    exit: (code) => {
      killAllChildren();
      process.exit(code);
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
    .option('warning', { alias: 'w', type: 'string', describe: 'WARNING range (Nagios syntax: 10, 10:, ~:10, 10:20, @10:20)' })
    .option('critical', { alias: 'c', type: 'string', describe: 'CRITICAL range (evaluated before WARNING)' })
    .option('timeout', { alias: 't', type: 'string', default: '10', describe: 'hard deadline in seconds: UNKNOWN with what was found by then' })
    .option('format', { type: 'string', choices: FORMATS, default: 'nagios', describe: 'output format' })
    .option('scheme', { type: 'string', describe: 'graphite path prefix [default: <short hostname>.mail]' })
    .option('graphite-send', { type: 'string', describe: 'also send the metrics to carbon at HOST:PORT (plaintext TCP)' })
    .option('verbose', { alias: 'v', type: 'count', describe: 'more detail in the long output' })
    .option('help', { alias: 'h', type: 'boolean', describe: 'show this help' })
    .option('version', { alias: 'V', type: 'boolean', describe: 'show the version' })
    .wrap(Math.min(110, process.stdout.columns || 100));
  y = spec.options(y);
  for (const [cmd, what] of spec.examples ?? []) y = y.example(cmd, what);
  return y;
}

/** Longest -t a timer can hold (setTimeout takes at most 2^31-1 ms; past that it fires at once). */
export const MAX_TIMEOUT = 2_147_483;

function parseCommon(a: Record<string, unknown>, hostname: string): CommonOptions {
  const timeout = Number(a.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw new UnknownError(`invalid timeout '${String(a.timeout)}'`, 'give -t a number of seconds greater than 0');
  if (timeout > MAX_TIMEOUT) throw new UnknownError(`invalid timeout '${String(a.timeout)}'`, `give -t at most ${MAX_TIMEOUT} seconds`);
  const scheme = a.scheme !== undefined ? String(a.scheme) : `${hostname.split('.')[0] || 'localhost'}.mail`;
  if (!/^[A-Za-z0-9_.-]+$/.test(scheme)) throw new UnknownError(`invalid scheme '${scheme}'`, 'use letters, digits, _ - and dots');
  return {
    warning: parseRange(a.warning as string | undefined, 'warning'),
    critical: parseRange(a.critical as string | undefined, 'critical'),
    timeout,
    format: a.format as Format,
    scheme,
    verbose: Number(a.verbose ?? 0),
    graphiteSend: a.graphiteSend !== undefined ? parseGraphiteTarget(String(a.graphiteSend)) : undefined,
  };
}

/** The last valid --format in argv, read before the parser so its own errors use that format too. */
function requestedFormat(argv: string[]): Format | undefined {
  let found: Format | undefined;
  argv.forEach((arg, i) => {
    const v = arg === '--format' ? argv[i + 1] : arg.startsWith('--format=') ? arg.slice(9) : undefined;
    if (v !== undefined && (FORMATS as string[]).includes(v)) found = v as Format;
  });
  return found;
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

/** Run a check to completion; resolves with the exit code after ctx.exit was called. */
export async function runCheck<O, D extends CollectStatus>(spec: CheckSpec<O, D>, ctx: RunContext = defaultContext()): Promise<number> {
  const started = ctx.started ?? ctx.now();
  let format: Format = 'nagios';
  let scheme = 'localhost.mail';
  let finished = false;
  const verboseLines: string[] = [];
  const timers: NodeJS.Timeout[] = [];

  /** The state of an answer already written while afterOutput work runs; the hard deadline exits with it. */
  let answered: State | undefined;
  const finish = (r: CheckResult, after?: () => Promise<void>): number | Promise<number> => {
    if (finished) return r.state;
    finished = true;
    ctx.stdout(RENDERERS[format](r, { scheme }));
    if (!after) {
      for (const t of timers) clearTimeout(t);
      ctx.exit(r.state);
      return r.state;
    }
    answered = r.state;
    return after()
      .catch(() => undefined)
      .then(() => {
        for (const t of timers) clearTimeout(t);
        if (answered !== undefined) ctx.exit(r.state);
        answered = undefined;
        return r.state;
      });
  };
  const unknown = (line: string, extra: Partial<CheckResult> = {}): number =>
    finish({ service: spec.service, check: spec.id, state: State.UNKNOWN, summary: line, metrics: [], details: [], time: ctx.now() / 1000, ...extra }) as number;

  try {
    // Even a rejected command line is answered in the format asked for (a JSON consumer must get JSON).
    format = requestedFormat(ctx.argv) ?? format;
    const blank = blankArgument(ctx.argv);
    if (blank) throw new UnknownError(`invalid ${blank.name} '${blank.value}'`, 'give it a value, or leave the option out');
    const y = await parser(spec as unknown as CheckSpec<unknown, CollectStatus>, ctx.argv);
    const a = (await y.parseAsync()) as Record<string, unknown>;
    if (a.help) {
      ctx.stdout((await y.getHelp()) + '\n');
      finished = true;
      ctx.exit(State.OK);
      return State.OK;
    }
    if (a.version) {
      ctx.stdout(`${spec.name} ${spec.version}\n`);
      finished = true;
      ctx.exit(State.OK);
      return State.OK;
    }
    const common = parseCommon(a, ctx.hostname);
    format = common.format;
    scheme = common.scheme;
    const opts = spec.validate(a, common);

    // Deadline: collection is told to stop a little before -t so there is time to report what it
    // found; if it still has not returned at -t, the backstop answers UNKNOWN and exits anyway.
    const timeoutMs = common.timeout * 1000;
    const softMs = timeoutMs - Math.min(1000, timeoutMs * 0.2);
    const abort = new AbortController();
    const deadline = started + softMs;
    let phase = 'starting';
    timers.push(setTimeout(() => abort.abort(), Math.max(0, deadline - ctx.now())));
    const hard = new Promise<number>((resolve) => {
      timers.push(
        setTimeout(() => {
          abort.abort();
          if (answered !== undefined) {
            // The answer is out; what came after it (a cache save) ran out of time.
            const st = answered;
            answered = undefined;
            ctx.exit(st);
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
  const crash = (err: unknown) => {
    ctx.stdout(`${spec.service} UNKNOWN - internal error: ${(err as Error)?.message ?? String(err)}\n`.replace(/\|/g, '¦'));
    ctx.exit(State.UNKNOWN);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  // Killed by the scheduler's own timeout: still answer, and let exit hooks release the state lock.
  process.once('SIGTERM', () => {
    ctx.stdout(`${spec.service} UNKNOWN - killed by SIGTERM (the scheduler's timeout is shorter than -t?) |\n`);
    ctx.exit(State.UNKNOWN);
  });
  void runCheck(spec, ctx);
}

/** Helper for evaluate(): a metric with thresholds. */
export function metric(label: string, value: number, extra: Omit<Metric, 'label' | 'value'> = {}): Metric {
  return { label, value, ...extra };
}

export { State, STATE_NAMES };
