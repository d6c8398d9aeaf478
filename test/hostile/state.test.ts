// Hostile state: every stateful check (growth, spool-disk, maillog-flood) against damaged, foreign,
// unsafe and contended state dirs. One row per case; each row runs against all three checks.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureCases } from '../helpers/fixtures.js';
import { asNobody, built, CHECKS, cleanup, crashes, isRoot, run, runBinary, tmp, type Answer } from './harness.js';

beforeAll(() => void built()); // hookTimeout (vitest.config.ts): a build on a loaded machine may take long
afterAll(cleanup);
const NOW = 1795432267;
const postfix = fixtureCases().find((c) => c.name === 'postfix')!;
const log = path.join(postfix.dir, 'log', 'postfix.log');

const STATEFUL: Record<string, string[]> = {
  'check-mailq-growth': ['--mta', 'postfix', '--spool', postfix.spools[0]],
  'check-spool-disk': ['--mta', 'postfix', '--spool', postfix.spools[0]],
  'check-maillog-flood': ['--log', log],
};

const stateFiles = (dir: string) => fs.readdirSync(dir).filter((n) => /\.json$/.test(n));

interface StateCase {
  name: string;
  root?: boolean;
  /** Make the state dir hostile; gets a dir where one good run already left its state. Returns the --state-dir to use. */
  setup: (dir: string) => string;
  /** Run as nobody. */
  nobody?: boolean;
  at?: number;
  expect: { ok: RegExp | true } | { unknown: RegExp };
}

export const STATE_CASES: StateCase[] = [
  { name: 'corrupt JSON', setup: (d) => (stateFiles(d).forEach((f) => fs.writeFileSync(path.join(d, f), '{"version":1,"samp')), d), expect: { ok: /not valid JSON: moved aside/ } },
  { name: 'empty state file', setup: (d) => (stateFiles(d).forEach((f) => fs.writeFileSync(path.join(d, f), '')), d), expect: { ok: /was empty: moved aside/ } },
  { name: 'NUL bytes in the state file', setup: (d) => (stateFiles(d).forEach((f) => fs.writeFileSync(path.join(d, f), Buffer.alloc(4096))), d), expect: { ok: /moved aside/ } },
  {
    name: 'state file from a future version',
    setup: (d) => (stateFiles(d).forEach((f) => fs.writeFileSync(path.join(d, f), JSON.stringify({ version: 99, samples: [] }))), d),
    expect: { ok: /written by a newer version \(format 99\)/ },
  },
  {
    name: 'samples of the wrong shape',
    setup: (d) => (stateFiles(d).forEach((f) => fs.writeFileSync(path.join(d, f), JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(d, f), 'utf8')), samples: [{ t: 'x' }, null] }))), d),
    expect: { ok: /malformed samples/ },
  },
  {
    name: 'state file replaced by a symlink to /etc/passwd (left untouched)',
    setup: (d) => (stateFiles(d).forEach((f) => (fs.rmSync(path.join(d, f)), fs.symlinkSync('/etc/passwd', path.join(d, f)))), d),
    expect: { ok: /moved aside/ },
  },
  { name: 'state file is a directory', setup: (d) => (stateFiles(d).forEach((f) => (fs.rmSync(path.join(d, f)), fs.mkdirSync(path.join(d, f)))), d), expect: { ok: /moved aside/ } },
  { name: 'clock moved back an hour', at: NOW - 3600, setup: (d) => d, expect: { ok: /clock moved back/ } },
  {
    name: 'stale lock left by a run killed with SIGKILL',
    setup: (d) => {
      for (const f of stateFiles(d)) fs.writeFileSync(path.join(d, f.replace(/\.json$/, '.lock')), JSON.stringify({ pid: 999999, host: 'mx1', started: 1, deadline: 2, token: 'x' }));
      return d;
    },
    expect: { ok: /took over a stale lock/ },
  },
  { name: 'state dir writable by all users (0777)', setup: (d) => (fs.chmodSync(d, 0o777), d), expect: { unknown: /refusing state dir .* is writable by all users/ } },
  { name: 'state dir writable by its group (0770)', setup: (d) => (fs.chmodSync(d, 0o770), d), expect: { unknown: /refusing state dir .* is writable by its group/ } },
  { name: 'state dir is /tmp-like (1777)', setup: (d) => (fs.chmodSync(d, 0o1777), d), expect: { unknown: /refusing state dir .* writable by all users/ } },
  { name: 'state dir owned by another user', root: true, setup: (d) => (fs.chownSync(d, 1, 1), d), expect: { unknown: /refusing state dir .* belongs to uid 1/ } },
  {
    name: "state dir reached through another user's symlink (the target gets nothing)",
    root: true,
    setup: (d) => {
      const target = tmp('hostile-target-');
      const link = path.join(tmp('hostile-link-'), 'state');
      fs.symlinkSync(target, link);
      fs.lchownSync(link, 1, 1);
      return link;
    },
    expect: { unknown: /refusing state dir .*symlink .* belongs to uid 1/ },
  },
  {
    name: 'state dir inside a directory anyone can write (not sticky)',
    setup: () => {
      const parent = tmp('hostile-parent-');
      fs.chmodSync(parent, 0o777);
      return path.join(parent, 'state');
    },
    expect: { unknown: /refusing state dir .* is writable by all users/ },
  },
  {
    name: 'state dir not writable by this user (root 0700, run as nobody)',
    root: true,
    nobody: true,
    setup: () => path.join(tmp('hostile-rootonly-'), 'state'),
    expect: { unknown: /cannot use state dir .*EACCES/ },
  },
  {
    name: 'state dir path is a regular file',
    setup: () => {
      const f = path.join(tmp('hostile-file-'), 'f');
      fs.writeFileSync(f, '');
      return f;
    },
    expect: { unknown: /cannot use state dir .*(EEXIST|ENOTDIR)/ },
  },
];

