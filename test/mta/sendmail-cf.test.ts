// Sendmail's queue locations from its own cf files: the files are m4's output over Debian's
// sendmail-cf macros (test/fixtures/config/sendmail-cf/manifest.json says how), and the directories a
// q* wildcard stands for are those the real sendmail binary scanned (same manifest, "sendmailScan").
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandQueuePath, parseSendmailCf, queueDirectoryOf, queueGroupOf, splitQueuePath } from '../../lib/mta/sendmail-cf.js';
import { locateSendmailSpools, sendmail, sendmailQueueOf } from '../../lib/mta/sendmail.js';

const FIX = path.join(__dirname, '..', 'fixtures', 'config', 'sendmail-cf');
const manifest = JSON.parse(fs.readFileSync(path.join(FIX, 'manifest.json'), 'utf8'));
const cf = (name: string) => fs.readFileSync(path.join(FIX, name), 'latin1');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sendmail-cf-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('parseSendmailCf on the cf files m4 made from Debian sendmail-cf', () => {
  for (const name of ['sendmail.cf', 'submit.cf', 'qgroups.cf'])
    it(name, () => {
      expect(parseSendmailCf(cf(name))).toEqual(manifest.expected[name]);
    });

  it('reads the one-letter form, comments, continuation lines and the last value', () => {
    expect(queueDirectoryOf('OQ/var/spool/mqueue')).toBe('/var/spool/mqueue');
    expect(queueDirectoryOf('O QueueDirectory = /srv/mq ')).toBe('/srv/mq');
    expect(queueDirectoryOf('O QueueDirectory=')).toBeUndefined();
    expect(queueDirectoryOf('O QueueLA=8')).toBeUndefined();
    expect(queueGroupOf('Qbulk, Path=/var/spool/mqueue/bulk, F=f')).toEqual({ group: 'bulk', path: '/var/spool/mqueue/bulk' });
    expect(queueGroupOf('Qnopath, F=f')).toEqual({ group: 'nopath' });
    const text = ['#O QueueDirectory=/commented', 'O QueueDirectory=/first', 'O QueueDirectory=/second', 'Qg, F=f,', '\tP=/second/g'].join('\n');
    expect(parseSendmailCf(text)).toEqual({ queueDirectory: '/second', groupPaths: [{ group: 'g', path: '/second/g' }] });
    expect(parseSendmailCf('')).toEqual({ groupPaths: [] });
  });

  it('splits wildcards: q*, a trailing /*, none; refuses a * elsewhere and relative paths', () => {
    expect(splitQueuePath('/var/spool/mqueue/q*')).toEqual({ dir: '/var/spool/mqueue', prefix: 'q' });
    expect(splitQueuePath('/var/spool/mqueue/*')).toEqual({ dir: '/var/spool/mqueue', prefix: '' });
    expect(splitQueuePath('/var/spool/mqueue/')).toEqual({ dir: '/var/spool/mqueue' });
    expect(splitQueuePath('/var/*/mqueue')).toBeUndefined();
    expect(splitQueuePath('/var/spool/q*x')).toBeUndefined();
    expect(splitQueuePath('mqueue')).toBeUndefined();
  });
});

/** Builds one of the manifest's layouts under dir ("name/" a directory, "a -> b" a symlink, "x/y/" nested). */
function build(dir: string, entries: string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const e of entries) {
    const link = / -> /.exec(e);
    if (link) fs.symlinkSync(path.join(dir, e.split(' -> ')[1]), path.join(dir, e.split(' -> ')[0]));
    else if (e.endsWith('/')) fs.mkdirSync(path.join(dir, e), { recursive: true });
    else fs.writeFileSync(path.join(dir, e), '');
  }
}

