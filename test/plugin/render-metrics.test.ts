// --format prometheus and influx on real check output: check-mailq-depth run in-process on the Postfix
// queue captured from Debian's Postfix (test/fixtures/mta/postfix), at a fixed clock. The expected text
// (test/fixtures/render/real/) was written by hand from the exposition-format and line-protocol specs;
// its numbers come from the capture's manifest and postqueue -j listing (counts, sizes, the oldest
// arrival), not from the code. Also --textfile: the file node_exporter reads is written whole or not at all.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { runSpec } from '../helpers/run.js';
import { RENDERERS } from '../../lib/plugin/render/index.js';
import type { CheckResult } from '../../lib/plugin/result.js';

const ROOT = path.join(__dirname, '../..');
const REAL = path.join(__dirname, '../fixtures/render/real');
const postfix = fixtureCases(path.join(ROOT, 'test/fixtures/mta')).find((c) => c.name === 'postfix')!;
// Relative to the repository (vitest runs there), so the label is the same on every checkout.
const spool = path.relative(process.cwd(), postfix.spools[0]);
const listing = fs
  .readFileSync(path.join(postfix.dir, 'listing/postqueue-j.txt'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { arrival_time: number; message_size: number; queue_name: string });
const NOW = postfix.capturedAt + 3600;
const oldestAge = NOW - Math.min(...listing.map((m) => m.arrival_time));
const args = ['--mta', 'postfix', '--spool', spool, '-w', '10', '-c', '50'];

const expected = (file: string, fill: Record<string, string | number>) =>
  Object.entries(fill).reduce((t, [k, v]) => t.split(`@${k}@`).join(String(v)), fs.readFileSync(path.join(REAL, file), 'utf8'));
const summaryOf = (nagios: string) => /^MAILQ \w+ - (.*?) \| /.exec(nagios)![1];

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mailq-textfile-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('prometheus and influx on the captured Postfix queue', () => {
  it('the listing agrees with the manifest the expected files were written from', () => {
    expect(listing).toHaveLength(postfix.manifest.expected.total);
    expect(listing.reduce((a, m) => a + m.message_size, 0)).toBe(476748);
    expect(postfix.manifest.expected.byQueue).toEqual({ deferred: 23, hold: 3, maildrop: 4 });
  });

  it('--format prometheus: state gauge, per-queue series with a queue label, base units', async () => {
    const r = await runSpec(depthCheck, [...args, '--format', 'prometheus'], NOW);
    expect(r.code).toBe(1);
    expect(r.out).toBe(expected('depth-postfix.prom', { SPOOL: spool, OLDEST_AGE: oldestAge }));
  });

  it('--format influx: one line for the check, one per queue, integer fields, ns timestamp', async () => {
    const nagios = await runSpec(depthCheck, args, NOW);
    const r = await runSpec(depthCheck, [...args, '--format', 'influx'], NOW);
    expect(r.code).toBe(1);
    expect(r.out).toBe(expected('depth-postfix.influx', { SPOOL: spool, OLDEST_AGE: oldestAge, NS: `${NOW}000000000`, SUMMARY: summaryOf(nagios.out) }));
  });

  it('an error (missing spool) is exit 3 with the state 3 in both formats', async () => {
    const bad = ['--mta', 'postfix', '--spool', '/nonexistent/mailq-spool'];
    const nagios = await runSpec(depthCheck, bad, NOW);
    expect(nagios.code).toBe(3);
    const p = await runSpec(depthCheck, [...bad, '--format', 'prometheus'], NOW);
    expect([p.code, p.out]).toEqual([3, expected('depth-missing-spool.prom', {})]);
    const i = await runSpec(depthCheck, [...bad, '--format', 'influx'], NOW);
    expect([i.code, i.out]).toEqual([3, expected('depth-missing-spool.influx', { NS: `${NOW}000000000`, SUMMARY: summaryOf(nagios.out) })]);
  });

  it('a rejected command line is answered in the format asked for', async () => {
    const p = await runSpec(depthCheck, ['--format', 'prometheus', '-w', 'ten'], NOW);
    expect([p.code, p.out]).toEqual([3, expected('depth-missing-spool.prom', {})]);
  });
});

describe('--textfile DIR', () => {
  it('writes DIR/<check>-<suffix>.prom (0644, what --format prometheus prints, with the suffix label) and prints the Nagios answer', async () => {
    const dir = tmp();
    const r = await runSpec(depthCheck, [...args, '--textfile', dir, '--textfile-suffix', 'main'], NOW);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^MAILQ WARNING - 30 messages queued/);
    expect(fs.readdirSync(dir)).toEqual(['mailq_depth-main.prom']);
    const file = path.join(dir, 'mailq_depth-main.prom');
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    const want = expected('depth-postfix.prom', { SPOOL: spool, OLDEST_AGE: oldestAge }).replace(/spool="([^"]*)"/g, 'spool="$1",suffix="main"');
    expect(fs.readFileSync(file, 'utf8')).toBe(want);
  });

  it('replaces the file by rename: an open reader keeps the old whole file, a new one sees the new', async () => {
    const dir = tmp();
    await runSpec(depthCheck, [...args, '--textfile', dir], NOW);
    const file = path.join(dir, 'mailq_depth.prom');
    const before = fs.readFileSync(file, 'utf8');
    const fd = fs.openSync(file, 'r');
    const ino = fs.fstatSync(fd).ino;
    await runSpec(depthCheck, ['--mta', 'postfix', '--spool', '/nonexistent/mailq-spool', '--textfile', dir], NOW);
    expect(fs.readFileSync(fd, 'utf8')).toBe(before);
    fs.closeSync(fd);
    expect(fs.statSync(file).ino).not.toBe(ino);
    expect(fs.readFileSync(file, 'utf8')).toBe(expected('depth-missing-spool.prom', {}));
    expect(fs.readdirSync(dir)).toEqual(['mailq_depth.prom']);
  });

  it('an error before the options are parsed still lands in the file as state 3', async () => {
    const dir = tmp();
    const r = await runSpec(depthCheck, ['-w', 'ten', '--textfile', dir], NOW);
    expect(r.code).toBe(3);
    expect(fs.readFileSync(path.join(dir, 'mailq_depth.prom'), 'utf8')).toBe(expected('depth-missing-spool.prom', {}));
  });

  it('a directory that does not exist: exit 3, one line saying what and how to fix it, no file anywhere', async () => {
    const dir = path.join(tmp(), 'missing');
    const r = await runSpec(depthCheck, [...args, '--textfile', dir], NOW);
    expect(r.code).toBe(3);
    const [first, second, ...rest] = r.out.split('\n');
    expect(first).toBe(`MAILQ UNKNOWN - cannot write the textfile ${dir}/mailq_depth.prom (ENOENT): create the directory, or give --textfile the one node_exporter reads (--collector.textfile.directory) | `);
    // The verdict the file would have held, in the long output.
    expect(second).toMatch(/^not written: WARNING - 30 messages queued \(deferred 23, hold 3, maildrop 4\)/);
    expect(rest).toEqual(['']);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('a file in the way of the directory: exit 3 in the --format asked for, no temp file left', async () => {
    const parent = tmp();
    const notDir = path.join(parent, 'file');
    fs.writeFileSync(notDir, 'x');
    const r = await runSpec(depthCheck, [...args, '--textfile', notDir, '--format', 'prometheus'], NOW);
    expect([r.code, r.out]).toEqual([3, expected('depth-missing-spool.prom', {})]);
    expect(fs.readdirSync(parent)).toEqual(['file']);
  });

  it('refuses a suffix that is not a plain name', async () => {
    const dir = tmp();
    const r = await runSpec(depthCheck, [...args, '--textfile', dir, '--textfile-suffix', '../x'], NOW);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^MAILQ UNKNOWN - invalid --textfile-suffix '\.\.\/x': use letters, digits/);
    expect(fs.readdirSync(dir)).toEqual(['mailq_depth.prom']);
  });
});

