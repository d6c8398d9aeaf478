// Every way check-mailq-depth can fail ends as UNKNOWN (exit 3) with one line: what, and how to fix it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../bench/gen-spool.js';
import { findProgram } from '../../lib/plugin/exec.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { runSpec } from '../helpers/run.js';

const runDepth = (argv: string[], nowSec: number) => runSpec(depthCheck, argv, nowSec);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'depth-err-'));
const postfix = fixtureCases().find((c) => c.name === 'postfix')!;
const now = postfix.capturedAt;
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function oneLineUnknown(r: { out: string; code: number }, text: string | RegExp) {
  expect(r.code).toBe(3);
  const lines = r.out.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^MAILQ UNKNOWN - /);
  if (typeof text === 'string') expect(lines[0]).toContain(text);
  else expect(lines[0]).toMatch(text);
}

describe('check-mailq-depth exit 3', () => {
  it.each([
    [['--mta', 'postfix', '--spool', '/nonexistent/spool'], 'spool /nonexistent/spool not found: check the --spool path'],
    [['--mta', 'postfix', '--spool', '/etc/hostname'], 'is not a directory'],
    [['--mta', 'postfix', '--spool', '/etc'], /no postfix queue found in \/etc/],
    [['--mta', 'qmail'], 'qmail'],
    [['--mta', 'postfix', '--queue', 'nope'], "unknown queue 'nope' for postfix: use one of: incoming, active, deferred"],
    [['--mta', 'postfix', '--count-only', '--age-warning', '1h'], '--age-warning/--age-critical need message ages: drop --count-only'],
    [['--mta', 'postfix', '--age-critical', '5x'], "invalid --age-critical '5x'"],
    // One parser per option kind: a count is digits, as check-mailer-daemon always took it (Number('0x2') is 2).
    [['--mta', 'postfix', '--top', '0x2'], "invalid --top '0x2'"],
    [['--mta', 'postfix', '--top', '5', '--top', '6'], '--top given more than once (5, 6)'],
    [['--mta', 'postfix', '--top', '-1'], "invalid --top '-1'"],
    [['--mta', 'postfix', '--source', 'sideways'], 'sideways'],
    [['--mta', 'postfix', '-c', '~'], "invalid critical range '~'"],
    [['--mta', 'postfix', '--source', 'command', '--listing-file', '/nonexistent/listing'], 'cannot read listing file /nonexistent/listing'],
    [['--spool', '/etc/hostname'], 'cannot tell which MTA owns /etc/hostname: give --mta'],
  ])('%j', async (argv, text) => {
    oneLineUnknown(await runDepth(argv, now), text);
  });

  it('names a queue unknown to the MTA found by --mta auto', async () => {
    oneLineUnknown(await runDepth(['--spool', postfix.spools[0], '--queue', 'frozen'], now), "unknown queue 'frozen' for postfix");
  });

  it('looks for programs in PATH and the sbin directories, and reports a missing one', () => {
    expect(findProgram(['no-such-program-xyz'])).toBeUndefined();
    expect(findProgram(['no-such-program-xyz', 'sh'], '')).toBe('/usr/bin/sh');
  });

  describe('spool permissions (as an unprivileged user)', () => {
    const spool = path.join(tmp, 'locked');
    beforeAll(() => {
      fs.cpSync(postfix.spools[0], spool, { recursive: true });
      for (const q of fs.readdirSync(spool)) fs.chmodSync(path.join(spool, q), 0o700);
    });
    const asNobody = async <T>(fn: () => Promise<T>): Promise<T> => {
      process.setegid!(65534);
      process.seteuid!(65534);
      try {
        return await fn();
      } finally {
        process.seteuid!(0);
        process.setegid!(0);
      }
    };
    const root = process.geteuid?.() === 0;

    it.skipIf(!root)('--source spool: UNKNOWN with the remedy', async () => {
      const r = await asNobody(() => runDepth(['--mta', 'postfix', '--source', 'spool', '--spool', spool], now));
      // The temp dir above the spool (mkdtemp: 0700 root) is what refuses nobody here, and is named.
      oneLineUnknown(r, /cannot read the spool \(cannot read Postfix queue directory \S+: permission denied\): \/tmp\/depth-err-\w+ is root:root 0700, readable only by root: run the check through sudo as root/);
    });

    it.skipIf(!root)('--source auto: falls back to the listing command and says why', async () => {
      const r = await asNobody(() =>
        runDepth(['--mta', 'postfix', '--spool', spool, '--listing-file', postfix.listingFiles[0], '--format', 'json'], now),
      );
      const o = JSON.parse(r.out);
      expect(o.source).toBe('command');
      expect(o.details.at(-1)).toMatch(/^source: postfix command 'postqueue -j'; spool not readable \(.*permission denied\)$/);
      expect(o.metrics.find((m: { label: string }) => m.label === 'total').value).toBe(postfix.manifest.expected.total);
    });
  });

  describe('deadline', () => {
    let big = '';
    beforeAll(() => {
      big = path.join(tmp, 'big');
      generate({ mta: 'postfix', count: 40_000, out: big, seed: 3, now });
    });

    // A real deadline on a real 40,000-file spool: whatever this machine manages in 0.2 s, the answer
    // is the one what was read decides. No wall-clock assertion: the runner's own -t is the test.
    const runAt = async (argv: string[]) => {
      let out = '';
      let code = -1;
      const { runCheck } = await import('../../lib/plugin/check.js');
      await runCheck(depthCheck, {
        argv: ['--mta', 'postfix', '--spool', big, '--no-cache', '-t', '0.2', ...argv],
        env: {},
        now: () => Date.now(),
        hostname: 'mx1',
        stdout: (s) => (out += s),
        stderr: () => {},
        exit: (c) => (code = c),
      });
      return { out, code };
    };

    it('cut by the deadline below -c: OK only from exact counts, else UNKNOWN; never a partial number graphed', async () => {
      // The count alone decides here: no age defaults (--no-default-thresholds).
      const r = await runAt(['-c', '1000000', '--no-default-thresholds']);
      const line = r.out.split('\n')[0];
      if (/^MAILQ OK/.test(line)) {
        // The listing finished (exact counts); only envelopes were cut: the count decides.
        expect(line).toMatch(/^MAILQ OK - 40,000 messages queued .*scan incomplete: read [\d,]+ of [\d,]+ envelopes/);
        expect(line).toContain('total=40000;;1000000;0');
        expect(line).not.toMatch(/bytes=|bounces=|oldest_age=/);
      } else {
        expect(r.code).toBe(3);
        expect(line).toMatch(/^MAILQ UNKNOWN - (at least [\d,]+ messages queued.*scan incomplete: listed [\d,]+ queue files before the 0.2 s deadline|timed out after 0.2 s)/);
        expect(line).toMatch(/\|\s*$/);
      }
      // With an age threshold the unknown oldest decides nothing either way: UNKNOWN.
      const aged = await runAt(['-c', '1000000', '--age-critical', '1000d', '--no-default-thresholds']);
      if (/scan incomplete/.test(aged.out)) expect(aged.code).toBe(3);
    });

    it('cut by the deadline past -c 1: CRITICAL from what was read, "at least" when the listing was cut', async () => {
      const r = await runAt(['-c', '1']);
      // Only a deadline that fires before a single file is listed leaves nothing: that is UNKNOWN.
      if (r.code === 3) expect(r.out).toMatch(/^MAILQ UNKNOWN - (timed out after 0.2 s|at least 0 messages)/);
      else {
        expect(r.code).toBe(2);
        expect(r.out).toMatch(/^MAILQ CRITICAL - (at least )?[\d,]+ messages queued/);
        if (/scan incomplete/.test(r.out)) expect(r.out).toMatch(/scan incomplete: (listed|read) [\d,]+/);
        else expect(r.out).toMatch(/^MAILQ CRITICAL - 40,000 messages queued/);
      }
    });
  });
});
