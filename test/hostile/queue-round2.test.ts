// Issue 13, queue side: hostile rows on the real captured spools (test/fixtures/mta), one row per
// behaviour. Every row runs a check in-process with a fixed clock; the expected values come from the
// captures themselves (queue files, manifests), never from the code under test.
//   walk:    directories and symlinks the MTA does not scan are not counted, and are said
//   queue:   with --queue, the names on line one come from the selected queues
//   client:  Exim's -host_address without the port, in every form
//   age:     command-mode ages from the queue ID's second, or said to the minute
//   count:   --count-only refuses what it cannot count (Exim frozen)
//   state:   growth checks with different --window / --queue keep their own history

// The Sendmail listing prints local time; the captures were made in UTC.
process.env.TZ = 'UTC';

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEximHeaderFile } from '../../lib/mta/exim-spool.js';
import { stateBaseName, stateKey } from '../../lib/plugin/state.js';
import { FIXTURE_ROOT } from '../helpers/fixtures.js';
import { CHECKS, cleanup, crashes, isRoot, metric, run, tmp, type Answer } from './harness.js';

afterAll(cleanup);

const T = { postfix: 1795432267, exim: 1795432299, sendmail: 1795432325 };

/** A copy of a captured spool (cp -a keeps the modes; git keeps only owner-x, which is what matters). */
function copySpool(name: string): string {
  const to = tmp(`r2-${name}-`);
  fs.cpSync(path.join(FIXTURE_ROOT, name, 'spool'), to, { recursive: true, preserveTimestamps: true });
  return to;
}

const depth = (argv: string[], now: number) => run(CHECKS['check-mailq-depth'], [...argv, '--no-cache', '-t', '60', '--format', 'json'], now);

function ok(a: Answer): Answer {
  expect(crashes(a), a.out).toEqual([]);
  return a;
}

const details = (a: Answer) => a.json!.details.join('\n');

/** Files of a directory, by name. */
const ls = (d: string) => fs.readdirSync(d).sort();

// ---------------------------------------------------------------------------------------------
// walk: only what the MTA scans is counted; what is left out is said