describe('the queue directories of qgroups.cf, against what the real sendmail scanned', () => {
  for (const [layout, spec] of Object.entries(manifest.sendmailScan.layouts) as [string, { entries: string[]; queueDirs: string[] }][])
    it(layout, async () => {
      const root = path.join(tmp, layout);
      const mq = path.join(root, 'mqueue');
      build(mq, spec.entries);
      // The fixture's /var/spool/ paths moved under the temporary directory (only that text changes).
      const file = path.join(root, 'sendmail.cf');
      fs.writeFileSync(file, cf('qgroups.cf').replaceAll('/var/spool/', `${root}/`));
      const got = await locateSendmailSpools({}, { mta: file, msp: path.join(root, 'absent-submit.cf') });
      // sendmail's own list, less a symlink to a directory already in it (read once: same inode).
      const inode = (d: string) => { const s = fs.statSync(d); return `${s.dev}:${s.ino}`; };
      const seen = new Set<string>();
      const want = spec.queueDirs.map((d) => path.join(mq, d)).filter((d) => !seen.has(inode(d)) && seen.add(inode(d)));
      // The MSP queue is the host's (absent-submit.cf: the usual places that exist here).
      const ours = got.spools.filter((s) => s.startsWith(`${root}/`));
      expect(got.spools.filter((s) => !ours.includes(s)).every((s) => sendmail.defaultSpools.includes(s))).toBe(true);
      expect([...ours].sort()).toEqual([...want].sort());
      expect(got.notes.join('\n')).toContain('QueueDirectory=');
      for (const s of ours) expect(sendmailQueueOf(s)).toBe('mqueue');
    });

  it('expandQueuePath keeps only directories whose name has the prefix, sorted', () => {
    const isDir = (p: string) => !p.endsWith('file');
    expect(expandQueuePath({ dir: '/q', prefix: 'q' }, ['q2', 'q1', 'other', 'qfile', '.', '..'], isDir)).toEqual(['/q/q1', '/q/q2']);
    expect(expandQueuePath({ dir: '/q' }, ['q1'], isDir)).toEqual(['/q']);
  });
});

describe('locateSendmailSpools', () => {
  it('--config: that cf only, its queue named by its directory; an MSP q* group is clientmqueue', async () => {
    const root = path.join(tmp, 'msp');
    build(path.join(root, 'mqueue-client'), ['q1/', 'q2/']);
    const file = path.join(root, 'submit.cf');
    fs.writeFileSync(file, cf('submit.cf').replace('O QueueDirectory=/var/spool/mqueue-client', `O QueueDirectory=${root}/mqueue-client/q*`));
    const got = await locateSendmailSpools({ config: file });
    expect(got.spools).toEqual([path.join(root, 'mqueue-client', 'q1'), path.join(root, 'mqueue-client', 'q2')]);
    for (const s of got.spools) expect(sendmailQueueOf(s)).toBe('clientmqueue');
    // The listing of a --config queue is sendmail's own, with the wildcard as written.
    expect(sendmail.listingCommands(got.spools[0])[0].args).toEqual(['-bp', `-OQueueDirectory=${root}/mqueue-client/q*`]);
  });

  it('refuses --instance, an unreadable --config and a cf without QueueDirectory', async () => {
    await expect(locateSendmailSpools({ instance: 'postfix-out' })).rejects.toThrow(/Postfix instance/);
    await expect(locateSendmailSpools({ config: path.join(tmp, 'nope.cf') })).rejects.toThrow(/cannot read --config .*ENOENT/);
    const empty = path.join(tmp, 'empty.cf');
    fs.writeFileSync(empty, 'O QueueLA=8\n');
    await expect(locateSendmailSpools({ config: empty })).rejects.toThrow(/no QueueDirectory/);
  });

  it('falls back to the usual places when the cf files are not there', async () => {
    const got = await locateSendmailSpools({}, { mta: path.join(tmp, 'none.cf'), msp: path.join(tmp, 'none2.cf') });
    const existing = sendmail.defaultSpools.filter((s) => fs.existsSync(s));
    expect(got.spools).toEqual(existing.length ? existing : [sendmail.defaultSpools[0]]);
  });
});
