// Running an MTA's own listing command (postqueue, mailq, exim -bp) under the check's deadline.
// Each child gets its own process group so a timeout kills the whole tree (mailq -> sendmail -> ...),
// and nothing is left running to stack up behind the next scheduled run.

import fs from 'node:fs';


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

/** First existing executable among the names, searched in PATH then the sbin directories. */
export function findProgram(names: string[], envPath = process.env.PATH ?? ''): string | undefined {
  const dirs = [...envPath.split(':').filter(Boolean), ...EXTRA_DIRS];
  for (const name of names) {
    if (name.includes('/')) {
      if (isExecutable(name)) return name;
      continue;
    }
    for (const d of dirs) if (isExecutable(`${d}/${name}`)) return `${d}/${name}`;
  }
  return undefined;
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
  const { execa } = await import('execa');
  const child = execa(file, args, {
    reject: false,
    detached: true,
    stdin: 'ignore',
    killSignal: 'SIGKILL',
    env: opts.env,
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
