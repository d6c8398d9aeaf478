// A check run with more privilege than its caller (root, or through sudo as postfix: README's sudoers
// lines) must not let the caller choose what it runs or what it reads. One row per way in:
// - a program planted early in PATH (postconf for the spool location, the listing commands, journalctl),
//   and relative PATH entries. Built binaries as root must not run it; as nobody (setpriv) the PATH
//   program may be used, relative entries never are;
// - --listing-file, a test option that parses any file as a listing: refused when privileged;
// - error lines that quoted what they could not parse: described (size, text or binary), never quoted,
//   except the MTA's own "program: fatal: ..." line.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findProgram, runCommand } from '../../lib/plugin/exec.js';
import { setPrivilegeProbe, SYSTEM_PATH, trustedExecutable } from '../../lib/plugin/privilege.js';
import { listingFilesOption } from '../../lib/queue/source.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { built, cleanup, crashes, fakeBin, isRoot, NOBODY, runBinary, tmp, type Answer } from './harness.js';

beforeAll(() => void built()); // hookTimeout (vitest.config.ts): a build on a loaded machine may take long
afterAll(cleanup);
const postfix = fixtureCases().find((c) => c.name === 'postfix')!;

/** A temp dir anyone may enter and write (for runs as nobody). */
function openDir(prefix: string): string {
  const d = tmp(prefix);
  fs.chmodSync(d, 0o777);
  return d;
}

/** Fake programs that leave a marker when run (and print what makes the check carry on). */
function plant(dir: string, names: string[], marker: string): void {
  for (const n of names) {
    const out = n === 'postconf' ? 'echo /nonexistent/planted-queue' : n === 'journalctl' ? "echo '-- cursor: s=1'" : 'exit 0';
    fakeBin(dir, n, `echo ${n} >> ${marker}\n${out}`);
  }
  fs.chmodSync(dir, 0o755);
}

interface PathCase {
  name: string;
  check: string;
  /** Arguments; STATE is replaced by a state dir. */
  argv: string[];
  /** Programs planted in a directory put first on PATH. */
  programs: string[];
}

export const PATH_CASES: PathCase[] = [
  { name: 'postconf (where the Postfix spool is), README sudoers line without --spool', check: 'check-mailq-depth', argv: ['--mta', 'postfix', '-t', '20', '-w', '1000', '-c', '5000'], programs: ['postconf'] },
  { name: 'postconf from check-spool-disk', check: 'check-spool-disk', argv: ['--mta', 'postfix', '--state-dir', 'STATE'], programs: ['postconf'] },
  { name: 'postqueue (the listing)', check: 'check-mailq-depth', argv: ['--mta', 'postfix', '--source', 'command'], programs: ['postqueue'] },
  { name: 'postqueue from check-mailer-daemon', check: 'check-mailer-daemon', argv: ['--mta', 'postfix', '--source', 'command', '--min-messages', '0'], programs: ['postqueue'] },
  { name: 'postqueue from check-mailq-growth', check: 'check-mailq-growth', argv: ['--mta', 'postfix', '--source', 'command', '--state-dir', 'STATE'], programs: ['postqueue'] },
  { name: 'mailq (Sendmail listing)', check: 'check-mailq-depth', argv: ['--mta', 'sendmail', '--source', 'command'], programs: ['mailq'] },
  { name: 'exim / exim4 (Exim listing)', check: 'check-mailq-depth', argv: ['--mta', 'exim', '--source', 'command'], programs: ['exim', 'exim4'] },
  { name: 'journalctl (--journal)', check: 'check-maillog-flood', argv: ['--journal', 'postfix', '--state-dir', 'STATE'], programs: ['journalctl'] },
];