describe('walk: what the MTA never scans is not counted, and is said', () => {
  it('postfix deferred/saved/ (an admin copy of 2 queue files): 30 counted, "deferred/saved/: 2 queue files not counted"', async () => {
    const spool = copySpool('postfix');
    const hash = path.join(spool, 'deferred', ls(path.join(spool, 'deferred'))[0]);
    fs.mkdirSync(path.join(spool, 'deferred', 'saved'));
    for (const f of ls(hash).slice(0, 2)) fs.copyFileSync(path.join(hash, f), path.join(spool, 'deferred', 'saved', f));
    const copied = ls(path.join(spool, 'deferred', 'saved')).length;
    expect(copied).toBe(2);
    const a = ok(await depth(['--mta', 'postfix', '--spool', spool], T.postfix));
    expect(metric(a, 'total')).toBe(30);
    expect(metric(a, 'deferred')).toBe(23);
    expect(details(a)).toContain('deferred/saved/: 2 queue files not counted (not a queue directory Postfix scans)');
  });

  it('postfix: a queue file in the wrong hash directory (Postfix looks for it by its ID) is not counted, and said', async () => {
    const spool = copySpool('postfix');
    const d = path.join(spool, 'deferred');
    const [first] = ls(d).filter((x) => x.length === 1);
    const [id] = ls(path.join(d, first));
    const wrong = '0123456789ABCDEF'.split('').find((c) => c !== id[0])!;
    fs.mkdirSync(path.join(d, wrong), { recursive: true });
    fs.copyFileSync(path.join(d, first, id), path.join(d, wrong, id));
    const a = ok(await depth(['--mta', 'postfix', '--spool', spool], T.postfix));
    expect(metric(a, 'total')).toBe(30);
    expect(details(a)).toContain(`deferred/${wrong}/: 1 queue file not counted (not in the hash directory of their ID`);
  });

  it('postfix: a hash directory that is a symlink (qmgr follows it) is not followed, and line one says so', async () => {
    const spool = copySpool('postfix');
    const outside = tmp('r2-outside-');
    const d = path.join(spool, 'deferred');
    const [first] = ls(d).filter((x) => x.length === 1);
    const inIt = ls(path.join(d, first)).length;
    fs.renameSync(path.join(d, first), path.join(outside, first));
    fs.symlinkSync(path.join(outside, first), path.join(d, first));
    for (const name of ['check-mailq-depth', 'check-mailer-daemon', 'check-mailq-growth']) {
      const extra = name === 'check-mailer-daemon' ? ['--exact', '--min-messages', '0'] : name === 'check-mailq-growth' ? ['--state-dir', tmp('r2-state-')] : [];
      const cache = name === 'check-mailq-growth' ? [] : ['--no-cache'];
      const a = ok(await run(CHECKS[name], ['--mta', 'postfix', '--spool', spool, ...cache, '-t', '60', '--format', 'json', ...extra], T.postfix));
      expect(a.json!.summary, name).toContain(`symlink deferred/${first} not followed: the messages there are not counted`);
      expect(details(a), name).toContain(`deferred/${first} -> ${path.join(outside, first)}: symlink not followed (Postfix follows it`);
    }
    const a = ok(await depth(['--mta', 'postfix', '--spool', spool], T.postfix));
    expect(metric(a, 'total')).toBe(30 - inIt);
  });

  it('sendmail mqueue/queue.old/ (a moved-aside copy; no q* queue group): not counted, and said', async () => {
    const root = copySpool('sendmail');
    const mq = path.join(root, 'mqueue');
    const old = path.join(mq, 'queue.old');
    fs.mkdirSync(old);
    const qfs = ls(mq).filter((f) => f.startsWith('qf')).slice(0, 3);
    for (const f of qfs) {
      fs.copyFileSync(path.join(mq, f), path.join(old, f));
      fs.copyFileSync(path.join(mq, `d${f.slice(1)}`), path.join(old, `d${f.slice(1)}`));
    }
    const a = ok(await depth(['--mta', 'sendmail', '--spool', mq, '--spool', path.join(root, 'mqueue-client')], T.sendmail));
    expect(metric(a, 'total')).toBe(30);
    expect(details(a)).toContain('queue.old/: 3 queue files not counted (not a queue directory Sendmail scans)');
  });

  it('sendmail: any other directory holding control files (mqueue/backup/) is said', async () => {
    const root = copySpool('sendmail');
    const mq = path.join(root, 'mqueue');
    fs.mkdirSync(path.join(mq, 'backup'));
    const [qf] = ls(mq).filter((f) => f.startsWith('qf'));
    fs.copyFileSync(path.join(mq, qf), path.join(mq, 'backup', qf));
    const a = ok(await depth(['--mta', 'sendmail', '--spool', mq], T.sendmail));
    expect(metric(a, 'total')).toBe(26);
    expect(details(a)).toContain('backup/: 1 queue file not counted (not a queue directory Sendmail scans)');
  });

  it.skipIf(!isRoot)("sendmail queue group: a q* symlink made by another user (sendmail follows it) is not followed, and line one says so", async () => {
    const root = copySpool('sendmail');
    const group = path.join(root, 'groups');
    fs.mkdirSync(group);
    fs.renameSync(path.join(root, 'mqueue'), path.join(group, 'q1'));
    const elsewhere = tmp('r2-q2-');
    fs.symlinkSync(elsewhere, path.join(group, 'q2'));
    fs.lchownSync(path.join(group, 'q2'), 65534, 65534);
    const a = ok(await depth(['--mta', 'sendmail', '--spool', group], T.sendmail));
    expect(metric(a, 'total')).toBe(26);
    expect(a.json!.summary).toContain('symlink q2 not followed: the messages there are not counted');
  });

  it('exim input/old/ (not a split directory): not counted, and said', async () => {
    const spool = copySpool('exim');
    const input = path.join(spool, 'input');
    fs.mkdirSync(path.join(input, 'old'));
    for (const f of ls(input).filter((x) => x.endsWith('-H')).slice(0, 4)) fs.copyFileSync(path.join(input, f), path.join(input, 'old', f));
    const a = ok(await depth(['--mta', 'exim', '--spool', spool], T.exim));
    expect(metric(a, 'total')).toBe(30);
    expect(details(a)).toContain('input/old/: 4 queue files not counted (not a queue directory Exim scans)');
  });

  it('exim-split: a split directory that is a symlink (Exim follows it) is not followed, and line one says so', async () => {
    const spool = copySpool('exim-split');
    const input = path.join(spool, 'input');
    const [split] = ls(input).filter((x) => x.length === 1);
    const inIt = ls(path.join(input, split)).filter((x) => x.endsWith('-H')).length;
    const outside = tmp('r2-split-');
    fs.renameSync(path.join(input, split), path.join(outside, split));
    fs.symlinkSync(path.join(outside, split), path.join(input, split));
    const a = ok(await depth(['--mta', 'exim', '--spool', spool], T.exim));
    expect(metric(a, 'total')).toBe(10 - inIt);
    expect(a.json!.summary).toContain(`symlink input/${split} not followed: the messages there are not counted`);
  });
});