// ---------------------------------------------------------------------------------------------
// Any result at all (labels, dimensions and spool paths of any text, any number): the output is
// still valid for its format, checked by a grammar written from the specs.

const PROM_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const PROM_VALUE = /^(?:-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/;
const PROM_LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;

/** Problems with an exposition text (text format 0.0.4), [] when there are none. */
export function promProblems(text: string): string[] {
  const out: string[] = [];
  if (!text.endsWith('\n')) out.push('does not end with a newline');
  const seenFamilies = new Set<string>();
  const seenSeries = new Set<string>();
  let family: string | undefined;
  let typed = false;
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP (\S+) ((?:[^\\\n]|\\[\\n])*)$/.exec(line))) {
      if (!PROM_NAME.test(m[1])) out.push(`bad name in ${line}`);
      if (seenFamilies.has(m[1])) out.push(`family ${m[1]} twice`);
      seenFamilies.add(m[1]);
      family = m[1];
      typed = false;
    } else if ((m = /^# TYPE (\S+) (gauge|counter)$/.exec(line))) {
      if (m[1] !== family || typed) out.push(`TYPE out of place: ${line}`);
      typed = true;
    } else if ((m = /^([^{ ]+)\{(.*)\} (\S+)$/.exec(line))) {
      if (m[1] !== family || !typed) out.push(`sample outside its family: ${line}`);
      if (!PROM_VALUE.test(m[3])) out.push(`bad value: ${line}`);
      const labels: string[] = [];
      PROM_LABEL.lastIndex = 0;
      let l: RegExpExecArray | null;
      let end = 0;
      while ((l = PROM_LABEL.exec(m[2]))) {
        labels.push(l[1]);
        end = PROM_LABEL.lastIndex;
        if (l[3] === '') break;
      }
      if (end !== m[2].length) out.push(`bad labels: ${line}`);
      if (new Set(labels).size !== labels.length || labels.some((n) => n.startsWith('__'))) out.push(`label names: ${line}`);
      const key = `${m[1]}{${m[2].split(',').sort().join(',')}}`;
      if (seenSeries.has(key)) out.push(`series twice: ${line}`);
      seenSeries.add(key);
    } else out.push(`not an exposition line: ${JSON.stringify(line)}`);
  }
  if (!seenFamilies.has('mailq_check_state')) out.push('no mailq_check_state');
  return out;
}

