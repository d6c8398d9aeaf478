// Permission errors as a monitoring user meets them (issue 13, "Installed as a new user would"): spools
// with the owners and modes Debian's packages give them (test/fixtures/mta/*/spool.tsv: Postfix 0700
// postfix, Sendmail mqueue smmta:smmsp 2750 with qf files root:smmsp 0640, Exim 0750 Debian-exim), run
// by the built binary as nobody (setpriv). Each line must name what refused, and give a remedy that
// works: where it says a group, the same run in that group reads the queue; where it says a user, the
// run as that user does; a listing command that failed is never the remedy. The ids are made up (this
// machine has no MTA users), so the lines name them by number, as `usermod -aG 4203` and `sudo -g #4203`
// take them. With the real names: test/install.test.ts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureCases } from '../helpers/fixtures.js';
import { built, cleanup, fakeBin, isRoot, NOBODY, tmp } from './harness.js';

afterAll(cleanup);

const IDS: Record<string, number> = { root: 0, nobody: NOBODY, postfix: 4201, smmta: 4202, smmsp: 4203, 'Debian-exim': 4204, postdrop: 4205 };
const fixture = (name: string) => fixtureCases().find((f) => f.name === name)!;

/** A copy of a captured spool with the owners and modes of its spool.tsv (names mapped to IDS). */
function spoolCopy(name: string, top: { owner: string; mode: number }): string {
  const f = fixture(name);
  const dir = tmp(`inst-${name}-`);
  fs.chmodSync(dir, 0o755);
  const spool = path.join(dir, 'spool');
  fs.cpSync(path.join(f.dir, 'spool'), spool, { recursive: true });
  const rows = fs.readFileSync(path.join(f.dir, 'spool.tsv'), 'utf8').trim().split('\n').slice(1);
  for (const row of rows) {
    const [, mode, owner, , , p] = row.split('\t');
    const file = path.join(spool, p);
    if (!fs.existsSync(file)) continue; // git keeps no empty directories
    const [u, g] = owner.split(':');
    fs.chownSync(file, IDS[u], IDS[g]);
    fs.chmodSync(file, parseInt(mode, 8));
  }
  const [u, g] = top.owner.split(':');
  fs.chownSync(spool, IDS[u], IDS[g]);
  fs.chmodSync(spool, top.mode);
  return spool;
}

