// --format prometheus and influx on real check output: check-mailq-depth run in-process on the Postfix
// queue captured from Debian's Postfix (test/fixtures/mta/postfix), at a fixed clock. The expected text
// (test/fixtures/render/real/) was written by hand from the exposition-format and line-protocol specs;
// its numbers come from the capture's manifest and postqueue -j listing (counts, sizes, the oldest
// arrival), not from the code. Also --textfile: the file node_exporter reads is written whole or not at all.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { runSpec } from '../helpers/run.js';

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
