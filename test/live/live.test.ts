// Live tests against a real, running MTA with a full queue. Run by test/fixtures/capture-fixtures.sh
// through LIVE_HOOK (see `npm run test:live` and .ci/run), which sets MTA, CASE and SPOOL while the
// MTA is installed. Without that environment they are skipped: they need root and a real MTA.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const MTA = process.env.MTA;
const SPOOLS = (process.env.SPOOL ?? '').split(':').filter(Boolean);
const BIN = path.join(__dirname, '../../dist/check-mailq-depth.js');

// The checkout may sit under /root (0700): give the unprivileged user its own readable copy
// (removed after the file's tests: one per case would pile up in /tmp).
let publicBin: string | undefined;
afterAll(() => {
  if (publicBin) fs.rmSync(path.dirname(publicBin), { recursive: true, force: true });
});
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

// What the listing of each MTA cannot show, so spool mode and command mode are compared on the rest.
// shared: the queues both sides see (nullmailer's mailq lists queue/ only, not failed/; OpenSMTPD's
// spool has offline/, which no smtpctl listing shows, and its pauses live in smtpd's memory only:
// the hook runs with smtpd stopped, where smtpctl reads the spool itself and shows no pause either).
// arrival: how closely the listing shows arrival (seconds), for the oldest message.
// commandAs: run command mode as this uid. nullmailer's /usr/bin/mailq is setuid *mail* and owned by
// mail, and a privileged run executes only root-owned programs (lib/plugin/privilege.ts
// trustedExecutable), so as root it answers "mailq not found"; the monitoring user runs it as itself.
const RULES: Record<string, { shared?: string[]; arrival: number; commandAs?: string }> = {
  postfix: { arrival: 0 },
  exim: { arrival: 60 },
  sendmail: { arrival: 60 },
  nullmailer: { shared: ['queue'], arrival: 0, commandAs: '65534' },
  opensmtpd: { shared: ['queue'], arrival: 0 },
};

type Out = { metrics: { label: string; value: number }[]; details: string[]; source: string; mta: string };
const metric = (o: Out, l: string) => o.metrics.find((m) => m.label === l)?.value;

/** The lines under one "top ..." heading of the long output (up to the next heading). */
function section(o: Out, heading: string): string[] {
  const i = o.details.findIndex((d) => d === `${heading}:`);
  if (i < 0) return [];
  const out: string[] = [];
  for (const d of o.details.slice(i + 1)) {
    if (!d.startsWith('  ')) break;
    out.push(d);
  }
  return out;
}

/** The oldest message's arrival, epoch seconds, from "oldest...: ... (ID, arrived ISO)". */
function oldestArrival(o: Out): number | undefined {
  const m = o.details.map((d) => /\barrived ~?(\S+?)\)$/.exec(d)).find(Boolean);
  if (!m) return undefined;
  const iso = /T\d\d:\d\dZ$/.test(m[1]) ? m[1].replace('Z', ':00Z') : m[1];
  return Date.parse(iso) / 1000;
}

/** Files in one directory of the live spool (the queues no listing command shows). */
const filesIn = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => fs.statSync(path.join(dir, f)).isFile()).length : 0);

