// Golden files: test/fixtures/render/NAME.input.json (a CheckResult) and NAME.{nagios,graphite,json}
// (the expected output). Adding a case means adding files. UPDATE_GOLDEN=1 rewrites the expectations.
import fg from 'fast-glob';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRange } from '../../lib/plugin/range.js';
import { RENDERERS, FORMATS } from '../../lib/plugin/render/index.js';
import type { CheckResult } from '../../lib/plugin/result.js';

const dir = path.join(__dirname, '../fixtures/render');

function load(file: string): CheckResult {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  raw.metrics = raw.metrics.map((m: Record<string, unknown>) => ({
    ...m,
    value: m.value === null ? NaN : m.value,
    warn: parseRange(m.warn as string | undefined),
    crit: parseRange(m.crit as string | undefined),
  }));
  return raw;
}

const inputs = fg.sync('*.input.json', { cwd: dir });

describe('renderers (golden)', () => {
  it('has golden cases', () => expect(inputs.length).toBeGreaterThanOrEqual(2));
  for (const input of inputs) {
    const name = input.replace('.input.json', '');
    for (const format of FORMATS) {
      it(`${name} as ${format}`, () => {
        const out = RENDERERS[format](load(path.join(dir, input)), { scheme: 'mx1.mail' });
        const golden = path.join(dir, `${name}.${format}`);
        if (process.env.UPDATE_GOLDEN) fs.writeFileSync(golden, out);
        expect(out).toBe(fs.readFileSync(golden, 'utf8'));
      });
    }
  }
});

describe('output contracts (what Sensu Go extractors need)', () => {
  for (const input of inputs) {
    const r = load(path.join(dir, input));
    it(`${input}: nagios has exactly one '|', perfdata on line 1 only, safe labels`, () => {
      const out = RENDERERS.nagios(r, { scheme: 'x' });
      expect(out.split('|')).toHaveLength(2);
      const [first, ...rest] = out.trimEnd().split('\n');
      expect(first).toMatch(/^\S+ (OK|WARNING|CRITICAL|UNKNOWN) - /);
      for (const line of rest) expect(line).not.toContain('|');
      const perf = first.split('|')[1].trim();
      for (const item of perf.split(' ').filter(Boolean)) expect(item).toMatch(/^[A-Za-z0-9_.]+=-?[\d.]+[A-Za-z%]*(;[^; ]*){0,4}$/);
    });
    it(`${input}: graphite has only '<path> <value> <epoch>' lines`, () => {
      const out = RENDERERS.graphite(r, { scheme: 'mx1.mail' });
      for (const line of out.trimEnd().split('\n').filter(Boolean)) expect(line).toMatch(/^[A-Za-z0-9_.-]+ -?[\d.]+(e[+-]?\d+)? \d+$/);
    });
    it(`${input}: json is one object`, () => {
      const out = RENDERERS.json(r, { scheme: 'x' });
      expect(out.trimEnd().split('\n')).toHaveLength(1);
      expect(JSON.parse(out).code).toBe(r.state);
    });
  }
});

describe('long output and Sensu Go', () => {
  it("shows '=' as ':' after the first line, where Sensu would read `word=1` as a metric", () => {
    const out = RENDERERS.nagios(
      { service: 'X', check: 'x', state: 0, summary: 'a=b ok', metrics: [], details: ['top client local uid=0 26'], time: 0 },
      { scheme: 'x' },
    );
    expect(out).toBe('X OK - a=b ok | \ntop client local uid:0 26\n');
  });
});
