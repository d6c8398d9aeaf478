// Running an MTA's own listing command (postqueue, mailq, exim -bp) under the check's deadline.
// Each child gets its own process group so a timeout kills the whole tree (mailq -> sendmail -> ...),
// and nothing is left running to stack up behind the next scheduled run.

import fs from 'node:fs';
import { LineSplitter } from '../log/lines.js';
import { privileged, SYSTEM_DIRS, SYSTEM_PATH, trustedExecutable } from './privilege.js';
import { decodeBytes } from './text.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode?: number;
  failed: boolean;
  timedOut: boolean;
  /** One line describing a failure (execa's shortMessage), for the UNKNOWN output. */
  message: string;
  /** ENOENT when the program does not exist. */
  code?: string;
}

const live = new Set<number>();

// Where MTA tools live; Nagios and Sensu users often have neither sbin directory on PATH.
const EXTRA_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin', '/usr/lib/sendmail'];

/**
 * First existing executable among the names. Unprivileged: searched in the absolute entries of PATH
 * (relative ones, "" and "." included, would make the answer depend on the working directory), then
 * the sbin directories. Privileged (root, capabilities, sudo: lib/plugin/privilege.ts): only in the
 * fixed system directories, and only a file root owns in a directory root owns, whatever PATH says;
 * a name with a slash must be absolute.
 */
export function findProgram(names: string[], envPath = process.env.PATH ?? ''): string | undefined {
  const root = privileged();
  const dirs = root ? SYSTEM_DIRS : [...envPath.split(':').filter((d) => d.startsWith('/')), ...EXTRA_DIRS];
  const usable = root ? (p: string) => isExecutable(p) && trustedExecutable(p) : isExecutable;
  for (const name of names) {
    if (name.includes('/')) {
      if ((!root || name.startsWith('/')) && usable(name)) return name;
      continue;
    }
    for (const d of dirs) if (usable(`${d}/${name}`)) return `${d}/${name}`;
  }
  return undefined;
}

/**
 * What to spawn for `file` (a bare name is looked up with findProgram, never left to the spawn's own
 * PATH search) and the child's environment (PATH set to the system directories in a privileged run,
 * so what the child starts in turn is not the caller's choice either). undefined: not found.
 */
function spawnTarget(file: string, env?: Record<string, string>): { exe: string; env?: Record<string, string> } | undefined {
  const exe = findProgram([file]);
  if (exe === undefined) return undefined;
  return { exe, env: privileged() ? { ...env, PATH: SYSTEM_PATH } : env };
}

/**
 * Why a program that is there was not found, in a privileged run: the first executable of that name in
 * the system directories that root does not own alone (Debian's nullmailer mailq is setuid mail and
 * owned by mail: whoever is mail could make root run anything through it). undefined: really missing.
 */
export function untrustedProgram(file: string): { path: string; owner: number } | undefined {
  if (!privileged()) return undefined;
  const candidates = file.includes('/') ? (file.startsWith('/') ? [file] : []) : SYSTEM_DIRS.map((d) => `${d}/${file}`);
  for (const p of candidates)
    if (isExecutable(p) && !trustedExecutable(p)) {
      try {
        return { path: p, owner: fs.statSync(fs.realpathSync(p)).uid };
      } catch {
        continue;
      }
    }
  return undefined;
}

