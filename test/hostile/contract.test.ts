// Contract breaks (issue 13, round two): what every answer owes the monitoring system whatever the
// process runs into. Each table row is one hostile situation:
//   - an answer over 64 KiB, read through a real pipe by a reader that is slow to start, arrives whole,
//     on every path that ends the process (normal, the deadline backstop, SIGTERM, a crash);
//   - blocked I/O (a FIFO in place of a state, lock or cache file: a hung NFS or FUSE directory) never
//     keeps a process past -t, and never blocks the next run;
//   - on a full state filesystem (incident 001's /var) the lock still keeps two runs apart;
//   - a range or number that starts with '-' is the value of the option before it (`-w -10:10`);
//   - every answer, errors and SIGTERM included, is in the --format asked for.
// No row asserts a duration: a process that hangs fails the row by its (generous) kill timer.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postfixQueueFile } from '../../bench/gen/postfix.js';
import type { GenMessage } from '../../bench/gen/model.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { bundleScript, fill, mountTmpfs, removeTempDirs, unmount } from '../helpers/state-harness.js';
import { built, CHECKS, cleanup, crashes, formatOf, ROOT, run, tmp, withStateDir, type Answer, type Format } from './harness.js';
import { checkOptions } from '../../lib/plugin/check.js';

const NOW = 1795432267;
const postfix = fixtureCases().find((c) => c.name === 'postfix')!;
const log = path.join(postfix.dir, 'log', 'postfix.log');
const FORMATS: Format[] = ['nagios', 'json', 'graphite'];
/** Longer than any row needs on a loaded 2-core machine; a row that hangs ends here and fails. */
const KILL_AFTER = 60_000;

let child = '';
beforeAll(async () => {
  built();
  child = await bundleScript('test/hostile/runner-child.ts');
}, 120_000);
afterAll(() => {
  cleanup();
  removeTempDirs();
});

interface Ended {
  out: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** Still running after KILL_AFTER: killed by the test (a hang). */
  hung: boolean;
}

/**
 * Run a program with its stdout on a real pipe (pipe(2), 64 KiB: a shell pipeline, as Nagios and NRPE
 * read plugins; Node's own child stdio are socketpairs, whose larger buffers would hide the bug) whose
 * reader starts reading only after `sleepS` seconds, as a busy scheduler may. `during` gets the pid.
 */
function throughSlowPipe(args: string[], o: { env?: NodeJS.ProcessEnv; sleepS?: number; during?: (pid: number) => void | Promise<void> } = {}): Promise<Ended> {
  const script = `{ "$0" "$@" & echo "pid:$!" >&2; wait $!; echo "exit:$?" >&2; } | { sleep ${o.sleepS ?? 3}; exec cat; }`;
  const sh = spawn('/bin/sh', ['-c', script, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: withStateDir(o.env ?? { PATH: process.env.PATH }), cwd: ROOT });
  let out = '';
  let err = '';
  let pid: (n: number) => void = () => undefined;
  const started = new Promise<number>((r) => (pid = r));
  sh.stdout.setEncoding('utf8').on('data', (s) => (out += s));
  sh.stderr.setEncoding('utf8').on('data', (s) => {
    err += s;
    const m = /^pid:(\d+)$/m.exec(err);
    if (m) pid(Number(m[1]));
  });
  let hung = false;
  const killer = setTimeout(() => {
    hung = true;
    void started.then((p) => process.kill(p, 'SIGKILL'));
  }, KILL_AFTER);
  const during = started.then((p) => o.during?.(p));
  const closed = new Promise<void>((r) => sh.on('close', () => r()));
  return Promise.all([closed, during]).then(() => {
    clearTimeout(killer);
    const status = Number(/^exit:(\d+)$/m.exec(err)?.[1] ?? -1);
    const signal = status > 128 ? ((Object.entries(os.constants.signals).find(([, n]) => n === status - 128)?.[0] ?? null) as NodeJS.Signals | null) : null;
    const stderr = err.replace(/^(pid|exit):\d+\n/gm, '');
    return { out, code: signal ? null : status, signal, stderr, hung };
  });
}

