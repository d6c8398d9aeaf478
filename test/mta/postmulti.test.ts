// Postfix multi-instance: instances and their queues, on what Debian 12's real postfix 3.7.11 printed
// (postmulti -e init + postmulti -I postfix-out -G mta -e create + -I postfix-in, run from dpkg -x in a
// private mount namespace: test/fixtures/config/postfix-multi/capture/postmulti-lab.sh). postconf's
// answers are replayed from those captures; `postmulti -l` of the same host is the oracle.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { INSTANCE_PARAMETERS, instanceFromPostconf, instanceNameProblem, parseInstanceDirectories, parsePostmultiList } from '../../lib/mta/postmulti.js';
import { locatePostfixSpools, postfix, type CommandRunner } from '../../lib/mta/postfix.js';

const L = path.join(__dirname, '..', 'fixtures', 'config', 'postfix-multi', 'listing');
const read = (f: string) => fs.readFileSync(path.join(L, f), 'utf8');

/** postconf as captured: each argument list the code may ask, and the file holding what postconf printed for it. */
const CAPTURED: Record<string, string> = {
  '-h queue_directory multi_instance_directories': 'postconf-h-queue_directory-multi_instance_directories.txt',
  '-h queue_directory': 'postconf-h-queue_directory.txt',
  [`-c /etc/postfix-out -h ${INSTANCE_PARAMETERS.join(' ')}`]: 'postconf-c-postfix-out-h-instance.txt',
  [`-c /etc/postfix-in -h ${INSTANCE_PARAMETERS.join(' ')}`]: 'postconf-c-postfix-in-h-instance.txt',
  '-c /etc/postfix-out -h queue_directory': 'postconf-c-postfix-out-h-queue_directory.txt',
};
function replay(calls: string[] = []): CommandRunner {
  return async (file, args) => {
    const key = args.join(' ');
    calls.push(`${file} ${key}`);
    const f = CAPTURED[key];
    return f ? { stdout: read(f), failed: false } : { stdout: '', failed: true };
  };
}

const oracle = parsePostmultiList(read('postmulti-l.txt'));

describe('postmulti -l and postconf, as the real Postfix printed them', () => {
  it('parses postmulti -l', () => {
    expect(oracle.map((i) => [i.name, i.group ?? '-', i.enabled, i.configDirectory])).toEqual([
      ['-', '-', true, '/etc/postfix'],
      ['postfix-out', 'mta', true, '/etc/postfix-out'],
      ['postfix-in', '-', true, '/etc/postfix-in'],
    ]);
    expect(parsePostmultiList(read('postmulti-l-g-mta.txt')).map((i) => i.name)).toEqual(['postfix-out']);
  });

  it('reads each instance from its postconf lines as postmulti -l lists it', () => {
    const dirs = parseInstanceDirectories(read('postconf-h-multi_instance_directories.txt'));
    expect(dirs).toEqual(oracle.slice(1).map((i) => i.configDirectory));
    for (const want of oracle.slice(1)) {
      const got = instanceFromPostconf(want.configDirectory, read(`postconf-c-${want.name}-h-instance.txt`))!;
      expect({ ...got, queueDirectory: undefined }).toEqual({ ...want, queueDirectory: undefined });
      expect(got.queueDirectory).toBe(read(`postconf-c-${want.name}-h-queue_directory.txt`).trim());
    }
    expect(instanceFromPostconf('/x', 'only one line\n')).toBeUndefined();
    expect(parseInstanceDirectories('/a, /b\n/a')).toEqual(['/a', '/b']);
  });

  it('validates instance names as postmulti does, and no path tricks', () => {
    expect(instanceNameProblem('postfix-out')).toBeUndefined();
    expect(instanceNameProblem('-')).toBeUndefined();
    for (const bad of ['../etc', 'postfix-out/../../x', '/etc/postfix-out', '-c', 'postfix out', '', 'postfix-\n'])
      expect(instanceNameProblem(bad), bad).toMatch(/letters|start with/);
    expect(instanceNameProblem('mx-out')).toMatch(/start with "postfix-"/);
  });
});

describe('locatePostfixSpools', () => {
  it('default: the primary queue, and a note naming the instances that are not counted', async () => {
    const calls: string[] = [];
    const got = await locatePostfixSpools({}, replay(calls));
    expect(got.spools).toEqual([read('postconf-h-queue_directory.txt').trim()]);
    expect(got.notes).toHaveLength(1);
    for (const i of oracle.slice(1)) expect(got.notes[0]).toContain(`${i.name} (${read(`postconf-c-${i.name}-h-queue_directory.txt`).trim()})`);
    expect(got.notes[0]).toMatch(/not counted.*--instance NAME/);
    expect(calls[0]).toBe('postconf -h queue_directory multi_instance_directories');
  });

  it('--instance: that instance\'s queue, listed with postqueue -c its config directory', async () => {
    const got = await locatePostfixSpools({ instance: 'postfix-out' }, replay());
    expect(got).toEqual({ spools: ['/var/spool/postfix-out'], notes: [] });
    expect(postfix.listingCommands(got.spools[0])).toEqual([{ file: 'postqueue', args: ['-c', '/etc/postfix-out', '-j'] }]);
    expect(postfix.listingCommands('/var/spool/postfix')).toEqual([{ file: 'postqueue', args: ['-j'] }]);
    expect((await locatePostfixSpools({ instance: '-' }, replay())).spools).toEqual(['/var/spool/postfix']);
  });

  it('an unknown or unsafe instance is UNKNOWN naming the ones there are', async () => {
    await expect(locatePostfixSpools({ instance: 'postfix-nope' }, replay())).rejects.toThrow(/no Postfix instance 'postfix-nope'/);
    await expect(locatePostfixSpools({ instance: 'postfix-nope' }, replay())).rejects.toMatchObject({ hint: expect.stringContaining('postfix-out, postfix-in') });
    await expect(locatePostfixSpools({ instance: '../../etc' }, replay())).rejects.toThrow(/invalid --instance/);
  });

  it('--config DIR: postconf -c DIR; a relative DIR is refused', async () => {
    expect((await locatePostfixSpools({ config: '/etc/postfix-out' }, replay())).spools).toEqual(['/var/spool/postfix-out']);
    await expect(locatePostfixSpools({ config: 'etc/postfix-out' }, replay())).rejects.toThrow(/not an absolute path/);
    await expect(locatePostfixSpools({ config: '/etc/postfix-gone' }, replay())).rejects.toThrow(/no queue_directory/);
  });

  it('a single-instance host (or a Postfix without multi_instance_directories) has no note', async () => {
    const single: CommandRunner = async (_f, args) =>
      args.join(' ') === '-h queue_directory multi_instance_directories' ? { stdout: '/var/spool/postfix\n\n', failed: false } : { stdout: '', failed: true };
    expect(await locatePostfixSpools({}, single)).toEqual({ spools: ['/var/spool/postfix'], notes: [] });
    const old: CommandRunner = async (_f, args) => (args.join(' ') === '-h queue_directory' ? { stdout: '/q\n', failed: false } : { stdout: '', failed: true });
    expect(await locatePostfixSpools({}, old)).toEqual({ spools: ['/q'], notes: [] });
  });
});
