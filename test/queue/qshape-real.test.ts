// check-mailq-depth --shape against Postfix's own qshape(1) (Debian's postfix 3.7 package, taken out
// with test/integration/qshape-setup.sh, never installed), on the same queue at the same moment:
// the same counts per domain and age bucket. The queue is a generated Postfix spool (bench/gen: the
// record layout cleanup(8) writes, ages spread over 14 hours, messages delivered in part), so every
// bucket from 0-5 to 640-1280 minutes is filled. qshape takes its "now" from Perl's time(), which the
// test pins to the check's clock (CORE::GLOBAL::time), so no message can cross a bucket boundary
// between the two runs. On CI (root, CI=true) qshape must be there; elsewhere the test says how to
// get it and skips.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../bench/gen-spool.js';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { runSpec } from '../helpers/run.js';

const candidates = [process.env.QSHAPE, '/usr/sbin/qshape', path.join(process.env.QSHAPE_DIR ?? '/opt/mailq-checks-ci/qshape', 'usr/sbin/qshape')];
const setup = (() => {
  if (candidates.some((c) => c && fs.existsSync(c))) return '';
  if (process.env.CI !== 'true' || process.getuid?.() !== 0) return '';
  const r = spawnSync('bash', [path.join(__dirname, '../integration/qshape-setup.sh')], { encoding: 'utf8' });
  return r.status === 0 ? '' : `qshape-setup.sh failed: ${(r.stdout + r.stderr).trim().split('\n').slice(-2).join(' / ')}`;
})();
const qshape = candidates.find((c) => c && fs.existsSync(c));
const skip = setup || (qshape ? '' : 'qshape not found: run `bash test/integration/qshape-setup.sh` (CI does) or set QSHAPE');
if (skip && process.env.CI === 'true') throw new Error(`qshape-real.test.ts cannot run on CI: ${skip}`);

type Rows = Record<string, number[]>;

/** qshape's table: a header line (T 5 10 ... 1280+), then a domain and its counts per line. */
function parseQshape(text: string): { head: string[]; rows: Rows } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const head = lines[0].trim().split(/\s+/);
  const rows: Rows = {};
  for (const l of lines.slice(1)) {
    const cells = l.trim().split(/\s+/);
    rows[cells[0]] = cells.slice(1).map(Number);
  }
  return { head, rows };
}

function runQshape(now: number, args: string[]): string {
  // qshape reads `my $now = time;` when it starts: Perl's time() pinned to the check's clock.
  const wrapper = 'BEGIN { my $t = $ENV{QSHAPE_NOW}; *CORE::GLOBAL::time = sub () { $t } } $0 = "qshape"; do $ENV{QSHAPE}; die $@ if $@;';
  const r = spawnSync('perl', ['-e', wrapper, '--', ...args], { encoding: 'utf8', env: { ...process.env, QSHAPE: qshape!, QSHAPE_NOW: String(now) } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

let dir: string;
let now: number;
beforeAll(() => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qshape-real-'));
  now = 1_795_432_267;
  generate({ mta: 'postfix', count: 4000, out: dir, seed: 7, now, mix: { flood: 0.3, bounce: 0.2, held: 0.05, fresh: 0.05, partial: 0.1 } });
});
afterAll(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== '')('--shape against the real qshape', () => {
  if (skip) console.warn(`qshape-real.test.ts skipped: ${skip}`);
  for (const by of ['recipient', 'sender'] as const)
    it(`${by} domains: the same counts per domain and bucket as qshape${by === 'sender' ? ' -s' : ''}`, async () => {
      // qshape's default is incoming + active; the check counts every queue: both are given all four.
      const queues = ['incoming', 'active', 'deferred', 'hold'].map((q) => path.join(dir, q));
      const q = parseQshape(runQshape(now, ['-w', '300', '-b', '10', '-t', '5', ...(by === 'sender' ? ['-s'] : []), ...queues]));
      expect(q.head).toEqual(['T', '5', '10', '20', '40', '80', '160', '320', '640', '1280', '1280+']);
      // The shape, not a verdict (no default thresholds).
      const r = await runSpec(depthCheck, ['--mta', 'postfix', '--spool', dir, '--no-cache', '--shape', by, '--shape-rows', '100', '--no-default-thresholds', '--format', 'json'], now);
      expect(r.code).toBe(0);
      const shape = JSON.parse(r.out).shape as { labels: string[]; rows: { domain: string; counts: number[] }[] };
      expect(['T', ...shape.labels]).toEqual(q.head);
      const ours: Rows = Object.fromEntries(shape.rows.map((x) => [x.domain, x.counts]));
      expect(ours).toEqual(q.rows);
      // The queue has mail in most buckets (a test on one bucket would prove little).
      expect(q.rows.TOTAL.slice(1).filter((n) => n > 0).length).toBeGreaterThanOrEqual(7);
    });
});