/** Run a program (stdout read at once) and wait for it, killing it after KILL_AFTER. */
function runProgram(args: string[], o: { env?: NodeJS.ProcessEnv; during?: (pid: number) => void | Promise<void> } = {}): Promise<Ended> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: withStateDir(o.env ?? { PATH: process.env.PATH }), cwd: ROOT });
    let out = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s) => (out += s));
    p.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
    let hung = false;
    const killer = setTimeout(() => ((hung = true), p.kill('SIGKILL')), KILL_AFTER);
    const during = Promise.resolve(o.during?.(p.pid!));
    p.on('close', (code, signal) => {
      clearTimeout(killer);
      void during.then(() => resolve({ out, code, signal, stderr, hung }));
    });
  });
}

const bin = (name: string) => path.join(built(), `${name}.js`);
const answerOf = (e: Ended, argv: string[]): Answer => {
  const format = formatOf(argv);
  let json: Answer['json'];
  if (format === 'json')
    try {
      json = JSON.parse(e.out);
    } catch {
      // formatViolations says so
    }
  return { out: e.out, code: e.hung ? -1 : (e.code ?? -1), stderr: e.stderr, format, json };
};

async function waitFor(file: string): Promise<void> {
  for (let i = 0; i < 6000 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 10));
  if (!fs.existsSync(file)) throw new Error(`${file} never appeared`);
}

// ---------------------------------------------------------------------------------------------
// 1. Output over 64 KiB through a pipe with a slow reader

/** A Postfix spool whose every message has its own long sender, recipient, recipient domain and client. */
function longAddressSpool(n: number): string {
  const root = tmp('hostile-long-');
  for (const q of ['incoming', 'active', 'deferred', 'hold', 'maildrop', 'corrupt']) fs.mkdirSync(path.join(root, q), { mode: 0o700 });
  for (let i = 0; i < n; i++) {
    const tag = `${String(i).padStart(4, '0')}-${'a'.repeat(200)}`;
    const m: GenMessage = {
      id: (0x10000000000 + i * 2654435761).toString(16).toUpperCase().slice(-11),
      kind: 'normal',
      queue: 'hold',
      arrival: NOW - 3600 - i,
      sender: `sender${tag}@from${i}.example`,
      recipients: [`rcpt${tag}@to${tag}.example`],
      body: 'Subject: x\n\nbody',
      client: `client${tag}.example[10.0.${i >> 8}.${i & 255}]`,
    };
    fs.writeFileSync(path.join(root, 'hold', m.id), postfixQueueFile(m), { mode: 0o700 });
  }
  return root;
}

