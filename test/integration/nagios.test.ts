// Nagios 4 (Debian's nagios4-core) schedules every check: the shipped command definitions
// (sensu-assets/nagios/commands.cfg) run the checks from the asset tarballs with the runtime
// asset's node, as the nagios user, against copies of the captured spools and logs. The test
// writes a minimal configuration in a temp dir, verifies it with `nagios4 -v` (and the shipped
// example services on Debian's templates), runs Nagios as a daemon, waits until status.dat shows
// every service checked, asserts state, plugin output and performance data, and stops Nagios by
// its pid. Needs root (Nagios drops to the nagios user) and nagios4: CI installs it with
// test/integration/nagios-setup.sh.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildAssets,
  checkBins,
  fixture,
  fixtureLog,
  isRoot,
  NAGIOS_DIR,
  pidAlive,
  removeTempDirs,
  run,
  snapshotDist,
  stopPid,
  tempDir,
  unpack,
  waitFor,
  which,
} from './helpers/env.js';

// On CI (root, CI=true) a missing nagios4 is installed here, so the test cannot be skipped by an
// unprepared machine; elsewhere the test says how to install it and skips.
const setup = (() => {
  if (which('nagios4') || !isRoot() || process.env.CI !== 'true' || !which('apt-get')) return '';
  const r = run('bash', [path.join(__dirname, 'nagios-setup.sh')], { timeout: 600_000 });
  return r.code === 0 ? '' : `nagios-setup.sh failed (${r.code}): ${(r.out + r.err).trim().split('\n').slice(-3).join(' / ')}`;
})();
const nagios = which('nagios4');
const nagiosUser = (() => {
  try {
    return execFileSync('id', ['-u', 'nagios'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
})();
const skip = setup
  ? setup
  : !isRoot()
  ? 'not root: Nagios is started as root and drops to the nagios user (CI runs this as root)'
  : !nagios
    ? 'nagios4 not installed: run `sudo bash test/integration/nagios-setup.sh` (CI does)'
    : !nagiosUser
      ? 'no nagios user (install nagios4-core with test/integration/nagios-setup.sh)'
      : '';
if (skip) console.warn(`nagios.test.ts skipped: ${skip}`);

const STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];

interface Expect {
  state: 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';
  output: RegExp;
  perf?: RegExp;
  /** Only checked once; else every second. */
  once?: boolean;
}
interface Service {
  description: string;
  /** check_command: the shipped command and its !arguments. */
  command: string;
  expect: Expect;
}

/** status.dat blocks: [{type, attrs}] */
function parseStatus(text: string): { type: string; attrs: Record<string, string> }[] {
  const out: { type: string; attrs: Record<string, string> }[] = [];
  for (const m of text.matchAll(/^(\w+) \{\n([\s\S]*?)\n\s*\}/gm)) {
    const attrs: Record<string, string> = {};
    for (const l of m[2].split('\n')) {
      const i = l.indexOf('=');
      if (i > 0) attrs[l.slice(0, i).trim()] = l.slice(i + 1);
    }
    out.push({ type: m[1], attrs });
  }
  return out;
}

const FX_ROOT = path.join(__dirname, '../fixtures/mta');
/** Paths into the copy of test/fixtures/mta made for nagios (@FX@), filled in by beforeAll. */
const spool = (mta: 'postfix' | 'exim' | 'sendmail') => fixture(mta).spools.map((s) => `--spool @FX@/${path.relative(FX_ROOT, s)}`).join(' ');
const log = (mta: 'postfix' | 'exim') => `@FX@/${path.relative(FX_ROOT, fixtureLog(mta))}`;

// What Nagios schedules: the shipped commands with fixture paths in $ARG3$, thresholds chosen
// so every state shows up. The depth services judge the count only (--no-default-thresholds): the
// captures are days old by the clock, so the default age thresholds would judge the calendar. Outputs are matched after Nagios' own rewriting (';' -> ':').
const SERVICES: Service[] = [
  {
    description: 'depth postfix',
    command: `check_mailq_depth!10!50!--mta postfix ${spool('postfix')} --no-default-thresholds`,
    expect: {
      state: 'WARNING',
      output: /^MAILQ WARNING - 30 messages queued \(deferred 23, hold 3, maildrop 4\), oldest .*: top sender app@qa\.example \(33%\), top recipient qanotify@lab\.example \(25%\)$/,
      perf: /^total=30;10;50;0 incoming=0;;;0 active=0;;;0 deferred=23;;;0 hold=3;;;0 maildrop=4;;;0 corrupt=0;;;0 bytes=\d+B;;;0 oldest_age=\d+s;;;0 recipients=40;;;0 bounces=6;;;0( |$)/,
    },
  },
  {
    description: 'depth exim',
    command: `check_mailq_depth!50!100!--mta exim ${spool('exim')} --no-default-thresholds`,
    expect: { state: 'OK', output: /^MAILQ OK - 30 messages queued \(input 28, frozen 2\)/, perf: /^total=30;50;100;0 input=28;;;0 frozen=2;;;0 / },
  },
  {
    description: 'depth sendmail',
    command: `check_mailq_depth!10!20!--mta sendmail ${spool('sendmail')} --no-default-thresholds`,
    expect: { state: 'CRITICAL', output: /^MAILQ CRITICAL - 30 messages queued \(mqueue 24, clientmqueue 4, quarantine 2\)/, perf: /^total=30;10;20;0 mqueue=24;;;0 clientmqueue=4;;;0 quarantine=2;;;0 lost=0;;;0 / },
  },
  {
    description: 'depth missing spool',
    command: `check_mailq_depth!10!20!--mta postfix --spool @FX@/no-such-spool`,
    expect: { state: 'UNKNOWN', output: /^MAILQ UNKNOWN - spool \S+no-such-spool not found: check the --spool path/, perf: /^$/ },
  },
  {
    description: 'bounces postfix',
    command: `check_mailer_daemon!10!50!--mta postfix ${spool('postfix')} --min-messages 5`,
    expect: { state: 'WARNING', output: /^MAILER-DAEMON WARNING - 20\.0% of 30 queued are bounces \(6,/, perf: /^ratio=20%;10;50;0;100 .*bounces=6;;;0 total=30;;;0 / },
  },
  {
    description: 'bounces exim',
    command: `check_mailer_daemon!30!50!--mta exim ${spool('exim')} --min-messages 5`,
    expect: { state: 'OK', output: /^MAILER-DAEMON OK - 20\.0% of 30 queued are bounces/, perf: /^ratio=20%;30;50;0;100 / },
  },
  {
    // Re-run every second: the samples count in the perfdata shows the state file kept by the
    // nagios user between runs.
    description: 'growth postfix',
    command: `check_mailq_growth!50!500!--mta postfix ${spool('postfix')} --state-dir @STATE@`,
    expect: { state: 'OK', output: /^MAILQ_GROWTH OK - collecting baseline .*30 queued$/, perf: /^total=30;;;0 samples=([2-9]|\d\d+);;;0$/ },
  },
  {
    description: 'spool disk',
    // Less than 1000 TB free is CRITICAL on any machine: a deterministic alert on a real statfs.
    command: `check_spool_disk!99!100!--mta postfix ${spool('postfix')} --state-dir @STATE@ --free-critical 1000T`,
    expect: { state: 'CRITICAL', output: /^SPOOL_DISK CRITICAL - \S+ \d+% used \(/, perf: /^used_pct=[\d.]+%;99;100;0;100 free_bytes=\d+B;;1099511627776000:;0;\d+ / },
  },
  {
    // The whole log once (--from-start), then never again: later runs would see no new lines.
    description: 'log flood postfix',
    command: `check_maillog_flood!100000!1000000!--log ${log('postfix')} --state-dir @STATE@ --from-start --repeat-warning 20 --repeat-min-rate 0`,
    expect: { state: 'WARNING', output: /^MAILLOG_FLOOD WARNING - 23% of lines: "postfix\/smtp\[<n>\]: <qid>: to=<addr>, relay=none, .*status=deferred /, perf: /lines_per_min=[\d.]+;100000;1000000;0 .*top_template_share=23\.03%;20;;0;100 /, once: true },
  },
  {
    description: 'log flood exim',
    command: `check_maillog_flood!100000!1000000!--log ${log('exim')} --state-dir @STATE@ --from-start`,
    expect: { state: 'OK', output: /^MAILLOG_FLOOD OK - /, perf: /^lines_per_min=[\d.]+;100000;1000000;0 /, once: true },
  },
];

describe.skipIf(!!skip)('Nagios 4 runs every check', () => {
  let dir: string;
  let pid = 0;
  let services: Service[] = [];
  let status: Map<string, Record<string, string>>;

  beforeAll(async () => {
    dir = tempDir('mailq-nagios-');
    fs.chmodSync(dir, 0o755);
    // The checks as shipped: the two asset tarballs, unpacked like /opt/mailq-checks.
    const built = buildAssets(snapshotDist(path.join(dir, 'dist')), path.join(dir, 'assets'));
    const opt = path.join(dir, 'opt/mailq-checks');
    unpack(built.checksTarball, opt);
    unpack(built.nodeTarball, path.join(opt, 'node'));
    // Copies of the captured spools and logs, owned by nagios like a queue by its MTA.
    const fx = path.join(dir, 'fx');
    fs.cpSync(FX_ROOT, fx, { recursive: true });
    const state = path.join(dir, 'state');
    fs.mkdirSync(state);
    services = SERVICES.map((x) => ({ ...x, command: x.command.replace(/@FX@/g, fx).replace(/@STATE@/g, state) }));

    const cfgDir = path.join(dir, 'etc');
    fs.mkdirSync(cfgDir);
    fs.mkdirSync(path.join(dir, 'checkresults'));
    fs.copyFileSync(path.join(NAGIOS_DIR, 'commands.cfg'), path.join(cfgDir, 'mailq-commands.cfg'));
    fs.writeFileSync(path.join(cfgDir, 'resource.cfg'), `$USER1$=/usr/lib/nagios/plugins\n$USER5$=${opt}/bin\n$USER6$=${opt}/node/bin/node\n`);
    const def = (type: string, attrs: Record<string, string | number>) =>
      `define ${type} {\n${Object.entries(attrs)
        .map(([k, v]) => `  ${k.padEnd(30)} ${v}`)
        .join('\n')}\n}\n`;
    const objects = [
      def('timeperiod', { timeperiod_name: 'always', alias: 'always', ...Object.fromEntries(['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'].map((d) => [d, '00:00-24:00'])) }),
      def('command', { command_name: 'notify_none', command_line: '/bin/true' }),
      def('command', { command_name: 'host_up', command_line: '/bin/true' }),
      def('contact', {
        contact_name: 'nobody',
        host_notifications_enabled: 0,
        service_notifications_enabled: 0,
        host_notification_period: 'always',
        service_notification_period: 'always',
        host_notification_options: 'n',
        service_notification_options: 'n',
        host_notification_commands: 'notify_none',
        service_notification_commands: 'notify_none',
      }),
      def('host', { host_name: 'mx1', alias: 'mail relay', address: '127.0.0.1', check_command: 'host_up', max_check_attempts: 1, check_period: 'always', contacts: 'nobody', notification_interval: 0, notification_period: 'always' }),
      ...services.map((s) =>
        def('service', {
          host_name: 'mx1',
          service_description: s.description,
          check_command: s.command,
          max_check_attempts: 1,
          check_interval: s.expect.once ? 86400 : 1, // interval_length=1: seconds
          retry_interval: 1,
          check_period: 'always',
          contacts: 'nobody',
          notification_interval: 0,
          notification_period: 'always',
        }),
      ),
    ];
    fs.writeFileSync(path.join(cfgDir, 'objects.cfg'), objects.join('\n'));
    fs.writeFileSync(
      path.join(cfgDir, 'nagios.cfg'),
      [
        `log_file=${dir}/nagios.log`,
        `cfg_file=${cfgDir}/mailq-commands.cfg`,
        `cfg_file=${cfgDir}/objects.cfg`,
        `resource_file=${cfgDir}/resource.cfg`,
        `object_cache_file=${dir}/objects.cache`,
        `precached_object_file=${dir}/objects.precache`,
        `status_file=${dir}/status.dat`,
        'status_update_interval=1',
        'nagios_user=nagios',
        'nagios_group=nagios',
        'check_external_commands=0',
        `command_file=${dir}/nagios.cmd`,
        `query_socket=${dir}/nagios.qh`,
        `lock_file=${dir}/nagios.pid`,
        `temp_file=${dir}/nagios.tmp`,
        `temp_path=${dir}`,
        `check_result_path=${dir}/checkresults`,
        `state_retention_file=${dir}/retention.dat`,
        'retain_state_information=0',
        'use_syslog=0',
        'interval_length=1',
        'service_inter_check_delay_method=n',
        'host_inter_check_delay_method=n',
        'max_service_check_spread=1',
        'max_host_check_spread=1',
        'check_result_reaper_frequency=1',
        'service_check_timeout=60',
        'enable_notifications=0',
        'enable_flap_detection=0',
        'check_for_updates=0',
        'log_initial_states=1',
        'process_performance_data=0',
        "illegal_macro_output_chars=`~$&|'\"<>",
        '',
      ].join('\n'),
    );
    // Everything the nagios user reads or writes (the checks stay root's, world-readable).
    execFileSync('chown', ['-R', 'nagios:nagios', fx, state, cfgDir, path.join(dir, 'checkresults')]);
    execFileSync('chown', ['nagios:nagios', dir]);

    const v = run(nagios!, ['-v', path.join(cfgDir, 'nagios.cfg')]);
    expect(v.code, v.out).toBe(0);
    expect(v.out).toMatch(/Total Warnings:\s+0\s+Total Errors:\s+0/);

    // As a daemon, with a minimal environment: the checks must not depend on the caller's PATH.
    const start = run(nagios!, ['-d', path.join(cfgDir, 'nagios.cfg')], { cwd: dir, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
    expect(start.code, start.out + start.err).toBe(0);
    pid = await waitFor('nagios.pid', 15_000, () => {
      const f = path.join(dir, 'nagios.pid');
      const p = fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8').trim()) : 0;
      return p > 0 ? p : undefined;
    });
    status = await waitFor('every service checked in status.dat', 90_000, () => {
      if (!pidAlive(pid)) throw new Error(`nagios exited: ${fs.existsSync(path.join(dir, 'nagios.log')) ? fs.readFileSync(path.join(dir, 'nagios.log'), 'utf8') : ''}`);
      if (!fs.existsSync(path.join(dir, 'status.dat'))) return undefined;
      const svc = new Map(
        parseStatus(fs.readFileSync(path.join(dir, 'status.dat'), 'utf8'))
          .filter((b) => b.type === 'servicestatus')
          .map((b) => [b.attrs.service_description, b.attrs]),
      );
      const done = services.every((s) => svc.get(s.description)?.has_been_checked === '1');
      // The growth check again and again, until its state file has a few samples.
      const growth = /samples=(\d+)/.exec(svc.get('growth postfix')?.performance_data ?? '');
      return done && growth && Number(growth[1]) >= 3 ? svc : undefined;
    });
  }, 180_000);

  afterAll(async () => {
    if (pid) {
      const how = await stopPid(pid);
      expect(how, 'nagios stops on SIGTERM').toBe('terminated');
    }
    removeTempDirs();
  });

  it('status.dat has every service we defined, and every built check is scheduled', () => {
    expect([...status.keys()].sort()).toEqual(services.map((s) => s.description).sort());
    const used = new Set(services.map((s) => s.command.split('!')[0].replace(/_/g, '-')));
    for (const bin of checkBins()) expect(used.has(bin), `a service running ${bin}`).toBe(true);
  });

  it.each(SERVICES.map((x) => [x.description, x.expect.state] as const))('%s: %s, with its plugin output and performance data', (description) => {
    const s = services.find((x) => x.description === description)!;
    const st = status.get(s.description)!;
    expect(STATES[Number(st.current_state)], `${s.description}: ${st.plugin_output}`).toBe(s.expect.state);
    expect(st.plugin_output, s.description).toMatch(s.expect.output);
    if (s.expect.perf) expect(st.performance_data, s.description).toMatch(s.expect.perf);
    expect(st.check_type).toBe('0'); // active
    // Ended on its own, not by Nagios' service_check_timeout (how long it took is the benchmark's business).
    expect(st.plugin_output, s.description).not.toMatch(/timed out/i);
  });

  it('long output reaches Nagios (the culprits under the summary)', () => {
    expect(status.get('depth postfix')!.long_plugin_output).toMatch(/^queues: incoming 0, active 0, deferred 23, hold 3, maildrop 4, corrupt 0\\n/);
    expect(status.get('depth postfix')!.long_plugin_output).toMatch(/top senders:\\n {2}app@qa\.example 10 \(33%\)/);
  });

  it('ran the checks as the nagios user (its state file), and logged the alerts', () => {
    const log = fs.readFileSync(path.join(dir, 'nagios.log'), 'utf8');
    expect(log).toMatch(/SERVICE ALERT: mx1;depth sendmail;CRITICAL;HARD;1;MAILQ CRITICAL/);
    // The growth state file was written by nagios.
    const files = fs.readdirSync(path.join(dir, 'state')).filter((f) => f.startsWith('mailq_growth-'));
    expect(files.length).toBeGreaterThan(0);
    expect(fs.statSync(path.join(dir, 'state', files[0])).uid).toBe(Number(nagiosUser));
  });

  it('the shipped example services verify on Debian’s templates (nagios4 -v)', () => {
    const etc = '/etc/nagios4/objects';
    const cfg = path.join(dir, 'etc', 'examples.cfg');
    const hosts = path.join(dir, 'etc', 'example-hosts.cfg');
    fs.writeFileSync(hosts, ['mx1', 'mx2'].map((h) => `define host {\n  use        linux-server\n  host_name  ${h}\n  alias      ${h}\n  address    127.0.0.1\n}\n`).join('\n'));
    fs.writeFileSync(
      cfg,
      [
        // As Debian's own nagios.cfg: its plugin commands too (check-host-alive; no name may clash).
        'cfg_dir=/etc/nagios-plugins/config',
        ...['templates.cfg', 'timeperiods.cfg', 'contacts.cfg', 'commands.cfg'].map((f) => `cfg_file=${etc}/${f}`),
        `cfg_file=${NAGIOS_DIR}/commands.cfg`,
        `cfg_file=${NAGIOS_DIR}/services.cfg`,
        `cfg_file=${hosts}`,
        `resource_file=${dir}/etc/resource.cfg`,
        `lock_file=${dir}/examples.pid`,
        `check_result_path=${dir}/checkresults`,
        'nagios_user=nagios',
        'nagios_group=nagios',
        '',
      ].join('\n'),
    );
    const v = run(nagios!, ['-v', cfg]);
    expect(v.code, v.out).toBe(0);
    expect(v.out).toMatch(/Total Errors:\s+0/);
    expect(v.out).toMatch(/Checked 6 services/);
  });
});
