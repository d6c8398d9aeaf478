#!/usr/bin/env node
// Sensu Go assets for mailq-checks, reproducibly: `npm run build:assets` (after `npm run build`).
//
//   sensu-assets/dist/mailq-checks-<version>-<os>-<arch>.tar.gz         bin/check-* (bundled JS, #!/usr/bin/env node)
//   sensu-assets/dist/mailq-checks-node-<node version>-<os>-<arch>.tar.gz  bin/node: the Node.js that runs this build
//   <each tarball>.sha512                                                 "<sha512>  <file>" (sha512sum -c)
//   sensu-assets/dist/assets.yml                                          Asset definitions for every tarball in the dir
//
// Usage: node sensu-assets/build.mjs [--out DIR] [--dist DIR] [--node PATH [--node-version X.Y.Z]]
//                                    [--base-url URL] [--os linux] [--arch amd64] [--no-node] [--quiet]
//   --base-url   where the tarballs will be served (default $ASSET_BASE_URL, else a placeholder)
//   --node       the Node.js binary to package (default: the one running this script);
//                --node-version when it cannot run here (another platform's binary)
//   --os/--arch  Sensu's entity.system.os / entity.system.arch of that binary (default: this machine)
//
// Reproducible: entries sorted, fixed mtime ($SOURCE_DATE_EPOCH, else the last commit's time, else 0),
// uid/gid 0 and no user names, modes normalised (0755 executables and dirs, 0644 files), gzip
// without a name or time (like `gzip -n`): the same inputs give the same sha512 on every build.
// The archive is written by node-tar (devDependency `tar`), not by the system's tar: no GNU tar flags
// that differ between Linux and macOS.
//
// Sensu puts an asset's bin/ on PATH, lib/ on LD_LIBRARY_PATH and loads *.js under lib/ into its
// filter/mutator JavaScript runtime: so the checks go in bin/ and there is no lib/ at all.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import * as tar from 'tar';

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..');

/** Node's process.arch -> Go's GOARCH, which is what Sensu reports as entity.system.arch. */
const SENSU_ARCH = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'armv7', ppc64: 'ppc64le', s390x: 's390x' };
export const PLACEHOLDER_BASE_URL = 'https://assets.example.com/mailq-checks';
export const ASSET_NAME = 'mailq-checks';
export const NODE_ASSET_NAME = 'mailq-checks-node';

// ---------------------------------------------------------------------------------------------
// The archive: written by node-tar (the `tar` package npm itself uses) from a staging directory.

/**
 * entries: [{ name: 'bin/check-x', data: Buffer, mode: 0o755 } | { name: 'bin/', dir: true }]
 * Directories are added for every parent; everything is sorted by name. The entries are laid out in
 * a temp directory with the modes normalised (0755 directories and executables, 0644 the rest) and
 * node-tar packs exactly those paths, in that order (noDirRecurse), `portable` (no uid, gid, user
 * names, atime, ctime, dev, ino) with every mtime forced to `mtime`.
 */
