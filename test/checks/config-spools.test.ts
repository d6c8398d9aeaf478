// --config and --instance end to end: a Sendmail queue split over q* directories (the real Sendmail
// capture's queue files, spread over q1 and q2 as a multi-queue Sendmail keeps them), found through
// a cf file m4 made from Debian's sendmail-cf; and the options' one-line errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { spoolDiskCheck } from '../../lib/checks/spool-disk.js';
import { runSpec } from '../helpers/run.js';
import { fixtureCases } from '../helpers/fixtures.js';

const c = fixtureCases().find((x) => x.name === 'sendmail')!;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'config-spools-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The capture's MTA queue, each job's files (qf/hf and df of one ID) in q1 or q2 by turns. */
function splitQueue(): string {
  const from = path.join(c.dir, 'spool', 'mqueue');
  const ids = [...new Set(fs.readdirSync(from).map((n) => n.slice(2)))].sort();
  for (const q of ['q1', 'q2']) fs.mkdirSync(path.join(tmp, 'mqueue', q), { recursive: true });
  for (const n of fs.readdirSync(from)) fs.copyFileSync(path.join(from, n), path.join(tmp, 'mqueue', ids.indexOf(n.slice(2)) % 2 ? 'q2' : 'q1', n));
  const cf = path.join(tmp, 'sendmail.cf');
  const text = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'config', 'sendmail-cf', 'sendmail.cf'), 'latin1');
  fs.writeFileSync(cf, text.replace('O QueueDirectory=/var/spool/mqueue', `O QueueDirectory=${tmp}/mqueue/q*`));
  return cf;
}

describe('--config', () => {
  const cf = splitQueue();
  const mtaQueue = c.manifest.expected.total - (c.manifest.expected.byQueue.clientmqueue ?? 0);

  it('check-mailq-depth reads every q* directory the cf names, and says so', async () => {
    const { out, code } = await runSpec(depthCheck, ['--mta', 'sendmail', '--config', cf, '--format', 'json'], c.capturedAt);
    expect(code).toBe(0);
    const o = JSON.parse(out);
    expect(o.metrics.find((m: { label: string }) => m.label === 'total').value).toBe(mtaQueue);
    expect(JSON.stringify(o)).toContain(`QueueDirectory=${tmp}/mqueue/q*`);
  });

  it('check-spool-disk takes it too', async () => {
    const { out, code } = await runSpec(spoolDiskCheck, ['--mta', 'sendmail', '--config', cf, '--no-spool-size'], c.capturedAt);
    expect(code, out).toBe(0);
    expect(out).toContain('q1');
  });
});

describe('option errors are one UNKNOWN line', () => {
  const cases: [string, string[], RegExp][] = [
    ['--instance for Sendmail', ['--mta', 'sendmail', '--instance', 'postfix-out'], /UNKNOWN - sendmail has no named instances/],
    ['--spool with --config', ['--mta', 'sendmail', '--spool', tmp, '--config', '/etc/mail/sendmail.cf'], /UNKNOWN - --spool and --config \/etc\/mail\/sendmail.cf both say where the queue is/],
    ['--config with --instance', ['--mta', 'postfix', '--config', '/etc/postfix', '--instance', 'postfix-out'], /UNKNOWN - --config and --instance both name an installation/],
    ['a path as instance', ['--mta', 'postfix', '--instance', '../../etc'], /UNKNOWN - invalid --instance '\.\.\/\.\.\/etc'/],
    ['--config for an MTA that reads none', ['--mta', 'nullmailer', '--config', '/etc/nullmailer'], /UNKNOWN - --config is not supported for nullmailer/],
  ];
  for (const [what, argv, want] of cases)
    it(what, async () => {
      const { out, code } = await runSpec(depthCheck, argv, c.capturedAt);
      expect(code).toBe(3);
      expect(out.split('\n')[0]).toMatch(want);
    });
});

describe('--mta auto with --config', () => {
  it('a file with a QueueDirectory option is a sendmail.cf; a missing queue it names is said as such', async () => {
    const cf = path.join(tmp, 'gone.cf');
    fs.writeFileSync(cf, `O QueueDirectory=${tmp}/no-such-queue\n`);
    const { out, code } = await runSpec(depthCheck, ['--config', cf], c.capturedAt);
    expect(code).toBe(3);
    expect(out.split('\n')[0]).toMatch(new RegExp(`^MAILQ UNKNOWN - spool ${tmp}/no-such-queue not found: --config ${cf} names it`));
  });
});
