// Shared by the integration tests: where things are, temp dirs, the built checks (every
// dist/check-*.js, whatever checks exist), fixture arguments for any check, the asset build, tar
// reading, Nagios object files and the shipped resource files.
import { execFileSync, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fixtureCases, type FixtureCase } from '../../helpers/fixtures.js';
import { shellWords, validateResource, type Resource } from './sensu.js';
import { parseYamlDocuments } from './yaml.js';

export const ROOT = path.resolve(__dirname, '../../..');
export const DIST = path.join(ROOT, 'dist');
export const ASSETS_DIR = path.join(ROOT, 'sensu-assets');
export const NAGIOS_DIR = path.join(ASSETS_DIR, 'nagios');
export const FAKE_NOW = path.join(__dirname, 'fake-now.mjs');

/** Every built check, by binary name (check-mailq-depth ...), sorted. */
export function checkBins(): string[] {
  if (!fs.existsSync(DIST)) return [];
  return fs
    .readdirSync(DIST)
    .filter((f) => /^check-[a-z0-9-]+\.js$/.test(f))
    .map((f) => f.replace(/\.js$/, ''))
    .sort();
}
export const distFile = (bin: string) => path.join(DIST, `${bin}.js`);

const made: string[] = [];
export function tempDir(prefix = 'mailq-int-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}
export function removeTempDirs(): void {
  while (made.length) fs.rmSync(made.pop()!, { recursive: true, force: true });
}

export interface Run {
  out: string;
  err: string;
  code: number;
}
export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return { out: String(r.stdout ?? ''), err: String(r.stderr ?? ''), code: r.status ?? (r.signal ? 128 : -1) };
}
/** A built check with this Node (optionally at a pinned clock: FAKE_NOW_MS in env). */
export function runCheck(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const pre = env.FAKE_NOW_MS ? ['--import', FAKE_NOW] : [];
  return run(process.execPath, [...pre, distFile(bin), ...args], { env: { ...process.env, ...env } });
}

// ---------------------------------------------------------------------------------------------
// Fixtures for any check

export const MTAS = ['postfix', 'exim', 'sendmail'] as const;
export type Mta = (typeof MTAS)[number];
const LOG_FILES: Record<Mta, string> = { postfix: 'postfix.log', exim: 'mainlog', sendmail: 'mail.log' };

export function fixture(mta: Mta): FixtureCase {
  const c = fixtureCases().find((x) => x.name === mta);
  if (!c) throw new Error(`no fixture case '${mta}' under test/fixtures/mta`);
  return c;
}
export const fixtureLog = (mta: Mta) => path.join(fixture(mta).dir, 'log', LOG_FILES[mta]);

const helpCache = new Map<string, Set<string>>();
/** The long options a check accepts, from its --help. */
export function checkOptions(bin: string): Set<string> {
  let s = helpCache.get(bin);
  if (!s) {
    const r = runCheck(bin, ['--help']);
    if (r.code !== 0) throw new Error(`${bin} --help exited ${r.code}: ${r.out}${r.err}`);
    s = new Set([...r.out.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]));
    helpCache.set(bin, s);
  }
  return s;
}

/**
 * Options that point a check at fixture data instead of the host's spool and log: added only
 * where the check has the option and argv does not set it already. The MTA is argv's --mta, or
 * `mta`. With `rebase`, paths are given relative to a copy of test/fixtures/mta.
 */
export function fixtureArgs(bin: string, argv: string[], o: { mta?: Mta; stateDir?: string; fixtureRoot?: string } = {}): string[] {
  const opts = checkOptions(bin);
  const has = (f: string) => argv.some((a) => a === f || a.startsWith(`${f}=`));
  const mtaArg = argv[argv.indexOf('--mta') + 1];
  const mta = (argv.includes('--mta') ? mtaArg : o.mta ?? 'postfix') as Mta;
  const rebase = (p: string) => (o.fixtureRoot ? path.join(o.fixtureRoot, path.relative(path.join(ROOT, 'test/fixtures/mta'), p)) : p);
  const extra: string[] = [];
  if (opts.has('--mta') && !has('--mta')) extra.push('--mta', mta);
  if (opts.has('--spool') && !has('--spool')) for (const s of fixture(mta).spools) extra.push('--spool', rebase(s));
  if (opts.has('--log') && !has('--log') && !has('--journal')) extra.push('--log', rebase(fixtureLog(mta)));
  if (opts.has('--state-dir') && !has('--state-dir') && o.stateDir) extra.push('--state-dir', o.stateDir);
  return [...argv, ...extra];
}