export function tarball(entries, mtime) {
  const all = new Map();
  for (const e of entries) {
    const parts = e.name.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!all.has(d)) all.set(d, { name: d, dir: true });
    }
    all.set(parts.join('/'), e);
  }
  // Sorted as they are named in the archive (directories with their trailing '/').
  const names = [...all.keys()].sort((a, b) => {
    const [x, y] = [all.get(a).dir ? `${a}/` : a, all.get(b).dir ? `${b}/` : b];
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const stage = fs.mkdtempSync(path.join(tmpdir(), 'mailq-asset-stage-'));
  try {
    const dir = path.join(stage, 'root');
    fs.mkdirSync(dir);
    for (const name of names) {
      const e = all.get(name);
      const p = path.join(dir, name);
      if (e.dir) fs.mkdirSync(p, { recursive: true });
      else fs.writeFileSync(p, e.data);
      // chmod after writing: the umask does not get a say.
      fs.chmodSync(p, e.dir || e.mode & 0o111 ? 0o755 : 0o644);
    }
    const file = path.join(stage, 'out.tar');
    // portable leaves directories without an mtime (0); onWriteEntry runs just before each header is
    // made, so directories get the fixed mtime too.
    const onWriteEntry = (entry) => {
      entry.noMtime = false;
    };
    tar.create({ file, cwd: dir, sync: true, portable: true, noDirRecurse: true, noPax: true, mtime: new Date(mtime * 1000), onWriteEntry }, names);
    return fs.readFileSync(file);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/** gzip with no file name and a zero mtime in the header (what `gzip -n` does). */
export function gzip(buf, level = 9) {
  const gz = zlib.gzipSync(buf, { level });
  // zlib writes MTIME 0 and no FNAME already; pin the OS byte too (it varies by platform).
  gz[9] = 3; // Unix
  return gz;
}

export const sha512 = (buf) => crypto.createHash('sha512').update(buf).digest('hex');

// ---------------------------------------------------------------------------------------------

function sourceDateEpoch() {
  if (process.env.SOURCE_DATE_EPOCH && /^\d+$/.test(process.env.SOURCE_DATE_EPOCH)) return Number(process.env.SOURCE_DATE_EPOCH);
  const r = spawnSync('git', ['-C', root, 'log', '-1', '--format=%ct'], { encoding: 'utf8' });
  const t = Number(r.stdout?.trim());
  return r.status === 0 && Number.isInteger(t) && t > 0 ? t : 0;
}

/** Where the Node.js license ships next to a binary (official tarballs, Debian/NodeSource packages). */
function nodeLicense(nodePath) {
  const prefix = path.resolve(path.dirname(fs.realpathSync(nodePath)), '..');
  for (const f of [path.join(prefix, 'share/doc/node/LICENSE'), path.join(prefix, 'LICENSE'), '/usr/share/doc/nodejs/LICENSE', '/usr/share/doc/nodejs/copyright'])
    if (fs.existsSync(f)) return fs.readFileSync(f);
  return undefined;
}

function writeWithSha(outDir, file, buf) {
  const hex = sha512(buf);
  fs.writeFileSync(path.join(outDir, file), buf);
  fs.writeFileSync(path.join(outDir, `${file}.sha512`), `${hex}  ${file}\n`);
  return hex;
}

const TARBALL = /^(mailq-checks(?:-node)?)-(\d[^-]*)-([a-z0-9]+)-([a-z0-9_]+)\.tar\.gz$/;

/** Asset definitions (YAML) for every tarball in outDir: one build per os/arch. */
export function assetsYaml(outDir, baseUrl, version) {
  const builds = { [ASSET_NAME]: [], [NODE_ASSET_NAME]: [] };
  for (const f of fs.readdirSync(outDir).sort()) {
    const m = TARBALL.exec(f);
    if (!m || !fs.existsSync(path.join(outDir, `${f}.sha512`))) continue;
    const [, asset, ver, os, arch] = m;
    if (asset === ASSET_NAME && ver !== version) continue; // an older release left in the dir
    const hex = fs.readFileSync(path.join(outDir, `${f}.sha512`), 'utf8').split(/\s+/)[0];
    const dup = builds[asset].find((b) => b.os === os && b.arch === arch);
    if (dup) throw new Error(`two ${asset} tarballs for ${os}/${arch} in ${outDir}: ${dup.file} and ${f}; remove one`);
    builds[asset].push({ file: f, os, arch, sha512: hex });
  }
  // Every document starts with its own `---`, comments inside: sensuctl splits files on `---`
  // lines and would send a comment-only chunk as an empty resource.
  const doc = (name, description, list) => [
    'type: Asset',
    'api_version: core/v2',
    'metadata:',
    `  name: ${name}`,
    '  annotations:',
    `    io.sensu.asset.description: "${description}"`,
    'spec:',
    '  builds:',
    ...list.flatMap((b) => [
      `    - url: ${baseUrl.replace(/\/+$/, '')}/${b.file}`,
      `      sha512: ${b.sha512}`,
      '      filters:',
      `        - entity.system.os == '${b.os}'`,
      `        - entity.system.arch == '${b.arch}'`,
    ]),
  ];
  const header = [
    '# Generated by sensu-assets/build.mjs: do not edit. Register with: sensuctl create -f assets.yml',
    '# List mailq-checks-node first in runtime_assets, so its bin/node comes first on PATH.',
  ];
  const docs = [
    builds[NODE_ASSET_NAME].length ? doc(NODE_ASSET_NAME, 'Node.js runtime for mailq-checks (bin/node)', builds[NODE_ASSET_NAME]) : undefined,
    builds[ASSET_NAME].length ? doc(ASSET_NAME, `mailq-checks ${version}: check-* in bin/, run by the node on PATH`, builds[ASSET_NAME]) : undefined,
  ].filter(Boolean);
  return docs.map((d, i) => ['---', ...(i === 0 ? header : []), ...d].join('\n')).join('\n') + '\n';
}

export function buildAssets(opts = {}) {
  const distDir = path.resolve(opts.dist ?? path.join(root, 'dist'));
  const outDir = path.resolve(opts.out ?? path.join(root, 'sensu-assets', 'dist'));
  const nodePath = opts.node ?? process.execPath;
  const os = opts.os ?? process.platform;
  const arch = opts.arch ?? SENSU_ARCH[process.arch] ?? process.arch;
  const baseUrl = opts.baseUrl ?? process.env.ASSET_BASE_URL ?? PLACEHOLDER_BASE_URL;
  const log = opts.quiet ? () => undefined : (s) => console.log(s);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const mtime = opts.mtime ?? sourceDateEpoch();

  const checks = fs.existsSync(distDir) ? fs.readdirSync(distDir).filter((f) => /^check-[a-z0-9-]+\.js$/.test(f)).sort() : [];
  if (checks.length === 0) throw new Error(`no dist/check-*.js in ${distDir}: run npm run build first`);
  fs.mkdirSync(outDir, { recursive: true });
  // This platform's previous tarballs of what is rebuilt go (another platform's, copied in, stay
  // and are listed; with --no-node the runtime tarball stays).
  for (const f of fs.readdirSync(outDir)) {
    const m = TARBALL.exec(f.replace(/\.sha512$/, ''));
    if (m && m[3] === os && m[4] === arch && (m[1] === ASSET_NAME || opts.node !== false)) fs.rmSync(path.join(outDir, f));
  }

  const entries = checks.map((f) => {
    const data = fs.readFileSync(path.join(distDir, f));
    if (!data.subarray(0, 20).toString().startsWith('#!/usr/bin/env node\n')) throw new Error(`${f} does not start with #!/usr/bin/env node`);
    return { name: `bin/${f.replace(/\.js$/, '')}`, data, mode: 0o755 };
  });
  // The bundles are ES modules in extensionless files: say so to Node (it also detects it, from 20.19).
  entries.push({ name: 'package.json', data: Buffer.from(JSON.stringify({ name: 'mailq-checks-asset', version: pkg.version, private: true, type: 'module' }, null, 2) + '\n'), mode: 0o644 });
  const checksFile = `${ASSET_NAME}-${pkg.version}-${os}-${arch}.tar.gz`;
  const checksSha = writeWithSha(outDir, checksFile, gzip(tarball(entries, mtime)));
  log(`${path.relative(process.cwd(), path.join(outDir, checksFile))}  ${entries.length - 1} checks  sha512 ${checksSha.slice(0, 16)}...`);

  let nodeFile;
  let nodeSha;
  if (opts.node !== false) {
    // A binary for another platform cannot run here: then --node-version says what it is.
    let nodeVersion = opts.nodeVersion;
    if (!nodeVersion) {
      const r = spawnSync(nodePath, ['-p', 'process.versions.node'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${nodePath} -p process.versions.node failed (${r.error?.message ?? (r.stderr.trim() || `exit ${r.status}`)}): give --node-version`);
      nodeVersion = r.stdout.trim();
    }
    if (!/^\d+\.\d+\.\d+$/.test(nodeVersion)) throw new Error(`invalid Node.js version '${nodeVersion}'`);
    const nodeEntries = [{ name: 'bin/node', data: fs.readFileSync(nodePath), mode: 0o755 }];
    const lic = nodeLicense(nodePath);
    if (lic) nodeEntries.push({ name: 'share/doc/node/LICENSE', data: lic, mode: 0o644 });
    nodeFile = `${NODE_ASSET_NAME}-${nodeVersion}-${os}-${arch}.tar.gz`;
    // Level 6: level 9 takes three times as long on 100 MB for 0.5% less.
    nodeSha = writeWithSha(outDir, nodeFile, gzip(tarball(nodeEntries, mtime), 6));
    log(`${path.relative(process.cwd(), path.join(outDir, nodeFile))}  node ${nodeVersion}  sha512 ${nodeSha.slice(0, 16)}...`);
  }
  fs.writeFileSync(path.join(outDir, 'assets.yml'), assetsYaml(outDir, baseUrl, pkg.version));
  log(`${path.relative(process.cwd(), path.join(outDir, 'assets.yml'))}  (urls under ${baseUrl})`);
  return { outDir, checksFile, checksSha, nodeFile, nodeSha, checks: entries.filter((e) => e.name.startsWith('bin/')).map((e) => e.name.slice(4)) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === self) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      dist: { type: 'string' },
      node: { type: 'string' },
      'node-version': { type: 'string' },
      'base-url': { type: 'string' },
      os: { type: 'string' },
      arch: { type: 'string' },
      'no-node': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  try {
    buildAssets({
      out: values.out,
      dist: values.dist,
      node: values['no-node'] ? false : values.node,
      nodeVersion: values['node-version'],
      baseUrl: values['base-url'],
      os: values.os,
      arch: values.arch,
      quiet: values.quiet,
    });
  } catch (e) {
    console.error(`build:assets: ${e.message}`);
    process.exit(1);
  }
}
