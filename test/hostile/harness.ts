// The hostile catalogue's shared tools: run any check in-process or as the built binary, and judge
// what came out by the two rules that matter to a monitoring system:
//   crash    = anything but one well-formed answer with exit 0..3 (a throw, stderr, "internal error",
//              an exit code Nagios does not know, output that breaks its format);
//   wrong OK = exit 0 where the case says the check could not see (part of) what it watches.
// Each case file is a table: a new case is one row.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { mailerDaemonCheck } from '../../lib/checks/mailer-daemon.js';
import { growthCheck } from '../../lib/checks/mailq-growth.js';
import { spoolDiskCheck } from '../../lib/checks/spool-disk.js';
import { floodCheck } from '../../lib/checks/maillog-flood.js';
import { runCheck, type CheckSpec, type CollectStatus, type RunContext } from '../../lib/plugin/check.js';

export const ROOT = path.join(__dirname, '../..');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySpec = CheckSpec<any, any>;

/** Every check the suite ships, by binary name. */
export const CHECKS: Record<string, AnySpec> = {
  'check-mailq-depth': depthCheck,
  'check-mailer-daemon': mailerDaemonCheck,
  'check-mailq-growth': growthCheck,
  'check-spool-disk': spoolDiskCheck,
  'check-maillog-flood': floodCheck,
};

/** Checks that read a queue (given --mta and --spool). */
export const QUEUE_CHECKS = ['check-mailq-depth', 'check-mailer-daemon', 'check-mailq-growth', 'check-spool-disk'] as const;

const made: string[] = [];
export function tmp(prefix = 'hostile-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}
export function cleanup(): void {
  while (made.length) {
    const d = made.pop()!;
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      // a mount still on it: left for the unmount in the test's own afterAll
    }
  }
}

export const isRoot = process.geteuid?.() === 0;
export const NOBODY = 65534;

// Hermetic state: every check a test runs, in-process or as a binary, keeps its state and envelope
// cache in the test run's state dir (vitest.config.ts sets MAILQ_CHECKS_STATE_DIR), never in
// /var/lib/mailq-checks, where it would meet the machine's own checks and every parallel test file.
// A run as another user gets a dir of its own that it owns (the run's dir is root's, 0700).
const SUITE_STATE_DIR = process.env.MAILQ_CHECKS_STATE_DIR;
const uidStateDirs = new Map<number, string>();
/** The state dir a check run as `uid` uses when the test gives none (made, as root, on first use). */
export function stateDirFor(uid: number | undefined = process.geteuid?.()): string | undefined {
  if (uid === undefined || uid === process.getuid?.()) return SUITE_STATE_DIR;
  let d = uidStateDirs.get(uid);
  if (!d || !fs.existsSync(d)) {
    d = tmp(`hostile-state-uid${uid}-`);
    fs.chownSync(d, uid, uid);
    uidStateDirs.set(uid, d);
  }
  return d;
}
/** env plus the state dir for `uid`, unless env names one itself (a key present, even undefined, wins). */
export function withStateDir(env: NodeJS.ProcessEnv, uid?: number): NodeJS.ProcessEnv {
  return 'MAILQ_CHECKS_STATE_DIR' in env ? env : { MAILQ_CHECKS_STATE_DIR: stateDirFor(uid), ...env };
}

let nobodyStateDir: string | undefined;
/** Run fn with the effective uid/gid of nobody (in-process; tests in one file run one at a time). */
export async function asNobody<T>(fn: () => Promise<T>): Promise<T> {
  // Made while still root; run() picks it while nobody is the effective user.
  nobodyStateDir = stateDirFor(NOBODY);
  process.setegid!(NOBODY);
  process.seteuid!(NOBODY);
  try {
    return await fn();
  } finally {
    process.seteuid!(0);
    process.setegid!(0);
  }
}