describe.skipIf(!MTA)(`live ${MTA ?? ''} (${process.env.CASE ?? ''})`, () => {
  const spoolArgs = SPOOLS.flatMap((s) => ['--spool', s]);
  const rule = RULES[MTA ?? ''] ?? { arrival: 0 };

  it('spool mode and the real listing command agree', () => {
    const sel = (rule.shared ?? []).flatMap((q) => ['--queue', q]);
    const spool = depth(['--mta', MTA!, '--source', 'spool', ...spoolArgs, ...sel, '--top', '50', '--format', 'json']);
    const command = depth(['--mta', MTA!, '--source', 'command', ...sel, '--top', '50', '--format', 'json', '-t', '30'], rule.commandAs);
    expect(spool.err).toBe('');
    expect(command.err).toBe('');
    const a = JSON.parse(spool.out) as Out;
    const b = JSON.parse(command.out) as Out;
    expect(a.source, spool.out).toBe('spool');
    expect(b.source, command.out).toBe('command');
    expect(metric(a, 'total')).toBeGreaterThan(0);
    if (rule.shared) {
      // Per shared queue, and who sent what to whom in them (the --queue selection's top lists).
      for (const q of rule.shared) expect(metric(a, q), q).toBe(metric(b, q));
      expect(metric(a, rule.shared[0])).toBeGreaterThan(0);
      const inSel = ` in ${rule.shared.join('+')}`;
      for (const h of ['top senders', 'top recipient domains', 'top recipients'])
        expect(section(a, h + inSel), h).toEqual(section(b, h + inSel));
      expect(section(a, 'top senders' + inSel).length).toBeGreaterThan(0);
    } else {
      for (const label of a.metrics.map((m) => m.label).filter((l) => l !== 'bytes' && l !== 'oldest_age'))
        expect(metric(a, label), label).toBe(metric(b, label));
      for (const h of ['top senders', 'top recipient domains', 'top recipients'])
        expect(section(a, h), h).toEqual(section(b, h));
      expect(section(a, 'top senders').length).toBeGreaterThan(0);
    }
    const arrivedA = oldestArrival(a);
    const arrivedB = oldestArrival(b);
    expect(arrivedA).toBeDefined();
    expect(arrivedB).toBeDefined();
    expect(Math.abs(arrivedA! - arrivedB!)).toBeLessThanOrEqual(rule.arrival);
  });

  it('finds the spool by itself (--mta auto, no --spool)', () => {
    const r = depth(['--format', 'json']);
    const o = JSON.parse(r.out);
    expect(o.mta).toBe(MTA);
    expect(o.metrics.find((m: { label: string }) => m.label === 'total').value).toBeGreaterThan(0);
  });

  it('agrees with the MTA count command', () => {
    const o = JSON.parse(depth(['--mta', MTA!, '--source', 'spool', ...spoolArgs, '--format', 'json']).out) as Out;
    const total = metric(o, 'total')!;
    const quarantine = metric(o, 'quarantine') ?? 0;
    if (MTA === 'exim') {
      const bin = ['/usr/sbin/exim4', '/usr/sbin/exim'].find((b) => spawnSync('test', ['-x', b]).status === 0)!;
      expect(Number(execFileSync(bin, ['-bpc'], { encoding: 'utf8' }).trim())).toBe(total);
    } else if (MTA === 'postfix') {
      const lines = execFileSync('postqueue', ['-j'], { encoding: 'utf8' }).split('\n').filter(Boolean);
      expect(lines.length).toBe(total);
    } else if (MTA === 'nullmailer') {
      // nullmailer's mailq: one "... bytes from <sender>" line per message in queue/; failed/ has no
      // listing at all, so its files are counted where nullmailer-send put them.
      const listed = execFileSync('mailq', [], { encoding: 'utf8' }).split('\n').filter((l) => / bytes( from <.*>)?$/.test(l)).length;
      expect(metric(o, 'queue')).toBe(listed);
      expect(metric(o, 'failed')).toBe(filesIn(path.join(SPOOLS[0], 'failed')));
      expect(listed).toBeGreaterThan(0);
      expect(total).toBe(listed + filesIn(path.join(SPOOLS[0], 'failed')));
    } else if (MTA === 'opensmtpd') {
      // smtpctl show queue: one line per envelope (recipient), the message id is the envelope id's
      // first 8 hex digits; offline/ (mail submitted while smtpd was down) is in no listing.
      const ids = new Set(
        execFileSync('smtpctl', ['show', 'queue'], { encoding: 'utf8' })
          .split('\n')
          .filter((l) => /^[0-9a-f]{16}\|/.test(l))
          .map((l) => l.slice(0, 8)),
      );
      expect(ids.size).toBeGreaterThan(0);
      expect((metric(o, 'queue') ?? 0) + (metric(o, 'suspended') ?? 0)).toBe(ids.size);
      expect(metric(o, 'offline')).toBe(filesIn(path.join(SPOOLS[0], 'offline')));
      expect(total).toBe(ids.size + filesIn(path.join(SPOOLS[0], 'offline')));
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
    // Debian-exim 0750, Sendmail's mqueue smmta:smmsp 2750, nullmailer's queue/ mail:root 0750 and
    // OpenSMTPD's queue/ 0700 opensmtpq, so nobody without groups reads none of them.
    if (MTA === 'postfix' || MTA === 'nullmailer') {
      // postqueue is setgid postdrop, nullmailer's mailq setuid mail: anyone may list the queue.
      expect(denied.code).toBe(3);
      expect(denied.out).toMatch(/^MAILQ UNKNOWN - cannot read the spool .*sudo/);
      expect(denied.out.trim().split('\n')).toHaveLength(1);
      const auto = depth(['--mta', MTA!, '--format', 'json'], '65534');
      const o = JSON.parse(auto.out);
      expect(o.source).toBe('command');
      expect(o.details.join('\n')).toMatch(/spool not readable/);
      expect(o.metrics.find((m: { label: string }) => m.label === 'total').value).toBeGreaterThan(0);
    } else {
      expect(denied.code, denied.out).toBe(3);
      expect(denied.out).toMatch(/^MAILQ UNKNOWN - .*(cannot read|permission|EACCES)/);
    }
    if (MTA === 'opensmtpd') {
      // smtpctl refuses to list for anyone but root: auto has nothing to fall back to, and says so.
      const auto = depth(['--mta', MTA!], '65534');
      expect(auto.code, auto.out).toBe(3);
      expect(auto.out.trim().split('\n')).toHaveLength(1);
    }
  });

  // Issue 18: the shape view against Postfix's own qshape on the live queue, at the same moment
  // (Perl's time() and the check's clock pinned to one epoch second).
  it.skipIf(MTA !== 'postfix' || !fs.existsSync('/usr/sbin/qshape'))('--shape agrees with the real qshape on the live queue, by recipient and by sender', () => {
    const spool = SPOOLS[0];
    const now = Math.floor(Date.now() / 1000);
    const fakeNow = path.join(__dirname, '../integration/helpers/fake-now.mjs');
    const parse = (text: string) =>
      Object.fromEntries(
        text
          .split('\n')
          .slice(1)
          .filter((l) => l.trim())
          .map((l) => {
            const c = l.trim().split(/\s+/);
            return [c[0], c.slice(1).map(Number)];
          }),
      );
    for (const by of ['recipient', 'sender'] as const) {
      const wrapper = 'BEGIN { my $t = $ENV{QSHAPE_NOW}; *CORE::GLOBAL::time = sub () { $t } } $0 = "qshape"; do "/usr/sbin/qshape"; die $@ if $@;';
      // Not maildrop: Postfix 3.7's qshape takes a file whose first record is T for no queue file (and
      // postdrop's files start with one), so it never counts maildrop mail; the check is given the same queues.
      const names = ['incoming', 'active', 'deferred', 'hold'];
      const queues = names.map((q) => path.join(spool, q)).filter((d) => fs.existsSync(d));
      const q = spawnSync('perl', ['-e', wrapper, '--', '-w', '300', ...(by === 'sender' ? ['-s'] : []), ...queues], { encoding: 'utf8', env: { ...process.env, QSHAPE_NOW: String(now) } });
      expect(q.status, q.stderr).toBe(0);
      const r = spawnSync(process.execPath, ['--import', fakeNow, BIN, '--mta', 'postfix', '--spool', spool, '--no-cache', '--queue', names.join(','), '--shape', by, '--shape-rows', '100', '--format', 'json'], {
        encoding: 'utf8',
        env: { ...process.env, FAKE_NOW_MS: String(now * 1000) },
        timeout: 60_000,
      });
      const shape = JSON.parse(r.stdout).shape as { rows: { domain: string; counts: number[] }[] };
      expect(Object.fromEntries(shape.rows.map((x) => [x.domain, x.counts])), by).toEqual(parse(q.stdout));
    }
  });
});
