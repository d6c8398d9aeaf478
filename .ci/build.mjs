// Bundle every checks/*.ts into one self-contained executable JS file in dist/ (no TypeScript at
// run time, fast start-up). Usage: node .ci/build.mjs [--outdir DIR]
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const outIdx = process.argv.indexOf('--outdir');
const outdir = outIdx > 0 ? path.resolve(process.argv[outIdx + 1]) : path.join(root, 'dist');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const entries = fs.readdirSync(path.join(root, 'checks')).filter((f) => /^check-.*\.ts$/.test(f));

fs.mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: entries.map((f) => path.join(root, 'checks', f)),
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outExtension: { '.js': '.js' },
  legalComments: 'none',
  minify: true,
  keepNames: false,
  logLevel: 'warning',
  define: { __VERSION__: JSON.stringify(pkg.version) },
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
// Tools for the demo and benchmarks (not shipped as checks).
await build({
  entryPoints: [path.join(root, 'bench', 'gen-spool.ts'), path.join(root, 'bench', 'bench.ts')],
  outdir: path.join(outdir, 'tools'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  logLevel: 'warning',
});
// `npm run demo` (bench/incident-demo.ts): the incident 001 replay of the tests (its test helpers read
// __dirname, given here); esbuild, which one of them imports, stays a package. A tree without test/
// (npm pack's prepack build of a copy) has no demo to build.
if (fs.existsSync(path.join(root, 'test', 'incidents', '001-world.ts'))) await build({
  entryPoints: [path.join(root, 'bench', 'incident-demo.ts')],
  outfile: path.join(outdir, 'tools', 'incident-demo.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['esbuild'],
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import __p from 'node:path'; const require = __cr(import.meta.url); const __dirname = __p.dirname(__fu(import.meta.url));",
  },
});
// Second pass: render each check's --help with the first bundle (yargs) and bake it in, so
// `--help` answers without loading yargs (start-up time is measured; see README).
// The shipped bundles take .ci/string-width.mjs for `string-width` (its import-time cost is yargs'
// help layout, rendered above with the real package).
const stringWidthShim = {
  name: 'string-width-shim',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, () => ({ path: path.join(root, '.ci', 'string-width.mjs') }));
  },
};
const common = {
  plugins: [stringWidthShim],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  legalComments: 'none',
  minify: true,
  logLevel: 'warning',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};
for (const f of entries) {
  const out = path.join(outdir, f.replace(/\.ts$/, '.js'));
  const r = spawnSync(process.execPath, [out, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '' } });
  if (r.status !== 0) throw new Error(`${f} --help failed: ${r.stdout}${r.stderr}`);
  await build({
    ...common,
    entryPoints: [path.join(root, 'checks', f)],
    outfile: out,
    define: { __VERSION__: JSON.stringify(pkg.version), __HELP__: JSON.stringify(r.stdout) },
  });
  const body = fs.readFileSync(out, 'utf8').replace(/^#!.*\n/, '');
  fs.writeFileSync(out, `#!/usr/bin/env node\n${body}`);
  fs.chmodSync(out, 0o755);
}
console.log(`built ${entries.length} check(s) into ${path.relative(process.cwd(), outdir) || '.'}`);
