// Installed as a new user would: README 'Install' followed on a real `npm pack` and `npm install -g`.
//
// 1. The tarball: `npm pack` (its prepack builds dist/) in a copy of the sources, so the dist/ other
//    tests run is never rewritten under them. It must hold every check and the sensu-assets/ README
//    points to, and install with `--offline` from an empty npm cache: 0 dependencies, no registry.
// 2. The layout: README states where `npm install -g` puts the commands ($(npm prefix -g)/bin, Debian's
//    prefix /usr). Every path to a check in README, sensu-assets/ and docs/ is parsed from those files
//    and must be that place; the install into a temp prefix shows npm puts them in <prefix>/bin.
// 3. As root (CI): the recipe for real, in a private mount namespace (overlays on /usr, /etc and /var
//    in a tmpfs, so the host is left as it was): `npm install -g` with Debian's prefix, the shipped
//    sudoers installed from the package, system users as on Debian, the captured spools with the
//    packages' modes at their default paths, and every sudo line of the installed nrpe.cfg run as
//    nagios through the real sudo; then the permission error lines with real names, and that their
//    remedies work.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureCases } from './helpers/fixtures.js';

const ROOT = path.join(__dirname, '..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');
const pkg = JSON.parse(read('package.json'));
const CHECKS = fs
  .readdirSync(path.join(ROOT, 'checks'))
  .filter((f) => /^check-[a-z-]+\.ts$/.test(f))
  .map((f) => f.slice(0, -3))
  .sort();

const made: string[] = [];
function tmp(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, 0o755); // the unprivileged runs below must reach what is in it
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeout ?? 300_000, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** The text of one `## Section` of README. */
function readmeSection(title: string): string {
  const text = read('README.md');
  const at = text.indexOf(`\n## ${title}\n`);
  if (at < 0) throw new Error(`README has no section ${title}`);
  const end = text.indexOf('\n## ', at + 4);
  return text.slice(at, end < 0 ? undefined : end);
}

/** The prefix README 'Install' states for Debian's npm, e.g. `/usr` from "Debian's npm (prefix `/usr`)". */
function statedPrefix(): string {
  const m = /Debian's npm \(prefix `([^`]+)`\)/.exec(readmeSection('Install'));
  if (!m) throw new Error("README 'Install' does not state Debian's npm prefix");
  return m[1];
}

// npm must not reach a registry, nor use or fill the machine's cache.
const npmEnv = (cache: string): NodeJS.ProcessEnv => ({
  ...process.env,
  npm_config_cache: cache,
  npm_config_registry: 'http://127.0.0.1:9/',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
});

let stage = '';
let tarball = '';
let cache = '';

beforeAll(() => {
  // The sources `npm pack` needs (its prepack runs the build), node_modules shared with this checkout.
  stage = tmp('mailq-pack-');
  for (const f of ['package.json', 'README.md', '.ci', 'checks', 'lib', 'bench', 'docs', 'sensu-assets'])
    fs.cpSync(path.join(ROOT, f), path.join(stage, f), { recursive: true, filter: (s) => !s.includes(`${path.sep}sensu-assets${path.sep}dist`) });
  fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(stage, 'node_modules'));
  cache = tmp('mailq-npm-cache-');
  const out = tmp('mailq-tgz-');
  const r = sh('npm', ['pack', '--pack-destination', out], { cwd: stage, env: npmEnv(cache) });
  if (r.code !== 0) throw new Error(`npm pack failed: ${r.out}${r.err}`);
  tarball = path.join(out, `${pkg.name}-${pkg.version}.tgz`);
  if (!fs.existsSync(tarball)) throw new Error(`npm pack wrote no ${tarball}: ${r.out}`);
}, 600_000);