// ---------------------------------------------------------------------------------------------
// queue: --queue hold names only hold's culprits

describe('queue: with --queue every name on line one comes from the selected queues', () => {
  // The capture's hold queue (manifest "submitted", queueHint hold): <> once, promo@bulk.example twice.
  // The whole queue's top sender is app@qa.example (10 messages, none in hold).
  const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURE_ROOT, 'postfix', 'manifest.json'), 'utf8'));
  const held = manifest.submitted.filter((s: { queueHint: string }) => s.queueHint === 'hold');
  const heldRecipients = new Set(held.flatMap((s: { to: string[] }) => s.to));
  const cases: [string, string[]][] = [
    ['spool', ['--source', 'spool', '--spool', '<spool>']],
    ['command (postqueue -j)', ['--source', 'command', '--listing-file', path.join(FIXTURE_ROOT, 'postfix', 'listing', 'postqueue-j.txt')]],
  ];
  it.each(cases)('postfix --queue hold, %s: top sender promo@bulk.example (67%%), a top recipient that is in hold', async (_n, src) => {
    expect(held.length).toBe(3);
    const spool = copySpool('postfix');
    const a = ok(await depth(['--mta', 'postfix', ...src.map((x) => (x === '<spool>' ? spool : x)), '--queue', 'hold'], T.postfix));
    const line = a.json!.summary;
    expect(line).toMatch(/^3 in hold of 30 queued/);
    expect(line).toContain('top sender promo@bulk.example (67%)');
    const rcpt = /top recipient (\S+) /.exec(line)?.[1];
    expect(heldRecipients.has(rcpt!), line).toBe(true);
    expect(line).not.toContain('app@qa.example');
    expect(details(a)).toContain('top senders in hold:');
  });
});

// ---------------------------------------------------------------------------------------------
// client: -host_address without the port

describe("client: Exim's -host_address without the port", () => {
  const input = path.join(FIXTURE_ROOT, 'exim', 'spool', 'input');
  const [hfile] = ls(input).filter((x) => x.endsWith('-H'));
  const withHost = (value: string) => {
    const lines = fs.readFileSync(path.join(input, hfile), 'latin1').split('\n');
    lines.splice(4, 0, `-host_address ${value}`);
    return Buffer.from(lines.join('\n'), 'latin1');
  };
  const rows: [string, string][] = [
    ['[127.0.0.1]:50284', '127.0.0.1'],
    ['127.0.0.1.50284', '127.0.0.1'],
    ['[::1]:50284', '::1'],
    ['::1.50284', '::1'],
    ['[2001:db8::7]:25', '2001:db8::7'],
    ['2001:db8::7.25', '2001:db8::7'],
    ['::ffff:192.0.2.7.41242', '::ffff:192.0.2.7'],
    ['::ffff:192.0.2.7', '::ffff:192.0.2.7'],
    ['192.0.2.7:41242', '192.0.2.7'],
    ['127.0.0.1', '127.0.0.1'],
  ];
  it.each(rows)('-host_address %s -> %s', (value, client) => {
    expect(parseEximHeaderFile(withHost(value)).client).toBe(client);
  });

  it('30 messages from 127.0.0.1 on 30 source ports are one top client "127.0.0.1 30 (100%)"', async () => {
    const spool = copySpool('exim');
    const dir = path.join(spool, 'input');
    ls(dir)
      .filter((x) => x.endsWith('-H'))
      .forEach((f, i) => {
        const lines = fs.readFileSync(path.join(dir, f), 'latin1').split('\n');
        lines.splice(4, 0, `-host_address [127.0.0.1]:${42000 + i}`);
        fs.writeFileSync(path.join(dir, f), lines.join('\n'), 'latin1');
      });
    const a = ok(await depth(['--mta', 'exim', '--spool', spool], T.exim));
    expect(details(a)).toContain('top clients:\n  127.0.0.1 30 (100%)');
  });
});