const rows = STATE_CASES.flatMap((c) => Object.keys(STATEFUL).map((check) => [`${c.name}: ${check}`, c, check] as const));

describe.each(rows)('%s', (_n, c, check) => {
  it.skipIf(c.root && !isRoot)('answers as the row says, never a crash', async () => {
    const good = tmp('hostile-state-');
    const first = await run(CHECKS[check], [...STATEFUL[check], '--state-dir', good], NOW - 600);
    expect(crashes(first), first.out).toEqual([]);
    const dir = c.setup(good);
    const argv = [...STATEFUL[check], '--state-dir', dir, '--format', 'json'];
    const go = () => run(CHECKS[check], argv, c.at ?? NOW);
    const a: Answer = c.nobody ? await asNobody(go) : await go();
    expect(crashes(a), a.out).toEqual([]);
    const text = `${a.json?.summary}\n${a.json?.details.join('\n')}`;
    if ('unknown' in c.expect) {
      expect(a.code, a.out).toBe(3);
      expect(a.json!.summary).toMatch(c.expect.unknown);
    } else {
      expect(a.code, a.out).toBeLessThan(3);
      if (c.expect.ok !== true) expect(text).toMatch(c.expect.ok);
    }
    expect(fs.readFileSync('/etc/passwd', 'utf8')).toMatch(/^root:/);
  });
});

describe('state files', () => {
  it.each(Object.keys(STATEFUL))('%s: 0600 files in a 0700 dir owned by this user', async (check) => {
    const dir = path.join(tmp('hostile-state-'), 'new', 'state');
    const a = await run(CHECKS[check], [...STATEFUL[check], '--state-dir', dir], NOW);
    expect(crashes(a), a.out).toEqual([]);
    for (const d of [dir, path.dirname(dir)]) expect(fs.statSync(d).mode & 0o777).toBe(0o700);
    for (const f of fs.readdirSync(dir)) {
      const st = fs.statSync(path.join(dir, f));
      expect(st.mode & 0o777, f).toBe(0o600);
      expect(st.uid).toBe(process.geteuid!());
    }
  });
});

describe('real processes', () => {
  it('six runs of the built growth check at once: each answers 0 or busy (3), none crashes, the state stays valid', async () => {
    const dir = tmp('hostile-state-');
    const argv = [...STATEFUL['check-mailq-growth'], '--state-dir', dir, '--format', 'json'];
    const answers = await Promise.all(Array.from({ length: 6 }, () => runBinary('check-mailq-growth', argv)));
    for (const a of answers) {
      expect(crashes(a), a.out).toEqual([]);
      if (a.code === 3) expect(a.json!.summary).toMatch(/previous run still in progress/);
      else expect(a.code).toBe(0);
    }
    expect(answers.some((a) => a.code === 0)).toBe(true);
    for (const f of stateFiles(dir)) expect(() => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))).not.toThrow();
  });

  it('killed with SIGKILL at random moments, 12 times: the next run answers and the state is whole', async () => {
    const dir = tmp('hostile-state-');
    const argv = [...STATEFUL['check-mailq-growth'], '--state-dir', dir, '--format', 'json'];
    for (let i = 0; i < 12; i++) await runBinary('check-mailq-growth', argv, { killAfter: 40 + ((i * 37) % 160) });
    const a = await runBinary('check-mailq-growth', argv);
    expect(crashes(a), a.out).toEqual([]);
    expect(a.code, a.out).toBe(0);
    for (const f of stateFiles(dir)) expect(() => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))).not.toThrow();
    expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it.skipIf(!isRoot)('state dir on a read-only filesystem: answers, says the sample was not saved', async () => {
    const mnt = tmp('hostile-ro-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mnt]);
    try {
      await run(CHECKS['check-mailq-growth'], [...STATEFUL['check-mailq-growth'], '--state-dir', mnt], NOW - 600);
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      for (const check of Object.keys(STATEFUL)) {
        const a = await run(CHECKS[check], [...STATEFUL[check], '--state-dir', mnt, '--format', 'json'], NOW);
        expect(crashes(a), a.out).toEqual([]);
        expect(a.code, a.out).toBeLessThan(3);
        expect(a.json!.details.join('\n')).toMatch(/state not saved this run: .*EROFS/);
      }
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