function notFound(file: string): { message: string; code: string } {
  const u = untrustedProgram(file);
  if (!u) return { message: `${file} not found`, code: 'ENOENT' };
  return { message: `${u.path} refused: a privileged run executes only programs root owns alone (this one: uid ${u.owner})`, code: 'EUNTRUSTED' };
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Kill every child process group still running (called on hard deadline / exit). */
export function killAllChildren(): void {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

export async function runCommand(
  file: string,
  args: string[],
  opts: { signal?: AbortSignal; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<CommandResult> {
  // Loaded on first use: most runs read the spool and never spawn, and start-up time matters.
  const target = spawnTarget(file, opts.env);
  if (!target) return { stdout: '', stderr: '', failed: true, timedOut: false, ...notFound(file) };
  const { execa } = await import('execa');
  const child = execa(target.exe, args, {
    reject: false,
    detached: true,
    stdin: 'ignore',
    killSignal: 'SIGKILL',
    env: target.env,
    maxBuffer: 512 * 1024 * 1024,
    stripFinalNewline: false,
  });
  const pid = child.pid;
  const killGroup = () => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  if (pid !== undefined) live.add(pid);
  // Our own timer, not execa's: execa kills only the child, and a grandchild holding stdout open
  // would keep us waiting. Killing the group closes every pipe.
  let timedOut = false;
  const timer =
    opts.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          killGroup();
        }, opts.timeoutMs)
      : undefined;
  opts.signal?.addEventListener('abort', killGroup, { once: true });
  try {
    const r = await child;
    const stopped = timedOut || (opts.signal?.aborted ?? false);
    return {
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
      exitCode: r.exitCode,
      failed: r.failed || stopped,
      timedOut: stopped,
      message: stopped ? `${file} was stopped at the deadline` : r.failed ? String(r.shortMessage ?? r.message) : '',
      code: (r as { code?: string }).code,
    };
  } finally {
    if (timer) clearTimeout(timer);
    if (pid !== undefined) live.delete(pid);
    opts.signal?.removeEventListener('abort', killGroup);
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming: a listing of any size is read a line at a time, never held whole.

/** Longest line handed on whole; the rest of a longer one is dropped (bounded memory on any output). */
export const MAX_LINE_BYTES = 1 << 20;
/** stderr is only ever quoted in a one-line error: its first bytes are enough. */
export const STDERR_CAP = 4096;

/** One line without its '\n'. `truncated`: only the first maxLineBytes bytes are given. */
export type OnLine = (line: string, truncated: boolean) => void;

export interface StreamOptions {
  /** Called synchronously for every line, in order. A throw stops the read (the child is killed) and rejects. */
  onLine: OnLine;
  signal?: AbortSignal;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** How lines are decoded. Default 'text': each line as UTF-8 when it is valid UTF-8, else latin1
   *  (lib/plugin/text.ts decodeBytes), the rule every queue-file and log reader follows. */
  encoding?: 'utf8' | 'latin1' | 'text';
  maxLineBytes?: number;
}

export interface StreamResult {
  exitCode?: number;
  failed: boolean;
  /** Stopped at the deadline or by the signal: what was read until then has been handed on. */
  timedOut: boolean;
  message: string;
  /** ENOENT when the program (or file) does not exist. */
  code?: string;
  /** The first STDERR_CAP bytes of stderr. */
  stderr: string;
  lines: number;
  bytes: number;
  /** Lines longer than maxLineBytes (handed on cut). */
  truncatedLines: number;
}

/** Bytes in, decoded lines out: what streamCommand and streamFile do with each chunk. */
export function lineSplitter(o: Pick<StreamOptions, 'onLine' | 'encoding' | 'maxLineBytes'>): LineSplitter {
  const enc = o.encoding ?? 'text';
  const decode = enc === 'text' ? decodeBytes : (buf: Buffer, start: number, end: number) => buf.toString(enc, start, end);
  return new LineSplitter((buf, start, end, truncated) => o.onLine(decode(buf, start, end), truncated), o.maxLineBytes ?? MAX_LINE_BYTES);
}

function counts(lines: LineSplitter): Pick<StreamResult, 'lines' | 'bytes' | 'truncatedLines'> {
  return { lines: lines.lines, bytes: lines.pushed, truncatedLines: lines.truncated };
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Arms the deadline and the signal; `stop` runs at most once, and never after `disarm`. */
function deadline(o: StreamOptions, stop: () => void): () => void {
  let armed = true;
  const fire = () => {
    if (!armed) return;
    disarm();
    stop();
  };
  // setTimeout fires at once for a delay past 2^31-1 ms, Infinity included: that is no deadline.
  const timer = o.timeoutMs !== undefined && o.timeoutMs < MAX_TIMER_MS ? setTimeout(fire, o.timeoutMs) : undefined;
  const disarm = () => {
    armed = false;
    if (timer) clearTimeout(timer);
    o.signal?.removeEventListener('abort', fire);
  };
  if (o.signal?.aborted) queueMicrotask(fire);
  else o.signal?.addEventListener('abort', fire, { once: true });
  return disarm;
}

/**
 * Run a listing command and hand its stdout on line by line, as it arrives. Own process group as
 * runCommand: at the deadline (or abort) the whole group is killed and the promise resolves at once
 * with timedOut and the counts so far (an unfinished last line is dropped: it was cut by the kill).
 */
export async function streamCommand(file: string, args: string[], o: StreamOptions): Promise<StreamResult> {
  const target = spawnTarget(file, o.env);
  if (!target) return { failed: true, timedOut: false, ...notFound(file), stderr: '', lines: 0, bytes: 0, truncatedLines: 0 };
  const { execa } = await import('execa');
  return new Promise<StreamResult>((resolve, reject) => {
    const lines = lineSplitter(o);
    const stderr: Buffer[] = [];
    let stderrLen = 0;
    let settled = false;
    // buffer: false: execa keeps nothing, stdout goes only to the splitter.
    const child = execa(target.exe, args, { reject: false, detached: true, stdin: 'ignore', killSignal: 'SIGKILL', env: target.env, buffer: false });
    const pid = child.pid;
    if (pid !== undefined) live.add(pid);
    const killGroup = () => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    const finish = (r: Omit<StreamResult, 'stderr' | 'lines' | 'bytes' | 'truncatedLines'> | Error) => {
      if (settled) return;
      settled = true;
      disarm();
      if (pid !== undefined) live.delete(pid);
      if (r instanceof Error) reject(r);
      else resolve({ ...r, stderr: Buffer.concat(stderr).toString('utf8'), ...counts(lines) });
    };
    const abandon = () => {
      killGroup();
      // Not waiting for the pipes to close: a grandchild outside the group could hold them open.
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
    const disarm = deadline(o, () => {
      if (settled) return;
      abandon();
      finish({ failed: true, timedOut: true, message: `${file} was stopped at the deadline` });
    });
    child.stdout?.on('data', (chunk: Buffer | string) => {
      if (settled) return;
      try {
        lines.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      } catch (err) {
        abandon();
        finish(err as Error);
      }
    });
    child.stderr?.on('data', (chunk: Buffer | string) => {
      if (stderrLen >= STDERR_CAP) return;
      const part = Buffer.from(chunk).subarray(0, STDERR_CAP - stderrLen);
      stderr.push(part);
      stderrLen += part.length;
    });
    const stdoutDone = new Promise<void>((res) => {
      if (!child.stdout) return res();
      child.stdout.once('close', () => res());
    });
    Promise.all([child, stdoutDone]).then(
      ([r]) => {
        if (settled) return;
        try {
          lines.finish();
        } catch (err) {
          finish(err as Error);
          return;
        }
        finish({
          exitCode: r.exitCode,
          failed: r.failed,
          timedOut: false,
          message: r.failed ? String(r.shortMessage ?? r.message) : '',
          code: (r as { code?: string }).code,
        });
      },
      (err: unknown) => {
        abandon();
        finish(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * A file read as if a command had printed it (recorded listings): same lines, same deadline rule.
 * Read errors (ENOENT, EISDIR, EIO) reject with the fs error.
 */
export function streamFile(path: string, o: StreamOptions): Promise<StreamResult> {
  return new Promise<StreamResult>((resolve, reject) => {
    const lines = lineSplitter(o);
    // 64 KB as a pipe gives: bigger reads mean more garbage between collections (RSS 130 MB vs 60 MB at 256 KB).
    const stream = fs.createReadStream(path, { highWaterMark: 64 * 1024 });
    let settled = false;
    const finish = (r: Omit<StreamResult, 'stderr' | 'lines' | 'bytes' | 'truncatedLines'> | Error) => {
      if (settled) return;
      settled = true;
      disarm();
      stream.destroy();
      if (r instanceof Error) reject(r);
      else resolve({ ...r, stderr: '', ...counts(lines) });
    };
    const disarm = deadline(o, () => finish({ failed: true, timedOut: true, message: `${path} was not read before the deadline` }));
    stream.on('data', (chunk) => {
      if (settled) return;
      try {
        lines.push(chunk as Buffer);
      } catch (err) {
        finish(err as Error);
      }
    });
    stream.on('error', (err) => finish(err));
    stream.on('end', () => {
      if (settled) return;
      try {
        lines.finish();
      } catch (err) {
        finish(err as Error);
        return;
      }
      finish({ exitCode: 0, failed: false, timedOut: false, message: '' });
    });
  });
}