// ---------------------------------------------------------------------------------------------
// Shipped Sensu resources

export function yamlFiles(dir = ASSETS_DIR): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'dist' && e.name !== 'node_modules') out.push(...yamlFiles(p));
    else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** Every resource in the given YAML files; throws on a YAML or schema error. */
export function loadResources(files = yamlFiles()): Resource[] {
  const out: Resource[] = [];
  const errors: string[] = [];
  for (const f of files) {
    const rel = path.relative(ROOT, f);
    parseYamlDocuments(fs.readFileSync(f, 'utf8'), rel).forEach((doc, i) => {
      const source = `${rel}#${i + 1}`;
      const errs = validateResource(doc, source);
      if (errs.length) errors.push(...errs);
      else out.push({ ...(doc as object), source } as Resource);
    });
  }
  if (errors.length) throw new Error(errors.join('\n'));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Asset build and tarballs

/** A copy of dist/check-*.js: other work rebuilds dist/ while tests run. */
export function snapshotDist(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const b of checkBins()) fs.copyFileSync(distFile(b), path.join(dir, `${b}.js`));
  return dir;
}

export interface Built {
  outDir: string;
  checksTarball: string;
  nodeTarball: string;
  assetsYml: string;
}
export function buildAssets(distDir: string, outDir: string, env: NodeJS.ProcessEnv = {}): Built {
  const r = run(process.execPath, [path.join(ASSETS_DIR, 'build.mjs'), '--dist', distDir, '--out', outDir, '--quiet'], {
    env: { ...process.env, SOURCE_DATE_EPOCH: '1790000000', ...env },
  });
  if (r.code !== 0) throw new Error(`build.mjs failed (${r.code}): ${r.out}${r.err}`);
  const files = fs.readdirSync(outDir);
  const pick = (re: RegExp) => {
    const f = files.find((x) => re.test(x));
    if (!f) throw new Error(`build.mjs made no ${re} in ${outDir}: ${files.join(', ')}`);
    return path.join(outDir, f);
  };
  return {
    outDir,
    checksTarball: pick(/^mailq-checks-\d[^-]*-[a-z0-9]+-[a-z0-9_]+\.tar\.gz$/),
    nodeTarball: pick(/^mailq-checks-node-.*\.tar\.gz$/),
    assetsYml: path.join(outDir, 'assets.yml'),
  };
}

export interface TarEntry {
  name: string;
  type: string; // '0' file, '5' dir, ...
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  mtime: number;
  data: Buffer;
}
/** Read a (gzipped) ustar archive. */
export function readTar(file: string): TarEntry[] {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  const out: TarEntry[] = [];
  const str = (o: number, n: number) => buf.subarray(o, o + n).toString('utf8').replace(/\0.*$/s, '');
  const oct = (o: number, n: number) => parseInt(str(o, n).trim() || '0', 8);
  for (let off = 0; off + 512 <= buf.length; ) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== oct(off + 148, 8)) throw new Error(`${file}: bad header checksum at ${off}`);
    const prefix = str(off + 345, 155);
    const name = (prefix ? `${prefix}/` : '') + str(off, 100);
    const size = oct(off + 124, 12);
    out.push({
      name,
      type: str(off + 156, 1) || '0',
      mode: oct(off + 100, 8),
      uid: oct(off + 108, 8),
      gid: oct(off + 116, 8),
      uname: str(off + 265, 32),
      gname: str(off + 297, 32),
      size,
      mtime: oct(off + 136, 12),
      data: buf.subarray(off + 512, off + 512 + size),
    });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Unpack with the system tar, as the Sensu agent would into its cache (one dir per asset). */
export function unpack(tarball: string, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dir]);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Nagios object files

