// The environment a check is started in: locales, no HOME, a read-only spool, shell metacharacters
// in every path option. Built binaries, real processes.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureCases } from '../helpers/fixtures.js';
import { built, cleanup, crashes, isRoot, NOBODY, ROOT, runBinary, snapshot, tmp } from './harness.js';

beforeAll(() => void built()); // hookTimeout (vitest.config.ts): a build on a loaded machine may take long
afterAll(cleanup);
const postfix = fixtureCases().find((c) => c.name === 'postfix')!;
const log = path.join(postfix.dir, 'log', 'postfix.log');

describe('locales', () => {
  const LOCALES: NodeJS.ProcessEnv[] = [{}, { LANG: 'C' }, { LANG: 'de_DE.UTF-8' }, { LC_ALL: 'tr_TR.UTF-8' }, { LC_ALL: 'ar_EG.UTF-8', LC_NUMERIC: 'fr_FR' }, { LANG: 'ja_JP.eucJP', TZ: 'UTC' }];
  it.each(['check-mailq-depth', 'check-mailer-daemon'])('%s: the same answer, byte for byte, in every locale', async (name) => {
    const argv = ['--mta', 'postfix', '--spool', postfix.spools[0], '--min-messages', '0'].filter((a, i, all) => name === 'check-mailer-daemon' || (a !== '--min-messages' && all[i - 1] !== '--min-messages'));
    const outs = new Set<string>();
    for (const env of LOCALES) {
      // The test run's state dir (vitest.config.ts): the envelope cache must not come from /var/lib.
      const a = await runBinary(name, argv, { env: { PATH: process.env.PATH, TZ: 'UTC', MAILQ_CHECKS_STATE_DIR: process.env.MAILQ_CHECKS_STATE_DIR, ...env } });
      expect(crashes(a), a.out).toEqual([]);
      // Ages are measured from the real clock: compare without them.
      outs.add(a.out.replace(/\d+[dhms]( \d+[dhms])?|oldest_age=\d+s|\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T'));
    }
    expect(outs.size).toBe(1);
  });
});

describe('no HOME', () => {
  it.each(['check-mailq-depth', 'check-spool-disk', 'check-maillog-flood'])('%s: answers with an env of PATH alone', async (name) => {
    const state = tmp('hostile-nohome-');
    const argv =
      name === 'check-maillog-flood' ? ['--log', log, '--state-dir', state] : ['--mta', 'postfix', '--spool', postfix.spools[0], '--state-dir', state];
    // PATH alone: not even the test run's state dir (--state-dir keeps the envelope cache out of /var/lib).
    const a = await runBinary(name, argv, { env: { PATH: process.env.PATH, MAILQ_CHECKS_STATE_DIR: undefined } });
    expect(crashes(a), a.out).toEqual([]);
    expect(a.code).toBeLessThan(3);
  });

  it.skipIf(!isRoot)('a stateful check as nobody with no HOME and no writable default: UNKNOWN saying where it looked', async () => {
    // The default dir on purpose (nobody cannot write it, so nothing is written there).
    const a = await runBinary('check-mailq-growth', ['--mta', 'postfix', '--spool', postfix.spools[0]], { env: { PATH: process.env.PATH, MAILQ_CHECKS_STATE_DIR: undefined }, uid: NOBODY });
    expect(crashes(a), a.out).toEqual([]);
    expect(a.code).toBe(3);
    expect(a.out).toMatch(/no usable state dir: .*\/var\/lib\/mailq-checks/);
  });
});

describe.skipIf(!isRoot)('a read-only filesystem', () => {
  it('every queue check reads a spool on a read-only mount', async () => {
    const mnt = tmp('hostile-romount-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt]);
    try {
      fs.cpSync(postfix.spools[0], path.join(mnt, 'spool'), { recursive: true });
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      const spool = path.join(mnt, 'spool');
      const state = tmp('hostile-rostate-');
      for (const [name, extra] of [
        ['check-mailq-depth', []],
        ['check-mailer-daemon', ['--min-messages', '0']],
        ['check-mailq-growth', ['--state-dir', state]],
        ['check-spool-disk', ['--state-dir', state]],
      ] as const) {
        const a = await runBinary(name, ['--mta', 'postfix', '--spool', spool, ...extra]);
        expect(crashes(a), `${name}: ${a.out}`).toEqual([]);
        expect(a.code, `${name}: ${a.out}`).toBeLessThan(3);
      }
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('security', () => {
  it('no option reaches a shell: no shell: true, sh -c, exec() or execSync() in lib/ or checks/', () => {
    const files = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(d, e.name)) : [path.join(d, e.name)]));
    const bad: string[] = [];
    for (const f of [...files(path.join(ROOT, 'lib')), ...files(path.join(ROOT, 'checks'))].filter((x) => x.endsWith('.ts'))) {
      const text = fs.readFileSync(f, 'utf8');
      for (const re of [/shell:\s*true/, /['"]sh['"],\s*\[\s*['"]-c/, /\bsh -c\b/, /\bexecSync\(/, /(?<![.\w])exec\(/, /from 'node:child_process'/, /require\(['"]child_process/])
        if (re.test(text)) bad.push(`${path.relative(ROOT, f)}: ${re}`);
    }
    expect(bad).toEqual([]);
  });

  // 35 binary runs: generous for a loaded machine (each is a node start-up); nothing here is timed.
  it('shell metacharacters in every path option run nothing', { timeout: 120_000 }, async () => {
    const dir = tmp('hostile-shell-');
    const marker = path.join(dir, 'pwned');
    const evil = [`$(touch ${marker})`, `;touch ${marker}`, `\`touch ${marker}\``, `|touch ${marker}`, `' ; touch ${marker} ; '`];
    for (const e of evil) {
      for (const [name, argv] of [
        ['check-mailq-depth', ['--mta', 'postfix', '--spool', e]],
        ['check-mailq-depth', ['--mta', 'sendmail', '--source', 'command', '--spool', e]],
        ['check-mailq-depth', ['--mta', 'postfix', '--source', 'command', '--listing-file', e]],
        ['check-maillog-flood', ['--log', e, '--state-dir', path.join(dir, 's')]],
        ['check-maillog-flood', ['--journal', e, '--state-dir', path.join(dir, 's')]],
        ['check-spool-disk', ['--mta', 'postfix', '--spool', postfix.spools[0], '--path', e, '--state-dir', path.join(dir, 's')]],
        ['check-mailq-growth', ['--mta', 'postfix', '--spool', postfix.spools[0], '--state-dir', e]],
      ] as const) {
        const a = await runBinary(name, [...argv], { cwd: dir });
        expect(crashes(a), a.out).toEqual([]);
        expect(fs.existsSync(marker), `${name} ${argv.join(' ')}`).toBe(false);
      }
    }
  });

  it('checks never write inside a spool: every file, mode and time the same before and after', async () => {
    for (const c of fixtureCases()) {
      const copy = tmp('hostile-ro-');
      fs.cpSync(c.dir, copy, { recursive: true, preserveTimestamps: true });
      const spools = c.spools.map((s) => path.join(copy, path.relative(c.dir, s)));
      const before = snapshot(copy);
      const state = tmp('hostile-state-');
      for (const name of ['check-mailq-depth', 'check-mailer-daemon', 'check-mailq-growth', 'check-spool-disk']) {
        const argv = ['--mta', c.mta, ...spools.flatMap((s) => ['--spool', s])];
        if (name === 'check-mailq-growth' || name === 'check-spool-disk') argv.push('--state-dir', state);
        const a = await runBinary(name, argv);
        expect(crashes(a), `${c.name} ${name}: ${a.out}`).toEqual([]);
      }
      expect(snapshot(copy), c.name).toEqual(before);
    }
  });
});
