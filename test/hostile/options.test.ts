// Every option of every check with bad values: exit 3, one line, naming the text that was wrong.
// The options are read from each check's own parser, so a new option fails here until it has a
// row in KIND (one line).
import fs from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureCases } from '../helpers/fixtures.js';
import { CHECKS, cleanup, crashes, run, tmp } from './harness.js';
import { checkOptions } from '../../lib/plugin/check.js';

afterAll(cleanup);
const NOW = 1795432267;

type Kind = 'range' | 'duration' | 'size' | 'whole' | 'number' | 'timeout' | 'choice' | 'scheme' | 'target' | 'path' | 'queue' | 'unit' | 'dir' | 'sample' | 'instance';

/** What each option takes. A new option: one line here. */
const KIND: Record<string, Kind> = {
  warning: 'range',
  critical: 'range',
  timeout: 'timeout',
  format: 'choice',
  scheme: 'scheme',
  'graphite-send': 'target',
  mta: 'choice',
  source: 'choice',
  spool: 'path',
  'listing-file': 'dir', // only read when the spool cannot be: a missing one is said then
  queue: 'queue',
  'age-warning': 'duration',
  'age-critical': 'duration',
  top: 'whole',
  'state-dir': 'dir',
  window: 'duration',
  'queue-run': 'duration',
  'min-samples': 'whole',
  limit: 'whole',
  'eta-warning': 'duration',
  'eta-critical': 'duration',
  path: 'path',
  'free-warning': 'size',
  'free-critical': 'size',
  'inode-warning': 'range',
  'inode-critical': 'range',
  'fill-warning': 'duration',
  'fill-critical': 'duration',
  log: 'path',
  journal: 'unit',
  'journal-directory': 'dir',
  'max-bytes': 'size',
  'exact-limit': 'size',
  'max-line': 'size',
  'repeat-warning': 'range',
  'repeat-critical': 'range',
  'repeat-min-rate': 'number',
  'sender-warning': 'range',
  'sender-critical': 'range',
  'bounce-warning': 'range',
  'bounce-critical': 'range',
  'deferral-warning': 'range',
  'auth-fail-warning': 'range',
  'auth-fail-critical': 'range',
  'deferral-critical': 'range',
  sample: 'sample',
  'min-messages': 'whole',
  seed: 'whole',
  config: 'path',
  instance: 'instance',
  shape: 'choice',
  'shape-rows': 'whole',
  sticky: 'duration',
};

/** Bad values per kind: empty, blank, negative, NaN, an inverted range, unknown units, overflow. */
const BAD: Record<Kind, string[]> = {
  range: ['', ' ', '-5', 'NaN', '10:5', '5x', '1e3', '@', '~', ':', '10:20:30', '5%'],
  duration: ['', ' ', '-5', 'NaN', '10:5', '5y', '1e3', '5mm', 'Infinity', '9'.repeat(400)],
  size: ['', ' ', '-5', 'NaN', '10:5', '5X', '1e3', '5GiBB', '9'.repeat(400)],
  whole: ['', ' ', '-5', 'NaN', '10:5', '5x', '1.5', '1e999'],
  number: ['', ' ', '-5', 'NaN', '10:5', '5x', 'Infinity'],
  timeout: ['', ' ', '-5', 'NaN', '10:5', '5m', '0', '1e10', 'Infinity'],
  choice: ['', ' ', 'NaN', '-1', 'xml'],
  scheme: ['', ' ', 'a b', '10:5', 'a|b', 'mx1/mail'],
  target: ['', ' ', 'host', 'host:0', 'host:99999', ':2003', 'NaN', '-1'],
  path: ['', ' ', '/nonexistent/hostile/x'],
  queue: ['', ' ', 'NaN', '-1', '10:5'],
  unit: ['', ' ', 'a;b', 'a b', '$(id)', '`id`'],
  dir: ['', ' '],
  sample: ['', ' ', '-5', 'NaN', '10:5', '5x', '1.5', '1e999', '99'],
  instance: ['', ' ', '../etc', 'postfix-out/../x', '/etc/postfix-out', '-c', 'a b', '$(id)'],
};

