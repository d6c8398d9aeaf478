// The built binaries (npm test builds them first): executable single files with a node shebang,
// a --help baked in at build time that matches what yargs renders, and the package version.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../package.json'), 'utf8'));
const bins = Object.entries(pkg.bin as Record<string, string>).filter(([, f]) => fs.existsSync(path.join(__dirname, '..', f)));
const run = (file: string, args: string[]) => spawnSync(process.execPath, [file, ...args], { encoding: 'utf8' });

describe('built checks', () => {
  it('builds every check in checks/ that package.json lists', () => {
    const sources = fs.readdirSync(path.join(__dirname, '../checks')).map((f) => f.replace(/\.ts$/, ''));
    expect(bins.map(([name]) => name).sort()).toEqual(sources.sort());
  });

  for (const [name, rel] of bins) {
    const file = path.join(__dirname, '..', rel);
    it(`${name}: executable, node shebang, self-contained`, () => {
      expect(fs.statSync(file).mode & 0o111).toBe(0o111);
      const src = fs.readFileSync(file, 'utf8');
      expect(src.startsWith('#!/usr/bin/env node\n')).toBe(true);
      expect(src).not.toMatch(/from\s*["'](yargs|execa|fast-glob)["']/);
    });
    it(`${name}: --help baked at build time equals the yargs rendering; -V prints the version`, () => {
      const baked = run(file, ['--help']);
      const live = run(file, ['--help', '--']);
      expect(baked.status).toBe(0);
      expect(baked.stderr).toBe('');
      expect(baked.stdout).toBe(live.stdout);
      expect(baked.stdout).toContain(`Usage: ${name} [options]`);
      expect(run(file, ['-V']).stdout).toBe(`${name} ${pkg.version}\n`);
    });
  }
});