// ---------------------------------------------------------------------------------------------
// age: command-mode ages are the ID's second, or said to the minute

/** Earliest arrival recorded in the captured queue files: -H line 4 (Exim), qf T line (Sendmail). */
function oldestInFiles(mta: 'exim' | 'sendmail'): number {
  const times: number[] = [];
  const dirs = mta === 'exim' ? [path.join(FIXTURE_ROOT, 'exim', 'spool', 'input')] : ['mqueue', 'mqueue-client'].map((d) => path.join(FIXTURE_ROOT, 'sendmail', 'spool', d));
  for (const d of dirs)
    for (const f of ls(d)) {
      const text = fs.readFileSync(path.join(d, f), 'latin1');
      if (mta === 'exim' && f.endsWith('-H')) times.push(Number(text.split('\n')[3].split(' ')[0]));
      if (mta === 'sendmail' && f.startsWith('qf')) times.push(Number(/^T(\d+)$/m.exec(text)![1]));
    }
  return Math.min(...times);
}

describe('age: command-mode ages carry no false seconds', () => {
  const listing = (c: string, f: string) => path.join(FIXTURE_ROOT, c, 'listing', f);
  // exim -bp gives ages (the recording says 0m: the clock stays near the capture); mailq gives times.
  const rows: [string, 'exim' | 'sendmail', string[], number][] = [
    ['exim -bp', 'exim', ['--listing-file', listing('exim', 'exim-bp.txt')], 26],
    ['mailq', 'sendmail', ['--listing-file', listing('sendmail', 'mailq.txt'), '--listing-file', `quarantine=${listing('sendmail', 'mailq-qQ.txt')}`], 40 * 60 + 26],
  ];
  it.each(rows)('%s: the oldest age is the queue file arrival to the second (from the queue ID)', async (_n, mta, files, later) => {
    // 26 s into a minute: a whole-minute column would be up to a minute off.
    const now = T[mta] + later;
    const a = ok(await depth(['--mta', mta, '--source', 'command', ...files], now));
    expect(metric(a, 'oldest_age')).toBe(now - oldestInFiles(mta));
  });

  it('mailq with IDs that carry no time (pre-8.10 style): "oldest ~40m (to the minute)", an age in whole minutes', async () => {
    const dir = tmp('r2-mailq-');
    const text = fs.readFileSync(listing('sendmail', 'mailq.txt'), 'latin1');
    let n = 0;
    // "6ANBC5Fa012141" -> "AA00001" style: the same listing, IDs without a date.
    const renamed = text.replace(/^([0-9A-Za-z]{14})([* ?X-])/gm, () => `AA${String(++n).padStart(12, '0')} `);
    expect(n).toBe(28);
    fs.writeFileSync(path.join(dir, 'mailq.txt'), renamed, 'latin1');
    const now = T.sendmail + 40 * 60 + 26;
    const a = ok(await depth(['--mta', 'sendmail', '--source', 'command', '--listing-file', path.join(dir, 'mailq.txt')], now));
    expect(a.json!.summary).toMatch(/, oldest ~\d+m \(to the minute\)/);
    expect(a.json!.summary).not.toMatch(/oldest [^;]*\d+s/);
    expect(metric(a, 'oldest_age')! % 60).toBe(0);
    expect(details(a)).toMatch(/arrived ~\d{4}-\d\d-\d\dT\d\d:\d\dZ\)/);
  });
});

// ---------------------------------------------------------------------------------------------
// count: --count-only refuses what a directory count cannot tell