export type Format = 'nagios' | 'graphite' | 'json';
const STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];
// Nagios perfdata: label=value[uom];[warn];[crit];[min];[max], value without exponents.
const PERF = /^[A-Za-z0-9_.]+=-?\d+(\.\d+)?(s|%|B|KB|MB|c)?(;[^;\s|]*){0,4}$/;
const GRAPHITE = /^[A-Za-z0-9_.-]+ -?\d+(\.\d+)? \d+$/;

/** Why this output breaks its format, or [] when it is well-formed. */
export function formatViolations(out: string, code: number, format: Format): string[] {
  const bad: string[] = [];
  if (![0, 1, 2, 3].includes(code)) bad.push(`exit code ${code}`);
  // eslint-disable-next-line no-control-regex
  if (format !== 'json' && /[\x00-\x08\x0b-\x1f\x7f]/.test(out)) bad.push('control characters in the output');
  if (format === 'nagios') {
    if ((out.match(/\|/g) ?? []).length !== 1) bad.push(`${(out.match(/\|/g) ?? []).length} '|' in the output`);
    const [first, ...rest] = out.replace(/\n$/, '').split('\n');
    const m = /^([A-Z_-]+) (OK|WARNING|CRITICAL|UNKNOWN) - (.*) \| (.*)$/.exec(first ?? '');
    if (!m) bad.push(`first line not 'SERVICE STATE - summary | perfdata': ${JSON.stringify(first?.slice(0, 200))}`);
    else {
      if (STATES.indexOf(m[2]) !== code) bad.push(`state ${m[2]} but exit ${code}`);
      for (const p of m[4] === '' ? [] : m[4].split(' ')) if (!PERF.test(p)) bad.push(`bad perfdata ${JSON.stringify(p)}`);
    }
    if (rest.some((l) => l.includes('|'))) bad.push("'|' in the long output");
    if (!out.endsWith('\n')) bad.push('no final newline');
  } else if (format === 'graphite') {
    for (const l of out.split('\n').filter((x) => x !== '')) if (!GRAPHITE.test(l)) bad.push(`bad graphite line ${JSON.stringify(l)}`);
  } else {
    try {
      const j = JSON.parse(out);
      if (STATES.indexOf(j.status) !== code || j.code !== code) bad.push(`json status ${j.status}/${j.code} but exit ${code}`);
      if (out.trim().split('\n').length !== 1) bad.push('json is not one line');
    } catch (err) {
      bad.push(`json does not parse: ${(err as Error).message}: ${out.slice(0, 200)}`);
    }
  }
  if (/internal error/.test(out)) bad.push(`internal error: ${out.split('\n').slice(0, 4).join(' / ')}`);
  return bad;
}

export interface Answer {
  out: string;
  code: number;
  stderr: string;
  format: Format;
  json?: {
    status: string;
    summary: string;
    metrics: { label: string; value: number }[];
    details: string[];
    [k: string]: unknown;
  };
  /** Wall time in ms (binaries): for reports only, never asserted (timing is `npm run bench`'s business). */
  ms?: number;
}

export function formatOf(argv: string[]): Format {
  let f: Format = 'nagios';
  argv.forEach((a, i) => {
    const v = a === '--format' ? argv[i + 1] : a.startsWith('--format=') ? a.slice(9) : undefined;
    if (v === 'nagios' || v === 'graphite' || v === 'json') f = v;
  });
  return f;
}

/** Run a check in-process with a fixed clock. Never throws: a throw or stderr is recorded as a crash. */
export async function run<O, D extends CollectStatus>(spec: CheckSpec<O, D>, argv: string[], nowSec: number, env: NodeJS.ProcessEnv = {}): Promise<Answer> {
  let out = '';
  let stderr = '';
  let code = -1;
  const euid = process.geteuid?.();
  const ctx: RunContext = {
    argv,
    env: 'MAILQ_CHECKS_STATE_DIR' in env ? env : { MAILQ_CHECKS_STATE_DIR: euid === NOBODY && nobodyStateDir ? nobodyStateDir : SUITE_STATE_DIR, ...env },
    now: () => nowSec * 1000,
    hostname: 'mx1.lab.example',
    stdout: (s) => (out += s),
    stderr: (s) => (stderr += s),
    exit: (c) => {
      if (code === -1) code = c;
    },
  };
  try {
    await runCheck(spec, ctx);
  } catch (err) {
    stderr += `threw: ${(err as Error).stack}`;
  }
  return answer(out, code, stderr, formatOf(argv));
}

