// Shared by the state store and stateful check tests: temp dirs that are always removed, in-process
// runs with a fake clock, real child processes (a bundled helper script and the built checks),
// and a tmpfs that tests fill.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { runCheck, type CheckSpec, type CollectStatus, type RunContext } from '../../lib/plugin/check.js';
import { TEST_ENV } from './run.js';

export const ROOT = path.join(__dirname, '../..');

const made: string[] = [];
export function tempDir(prefix = 'mailq-state-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}
export function removeTempDirs(): void {
  while (made.length) fs.rmSync(made.pop()!, { recursive: true, force: true });
}

export interface RunResult {
  out: string;
  code: number;
  json?: {
    status: string;
    summary: string;
    metrics: { label: string; value: number; warn: string | null; crit: string | null; uom: string }[];
    details: string[];
    [k: string]: unknown;
  };
}

/** Run a check in-process at a fake time (epoch seconds); state and envelope cache in the test run's state dir by default. */
export async function runAt<O, D extends CollectStatus>(spec: CheckSpec<O, D>, argv: string[], nowSec: number, env: NodeJS.ProcessEnv = TEST_ENV): Promise<RunResult> {
  let out = '';
  let code = -1;
  const ctx: RunContext = {
    argv,
    env,
    now: () => nowSec * 1000,
    hostname: 'mx1.lab.example',
    stdout: (s) => (out += s),
    stderr: (s) => {
      throw new Error(`unexpected stderr: ${s}`);
    },
    exit: (c) => {
      if (code === -1) code = c;
    },
  };
  await runCheck(spec, ctx);
  const json = argv.includes('json') ? JSON.parse(out) : undefined;
  return { out, code, json };
}

export function metricOf(r: RunResult, label: string): number | undefined {
  return r.json?.metrics.find((m) => m.label === label)?.value;
}

/** Build every check into a temp dir (what npm run build ships), once per test file. */
export function buildChecks(): string {
  const out = tempDir('mailq-dist-');
  execFileSync(process.execPath, [path.join(ROOT, '.ci/build.mjs'), '--outdir', out], { cwd: ROOT, stdio: 'pipe' });
  return out;
}

/** Bundle test/helpers/state-child.ts into one runnable file. */
export function bundleChild(): Promise<string> {
  return bundleScript('test/helpers/state-child.ts');
}

/** Bundle a test's child script (a path from the repo root) into one runnable .mjs file in a temp dir. */
export async function bundleScript(entry: string): Promise<string> {
  const out = path.join(tempDir('mailq-child-'), `${path.basename(entry, '.ts')}.mjs`);
  await build({
    entryPoints: [path.join(ROOT, entry)],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return out;
}

export interface ChildEvent {
  event: string;
  [k: string]: unknown;
}

/** A child process speaking one JSON event per line on stdout. */
export class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private events: ChildEvent[] = [];
  private waiters: (() => void)[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';

  constructor(script: string, args: string[]) {
    this.proc = spawn(process.execPath, [script, ...args], { stdio: 'pipe' });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (s: string) => {
      this.buf += s;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (line.trim()) this.events.push(JSON.parse(line));
      }
      this.waiters.splice(0).forEach((w) => w());
    });
    this.proc.stderr.on('data', (s) => (this.stderr += s));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => this.waiters.splice(0).forEach((w) => w()));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** The first event (in order) not yet taken; rejects if the child exits first. */
  async next(): Promise<ChildEvent> {
    for (;;) {
      if (this.events.length) return this.events.shift()!;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null)
        throw new Error(`child exited (${this.proc.exitCode ?? this.proc.signalCode}) without an event; stderr: ${this.stderr}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Tell a holding child to let go (closes its stdin). */
  finish(): void {
    this.proc.stdin.end();
  }
}

/** A pid that belonged to a process that has exited (pid_max is far away, so it is not reused within a test). */
export function deadPid(): number {
  return Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }));
}

/** Mount a tmpfs of `sizeMb` at a new temp dir; undefined with the reason when that is not possible. */
export function mountTmpfs(sizeMb: number, extra = ''): { dir: string } | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'not root: cannot mount a tmpfs' };
  const dir = tempDir('mailq-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755${extra ? `,${extra}` : ''}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    return { skip: `mount -t tmpfs failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` };
  }
  return { dir };
}

/** Mount a fresh ext4 image of `sizeMb` (5% reserved for root, like a real /var) on a loop device. */
export function mountExt4(sizeMb: number): { dir: string } | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'not root: cannot mount a loop device' };
  const work = tempDir('mailq-ext4-');
  const image = path.join(work, 'fs.img');
  const dir = path.join(work, 'mnt');
  fs.mkdirSync(dir);
  try {
    fs.writeFileSync(image, '');
    fs.truncateSync(image, sizeMb << 20);
    execFileSync('mkfs.ext4', ['-q', '-F', '-m', '5', image], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop', image, dir], { stdio: 'pipe' });
  } catch (err) {
    return { skip: `ext4 loop mount failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` };
  }
  return { dir };
}

export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

/** Write a file of n bytes of incompressible-looking data (tmpfs stores it all). */
export function fill(file: string, bytes: number): void {
  const chunk = Buffer.alloc(Math.min(bytes, 1 << 20), 0x61);
  const fd = fs.openSync(file, 'a');
  try {
    let left = bytes;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      fs.writeSync(fd, chunk, 0, n);
      left -= n;
    }
  } finally {
    fs.closeSync(fd);
  }
}
