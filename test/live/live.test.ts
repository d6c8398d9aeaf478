// Live tests against a real, running MTA with a full queue. Run by test/fixtures/capture-fixtures.sh
// through LIVE_HOOK (see `npm run test:live` and .ci/run), which sets MTA, CASE and SPOOL while the
// MTA is installed. Without that environment they are skipped: they need root and a real MTA.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const MTA = process.env.MTA;
const SPOOLS = (process.env.SPOOL ?? '').split(':').filter(Boolean);
const BIN = path.join(__dirname, '../../dist/check-mailq-depth.js');

// The checkout may sit under /root (0700): give the unprivileged user its own readable copy.
let publicBin: string | undefined;
function binFor(user?: string): string {
  if (!user) return BIN;
  if (!publicBin) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailq-live-bin-'));
    fs.chmodSync(dir, 0o755);
    publicBin = path.join(dir, 'check-mailq-depth.js');
    fs.copyFileSync(BIN, publicBin);
    fs.chmodSync(publicBin, 0o755);
  }
  return publicBin;
}

function depth(args: string[], asUser?: string) {
  const argv = asUser
    ? ['setpriv', '--reuid', asUser, '--regid', asUser, '--clear-groups', process.execPath, binFor(asUser), ...args]
    : [process.execPath, BIN, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(!MTA)(`live ${MTA ?? ''} (${process.env.CASE ?? ''})`, () => {
  const spoolArgs = SPOOLS.flatMap((s) => ['--spool', s]);

  it('spool mode and the real listing command agree', () => {
    const spool = depth(['--mta', MTA!, '--source', 'spool', ...spoolArgs, '--format', 'json']);
    const command = depth(['--mta', MTA!, '--source', 'command', '--format', 'json', '-t', '30']);
    expect(spool.err).toBe('');
    expect(command.err).toBe('');
    const a = JSON.parse(spool.out);
    const b = JSON.parse(command.out);
    expect(a.source).toBe('spool');
    expect(b.source).toBe('command');
    const metric = (o: { metrics: { label: string; value: number }[] }, l: string) => o.metrics.find((m) => m.label === l)?.value;
    expect(metric(a, 'total')).toBeGreaterThan(0);
    for (const label of a.metrics.map((m: { label: string }) => m.label).filter((l: string) => l !== 'bytes' && l !== 'oldest_age'))
      expect(metric(a, label), label).toBe(metric(b, label));
  });

  it('finds the spool by itself (--mta auto, no --spool)', () => {
    const r = depth(['--format', 'json']);
    const o = JSON.parse(r.out);
    expect(o.mta).toBe(MTA);
    expect(o.metrics.find((m: { label: string }) => m.label === 'total').value).toBeGreaterThan(0);
  });

  it('agrees with the MTA count command', () => {
    const o = JSON.parse(depth(['--mta', MTA!, '--source', 'spool', ...spoolArgs, '--format', 'json']).out);
    const total = o.metrics.find((m: { label: string }) => m.label === 'total').value;
    const quarantine = o.metrics.find((m: { label: string }) => m.label === 'quarantine')?.value ?? 0;
    if (MTA === 'exim') {
      const bin = ['/usr/sbin/exim4', '/usr/sbin/exim'].find((b) => spawnSync('test', ['-x', b]).status === 0)!;
      expect(Number(execFileSync(bin, ['-bpc'], { encoding: 'utf8' }).trim())).toBe(total);
    } else if (MTA === 'postfix') {
      const lines = execFileSync('postqueue', ['-j'], { encoding: 'utf8' }).split('\n').filter(Boolean);
      expect(lines.length).toBe(total);
    } else {
      // mailq does not show quarantined jobs at all: that is the blind spot the spool reader covers.
      const out = execFileSync('mailq', [], { encoding: 'utf8' });
      const listed = [...out.matchAll(/Total requests: (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      expect(listed + quarantine).toBe(total);
    }
  });

  it('as an unprivileged user: --source spool is UNKNOWN with the remedy, auto falls back to the command', () => {
    const denied = depth(['--mta', MTA!, '--source', 'spool', ...spoolArgs], '65534');
    // The live test runs on Debian's packages only: Postfix's queues are 0700 postfix, Exim's spool is
    // Debian-exim 0750 and Sendmail's mqueue smmta:smmsp 2750, so nobody without groups reads none of them.
    if (MTA === 'postfix') {
      expect(denied.code).toBe(3);
      expect(denied.out).toMatch(/^MAILQ UNKNOWN - cannot read the spool .*sudo/);
      expect(denied.out.trim().split('\n')).toHaveLength(1);
      const auto = depth(['--mta', MTA!, '--format', 'json'], '65534');
      const o = JSON.parse(auto.out);
      expect(o.source).toBe('command');
      expect(o.details.join('\n')).toMatch(/spool not readable/);
    } else {
      expect(denied.code, denied.out).toBe(3);
      expect(denied.out).toMatch(/^MAILQ UNKNOWN - .*(cannot read|permission|EACCES)/);
    }
  });
});