function answer(out: string, code: number, stderr: string, format: Format, ms?: number): Answer {
  let json: Answer['json'];
  if (format === 'json') {
    try {
      json = JSON.parse(out);
    } catch {
      // reported by formatViolations
    }
  }
  return { out, code, stderr, format, json, ms };
}

/** The ways an answer is a crash (empty when it is a proper answer). */
export function crashes(a: Answer): string[] {
  const bad = formatViolations(a.out, a.code, a.format);
  if (a.stderr) bad.push(`stderr: ${a.stderr.slice(0, 300)}`);
  return bad;
}

export function metric(a: Answer, label: string): number | undefined {
  return a.json?.metrics.find((m) => m.label === label)?.value;
}

// ---------------------------------------------------------------------------------------------
// Built binaries (what is installed), run as real processes

let dist: string | undefined;
/** Build every check once per test file into a temp dir; returns the dir. */
export function built(): string {
  if (dist && fs.existsSync(dist)) return dist;
  const out = tmp('hostile-dist-');
  const r = spawnSync(process.execPath, [path.join(ROOT, '.ci/build.mjs'), '--outdir', out], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stdout}${r.stderr}`);
  // Readable by an unprivileged user (setpriv runs).
  fs.chmodSync(out, 0o755);
  dist = out;
  return out;
}

export interface BinaryOptions {
  env?: NodeJS.ProcessEnv;
  /** Run as this uid/gid (via setpriv). */
  uid?: number;
  /** Kill after this long (ms); the answer then has code -1. A guard against a hang, never a speed limit. */
  killAfter?: number;
  cwd?: string;
}

/** Run a built check as a real process and wait for it. The env is exactly o.env (default: PATH only),
 *  plus the state dir for the user it runs as (withStateDir) unless o.env names MAILQ_CHECKS_STATE_DIR. */
export function runBinary(name: string, argv: string[], o: BinaryOptions = {}): Promise<Answer> {
  const file = path.join(built(), `${name}.js`);
  const [cmd, args] =
    o.uid !== undefined
      ? ['setpriv', ['--reuid', String(o.uid), '--regid', String(o.uid), '--clear-groups', process.execPath, file, ...argv]]
      : [process.execPath, [file, ...argv]];
  return new Promise((resolve) => {
    const started = Date.now();
    const env = withStateDir(o.env ?? { PATH: process.env.PATH }, o.uid);
    const p = spawn(cmd as string, args as string[], { env, cwd: o.cwd ?? os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (s) => (out += s));
    p.stderr.setEncoding('utf8').on('data', (s) => (err += s));
    const killer = o.killAfter ? setTimeout(() => p.kill('SIGKILL'), o.killAfter) : undefined;
    p.on('close', (code) => {
      if (killer) clearTimeout(killer);
      resolve(answer(out, code ?? -1, err, formatOf(argv), Date.now() - started));
    });
  });
}

/** A fake program first on PATH: a shell script body (for fake postqueue, mailq, exim). */
export function fakeBin(dir: string, name: string, body: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

/** Is this pid gone (or a zombie nobody has reaped yet)? */
export function pidGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Snapshot of a tree: every path with type, size, mode, mtime and ctime (to prove nothing was written). */
export function snapshot(root: string): Map<string, string> {
  const m = new Map<string, string>();
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    m.set(p, `${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.uid}:${st.gid}`);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(root);
  return m;
}