async function pathRun(c: PathCase, o: { uid?: number; env?: NodeJS.ProcessEnv }): Promise<{ a: Answer; ran: string }> {
  const bin = tmp('hostile-planted-');
  const out = openDir('hostile-marker-');
  const marker = path.join(out, 'ran');
  plant(bin, c.programs, marker);
  // State dirs must be writable by the run's user alone (the checks refuse others).
  const state = tmp('hostile-secstate-');
  if (o.uid !== undefined) fs.chownSync(state, o.uid, o.uid);
  const argv = c.argv.map((x) => (x === 'STATE' ? state : x));
  const a = await runBinary(c.check, argv, { uid: o.uid, env: { PATH: `${bin}:${process.env.PATH}`, MAILQ_CHECKS_STATE_DIR: state, ...o.env } });
  return { a, ran: fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '' };
}

describe.each(PATH_CASES.map((c) => [c.name, c] as const))('a planted %s', (_n, c) => {
  it.skipIf(!isRoot)('as root: never run (programs only from the system directories)', async () => {
    const { a, ran } = await pathRun(c, {});
    expect(crashes(a), a.out).toEqual([]);
    expect(ran, a.out).toBe('');
  });
  it.skipIf(!isRoot)('as nobody under sudo (SUDO_UID/SUDO_USER set): never run', async () => {
    const { a, ran } = await pathRun(c, { uid: NOBODY, env: { SUDO_UID: '1000', SUDO_USER: 'sensu' } });
    expect(crashes(a), a.out).toEqual([]);
    expect(ran, a.out).toBe('');
  });
  it.skipIf(!isRoot)('as nobody: the PATH program is used (unprivileged behaviour unchanged)', async () => {
    const { a, ran } = await pathRun(c, { uid: NOBODY });
    expect(crashes(a), a.out).toEqual([]);
    expect(ran.trim().split('\n')[0], a.out).toBe(c.programs[0]);
  });
});