describe('count: --count-only cannot see Exim frozen messages', () => {
  it.each([['frozen'], ['input']])('exim --count-only --queue %s: UNKNOWN with the fix, never OK', async (q) => {
    const spool = copySpool('exim');
    const a = ok(await run(CHECKS['check-mailq-depth'], ['--mta', 'exim', '--spool', spool, '--count-only', '--queue', q, '-w', '1', '-t', '60'], T.exim));
    expect(a.code).toBe(3);
    expect(a.out).toMatch(/^MAILQ UNKNOWN - --count-only cannot count exim's (frozen|input) queue: .*drop --count-only/);
  });

  it('exim --count-only without --queue: "input+frozen 30", no frozen=0 metric', async () => {
    const spool = copySpool('exim');
    const a = ok(await depth(['--mta', 'exim', '--spool', spool, '--count-only'], T.exim));
    expect(a.json!.summary).toMatch(/^30 messages queued \(input\+frozen 30\)/);
    expect(metric(a, 'frozen')).toBeUndefined();
    expect(metric(a, 'input')).toBeUndefined();
    expect(metric(a, 'total')).toBe(30);
  });

  it('the frozen figure the -H files give is 2 (as the capture says), not 0', async () => {
    const spool = copySpool('exim');
    const a = ok(await depth(['--mta', 'exim', '--spool', spool, '--queue', 'frozen'], T.exim));
    expect(metric(a, 'frozen')).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------
// state: each --window and --queue keeps its own history

describe('state: growth checks with different --window or --queue keep their own samples', () => {
  const growth = (spool: string, state: string, extra: string[], now: number) =>
    run(CHECKS['check-mailq-growth'], ['--mta', 'postfix', '--spool', spool, '--state-dir', state, '-t', '60', '--format', 'json', ...extra], now);

  it('a 15m and a 2h check of one queue, run alternately every 10 min for an hour: the 2h check keeps all 7 samples', async () => {
    const spool = copySpool('postfix');
    const state = tmp('r2-growth-');
    let long: Answer | undefined;
    let short: Answer | undefined;
    for (let i = 0; i < 7; i++) {
      short = ok(await growth(spool, state, ['--window', '15m'], T.postfix + i * 600));
      long = ok(await growth(spool, state, ['--window', '2h'], T.postfix + i * 600 + 5));
    }
    expect(metric(long!, 'samples')).toBe(7);
    // Issue 15: the judged window always holds six runs, and samples are kept for an hour at least, so
    // with 10-minute runs the 15m check judges its last hour: 6 samples (it was 2, the 15m window).
    expect(metric(short!, 'samples')).toBe(6);
  });

  it('--queue deferred and the whole queue, same window: two state files, each with its own samples', async () => {
    const spool = copySpool('postfix');
    const state = tmp('r2-growth-');
    for (let i = 0; i < 3; i++) {
      ok(await growth(spool, state, [], T.postfix + i * 120));
      ok(await growth(spool, state, ['--queue', 'deferred'], T.postfix + i * 120 + 1));
    }
    const files = ls(state).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(2);
    expect(files.some((f) => f.includes('-deferred-15m-'))).toBe(true);
    const a = ok(await growth(spool, state, ['--queue', 'deferred'], T.postfix + 361));
    expect(metric(a, 'samples')).toBe(4);
  });

  it("an upgrade: the old shared state file's samples still in the window carry over (and are said)", async () => {
    const spool = copySpool('postfix');
    const state = tmp('r2-growth-');
    // The file as the version before this one wrote it: keyed by MTA and spools alone.
    const what = { mta: 'postfix', spools: [path.resolve(spool)] };
    const key = stateKey('mailq_growth', what);
    const file = path.join(state, `${stateBaseName('mailq_growth', ['postfix', path.resolve(spool)], key)}.json`);
    const samples = [-3000, -600, -300].map((d) => ({ t: T.postfix + d, total: 30, queues: { deferred: 23, hold: 3, maildrop: 4 } }));
    fs.writeFileSync(file, JSON.stringify({ version: 1, check: 'mailq_growth', key, what, created: T.postfix - 3000, updated: T.postfix - 300, samples }), { mode: 0o600 });
    const a = ok(await growth(spool, state, ['--window', '15m'], T.postfix));
    // All three are in the hour a growth check keeps (issue 15: at least 1h, so the judged window can
    // hold six runs); -600 and -300 and this run's sample are in the judged window (six 5m intervals).
    expect(metric(a, 'samples')).toBe(3);
    expect(details(a)).toContain(`started from 3 sample(s) of ${path.basename(file)}`);
  });
});