describe('the npm tarball', () => {
  it('lists every check bundle, README and the sensu-assets README points to (npm pack --dry-run --json)', () => {
    const r = sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: stage, env: npmEnv(cache) });
    expect(r.code, r.err).toBe(0);
    const files: string[] = JSON.parse(r.out)[0].files.map((f: { path: string }) => f.path);
    for (const c of CHECKS) expect(files, c).toContain(`dist/${c}.js`);
    expect(files).toContain('README.md');
    // Every file of the shipped sensu-assets directories (the repository's own listing, not a copy).
    for (const dir of ['access', 'nagios', 'checks', 'handlers', 'icinga2'])
      for (const f of fs.readdirSync(path.join(ROOT, 'sensu-assets', dir))) expect(files, `sensu-assets/${dir}/${f}`).toContain(`sensu-assets/${dir}/${f}`);
    // Every sensu-assets path README names is in it (sensu-assets/dist/ is built from a clone: not shipped).
    const named = [...read('README.md').matchAll(/sensu-assets\/[\w./-]*[\w/]/g)].map((m) => m[0]).filter((p) => !p.startsWith('sensu-assets/dist'));
    expect(named.length).toBeGreaterThan(2);
    for (const p of named) expect(files.some((f) => f === p || f.startsWith(p.endsWith('/') ? p : `${p}/`)), `README names ${p}`).toBe(true);
    // The check bundles are what runs: no build tools, no benchmark bundles.
    expect(files.filter((f) => f.startsWith('dist/')).sort()).toEqual(CHECKS.map((c) => `dist/${c}.js`));
  });

  it('has no runtime dependencies: what the bundles contain is bundled', () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    // The bundles import nothing but Node's own modules.
    for (const c of CHECKS) {
      const js = fs.readFileSync(path.join(stage, 'dist', `${c}.js`), 'utf8');
      const imported = [...js.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\(\s*)["']([\w@][\w@./:-]*)["']/g)].map((m) => m[1]);
      expect(imported.length, c).toBeGreaterThan(0);
      expect(imported.filter((m) => !m.startsWith('node:') && !['fs', 'path', 'url', 'util', 'assert', 'os', 'events', 'stream', 'tty', 'child_process'].includes(m)), c).toEqual([]);
    }
  });
});

