// The Sensu Go assets as an agent gets them: built twice from the same checks (same sha512: the
// build is reproducible), checked against their .sha512 files and the generated Asset definitions,
// unpacked like the agent's cache, and every bin/ check run with nothing on PATH but the two
// assets' bin/ directories: `#!/usr/bin/env node` must find the runtime asset's node.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAssets, checkBins, fixture, fixtureArgs, loadResources, readTar, removeTempDirs, run, snapshotDist, tempDir, unpack, type Built } from './helpers/env.js';
import { extractGraphite, extractNagios, KNOWN_BOGUS_SENSU_METRICS, sensuctlChunks, sensuExtractionProblems, type Resource } from './helpers/sensu.js';
import { parseYamlDocuments } from './helpers/yaml.js';

const sha512 = (f: string) => crypto.createHash('sha512').update(fs.readFileSync(f)).digest('hex');
const bins = checkBins();

let work: string;
let first: Built;
let second: Built;
let assets: Resource[];
let checksDir: string;
let nodeDir: string;
/** The agent's environment for a check with runtime_assets [node, checks]: asset bin dirs only. */
let assetEnv: NodeJS.ProcessEnv;

beforeAll(() => {
  work = tempDir('mailq-asset-');
  const dist = snapshotDist(path.join(work, 'dist'));
  first = buildAssets(dist, path.join(work, 'out1'));
  second = buildAssets(dist, path.join(work, 'out2'));
  assets = loadResources([first.assetsYml]);
  // Like /var/cache/sensu/sensu-agent/<sha512>/ : one directory per asset build.
  nodeDir = unpack(first.nodeTarball, path.join(work, 'cache', sha512(first.nodeTarball)));
  checksDir = unpack(first.checksTarball, path.join(work, 'cache', sha512(first.checksTarball)));
  // Sensu prepends each runtime asset's bin/ to PATH in runtime_assets order. Nothing else here:
  // not the system's PATH, so no system node can be used by accident.
  // As the agent runs them, plus the test run's state dir (the envelope cache is never /var/lib's).
  assetEnv = { PATH: `${nodeDir}/bin:${checksDir}/bin`, LD_LIBRARY_PATH: `${nodeDir}/lib:${checksDir}/lib`, HOME: work, LANG: 'C.UTF-8', MAILQ_CHECKS_STATE_DIR: process.env.MAILQ_CHECKS_STATE_DIR };
}, 120_000);
afterAll(removeTempDirs);

describe('asset build', () => {
  it('is reproducible: two builds of the same checks give byte-identical tarballs', () => {
    for (const [a, b] of [
      [first.checksTarball, second.checksTarball],
      [first.nodeTarball, second.nodeTarball],
    ]) {
      expect(path.basename(a)).toBe(path.basename(b));
      expect(sha512(a), path.basename(a)).toBe(sha512(b));
    }
    expect(fs.readFileSync(first.assetsYml, 'utf8')).toBe(fs.readFileSync(second.assetsYml, 'utf8'));
  });

  it('names the tarballs by version, Node version and platform', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8'));
    expect(path.basename(first.checksTarball)).toBe(`mailq-checks-${pkg.version}-linux-amd64.tar.gz`);
    expect(path.basename(first.nodeTarball)).toBe(`mailq-checks-node-${process.versions.node}-linux-amd64.tar.gz`);
  });

  it('writes a .sha512 per tarball that sha512sum -c accepts', () => {
    for (const t of [first.checksTarball, first.nodeTarball]) {
      expect(fs.readFileSync(`${t}.sha512`, 'utf8')).toBe(`${sha512(t)}  ${path.basename(t)}\n`);
      const r = run('sha512sum', ['-c', `${path.basename(t)}.sha512`], { cwd: path.dirname(t) });
      expect(r.code, r.out + r.err).toBe(0);
    }
  });

  it('tar entries: sorted, fixed mtime, owner 0:0 without names, normalised modes, gzip without name or time', () => {
    for (const t of [first.checksTarball, first.nodeTarball]) {
      const gz = fs.readFileSync(t);
      expect(gz.readUInt32LE(4), 'gzip MTIME').toBe(0);
      expect(gz[3] & 0x08, 'gzip FNAME flag').toBe(0);
      const entries = readTar(t);
      const names = entries.map((e) => e.name);
      expect(names).toEqual([...names].sort());
      for (const e of entries) {
        expect(e.mtime, e.name).toBe(1790000000); // SOURCE_DATE_EPOCH given by the test
        expect([e.uid, e.gid, e.uname, e.gname], e.name).toEqual([0, 0, '', '']);
        expect(['0', '5'], e.name).toContain(e.type);
        expect(e.mode, e.name).toBe(e.type === '5' || e.name.startsWith('bin/') ? 0o755 : 0o644);
      }
    }
  });

  it('checks tarball: one bundled executable per built check in bin/, nothing in lib/', () => {
    const entries = readTar(first.checksTarball);
    const inBin = entries.filter((e) => e.type === '0' && e.name.startsWith('bin/'));
    expect(inBin.map((e) => e.name.slice(4)).sort()).toEqual(bins);
    for (const e of inBin) {
      expect(e.data.subarray(0, 20).toString(), e.name).toBe('#!/usr/bin/env node\n');
      expect(e.data.equals(fs.readFileSync(path.join(work, 'dist', `${e.name.slice(4)}.js`))), `${e.name} is the bundle`).toBe(true);
    }
    // Sensu puts lib/ on LD_LIBRARY_PATH and loads lib/**/*.js into its JavaScript runtime.
    expect(entries.filter((e) => e.name === 'lib/' || e.name.startsWith('lib/'))).toEqual([]);
    expect(entries.filter((e) => /\.(c|m)?js$/.test(e.name))).toEqual([]);
    expect(entries.find((e) => e.name === 'package.json')?.data.toString()).toMatch(/"type": "module"/);
  });

  it('node tarball: bin/node, the Node.js that ran the build', () => {
    const node = readTar(first.nodeTarball).find((e) => e.name === 'bin/node')!;
    expect(node.mode).toBe(0o755);
    expect(node.data.equals(fs.readFileSync(process.execPath))).toBe(true);
  });

  it('assets.yml: valid Asset definitions, node runtime first, sha512 and url of each tarball, linux/amd64 filters', () => {
    for (const c of sensuctlChunks(fs.readFileSync(first.assetsYml, 'utf8'))) expect(parseYamlDocuments(c), c).toHaveLength(1);
    expect(assets.map((a) => [a.type, a.metadata.name])).toEqual([
      ['Asset', 'mailq-checks-node'],
      ['Asset', 'mailq-checks'],
    ]);
    for (const [a, t] of [
      [assets[0], first.nodeTarball],
      [assets[1], first.checksTarball],
    ] as const) {
      expect(a.spec.builds).toHaveLength(1);
      const b = a.spec.builds[0];
      expect(b.sha512).toBe(sha512(t));
      expect(b.url).toBe(`https://assets.example.com/mailq-checks/${path.basename(t)}`);
      expect(b.filters).toEqual(["entity.system.os == 'linux'", "entity.system.arch == 'amd64'"]);
    }
  });

  it('assets.yml lists another platform’s tarballs copied into the dir, and --base-url sets the urls', () => {
    const out = path.join(work, 'out3');
    fs.mkdirSync(out);
    const arm = path.basename(first.checksTarball).replace('linux-amd64', 'linux-arm64');
    fs.copyFileSync(first.checksTarball, path.join(out, arm));
    fs.writeFileSync(path.join(out, `${arm}.sha512`), `${'b'.repeat(128)}  ${arm}\n`);
    const r = run(process.execPath, [path.join(__dirname, '../../sensu-assets/build.mjs'), '--dist', path.join(work, 'dist'), '--out', out, '--no-node', '--quiet', '--base-url', 'https://files.example.net/sensu/']);
    expect(r.code, r.err).toBe(0);
    const checksAsset = loadResources([path.join(out, 'assets.yml')]).find((a) => a.metadata.name === 'mailq-checks')!;
    expect(checksAsset.spec.builds.map((b: { url: string; filters: string[] }) => [b.url, b.filters[1]])).toEqual([
      [`https://files.example.net/sensu/${path.basename(first.checksTarball)}`, "entity.system.arch == 'amd64'"],
      [`https://files.example.net/sensu/${arm}`, "entity.system.arch == 'arm64'"],
    ]);
  });
});

