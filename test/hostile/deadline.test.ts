// 1,000,000 files in one queue directory, built binaries, -t 2: every check answers (UNKNOWN naming
// the cut when its deadline stopped the read) and leaves no process behind. Nothing is timed: a run
// that does not end is killed by a 60 s guard and fails as a hang; speed is `npm run bench`'s business.
// The spool is made once per run on a tmpfs (about 8 s as root); without root it needs HOSTILE_1M=1
// and is made on disk (about 40 s), else these cases are skipped.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { built, cleanup, crashes, isRoot, runBinary, tmp } from './harness.js';

const FILES = 1_000_000;
const enabled = isRoot || process.env.HOSTILE_1M === '1';
let root = '';
let mounted = false;

beforeAll(() => {
  if (!enabled) return;
  built();
  root = tmp('hostile-1m-');
  if (isRoot) {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=256m,nr_inodes=${FILES + 100_000},mode=0700`, 'tmpfs', root]);
    mounted = true;
  }
  for (const q of ['incoming', 'active', 'deferred', 'hold', 'maildrop', 'corrupt']) fs.mkdirSync(path.join(root, q));
  // Names that are both Postfix queue IDs and Sendmail qf files: one directory serves both drivers.
  const dir = path.join(root, 'deferred');
  for (let i = 0; i < FILES; i++) fs.closeSync(fs.openSync(`${dir}/qfAB${String(i).padStart(8, '0')}`, 'w', 0o700));
}, 300_000);

afterAll(() => {
  if (mounted) execFileSync('umount', [root]);
  cleanup();
});

/** Processes carrying this run's marker in their environment, still running after up to 10 s (a
 *  descendant SIGKILLed as the check exits may take a moment to die on a loaded machine). */
async function leftRunning(mark: string): Promise<number[]> {
  let left = marked(mark);
  for (let i = 0; i < 500 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 20));
    left = marked(mark);
  }
  return left;
}

/** Processes carrying this run's marker in their environment (any descendant of the check). */
function marked(mark: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/environ`, 'latin1').includes(mark)) {
        const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
        if (!stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) out.push(Number(p));
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

const CASES: [string, string, (state: string) => string[]][] = [
  ['check-mailq-depth', 'postfix, reading every file', () => ['--mta', 'postfix', '--spool', root, '--source', 'spool']],
  ['check-mailq-depth', 'postfix --count-only', () => ['--mta', 'postfix', '--spool', root, '--count-only']],
  ['check-mailq-depth', 'sendmail, reading every qf', () => ['--mta', 'sendmail', '--spool', path.join(root, 'deferred'), '--source', 'spool']],
  ['check-mailer-daemon', 'postfix --exact', () => ['--mta', 'postfix', '--spool', root, '--source', 'spool', '--exact']],
  ['check-mailer-daemon', 'postfix, sampled', () => ['--mta', 'postfix', '--spool', root, '--source', 'spool']],
  ['check-mailq-growth', 'postfix', (s) => ['--mta', 'postfix', '--spool', root, '--state-dir', s]],
  ['check-spool-disk', 'postfix, walking for the spool size', (s) => ['--mta', 'postfix', '--spool', root, '--state-dir', s]],
];

describe.skipIf(!enabled)(`${FILES.toLocaleString('en-US')} files in one directory, -t 2`, () => {
  // -t 2 is the runner's own contract; the test asserts that the check ended (no hang) and left
  // nothing running, with room for a loaded machine: the time it takes is the benchmark's business.
  it.each(CASES)('%s (%s): answers at its deadline, nothing left running', async (name, _what, args) => {
    const mark = `HOSTILE_MARK=${crypto.randomBytes(8).toString('hex')}`;
    const state = tmp('hostile-1m-state-');
    const a = await runBinary(name, [...args(state), '-t', '2', '--format', 'json'], { env: { PATH: process.env.PATH, HOSTILE_MARK: mark.split('=')[1] }, killAfter: 60_000 });
    // Killed by the guard: code -1, reported as a crash.
    expect(crashes(a), a.out).toEqual([]);
    if (a.code === 3) expect(a.json!.summary).toMatch(/incomplete|deadline|timed out/);
    expect(await leftRunning(mark)).toEqual([]);
  }, 120_000);
});