describe('an answer over 64 KiB reaches a slow reader whole', () => {
  let spool = '';
  beforeAll(() => void (spool = longAddressSpool(150)));

  it.each([
    ['without the envelope cache', ['--no-cache']],
    ['with the envelope cache saved after the answer', ['--state-dir', 'STATE']],
  ])('check-mailq-depth --top 100 (%s): nagios and json arrive complete', async (_what, extra) => {
    const state = tmp('hostile-long-state-');
    const args = ['--mta', 'postfix', '--spool', spool, '--top', '100', ...extra.map((a) => (a === 'STATE' ? state : a))];
    const j = await throughSlowPipe([bin('check-mailq-depth'), ...args, '--format', 'json']);
    expect(j.out.length, j.out.slice(-300)).toBeGreaterThan(65_536);
    const json = JSON.parse(j.out);
    expect(json.details.filter((l: string) => /^ {2}sender\d{4}-aaaa/.test(l))).toHaveLength(100);
    expect(j.code).toBe(json.code);
    const n = await throughSlowPipe([bin('check-mailq-depth'), ...args]);
    expect(n.out.length).toBeGreaterThan(65_536);
    expect(crashes(answerOf(n, args)), n.out.slice(-300)).toEqual([]);
    const lines = n.out.replace(/\n$/, '').split('\n');
    // Every line: the first, then every detail the JSON answer has, the last one included.
    expect(lines.length).toBe(1 + json.details.length);
    expect(lines[lines.length - 1]).toBe(json.details[json.details.length - 1]);
    expect(n.code).toBe(json.code);
  }, 180_000);

  it.each(FORMATS.filter((f) => f !== 'graphite'))('the deadline ends afterOutput work while the answer is still in the pipe (%s): it arrives whole, exit = its state', async (format) => {
    const e = await throughSlowPipe([child, '-t', '1', '--format', format], { env: { PATH: process.env.PATH, RUNNER_CHILD_MODE: 'big' } });
    expect(e.out.length).toBeGreaterThan(200_000);
    expect(e.code).toBe(1);
    if (format === 'json') expect(JSON.parse(e.out).details.at(-1)).toBe('the last line of the long output');
    else expect(e.out.endsWith('\nthe last line of the long output\n'), e.out.slice(-200)).toBe(true);
    expect(e.stderr).toBe('');
  }, 120_000);

  it.each(FORMATS.filter((f) => f !== 'graphite'))('SIGTERM while the answer is still in the pipe (%s): it arrives whole and alone, exit = its state', async (format) => {
    const mark = path.join(tmp('hostile-mark-'), 'mark');
    const e = await throughSlowPipe([child, '-t', '60', '--format', format], {
      env: { PATH: process.env.PATH, RUNNER_CHILD_MODE: 'big', RUNNER_CHILD_MARK: mark },
      during: async (pid) => {
        await waitFor(mark);
        process.kill(pid, 'SIGTERM');
      },
    });
    expect(e.out.length).toBeGreaterThan(200_000);
    expect(e.out).not.toContain('SIGTERM');
    if (format === 'json') expect(JSON.parse(e.out).details.at(-1)).toBe('the last line of the long output');
    else expect(e.out.endsWith('\nthe last line of the long output\n'), e.out.slice(-200)).toBe(true);
    expect(e.code).toBe(1);
  }, 120_000);

  it('an uncaught exception after the answer: the answer arrives whole and alone, exit = its state', async () => {
    const e = await throughSlowPipe([child, '-t', '60'], { env: { PATH: process.env.PATH, RUNNER_CHILD_MODE: 'crash' } });
    expect(e.out.endsWith('\nthe last line of the long output\n'), e.out.slice(-200)).toBe(true);
    expect(e.out).not.toContain('internal error');
    expect(e.code).toBe(1);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// 2. Blocked I/O: a FIFO where a state, lock or cache file should be

const STATEFUL: Record<string, string[]> = {
  'check-mailq-growth': ['--mta', 'postfix', '--spool', postfix.spools[0]],
  'check-spool-disk': ['--mta', 'postfix', '--spool', postfix.spools[0]],
  'check-maillog-flood': ['--log', log],
};

/** A state dir where one good run left its files, then each file ending in `ext` replaced by a FIFO. */
async function fifoInPlaceOf(name: string, argv: string[], ext: RegExp, before?: (dir: string) => void): Promise<{ dir: string; fifos: string[] }> {
  const dir = tmp('hostile-fifo-');
  const first = await runProgram([bin(name), ...argv, '--state-dir', dir]);
  expect(first.code, first.out).toBeLessThan(3);
  before?.(dir);
  // Files a run keeps in the state dir, and the lock it takes beside its state (gone after the run).
  const names = fs.readdirSync(dir).filter((n) => /\.(json|cache)$/.test(n));
  const wanted = [...names, ...names.map((n) => n.replace(/\.(json|cache)$/, '.lock'))].filter((n) => ext.test(n));
  for (const n of wanted) {
    fs.rmSync(path.join(dir, n), { force: true });
    const r = spawn('mkfifo', [path.join(dir, n)]);
    await new Promise((res) => r.on('close', res));
  }
  expect(wanted.length, fs.readdirSync(dir).join(', ')).toBeGreaterThan(0);
  return { dir, fifos: wanted.map((n) => path.join(dir, n)) };
}

describe('a FIFO in place of a state or lock file (a hung NFS/FUSE directory) keeps no run alive', () => {
  it.each(Object.keys(STATEFUL))('%s, FIFO as its state file, -t 10: answers, says so, and the next run answers too', async (name) => {
    const { dir, fifos } = await fifoInPlaceOf(name, STATEFUL[name], /\.json$/);
    // -t 10, not 2: a FIFO that blocked would still end in UNKNOWN at the deadline (and fail below),
    // and a loaded machine (the suite itself, a busy core) must not turn a right answer into a late one.
    const argv = [...STATEFUL[name], '--state-dir', dir, '-t', '10', '--format', 'json'];
    const a = answerOf(await runProgram([bin(name), ...argv]), argv);
    expect(crashes(a), a.out).toEqual([]);
    expect(a.code, a.out).toBeLessThan(3);
    expect(a.json!.details.join('\n')).toMatch(/state file was unreadable \(a FIFO, not a regular file\): moved aside/);
    // Moved aside, not deleted, not read; a real state file written in its place.
    expect(fs.readdirSync(dir).some((n) => n.startsWith(`${path.basename(fifos[0])}.corrupt-`))).toBe(true);
    expect(fs.lstatSync(fifos[0]).isFile()).toBe(true);
    const b = answerOf(await runProgram([bin(name), ...argv]), argv);
    expect(crashes(b), b.out).toEqual([]);
    expect(b.code, b.out).toBeLessThan(3);
  }, 120_000);

  it.each(Object.keys(STATEFUL))('%s, FIFO as its lock file, -t 10: answers, takes the lock over, and the next run answers too', async (name) => {
    const { dir } = await fifoInPlaceOf(name, STATEFUL[name], /\.lock$/);
    // -t 10, not 2: a FIFO that blocked would still end in UNKNOWN at the deadline (and fail below),
    // and a loaded machine (the suite itself, a busy core) must not turn a right answer into a late one.
    const argv = [...STATEFUL[name], '--state-dir', dir, '-t', '10', '--format', 'json'];
    const a = answerOf(await runProgram([bin(name), ...argv]), argv);
    expect(crashes(a), a.out).toEqual([]);
    expect(a.code, a.out).toBeLessThan(3);
    expect(a.json!.details.join('\n')).toMatch(/took over a FIFO in place of the lock file/);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.lock'))).toEqual([]);
    const b = answerOf(await runProgram([bin(name), ...argv]), argv);
    expect(crashes(b), b.out).toEqual([]);
    expect(b.code, b.out).toBeLessThan(3);
  }, 120_000);

  // A thread of libuv's pool stuck in the kernel (open() of a FIFO nobody writes: the same as a hung hard
  // NFS mount) cannot be got back, and Node's exit waits for every pool thread: process.exit() itself
  // would hang. The runner answers at -t, flushes, and a watchdog then ends the process with SIGKILL.
  it.each(FORMATS)('a pool thread stuck in open() at -t (%s): one complete UNKNOWN answer, and the process ends', async (format) => {
    const fifo = path.join(tmp('hostile-stuck-'), 'fifo');
    await new Promise((res) => spawn('mkfifo', [fifo]).on('close', res));
    const argv = ['-t', '1', '--format', format, '--scheme', 't.mail'];
    const e = await runProgram([child, ...argv], { env: { PATH: process.env.PATH, RUNNER_CHILD_MODE: 'stuck', RUNNER_CHILD_FIFO: fifo } });
    expect(e.hung, 'still running a minute later').toBe(false);
    expect(e.signal ?? e.code, e.out).toBe('SIGKILL');
    expect(e.stderr).toBe('');
    // As the answer of an exit 3 would be.
    expect(formatViolations3(e.out, format), e.out).toEqual([]);
    if (format === 'nagios') expect(e.out).toBe('CHILD UNKNOWN - timed out after 1 s while collecting | \n');
    if (format === 'json') expect(JSON.parse(e.out).summary).toBe('timed out after 1 s while collecting');
  }, 120_000);

  it('check-mailq-depth, FIFO as its envelope cache file, -t 10: refused, rebuilt from the spool, the run and the next one answer', async () => {
    const spool = postfix.spools[0];
    const { dir } = await fifoInPlaceOf('check-mailq-depth', ['--mta', 'postfix', '--spool', spool], /\.cache$/);
    // -t 10 as above: a blocking FIFO would still end in UNKNOWN at the deadline; load must not.
    // About the cache file, not thresholds: the capture is days old by now, past the age defaults.
    const argv = ['--mta', 'postfix', '--spool', spool, '--state-dir', dir, '-t', '10', '-v', '--no-default-thresholds'];
    for (let i = 0; i < 2; i++) {
      const e = await runProgram([bin('check-mailq-depth'), ...argv]);
      expect(e.hung, 'still running a minute later').toBe(false);
      expect(e.signal, e.out).toBeNull();
      expect(formatViolations3(e.out, 'nagios', e.code ?? 3), e.out).toEqual([]);
      expect(e.code, e.out).toBe(0);
      // The cache reader refuses what is not a regular file (lib/plugin/state.ts readRegularFile).
      if (i === 0) expect(e.out).toMatch(/envelope cache \S+ was not usable \(a FIFO, not a regular file\): rebuilt from the spool/);
    }
  }, 120_000);
});

/** The harness's format rules for an answer whose exit code is `code` (3 when the process was killed after it). */
function formatViolations3(out: string, format: Format, code = 3): string[] {
  return crashes({ out, code, stderr: '', format, json: undefined });
}

// ---------------------------------------------------------------------------------------------
// 3. The lock on a full state filesystem

/** The pid a lock names: a symlink `<pid>:...` or (older versions) a JSON file; undefined while unreadable. */
function lockPid(file: string): number | undefined {
  try {
    if (fs.lstatSync(file).isSymbolicLink()) return Number(fs.readlinkSync(file).split(':')[0]);
    return JSON.parse(fs.readFileSync(file, 'utf8')).pid;
  } catch {
    return undefined;
  }
}

const full = mountTmpfs(1);
afterAll(() => {
  if ('dir' in full) unmount(full.dir);
});

describe.skipIf('skip' in full)(`a full state filesystem (incident 001's /var)${'skip' in full ? ` (skipped: ${full.skip})` : ''}`, () => {
  const FULL = (full as { dir: string }).dir;
  let big = '';
  let bigLog = '';
  beforeAll(() => {
    for (const n of Object.keys(STATEFUL)) fs.mkdirSync(path.join(FULL, n), { mode: 0o700 });
    try {
      fill(path.join(FULL, 'ballast'), 4 << 20);
    } catch (err) {
      expect((err as { code?: string }).code).toBe('ENOSPC');
    }
    // A spool big enough that the first run holds its lock for a while.
    big = tmp('hostile-fullfs-spool-');
    for (const q of ['incoming', 'active', 'deferred', 'hold', 'maildrop', 'corrupt']) fs.mkdirSync(path.join(big, q));
    for (let i = 0; i < 20_000; i++) fs.writeFileSync(path.join(big, 'hold', (0x10000000000 + i * 2654435761).toString(16).toUpperCase().slice(-11)), '');
    bigLog = path.join(big, 'mail.log');
    const text = fs.readFileSync(log);
    const fd = fs.openSync(bigLog, 'w');
    for (let n = 0; n < 20 << 20; n += text.length) fs.writeSync(fd, text);
    fs.closeSync(fd);
  }, 120_000);

  // Long enough to read that the first run holds its lock for a while.
  const argvOf = (name: string) =>
    name === 'check-maillog-flood'
      ? ['--log', bigLog, '--from-start']
      : ['--mta', 'postfix', '--spool', big, ...(name === 'check-mailq-growth' ? ['--source', 'spool'] : [])];

  it.each(Object.keys(STATEFUL))('%s: a second run while the first holds its lock answers busy; the first answers, saying its sample was not saved', async (name) => {
    const dir = path.join(FULL, name);
    const argv = [...argvOf(name), '--state-dir', dir, '-t', '30'];
    let stopped = false;
    let second: Ended | undefined;
    const first = await runProgram([bin(name), ...argv], {
      during: async (pid) => {
        // Paused (SIGSTOP) the moment it holds its lock: a run stuck on the full /var.
        for (let i = 0; i < 200_000; i++) {
          const lock = fs.readdirSync(dir).find((n) => n.endsWith('.lock'));
          if (lock && lockPid(path.join(dir, lock)) === pid) {
            process.kill(pid, 'SIGSTOP');
            stopped = true;
            break;
          }
          if (!fs.existsSync(`/proc/${pid}`)) break;
          await new Promise((r) => setImmediate(r));
        }
        if (!stopped) return;
        try {
          second = await runProgram([bin(name), ...argv]);
        } finally {
          process.kill(pid, 'SIGCONT');
        }
      },
    });
    expect(stopped, `${name} never held a lock on the full filesystem: ${first.out}`).toBe(true);
    expect(second!.code, second!.out).toBe(3);
    expect(second!.out).toMatch(/^[A-Z_]+ UNKNOWN - previous run still in progress since \d\d:\d\d:\d\d \(pid \d+\)/);
    expect(first.code, first.out).toBeLessThan(3);
    expect(first.out).toMatch(/state not saved this run: .* \(ENOSPC\)/);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.lock'))).toEqual([]);
  }, 180_000);
});

// ---------------------------------------------------------------------------------------------
// 4. A value that starts with '-'

const RANGE_OPTIONS = new Set(['warning', 'critical', 'inode-warning', 'inode-critical', 'repeat-warning', 'repeat-critical', 'sender-warning', 'sender-critical', 'bounce-warning', 'bounce-critical', 'deferral-warning', 'deferral-critical', 'auth-fail-warning', 'auth-fail-critical', 'repeat-min-rate']);
const work = tmp('hostile-negative-');

/** A command line that works, with a state dir of its own (so two runs compared are both first runs). */
function baseArgv(name: string): string[] {
  const state = fs.mkdtempSync(path.join(work, `${name}-`));
  if (name === 'check-maillog-flood') return ['--log', log, '--state-dir', state];
  const base = ['--mta', 'postfix', '--spool', postfix.spools[0]];
  if (name === 'check-mailq-depth' || name === 'check-mailer-daemon') base.push('--no-cache');
  if (name === 'check-mailq-growth' || name === 'check-spool-disk') base.push('--state-dir', state);
  return base;
}

function rangeOptionsOf(name: string): string[] {
  const o = (checkOptions(CHECKS[name], yargs([])) as unknown as { getOptions(): { string: string[] } }).getOptions();
  return ['warning', 'critical', ...o.string.filter((s) => RANGE_OPTIONS.has(s))];
}

/** The verdict and the thresholds each metric was judged by (free space on a live disk differs between two runs). */
const comparable = (a: Answer) => ({ code: a.code, metrics: (a.json?.metrics as { label: string; warn: unknown; crit: unknown }[] | undefined)?.map((m) => ({ label: m.label, warn: m.warn, crit: m.crit })) });

const negativeRows: [string, string[], string][] = [];
for (const name of Object.keys(CHECKS)) {
  negativeRows.push([name, ['-w', '-10:10'], '--warning=-10:10'], [name, ['-c', '-5:'], '--critical=-5:'], [name, ['--warning', '-1'], '--warning=-1'], [name, ['-w=-3'], '--warning=-3']);
  for (const opt of rangeOptionsOf(name)) negativeRows.push([name, [`--${opt}`, '-10:-2'], `--${opt}=-10:-2`], [name, [`--${opt}`, '-.5:'], `--${opt}=-.5:`]);
}

describe('a range or number that starts with - is the value of the option before it', () => {
  it.each(negativeRows)('%s %j answers as %s does', async (name, tokens, joined) => {
    const a = await run(CHECKS[name], [...baseArgv(name), '--format', 'json', ...tokens], NOW);
    const b = await run(CHECKS[name], [...baseArgv(name), '--format', 'json', joined], NOW);
    expect(crashes(a), a.out).toEqual([]);
    expect(a.out).not.toMatch(/Unknown argument/);
    expect(comparable(a)).toEqual(comparable(b));
  });

  it('check-mailq-depth -w -10:10 -c -5: is a pair of thresholds: in the perfdata, and 30 queued is CRITICAL', async () => {
    const a = await run(CHECKS['check-mailq-depth'], [...baseArgv('check-mailq-depth'), '-w', '-10:10', '-c', '-5:20'], NOW);
    expect(crashes(a), a.out).toEqual([]);
    expect(a.code, a.out).toBe(2);
    expect(a.out.split('\n')[0]).toMatch(/ \| total=30;-10:10;-5:20;0 /);
  });

  it.each(
    Object.keys(CHECKS).flatMap((name) => [
      [name, ['-w', '-v'], /no value given to -w \(the next argument, -v, is an option\)/],
      [name, ['-c', '--format', 'nagios'], /no value given to -c \(the next argument, --format, is an option\)/],
      [name, ['-w'], /no value given to -w: /],
      [name, ['--timeout'], /no value given to --timeout: /],
    ] as [string, string[], RegExp][]),
  )('%s %j: the missing value is said, never a silent default', async (name, tokens, said) => {
    const a = await run(CHECKS[name], [...baseArgv(name), ...tokens], NOW);
    expect(crashes(a), a.out).toEqual([]);
    expect(a.code, a.out).toBe(3);
    expect(a.out.trim().split('\n')).toHaveLength(1);
    expect(a.out).toMatch(said);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Every answer in the format asked for

const ID: Record<string, string> = Object.fromEntries(Object.entries(CHECKS).map(([n, s]) => [n, s.id]));

/** What an UNKNOWN answer with this summary must be, in each format. */
function expectUnknown(out: string, format: Format, id: string, summary: RegExp, service?: string): void {
  if (format === 'nagios') {
    expect(out.trim().split('\n'), out).toHaveLength(1);
    expect(out).toMatch(new RegExp(`^${service ?? '[A-Z_-]+'} UNKNOWN - ${summary.source} \\| \\n$`));
  } else if (format === 'json') {
    const j = JSON.parse(out);
    expect(j).toMatchObject({ status: 'UNKNOWN', code: 3, check: id, metrics: [] });
    expect(j.summary).toMatch(new RegExp(`^${summary.source}$`));
  } else {
    expect(out).toMatch(new RegExp(`^t\\.mail\\.${id}\\.state 3 \\d+\\n$`));
  }
}

describe('every answer is in the format asked for', () => {
  it.each(Object.keys(CHECKS).flatMap((n) => FORMATS.map((f) => [n, f] as const)))('%s, a bad option, --format %s: exit 3, the answer in that format', async (name, format) => {
    const a = await run(CHECKS[name], [...baseArgv(name), '--bogus', '--format', format, '--scheme', 't.mail'], NOW);
    expect(a.code).toBe(3);
    expect(crashes(a), a.out).toEqual([]);
    expectUnknown(a.out, format, ID[name], /Unknown argument: bogus: see check-[a-z-]+ --help/);
  });

  it.each(Object.keys(CHECKS).flatMap((n) => FORMATS.map((f) => [n, f] as const)))('%s, an invalid range, --format %s: exit 3, the answer in that format', async (name, format) => {
    const a = await run(CHECKS[name], [...baseArgv(name), '-w', '10:5', '--format', format, '--scheme', 't.mail'], NOW);
    expect(a.code).toBe(3);
    expectUnknown(a.out, format, ID[name], /invalid warning range '10:5'.*/);
  });

  it.each(FORMATS)('SIGTERM while collecting, --format %s: exit 3, the answer in that format', async (format) => {
    const mark = path.join(tmp('hostile-mark-'), 'mark');
    const e = await runProgram([child, '-t', '60', '--format', format, '--scheme', 't.mail'], {
      env: { PATH: process.env.PATH, RUNNER_CHILD_MODE: 'hang', RUNNER_CHILD_MARK: mark },
      during: async (pid) => {
        await waitFor(mark);
        process.kill(pid, 'SIGTERM');
      },
    });
    expect(e.code, e.out).toBe(3);
    expect(e.stderr).toBe('');
    expectUnknown(e.out, format, 'runner_child', /killed by SIGTERM \(the scheduler's timeout is shorter than -t\?\)/, 'CHILD');
  }, 120_000);

  it.each(FORMATS)('the deadline backstop (collect ignores the deadline), --format %s: exit 3, the answer in that format', async (format) => {
    const e = await runProgram([child, '-t', '1', '--format', format, '--scheme', 't.mail'], { env: { PATH: process.env.PATH, RUNNER_CHILD_MODE: 'hang' } });
    expect(e.code, e.out).toBe(3);
    expect(e.stderr).toBe('');
    expectUnknown(e.out, format, 'runner_child', /timed out after 1 s while collecting/, 'CHILD');
  }, 120_000);
});