describe('unpacked assets, with only their bin/ dirs on PATH', () => {
  it('`node` is the runtime asset’s', () => {
    const r = run('/bin/sh', ['-c', 'node -p process.execPath'], { env: assetEnv });
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim()).toBe(path.join(nodeDir, 'bin/node'));
  });

  it.each(bins)('%s --version (through sh -c, as the agent runs commands)', (bin) => {
    const r = run('/bin/sh', ['-c', `${bin} --version`], { env: assetEnv });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toMatch(new RegExp(`^${bin} \\d+\\.\\d+\\.\\d+`));
  });

  it.each(bins)('%s checks a real captured spool/log: a verdict with perfdata Sensu can extract', (bin) => {
    const state = tempDir('mailq-asset-state-');
    const argv = fixtureArgs(bin, ['-t', '20'], { stateDir: state });
    const r = run(path.join(checksDir, 'bin', bin), argv, { env: assetEnv });
    expect(r.err).toBe('');
    expect([0, 1, 2], r.out).toContain(r.code);
    const x = sensuExtractionProblems(r.out);
    expect(extractNagios(r.out).points.length).toBeGreaterThan(0);
    expect([x.missing, x.wrong]).toEqual([[], []]);
    expect(x.bogus.map((p) => p.name).filter((n) => !(KNOWN_BOGUS_SENSU_METRICS[bin] ?? []).includes(n))).toEqual([]);
    const g = run(path.join(checksDir, 'bin', bin), [...argv, '--format', 'graphite', '--scheme', 'mx1.mail'], { env: assetEnv });
    expect(extractGraphite(g.out).errors).toEqual([]);
    expect(extractGraphite(g.out).points.length).toBeGreaterThan(0);
  });

  it('check-mailq-depth on the captured Postfix queue: the numbers of the capture', () => {
    const fx = fixture('postfix');
    const r = run(path.join(checksDir, 'bin', 'check-mailq-depth'), ['--mta', 'postfix', '--spool', fx.spools[0], '-w', '10', '-c', '50', '--no-default-thresholds'], { env: assetEnv }); // the count only: the capture is days old, past the age defaults
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^MAILQ WARNING - 30 messages queued \(deferred 23, hold 3, maildrop 4\)/);
    expect(r.out).toMatch(/top sender app@qa\.example \(33%\)/);
    expect(extractNagios(r.out).points.slice(0, 4)).toEqual([
      { name: 'total', value: 30 },
      { name: 'incoming', value: 0 },
      { name: 'active', value: 0 },
      { name: 'deferred', value: 23 },
    ]);
  });
});