describe('npm install -g --offline of the tarball (into a temp prefix, empty npm cache)', () => {
  let prefix = '';
  let install: ReturnType<typeof sh>;
  beforeAll(() => {
    prefix = tmp('mailq-prefix-');
    install = sh('npm', ['install', '-g', '--offline', '--prefix', prefix, tarball], { env: npmEnv(tmp('mailq-empty-cache-')) });
  }, 300_000);
  const pkgDir = () => path.join(prefix, 'lib/node_modules', pkg.name);

  it('succeeds with nothing from a registry and installs 0 dependencies', () => {
    expect(install.code, install.out + install.err).toBe(0);
    expect(install.out).toMatch(/\badded 1 package\b/);
    expect(fs.existsSync(path.join(pkgDir(), 'node_modules')), 'node_modules inside the installed package').toBe(false);
    expect(fs.readdirSync(path.join(prefix, 'lib/node_modules'))).toEqual([pkg.name]);
  });

  it('puts every check in <prefix>/bin, and its sensu-assets in the package', () => {
    for (const c of CHECKS) expect(fs.realpathSync(path.join(prefix, 'bin', c)), c).toBe(path.join(fs.realpathSync(pkgDir()), 'dist', `${c}.js`));
    for (const f of ['access/sudoers', 'access/spool-access.sh', 'nagios/commands.cfg', 'nagios/nrpe.cfg']) expect(fs.existsSync(path.join(pkgDir(), 'sensu-assets', f)), f).toBe(true);
    expect(fs.statSync(path.join(pkgDir(), 'sensu-assets/access/spool-access.sh')).mode & 0o111).not.toBe(0);
  });

  it.each(CHECKS)('%s --version runs from <prefix>/bin', (c) => {
    const r = sh(path.join(prefix, 'bin', c), ['--version'], { env: { PATH: '/usr/bin:/bin' } });
    expect(r.err).toBe('');
    expect([r.code, r.out.trim()]).toEqual([0, `${c} ${pkg.version}`]);
  });

  it.each(fixtureCases().map((f) => [f.name, f] as const))('check-mailq-depth reads the captured %s spool', (_n, f) => {
    const r = sh(path.join(prefix, 'bin', 'check-mailq-depth'), ['--mta', f.mta, '--source', 'spool', ...f.spools.flatMap((s) => ['--spool', s]), '--no-cache', '--format', 'json'], {
      env: { PATH: '/usr/bin:/bin', MAILQ_CHECKS_STATE_DIR: tmp('mailq-inst-state-') },
    });
    expect(r.err).toBe('');
    const o = JSON.parse(r.out);
    expect([o.source, o.metrics.find((m: { label: string }) => m.label === 'total').value]).toEqual(['spool', f.manifest.expected.total]);
  });

  it("every path to a check in README, sensu-assets and docs is the layout README 'Install' states", () => {
    // npm put the commands in <prefix>/bin: with the stated prefix that is where the shipped files point.
    expect(fs.existsSync(path.join(prefix, 'bin', CHECKS[0]))).toBe(true);
    const bin = `${statedPrefix()}/bin`;
    const files = ['README.md', ...['access', 'nagios', 'checks', 'icinga2'].flatMap((d) => fs.readdirSync(path.join(ROOT, 'sensu-assets', d)).map((f) => `sensu-assets/${d}/${f}`)), ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    let seen = 0;
    for (const f of files) {
      const text = read(f);
      for (const m of text.matchAll(/(\/[\w./-]*)\/(check-[a-z-]+)\b/g)) {
        if (!CHECKS.includes(m[2])) continue;
        seen++;
        expect(`${f}: ${m[0]}`).toBe(`${f}: ${bin}/${m[2]}`);
      }
      // The interpreter named before a check: node beside them (Debian: /usr/bin/node).
      for (const m of text.matchAll(/(\/[\w./-]*\/node) \S*\/check-[a-z-]+/g)) expect(`${f}: ${m[1]}`).toBe(`${f}: ${bin}/node`);
    }
    expect(seen, 'paths found').toBeGreaterThan(10);
    // resource.cfg as commands.cfg documents it.
    const cfg = read('sensu-assets/nagios/commands.cfg');
    expect(/^#\s+\$USER5\$=(\S+)/m.exec(cfg)?.[1]).toBe(bin);
    expect(/^#\s+\$USER6\$=(\S+)/m.exec(cfg)?.[1]).toBe(`${bin}/node`);
  });

  it("README's sudoers lines are rules of the shipped sudoers file, word for word", () => {
    const shipped = read('sensu-assets/access/sudoers').replace(/\\\n/g, ' ').replace(/\s+/g, ' ');
    const lines = [...readmeSection('Spool access').matchAll(/^\w+\s+ALL=\((\S+)\)\s+NOPASSWD:\s+(.+)$/gm)];
    expect(lines.length).toBeGreaterThan(0);
    for (const [, runas, cmd] of lines) {
      expect(shipped, cmd).toContain(cmd.replace(/\s+/g, ' '));
      expect(shipped).toMatch(new RegExp(`ALL = \\(${runas.replace(/[()]/g, '')}\\) NOPASSWD`));
    }
  });

  it.skipIf(statedPrefix() !== sh('npm', ['prefix', '-g']).out.trim())("on this machine `npm prefix -g` is the stated prefix, and node is in its bin", () => {
    expect(fs.realpathSync(`${statedPrefix()}/bin/node`)).toBe(fs.realpathSync(process.execPath));
  });
});

// ---------------------------------------------------------------------------------------------
// 3. The recipe for real (root, a private mount namespace: see test/helpers/real-install.sh)

const canNamespace = (() => {
  if (process.geteuid?.() !== 0) return false;
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /mnt && for t in sudo visudo setpriv useradd groupadd usermod; do command -v $t >/dev/null || exit 1; done'], { encoding: 'utf8' });
  return r.status === 0;
})();

describe.skipIf(!canNamespace)('as root: npm install -g with the real prefix, the shipped sudoers, NRPE lines run as nagios through sudo', () => {
  const steps = new Map<string, { code: number; out: string; err: string }>();
  const totals = Object.fromEntries(fixtureCases().map((f) => [f.name, f.manifest.expected.total]));
  beforeAll(() => {
    const work = tmp('mailq-realinst-');
    const r = sh('unshare', ['-m', '--propagation', 'private', 'bash', path.join(ROOT, 'test/helpers/real-install.sh'), work, tarball, path.join(ROOT, 'test/fixtures/mta')], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    if (r.code !== 0) throw new Error(`real-install.sh failed (${r.code}): ${r.out.slice(-2000)}${r.err}`);
    for (const block of r.out.split(/^### (?=[a-z][\w:-]* -?\d+$)/m).slice(1)) {
      const [head, ...rest] = block.split('\n');
      const [name, code] = head.split(' ');
      const body = rest.join('\n');
      const at = body.lastIndexOf('### stderr\n');
      steps.set(name, { code: Number(code), out: body.slice(0, at), err: body.slice(at + 11).trim() });
    }
  }, 600_000);
  const step = (name: string) => {
    const s = steps.get(name);
    if (!s) throw new Error(`no step ${name}: ${[...steps.keys()].join(', ')}`);
    return s;
  };

  it('npm install -g --offline installs 1 package into npm prefix -g, the prefix README states, commands in its bin', () => {
    expect(step('npm-install').code, step('npm-install').err).toBe(0);
    expect(step('npm-install').out).toMatch(/\badded 1 package\b/);
    expect(step('npm-prefix').out.trim()).toBe(statedPrefix());
    expect(step('which').out.trim().split('\n')).toEqual([...['check-mailq-depth', 'check-mailer-daemon', 'check-mailq-growth', 'check-spool-disk', 'check-maillog-flood'].map((c) => `${statedPrefix()}/bin/${c}`), `${statedPrefix()}/bin/node`]);
  });

  it('the installed sudoers passes visudo, and spool-access.sh runs', () => {
    expect(step('visudo').code, step('visudo').out + step('visudo').err).toBe(0);
    expect(step('spool-access').code, step('spool-access').err).toBe(0);
  });

  it.each(
    [...fs.readFileSync(path.join(ROOT, 'sensu-assets/nagios/nrpe.cfg'), 'utf8').matchAll(/^command\[([a-z_]+)\]=(.*)$/gm)].map((m) => [m[1], m[2]] as const),
  )('nrpe.cfg %s runs as nagios and answers from the real spool', (name, line) => {
    const s = step(`nrpe:${name}`);
    expect(s.err, 'stderr (sudo included)').toBe('');
    expect([0, 1, 2], s.out).toContain(s.code);
    expect(s.out.split('\n')[0]).toMatch(/^[A-Z_-]+ (OK|WARNING|CRITICAL) - /);
    const mta = /--mta (\w+)/.exec(line)?.[1];
    if (mta && !/growth/.test(name)) expect(s.out.split('\n')[0], 'every queued message counted').toMatch(new RegExp(`\\b${totals[mta]} (messages )?queued\\b`));
  });

  it.each([
    ['sendmail', 'Sendmail queue directory /var/spool/mqueue', 'the directory is smmta:smmsp 2750: add nagios to group smmsp (usermod -aG smmsp nagios', 'sudo -g smmsp'],
    // The walk opens the spool root first (it holds the named queues as well as input/).
    ['exim', 'Exim spool directory /var/spool/exim4:', 'the directory is Debian-exim:Debian-exim 0750: add nagios to group Debian-exim (usermod -aG Debian-exim nagios', 'sudo -g Debian-exim'],
    ['postfix', 'Postfix queue directory /var/spool/postfix/', 'postfix:root 0700, readable only by postfix: run the check as postfix with sudo -u postfix', '--source command (postqueue -j)'],
  ])('unprivileged, %s: one line naming the refused directory and the remedy for this host', (mta, names, remedy, also) => {
    const s = step(`denied-${mta}`);
    expect(s.code).toBe(3);
    expect(s.err).toBe('');
    expect(s.out.trim().split('\n')).toHaveLength(1);
    expect(s.out).toContain(`cannot read ${names}`);
    expect(s.out).toContain(remedy);
    expect(s.out).toContain(also);
    expect(s.out).not.toMatch(/root-owned|as root/);
  });

  it('the remedies work: usermod as the Sendmail line says, then the same check reads every queue (sudo -g smmsp and -u postfix: the NRPE rows)', () => {
    expect(step('remedy-sendmail-usermod').code, step('remedy-sendmail-usermod').err).toBe(0);
    const s = step('remedied-sendmail');
    expect(s.code, s.out).toBe(0);
    const o = JSON.parse(s.out);
    expect([o.source, o.metrics.find((m: { label: string }) => m.label === 'total').value]).toEqual(['spool', totals.sendmail]);
  });
});