const COMMON = ['warning', 'critical', 'timeout', 'format', 'scheme', 'graphite-send'];

function optionsOf(name: string): string[] {
  const y = checkOptions(CHECKS[name], yargs([]));
  const o = (y as unknown as { getOptions(): { string: string[] } }).getOptions();
  // -w/-c are rows of some checks' tables now: their one-letter aliases are not options of their own.
  return [...new Set([...COMMON, ...o.string.filter((n) => n.length > 1)])];
}

const postfix = fixtureCases().find((c) => c.name === 'postfix')!;
const log = path.join(postfix.dir, 'log', 'postfix.log');
const work = tmp('hostile-opts-');
const state = path.join(work, 'state');

/** A command line that works, so the bad option is the only thing wrong. */
function baseArgv(name: string): string[] {
  if (name === 'check-maillog-flood') return ['--log', log, '--state-dir', state];
  const base = ['--mta', 'postfix', '--spool', postfix.spools[0]];
  if (name === 'check-mailq-growth' || name === 'check-spool-disk') base.push('--state-dir', state);
  return base;
}

/** argv with --opt set to value (replacing the base's own value of that option). */
function withOption(name: string, opt: string, value: string): string[] {
  const base = baseArgv(name);
  const i = base.indexOf(`--${opt}`);
  if (i >= 0) base.splice(i, 2);
  // --journal and --log exclude each other: drop the log for journal options.
  if (opt === 'journal' || opt === 'journal-directory') base.splice(base.indexOf('--log'), 2);
  const extra = opt === 'eta-warning' || opt === 'eta-critical' ? ['--limit', '1000'] : [];
  return [...base, ...extra, `--${opt}=${value}`];
}

const rows: [string, string, string][] = [];
for (const name of Object.keys(CHECKS)) for (const opt of optionsOf(name)) for (const v of BAD[KIND[opt]] ?? []) rows.push([name, opt, v]);

describe('the option table', () => {
  it('has a kind for every option of every check', () => {
    const missing = Object.keys(CHECKS).flatMap((n) => optionsOf(n).filter((o) => !KIND[o]).map((o) => `${n} --${o}`));
    expect(missing).toEqual([]);
  });

  it('works unchanged: the base command lines answer 0..2', async () => {
    fs.rmSync(state, { recursive: true, force: true });
    for (const name of Object.keys(CHECKS)) {
      const a = await run(CHECKS[name], baseArgv(name), NOW);
      expect(crashes(a), a.out).toEqual([]);
      expect(a.code, `${name}: ${a.out}`).toBeLessThan(3);
    }
  });
});

describe.each(rows)('%s --%s=%j', (name, opt, value) => {
  it('exit 3, the first line naming the text', async () => {
    const argv = withOption(name, opt, value);
    const a = await run(CHECKS[name], argv, NOW);
    expect(crashes(a), a.out).toEqual([]);
    expect(a.code, a.out).toBe(3);
    const lines = a.out.trimEnd().split('\n');
    // Option errors are one line; a path found missing while collecting may add context below it.
    if (KIND[opt] !== 'path') expect(lines, a.out).toHaveLength(1);
    // Named: quoted as given, or (a path) the path itself; a name over 200 characters by its start
    // and its length (lib/plugin/text.ts: every name on line one is capped).
    const shown = [`'${value}'`, `"${value}"`, value.trim() === '' ? undefined : value].filter((x): x is string => x !== undefined);
    const named = (s: string) => {
      const t = s.replace(/\|/g, '¦');
      return lines[0].includes(t) || (Array.from(t).length > 200 && lines[0].includes(`${t.slice(0, 100)}`) && /…\(\d+ chars\)/.test(lines[0]));
    };
    expect(shown.some(named), lines[0]).toBe(true);
    // The same failure in JSON is JSON.
    if (opt === 'format') return;
    const j = await run(CHECKS[name], [...argv, '--format', 'json'], NOW);
    expect(crashes(j), j.out).toEqual([]);
    expect(j.code).toBe(3);
  });
});