interface As {
  uid: number;
  gid?: number;
  groups?: number[];
  path?: string;
}
function depth(argv: string[], as: As) {
  // About reading the spool, not judging it: the captures are days old by now, past the age defaults.
  argv = [...argv, '--no-default-thresholds'];
  const ids = ['--reuid', String(as.uid), '--regid', String(as.gid ?? as.uid), ...(as.groups ? ['--groups', as.groups.join(',')] : ['--clear-groups'])];
  const r = spawnSync('/usr/bin/setpriv', [...ids, process.execPath, path.join(built(), 'check-mailq-depth.js'), ...argv], {
    encoding: 'utf8',
    cwd: '/',
    env: { PATH: as.path ?? '/usr/bin:/bin', MAILQ_CHECKS_STATE_DIR: stateDir() },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
let state: string | undefined;
function stateDir(): string {
  if (!state) {
    state = tmp('inst-state-');
    fs.chmodSync(state, 0o1777);
  }
  return state;
}
const total = (out: string) => JSON.parse(out).metrics.find((m: { label: string }) => m.label === 'total').value;

/** The one line, split into what failed and the remedy (after the last "permission denied)" or "queue: "). */
function oneLine(r: { code: number | null; out: string; err: string }) {
  expect(r.err).toBe('');
  expect(r.code, r.out).toBe(3);
  const lines = r.out.trimEnd().split('\n');
  expect(lines, r.out).toHaveLength(1);
  return lines[0];
}

describe.skipIf(!isRoot)('permission errors name the refused path and a remedy that works (as nobody)', () => {
  const sendmail = () => {
    const spool = spoolCopy('sendmail', { owner: 'root:root', mode: 0o755 });
    return { spool, args: ['--mta', 'sendmail', '--spool', `${spool}/mqueue`, '--spool', `${spool}/mqueue-client`, '--no-cache'] };
  };

  it('Sendmail mqueue smmta:smmsp 2750: names the directory, says group smmsp (usermod, sudo -g); in that group the run reads every queue', () => {
    const { spool, args } = sendmail();
    const line = oneLine(depth([...args, '--source', 'spool'], { uid: NOBODY }));
    expect(line).toContain(`cannot read Sendmail queue directory ${spool}/mqueue: permission denied`);
    expect(line).toContain('the directory is 4202:4203 2750: add nobody to group 4203 (usermod -aG 4203 nobody');
    expect(line).toContain('sudo -g #4203');
    expect(line).not.toMatch(/root-owned|as root|sudo -u/);
    const ok = depth([...args, '--source', 'spool', '--format', 'json'], { uid: NOBODY, groups: [IDS.smmsp] });
    expect([ok.code, total(ok.out)], ok.out).toEqual([0, fixture('sendmail').manifest.expected.total]);
  });

  it('Sendmail as the queue owner smmta (not in smmsp): the qf file is named, and the remedy is the group, not smmta', () => {
    const { spool } = sendmail();
    const line = oneLine(depth(['--mta', 'sendmail', '--spool', `${spool}/mqueue`, '--source', 'spool', '--no-cache'], { uid: IDS.smmta }));
    expect(line).toMatch(new RegExp(`cannot read queue file ${spool}/mqueue/qf\\w+: permission denied`));
    expect(line).toContain('the file is root:4203 0640: add 4202 to group 4203');
  });

  it('Exim: the walk names the 0750 spool root (it lists the named queues there first), the remedy its group; in that group the run reads it', () => {
    const spool = spoolCopy('exim', { owner: 'Debian-exim:Debian-exim', mode: 0o750 });
    const args = ['--mta', 'exim', '--spool', spool, '--source', 'spool', '--no-cache'];
    const line = oneLine(depth(args, { uid: NOBODY }));
    expect(line).toContain(`cannot read Exim spool directory ${spool}: permission denied`);
    expect(line).toContain(`the directory is 4204:4204 0750: add nobody to group 4204 (usermod -aG 4204 nobody`);
    const ok = depth([...args, '--format', 'json'], { uid: NOBODY, groups: [IDS['Debian-exim']] });
    expect([ok.code, total(ok.out)], ok.out).toEqual([0, fixture('exim').manifest.expected.total]);
  });

  it('Postfix 0700 postfix: names the queue directory, says sudo -u the owner; as that user the run reads it', () => {
    const spool = spoolCopy('postfix', { owner: 'root:root', mode: 0o755 });
    const args = ['--mta', 'postfix', '--spool', spool, '--source', 'spool', '--no-cache'];
    const line = oneLine(depth(args, { uid: NOBODY }));
    expect(line).toMatch(new RegExp(`cannot read Postfix queue directory ${spool}/\\w+: permission denied`));
    expect(line).toContain('the directory is 4201:root 0700, readable only by 4201: run the check as 4201 with sudo -u #4201');
    expect(line).toContain('or use --source command (postqueue -j)');
    const ok = depth([...args, '--format', 'json'], { uid: IDS.postfix, gid: IDS.postfix });
    expect([ok.code, total(ok.out)], ok.out).toEqual([0, fixture('postfix').manifest.expected.total]);
  });

  it('a spool only root can read: says sudo as root', () => {
    const spool = spoolCopy('sendmail', { owner: 'root:root', mode: 0o755 });
    fs.chownSync(`${spool}/mqueue`, 0, 0);
    fs.chmodSync(`${spool}/mqueue`, 0o700);
    const line = oneLine(depth(['--mta', 'sendmail', '--spool', `${spool}/mqueue`, '--source', 'spool'], { uid: NOBODY }));
    expect(line).toContain(`cannot read Sendmail queue directory ${spool}/mqueue: permission denied`);
    expect(line).toContain('the directory is root:root 0700, readable only by root: run the check through sudo as root');
  });

  // postqueue's own refusal (postqueue.c): "postqueue: fatal: User %s(%ld) is not allowed to view the mail queue", exit 69.
  const refusingPostqueue = () => {
    const bin = tmp('inst-bin-');
    fs.chmodSync(bin, 0o755);
    fakeBin(bin, 'postqueue', 'echo "postqueue: fatal: User nobody(65534) is not allowed to view the mail queue" >&2; exit 69');
    fakeBin(bin, 'postconf', 'exit 1');
    return `${bin}:/usr/bin:/bin`;
  };

  it('Postfix --source command refused by authorized_mailq_users: the remedy is not the command that failed', () => {
    const spool = spoolCopy('postfix', { owner: 'root:root', mode: 0o755 });
    const line = oneLine(depth(['--mta', 'postfix', '--spool', spool, '--source', 'command'], { uid: NOBODY, path: refusingPostqueue() }));
    expect(line).toContain("'postqueue -j' failed: postqueue: fatal: User nobody(65534) is not allowed to view the mail queue: ");
    const remedy = line.split('view the mail queue: ')[1];
    expect(remedy).toContain('nobody in authorized_mailq_users');
    expect(remedy).toContain('sudo -u postfix');
    expect(remedy).not.toMatch(/--source command|postqueue -j/);
  });

  it('Postfix auto: spool refused, then postqueue refused too: both said, the spool remedy, no fallback offered again', () => {
    const spool = spoolCopy('postfix', { owner: 'root:root', mode: 0o755 });
    const line = oneLine(depth(['--mta', 'postfix', '--spool', spool], { uid: NOBODY, path: refusingPostqueue() }));
    expect(line).toMatch(new RegExp(`^MAILQ UNKNOWN - cannot read the spool \\(cannot read Postfix queue directory ${spool}/\\w+: permission denied\\) and 'postqueue -j' failed: postqueue: fatal: User nobody`));
    expect(line).toContain('readable only by 4201: run the check as 4201 with sudo -u #4201');
    expect(line).not.toMatch(/--source command/);
  });

  // Where an MTA is installed (every one ships /usr/sbin/sendmail) its program would be found: not this case.
  it.skipIf(['/usr/sbin/sendmail', '/usr/lib/sm.bin/sendmail', '/usr/bin/mailq'].some((p) => fs.existsSync(p)))('auto with the spool refused and no listing program installed: says both, never "use --source spool"', () => {
    const { spool } = sendmail();
    const line = oneLine(depth(['--mta', 'sendmail', '--spool', `${spool}/mqueue`], { uid: NOBODY, path: '/nonexistent' }));
    expect(line).toContain(`cannot read Sendmail queue directory ${spool}/mqueue: permission denied) and `);
    expect(line).toContain('is not installed: the directory is 4202:4203 2750: add nobody to group 4203');
    expect(line).not.toMatch(/--source spool|--source command/);
  });

  it('Exim --source command refused (exim -bp is for admin users): the remedy is the Exim group, not exim -bp', () => {
    const bin = tmp('inst-bin-');
    fs.chmodSync(bin, 0o755);
    fakeBin(bin, 'exim', 'echo "exim: permission denied" >&2; exit 1');
    const line = oneLine(depth(['--mta', 'exim', '--source', 'command'], { uid: NOBODY, path: `${bin}:/usr/bin:/bin` }));
    const remedy = line.split('exim: permission denied: ')[1];
    expect(remedy).toContain('usermod -aG Debian-exim nobody');
    expect(remedy).not.toMatch(/--source command/);
  });
});