export interface NagiosObject {
  type: string;
  attrs: Record<string, string>;
  line: number;
}
export function parseNagiosObjects(text: string): NagiosObject[] {
  const out: NagiosObject[] = [];
  let cur: NagiosObject | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(^|\s)[#;].*$/, '').trim();
    if (!line) return;
    const d = /^define\s+(\w+)\s*\{$/.exec(line);
    if (d) {
      if (cur) throw new Error(`line ${i + 1}: define inside define`);
      cur = { type: d[1], attrs: {}, line: i + 1 };
      return;
    }
    if (line === '}') {
      if (!cur) throw new Error(`line ${i + 1}: } without define`);
      out.push(cur);
      cur = undefined;
      return;
    }
    if (!cur) throw new Error(`line ${i + 1}: '${line}' outside a define`);
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: '${line}' has no value`);
    cur.attrs[m[1]] = m[2];
  });
  if (cur) throw new Error('unterminated define');
  return out;
}

/** The documented resource.cfg values (sensu-assets/nagios/commands.cfg header). */
export const DOC_USER_MACROS: Record<string, string> = {
  USER1: '/usr/lib/nagios/plugins',
  // $USER5$ (the checks) and $USER6$ (node) as commands.cfg's header documents them for resource.cfg.
  ...Object.fromEntries(
    [...fs.readFileSync(path.join(NAGIOS_DIR, 'commands.cfg'), 'utf8').matchAll(/^#\s+\$(USER[56])\$=(\S+)/gm)].map((m) => [m[1], m[2]]),
  ),
};

/** Expand $USERn$ and $ARGn$ as Nagios does (unset $ARGn$ -> empty). */
export function expandMacros(line: string, user: Record<string, string>, args: string[] = []): string {
  return line.replace(/\$(USER\d+|ARG\d+|HOSTADDRESS)\$/g, (_, m: string) => {
    if (m.startsWith('ARG')) return args[Number(m.slice(3)) - 1] ?? '';
    if (m === 'HOSTADDRESS') return '127.0.0.1';
    const v = user[m];
    if (v === undefined) throw new Error(`$${m}$ is not defined`);
    return v;
  });
}

/**
 * A shipped command line (Nagios, NRPE, sudoers, Sensu) as [check bin, args], with any
 * `sudo -n [-u USER]` and the node interpreter stripped. undefined when it runs no check.
 */
export function checkInvocation(line: string): { bin: string; args: string[]; sudoUser?: string; sudoGroup?: string; interpreter?: string } | undefined {
  const w = shellWords(line);
  let sudoUser: string | undefined;
  let sudoGroup: string | undefined;
  if (w[0] === '/usr/bin/sudo' || w[0] === 'sudo') {
    w.shift();
    let user: string | undefined;
    while (w[0]?.startsWith('-')) {
      const f = w.shift()!;
      if (f === '-u') user = w.shift();
      else if (f === '-g') sudoGroup = w.shift();
      else if (f !== '-n') throw new Error(`sudo option ${f} not modelled`);
    }
    // sudo -g alone keeps the caller's uid; no -u and no -g is root.
    sudoUser = user ?? (sudoGroup ? undefined : 'root');
  }
  let interpreter: string | undefined;
  if (w[0] && /(^|\/)node$/.test(w[0])) interpreter = w.shift();
  const bin = w[0] ? path.basename(w[0]) : '';
  if (!/^check-[a-z0-9-]+$/.test(bin) || bin === 'check_nrpe') return undefined;
  return { bin, args: w.slice(1), sudoUser, sudoGroup, interpreter };
}

/** python3 that can `import whisper` (Debian's python3-whisper is for /usr/bin/python3). */
export function whisperPython(): string | undefined {
  for (const p of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(p, ['-c', 'import whisper'], { encoding: 'utf8' });
    if (r.status === 0) return p;
  }
  return undefined;
}

export function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin'])) {
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Wait until fn() returns a value (not undefined), polling; throws after ms with the last note. */
export async function waitFor<T>(what: string, ms: number, fn: () => T | undefined, every = 250): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Running (a zombie, left unreaped when PID 1 does not reap orphans, counts as gone). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** SIGTERM one pid, wait for it to go (bounded), SIGKILL if it does not. */
export async function stopPid(pid: number, ms = 15_000): Promise<'terminated' | 'killed' | 'gone'> {
  if (!pidAlive(pid)) return 'gone';
  process.kill(pid, 'SIGTERM');
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!pidAlive(pid)) return 'terminated';
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(pid, 'SIGKILL');
  return 'killed';
}
