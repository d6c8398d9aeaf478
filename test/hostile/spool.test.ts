// Hostile spools (spool-cases.ts, one row per case) against every queue check, in-process.
// Each row: no crash from any check in any format; the depth check counts unreadable files and names
// them, or answers UNKNOWN; nothing outside the spool is read; nothing inside it is written.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../bench/gen-spool.js';
import { asNobody, CHECKS, cleanup, crashes, isRoot, metric, run, snapshot, tmp, type Answer } from './harness.js';
import { NOW, SPOOL_CASES, type SpoolCase } from './spool-cases.js';

afterAll(cleanup);

function prepare(c: SpoolCase) {
  const root = tmp(`hostile-${c.mta}-`);
  generate({ mta: c.mta, count: 20, out: root, seed: 3, now: NOW });
  const spool = c.mta === 'sendmail' ? path.join(root, 'mqueue') : root;
  const outside = tmp('hostile-outside-');
  if (c.asNobody) {
    // The spool readable by nobody, as after 'usermod -aG <mta group>': only the damage keeps it out.
    execFileSync('chmod', ['-R', 'a+rX', root, outside]);
  }
  c.build({ root, spool, outside });
  return { root, spool, outside };
}

const argvFor = (c: SpoolCase, spool: string, state: string): Record<string, string[]> => {
  const common = ['--mta', c.mta, '--spool', spool, '-t', '20'];
  return {
    'check-mailq-depth': [...common, '--source', 'spool'],
    'check-mailer-daemon': [...common, '--source', 'spool', '--exact', '--min-messages', '0'],
    'check-mailq-growth': [...common, '--source', 'spool', '--state-dir', state],
    'check-spool-disk': ['--mta', c.mta, '--spool', spool, '--state-dir', state],
  };
};

describe.each(SPOOL_CASES.map((c) => [`${c.mta}: ${c.name}`, c] as const))('%s', (_name, c) => {
  it.skipIf(c.asNobody && !isRoot)('every queue check answers, in every format; the depth check as the row says', async () => {
    const { root, spool } = prepare(c);
    const state = tmp('hostile-state-');
    fs.chmodSync(state, 0o777);
    const before = snapshot(root);
    const as = <T>(fn: () => Promise<T>) => (c.asNobody ? asNobody(fn) : fn());
    const answers: Record<string, Answer> = {};
    for (const [name, argv] of Object.entries(argvFor(c, spool, state))) {
      for (const format of ['json', 'nagios', 'graphite']) {
        const st = path.join(state, `${name}-${format}`);
        const args = argv.map((a) => (a === state ? st : a));
        if (c.asNobody) fs.mkdirSync(st, { mode: 0o700 }), fs.chownSync(st, 65534, 65534);
        const a = await as(() => run(CHECKS[name], [...args, '--format', format], NOW));
        expect(crashes(a), `${name} --format ${format}: ${a.out}`).toEqual([]);
        if (format === 'json') answers[name] = a;
      }
    }
    // Checks only read: nothing in the spool changed (the state went elsewhere).
    expect(snapshot(root)).toEqual(before);

    const depth = answers['check-mailq-depth'];
    const e = c.expect;
    if ('unknown' in e) {
      expect(depth.code, depth.out).toBe(3);
      expect(depth.json!.summary).toMatch(e.unknown);
    } else {
      expect(depth.code, depth.out).not.toBe(3);
      expect(metric(depth, 'total'), depth.out).toBe(e.total);
      if (e.unreadable !== undefined) expect(metric(depth, 'unreadable'), depth.out).toBe(e.unreadable);
      for (const n of e.named ?? []) expect(depth.json!.details.join('\n')).toContain(n);
      for (const n of e.absent ?? []) for (const a of Object.values(answers)) expect(a.out).not.toContain(n);
    }
    if (c.walkBlocked) {
      // Part of the queue could not even be listed: no queue count may pass for the whole queue.
      for (const name of ['check-mailq-depth', 'check-mailq-growth', 'check-mailer-daemon']) expect(answers[name].code, `${name}: ${answers[name].out}`).toBe(3);
    }
  });

});

describe.each(SPOOL_CASES.filter((c) => 'unknown' in c.expect).map((c) => [`${c.mta}: ${c.name}`, c] as const))('%s', (_name, c) => {
  it.skipIf(c.asNobody && !isRoot)('--source auto never answers OK with a smaller count either', async () => {
    const { spool } = prepare(c);
    const as = <T>(fn: () => Promise<T>) => (c.asNobody ? asNobody(fn) : fn());
    // No listing program is reachable in this test, so auto either falls back and fails, or fails.
    const a = await as(() => run(CHECKS['check-mailq-depth'], ['--mta', c.mta, '--spool', spool, '--listing-file', '/nonexistent/listing', '--format', 'json'], NOW));
    expect(crashes(a)).toEqual([]);
    expect(a.code, a.out).toBe(3);
  });
});