describe('relative PATH entries ("", ".", "bin") are never searched', () => {
  it.each([
    ['as root', undefined],
    ['as nobody', NOBODY],
  ] as const)('%s', async (_n, uid) => {
    if (!isRoot) return;
    const cwd = openDir('hostile-cwd-');
    const marker = path.join(openDir('hostile-marker-'), 'ran');
    plant(cwd, ['postqueue'], marker);
    plant(path.join(cwd, 'bin'), ['postqueue'], marker);
    for (const PATH of [`.:${process.env.PATH}`, `bin:${process.env.PATH}`, `:${process.env.PATH}`, `${process.env.PATH}::`]) {
      const a = await runBinary('check-mailq-depth', ['--mta', 'postfix', '--source', 'command'], { uid, cwd, env: { PATH } });
      expect(crashes(a), a.out).toEqual([]);
      expect(fs.existsSync(marker), `PATH=${PATH}: ${a.out}`).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// --listing-file and what error lines quote

const SECRET = 'root:$6$SECRETSALT$SECRETHASHSECRETHASH:19000:0:99999:7:::';

function secretFile(content: string | Buffer): string {
  const d = openDir('hostile-secret-');
  const f = path.join(d, 'shadow-copy');
  fs.writeFileSync(f, content, { mode: 0o644 });
  return f;
}

interface ListingFileCase {
  name: string;
  check: string;
  argv: (file: string) => string[];
}

const LISTING_FILE_CASES: ListingFileCase[] = [
  { name: 'depth, --source command', check: 'check-mailq-depth', argv: (f) => ['--mta', 'postfix', '--source', 'command', '--listing-file', f] },
  { name: 'depth, --source auto (the fallback)', check: 'check-mailq-depth', argv: (f) => ['--mta', 'postfix', '--listing-file', f] },
  { name: 'depth, --source spool (the file unused)', check: 'check-mailq-depth', argv: (f) => ['--mta', 'postfix', '--source', 'spool', '--spool', postfix.spools[0], '--listing-file', f] },
  { name: 'depth, labelled file', check: 'check-mailq-depth', argv: (f) => ['--mta', 'sendmail', '--source', 'command', `--listing-file=quarantine=${f}`] },
  { name: 'mailer-daemon', check: 'check-mailer-daemon', argv: (f) => ['--mta', 'postfix', '--source', 'command', '--min-messages', '0', '--listing-file', f] },
  { name: 'growth', check: 'check-mailq-growth', argv: (f) => ['--mta', 'exim', '--source', 'command', '--state-dir', tmp('hostile-secstate-'), '--listing-file', f] },
];

describe.each(LISTING_FILE_CASES.map((c) => [c.name, c] as const))('--listing-file (%s)', (_n, c) => {
  const refused = (a: Answer, format: string) => {
    expect(crashes(a), a.out).toEqual([]);
    expect(a.code, a.out).toBe(3);
    expect(a.out).not.toMatch(/SECRET/);
    const summary = format === 'json' ? a.json!.summary : a.out;
    expect(summary).toMatch(/--listing-file is a test option, not allowed as root or under sudo/);
    if (format === 'nagios') expect(a.out.trim().split('\n')).toHaveLength(1);
  };
  it.skipIf(!isRoot)('as root: refused, exit 3, one line, nothing of the file', async () => {
    const f = secretFile(`${SECRET}\n`);
    for (const format of ['nagios', 'json']) refused(await runBinary(c.check, [...c.argv(f), '--format', format]), format);
  });
  it.skipIf(!isRoot)('as nobody under sudo: refused too', async () => {
    const f = secretFile(`${SECRET}\n`);
    refused(await runBinary(c.check, c.argv(f), { uid: NOBODY, env: { PATH: process.env.PATH, SUDO_UID: '1000' } }), 'nagios');
  });
});

interface UnparsedCase {
  name: string;
  content: string | Buffer;
  /** What the UNKNOWN line must say instead of the content. */
  says: RegExp;
  /** Must not appear anywhere in the output. */
  never: RegExp;
}

const UNPARSED_CASES: UnparsedCase[] = [
  { name: 'a shadow file', content: `${SECRET}\ndaemon:*:19000:0:99999:7:::\n`, says: /printed no queue listing \(\d+ bytes in 2 lines, text; not quoted\)/, never: /SECRET|root:|daemon:/ },
  { name: 'one long line of text (was quoted up to 200 bytes)', content: `${'private words '.repeat(50)}\n`, says: /printed no queue listing \(701 bytes in 1 line, text; not quoted\)/, never: /private/ },
  { name: 'binary data', content: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0x0a, 0x01, 0xff, 0xfe, 0x00, 0x0a]), says: /printed no queue listing \(16 bytes in 2 lines, looks binary; not quoted\)/, never: /ELF/ },
  { name: "the MTA's own fatal line is kept (cleaned, cut to 200 characters)", content: `postqueue: fatal: Queue report unavailable - mail system is down\u009b31m${'x'.repeat(400)}\n`, says: /printed no queue listing: postqueue: fatal: Queue report unavailable - mail system is down\?31mx+…\(468 chars\): postqueue needs a running Postfix/, never: /x{200}/ },
];

describe.each(UNPARSED_CASES.map((c) => [c.name, c] as const))('a listing that is %s', (_n, c) => {
  it.each(['check-mailq-depth', 'check-mailer-daemon'])('%s as nobody: UNKNOWN describing it, quoting none of it', async (check) => {
    if (!isRoot) return;
    const f = secretFile(c.content);
    for (const format of ['nagios', 'json']) {
      const argv = ['--mta', 'postfix', '--source', 'command', '--listing-file', f, '--format', format, ...(check === 'check-mailer-daemon' ? ['--min-messages', '0'] : [])];
      const a = await runBinary(check, argv, { uid: NOBODY });
      expect(crashes(a), a.out).toEqual([]);
      expect(a.code, a.out).toBe(3);
      expect(format === 'json' ? a.json!.summary : a.out).toMatch(c.says);
      expect(a.out).not.toMatch(c.never);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The rules themselves, in-process (the test setup makes in-process runs unprivileged: here the
// probe is set to privileged for each row and restored after it).

describe('findProgram, the child environment and --listing-file when privileged (in-process)', () => {
  afterEach(() => setPrivilegeProbe(() => false));

  it('a program on PATH is ignored; the system directories are searched', () => {
    const bin = tmp('hostile-fake-sh-');
    fakeBin(bin, 'sh', 'exit 0');
    fakeBin(bin, 'no-such-tool-xyz', 'exit 0');
    expect(findProgram(['sh'], bin)).toBe(path.join(bin, 'sh'));
    setPrivilegeProbe(() => true);
    expect(findProgram(['no-such-tool-xyz'], bin)).toBeUndefined();
    expect(findProgram(['sh'], bin)).toMatch(/^\/(usr\/)?s?bin\/sh$/);
    expect(findProgram(['./sh', 'bin/sh'], '')).toBeUndefined(); // relative: never
  });

  it("the child's PATH is the system directories whatever the caller's was", async () => {
    setPrivilegeProbe(() => true);
    const r = await runCommand('sh', ['-c', 'printf %s "$PATH"'], { env: { PATH: '/tmp/evil:.' } });
    expect(r.stdout).toBe(SYSTEM_PATH);
    expect(SYSTEM_PATH.split(':').every((d) => d.startsWith('/usr/') || d === '/sbin' || d === '/bin')).toBe(true);
    setPrivilegeProbe(() => false);
    expect((await runCommand('sh', ['-c', 'printf %s "$PATH"'], { env: { PATH: '/tmp/evil:/usr/bin:/bin' } })).stdout).toBe('/tmp/evil:/usr/bin:/bin');
  });

  it('unprivileged: relative PATH entries are skipped', () => {
    const dir = tmp('hostile-rel-');
    fakeBin(dir, 'rel-tool-xyz', 'exit 0');
    const rel = path.relative(process.cwd(), dir);
    expect(rel.startsWith('/')).toBe(false);
    expect(findProgram(['rel-tool-xyz'], `${rel}:/usr/bin`)).toBeUndefined();
    expect(findProgram(['rel-tool-xyz'], `${dir}:/usr/bin`)).toBe(path.join(dir, 'rel-tool-xyz'));
  });

  it('--listing-file is refused', () => {
    setPrivilegeProbe(() => true);
    expect(() => listingFilesOption(['/etc/shadow'])).toThrow(/--listing-file is a test option, not allowed as root or under sudo/);
    expect(listingFilesOption(undefined)).toBeUndefined();
  });

  it.skipIf(!isRoot)('only root-owned files in root-owned directories that nobody else can write are trusted', () => {
    expect(trustedExecutable('/usr/bin/sh')).toBe(true);
    const d = tmp('hostile-trust-');
    const f = fakeBin(d, 'tool', 'exit 0');
    fs.chmodSync(d, 0o755);
    expect(trustedExecutable(f)).toBe(true);
    fs.chmodSync(f, 0o775);
    expect(trustedExecutable(f), 'group-writable file').toBe(false);
    fs.chmodSync(f, 0o755);
    fs.chownSync(f, NOBODY, NOBODY);
    expect(trustedExecutable(f), "nobody's file").toBe(false);
    fs.chownSync(f, 0, 0);
    fs.chmodSync(d, 0o777);
    expect(trustedExecutable(f), 'world-writable directory').toBe(false);
    fs.chmodSync(d, 0o755);
    const link = path.join(tmp('hostile-trust-link-'), 'link');
    fs.symlinkSync(f, link);
    expect(trustedExecutable(link), 'a symlink is judged by its target').toBe(true);
  });
});

describe('the shipped sudoers file (sensu-assets/access/sudoers)', () => {
  it('gives the monitoring users a fixed secure_path of system directories, env_reset on', () => {
    const text = fs.readFileSync(path.join(__dirname, '../../sensu-assets/access/sudoers'), 'utf8').replace(/\\\n/g, ' ');
    const lines = text.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => /^Defaults/.test(l));
    const mine = lines.filter((l) => /^Defaults:MAILQ_MONITORS\s/.test(l) && /secure_path=/.test(l));
    expect(mine, lines.join('\n')).toHaveLength(1);
    const sp = /secure_path="?([^",\s]+)"?/.exec(mine[0])![1].split(':');
    expect(sp).toEqual(['/usr/sbin', '/usr/bin', '/sbin', '/bin']);
    expect(lines.some((l) => /!env_reset|env_keep.*PATH/.test(l))).toBe(false);
  });
});