const INFLUX_KEY = String.raw`(?:[^,= \\]|\\.)+`;
const INFLUX_LINE = new RegExp(
  String.raw`^((?:[^, \\]|\\.)+)((?:,${INFLUX_KEY}=${INFLUX_KEY})*) (${INFLUX_KEY}=(?:"(?:[^"\\]|\\["\\])*"|-?\d+i|-?(?:\d+(?:\.\d+)?|\.\d+)(?:e[+-]?\d+)?)(?:,${INFLUX_KEY}=(?:"(?:[^"\\]|\\["\\])*"|-?\d+i|-?(?:\d+(?:\.\d+)?|\.\d+)(?:e[+-]?\d+)?))*) (\d+)$`,
);

export function influxProblems(text: string, state: number): string[] {
  const out: string[] = [];
  if (!text.endsWith('\n')) out.push('does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, i) => {
    const m = INFLUX_LINE.exec(line);
    if (!m) return out.push(`not a line: ${JSON.stringify(line)}`);
    const ints = [...m[3].matchAll(/(?:^|,)((?:[^,=\\]|\\.)+)=(-?\d+)i/g)];
    for (const [, , v] of ints) if (Math.abs(Number(v)) > 2 ** 63) out.push(`int64 overflow: ${line}`);
    if (i === 0 && !m[3].startsWith(`state=${state}i,summary="`)) out.push(`first line without state/summary: ${line}`);
  });
  return out;
}

describe('any result renders valid prometheus and influx text', () => {
  const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('a b', 'x,y=z', 'q"u\\o\nte', '\\', 'time', '', '__x', '1abc'));
  const value = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1e21, 2 ** 64, -5, 0.1 + 0.2, NaN, Infinity));
  const metricArb = fc.record(
    {
      label: text,
      value,
      uom: fc.constantFrom('', 's', '%', 'B', 'KB', 'MB', 'c'),
      family: text,
      dims: fc.dictionary(text, text, { maxKeys: 2 }),
      integer: fc.boolean(),
    },
    { requiredKeys: ['label', 'value'] },
  );
  const resultArb = fc.record({
    service: fc.constant('MAILQ'),
    check: fc.oneof(fc.constantFrom('mailq_depth', 'spool_disk'), text),
    state: fc.constantFrom(0, 1, 2, 3),
    summary: text,
    metrics: fc.array(metricArb, { maxLength: 8 }),
    details: fc.constant([] as string[]),
    facts: fc.record({ mta: text, spools: fc.array(text, { maxLength: 2 }) }, { requiredKeys: [] }),
    time: fc.double({ min: 0, max: 4e9, noNaN: true }),
  });
  it('prometheus: the grammar of the text format, unique series, the state gauge', () => {
    fc.assert(
      fc.property(resultArb, fc.option(fc.constantFrom('a', 'b-1')), (r, suffix) => {
        const out = RENDERERS.prometheus(r as CheckResult, { scheme: 'x', suffix: suffix ?? undefined });
        expect(promProblems(out), out).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });
  it('influx: the line protocol grammar, state and summary first, integers within int64', () => {
    fc.assert(
      fc.property(resultArb, fc.option(text), (r, host) => {
        const out = RENDERERS.influx(r as CheckResult, { scheme: 'x', hostname: host ?? undefined });
        expect(influxProblems(out, r.state), out).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });
});
