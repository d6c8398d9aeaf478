// Icinga 2 (Debian's icinga2-bin 2.13) schedules every check: the shipped CheckCommands and apply
// rules (sensu-assets/icinga2/commands.conf and services.conf, copied unchanged) run the checks from
// the asset tarballs with the runtime asset's node, as the nagios user, against copies of the captured
// spools and logs. The test writes the rest of a configuration in a temp dir (three hosts with the
// vars, a fast "generic-service", the API listener and user), makes the API's CA and certificate with
// `icinga2 pki` there, validates with `icinga2 daemon -C`, runs the daemon as root (it drops to the
// nagios user) with every state/cache/log/run dir in the temp dir (-D DataDir=... ...), reads state,
// output and performance data back through the REST API over https to 127.0.0.1 (verified with that
// CA), lets Icinga's own parser read the performance data (`icinga2 console`), and stops the daemon by
// its pid. /etc/icinga2 and /var/{lib,cache,log}/icinga2 are not touched (checked).
// Needs root and icinga2: CI installs it with test/integration/icinga-setup.sh.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ASSETS_DIR,
  buildAssets,
  checkBins,
  fixture,
  fixtureLog,
  isRoot,
  pidAlive,
  removeTempDirs,
  run,
  runCheck,
  snapshotDist,
  stopPid,
  tempDir,
  unpack,
  which,
  type Mta,
} from './helpers/env.js';

const ICINGA_DIR = path.join(ASSETS_DIR, 'icinga2');

// On CI (root, CI=true) a missing icinga2 is installed here, so the test cannot be skipped by an
// unprepared machine; elsewhere the test says how to install it and skips.
const setup = (() => {
  if (which('icinga2') || !isRoot() || process.env.CI !== 'true' || !which('apt-get')) return '';
  const r = run('bash', [path.join(__dirname, 'icinga-setup.sh')], { timeout: 600_000 });
  return r.code === 0 ? '' : `icinga-setup.sh failed (${r.code}): ${(r.out + r.err).trim().split('\n').slice(-3).join(' / ')}`;
})();
const icinga2 = which('icinga2');
const nagiosUid = (() => {
  try {
    return Number(execFileSync('id', ['-u', 'nagios'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
})();
const skip = setup
  ? setup
  : !isRoot()
    ? 'not root: icinga2 is started as root and drops to the nagios user (CI runs this as root)'
    : !icinga2
      ? 'icinga2 not installed: run `sudo bash test/integration/icinga-setup.sh` (CI does)'
      : nagiosUid === undefined
        ? 'no nagios user (icinga2-common creates it: test/integration/icinga-setup.sh)'
        : '';
if (skip) console.warn(`icinga2.test.ts skipped: ${skip}`);

const STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;
type State = (typeof STATES)[number];
const NODE = 'mailq-icinga-test';
const API_USER = 'mailq-test';
const API_PASSWORD = 'mailq-test-only-loopback';

interface Expect {
  state: State;
  /** The first line (Icinga's output attribute holds the whole plugin output). */
  first: RegExp;
  /** Labels Icinga's parser must find, with unit (Icinga's names) and, where given, value/warn/crit. */
  perf: Record<string, { unit?: string; value?: number; warn?: number | null; crit?: number | null }>;
}

/** The hosts: what a mail admin sets, with fixture paths (@FX@) and thresholds that make every state show up. */
const HOSTS: { name: string; mta: Mta; vars: Record<string, unknown> }[] = [
  {
    name: 'mx-postfix',
    mta: 'postfix',
    vars: {
      // depth: -w 10 -c 50 (WARNING on 30), with the shipped age rule 1h/12h (CRITICAL: 8 days old).
      mailq_depth_warning: 10,
      mailq_depth_critical: 50,
      mailer_daemon_warning: 10,
      mailer_daemon_min_messages: 5,
      maillog_flood_warning: 100000,
      maillog_flood_critical: 1000000,
      maillog_flood_repeat_warning: 20,
      maillog_flood_repeat_min_rate: 0,
    },
  },
  {
    name: 'mx-exim',
    mta: 'exim',
    vars: {
      mailq_depth_warning: 50,
      mailq_depth_critical: 100,
      // Older than the fixture: the count decides.
      mailq_depth_age_warning: '3650d',
      mailq_depth_age_critical: '3650d',
      mailer_daemon_warning: 30,
      mailer_daemon_min_messages: 5,
      maillog_flood_warning: 100000,
      maillog_flood_critical: 1000000,
      maillog_flood_top: 3,
    },
  },
  {
    name: 'mx-sendmail',
    mta: 'sendmail',
    vars: {
      mailq_depth_warning: 10,
      mailq_depth_critical: 20,
      mailq_depth_age_warning: '3650d',
      mailq_depth_age_critical: '3650d',
      mailq_depth_sizes: true,
      maillog_flood_warning: 100000,
      maillog_flood_critical: 1000000,
    },
  },
  {
    // Nothing where the host says: every check UNKNOWN, its one line naming the path and the fix.
    name: 'mx-missing',
    mta: 'postfix',
    vars: { mailq_spool: ['@FX@/no-such-spool'], maillog_flood_log: ['@FX@/no-such.log'] },
  },
];

/** Expected results per host!service. Counts from test/fixtures/README.md (the MTA's own listing). */
const EXPECT: Record<string, Expect> = {
  'mx-postfix!mail-queue': {
    state: 'CRITICAL',
    first: /^MAILQ CRITICAL - 30 messages queued \(deferred 23, hold 3, maildrop 4\), oldest \d+d.*; top sender app@qa\.example \(33%\)/,
    perf: { total: { value: 30, warn: 10, crit: 50, unit: '' }, deferred: { value: 23 }, hold: { value: 3 }, maildrop: { value: 4 }, bounces: { value: 6 }, recipients: { value: 40 }, oldest_age: { unit: 'seconds', warn: 3600, crit: 43200 }, bytes: { unit: 'bytes' } },
  },
  'mx-postfix!mail-queue-deferred': {
    state: 'CRITICAL',
    first: /^MAILQ CRITICAL - 23 in deferred of 30 queued, oldest \d+d/,
    perf: { deferred: { value: 23, warn: 200, crit: 1000 }, total: { value: 30, warn: null, crit: null }, oldest_age: { unit: 'seconds', warn: 1800, crit: 7200 } },
  },
  'mx-exim!mail-queue': {
    state: 'OK',
    first: /^MAILQ OK - 30 messages queued \(input 28, frozen 2\)/,
    perf: { total: { value: 30, warn: 50, crit: 100 }, input: { value: 28 }, frozen: { value: 2 }, bounces: { value: 6 } },
  },
  'mx-sendmail!mail-queue': {
    state: 'CRITICAL',
    first: /^MAILQ CRITICAL - 30 messages queued \(mqueue 24, clientmqueue 4, quarantine 2\)/,
    perf: { total: { value: 30, warn: 10, crit: 20 }, mqueue: { value: 24 }, clientmqueue: { value: 4 }, quarantine: { value: 2 }, bytes: { unit: 'bytes' } },
  },
  'mx-postfix!mail-bounces': {
    state: 'WARNING',
    first: /^MAILER-DAEMON WARNING - 20\.0% of 30 queued are bounces \(6, .*victim\.example/,
    perf: { ratio: { value: 20, unit: 'percent', warn: 10, crit: 50 }, bounces: { value: 6 }, total: { value: 30 } },
  },
  'mx-exim!mail-bounces': {
    state: 'OK',
    first: /^MAILER-DAEMON OK - 20\.0% of 30 queued are bounces/,
    perf: { ratio: { value: 20, unit: 'percent', warn: 30, crit: 50 }, bounces: { value: 6 } },
  },
  // The command's default --min-messages 100: 30 queued is too few to judge.
  'mx-sendmail!mail-bounces': { state: 'OK', first: /^MAILER-DAEMON OK - .*30/, perf: { ratio: { unit: 'percent', warn: 20, crit: 50 } } },
  ...Object.fromEntries(
    HOSTS.map((h) => [
      `${h.name}!mail-queue-growth`,
      { state: 'OK', first: /^MAILQ_GROWTH OK - .*30 queued/, perf: { total: { value: 30 }, samples: {} } } satisfies Expect,
    ]),
  ),
  // Less than 1000 TB free is CRITICAL on any machine: a deterministic alert on a real statfs.
  ...Object.fromEntries(
    HOSTS.map((h) => [
      `${h.name}!mail-spool-disk`,
      { state: 'CRITICAL', first: /^SPOOL_DISK CRITICAL - \S+ \d+% used \(/, perf: { used_pct: { unit: 'percent', warn: 85, crit: 95 }, free_bytes: { unit: 'bytes', crit: null } } } satisfies Expect,
    ]),
  ),
  'mx-postfix!mail-log-flood': {
    state: 'WARNING',
    first: /^MAILLOG_FLOOD WARNING - 23% of lines: "postfix\/smtp\[<n>\]: <qid>: to=<addr>, relay=none, .*status=deferred/,
    perf: { top_template_share: { unit: 'percent', value: 23.03, warn: 20, crit: 50 }, lines_per_min: { warn: 100000, crit: 1000000 }, top_sender_per_min: { warn: 30, crit: 120 }, bounces_per_min: { warn: null, crit: 60 } },
  },
  // The shipped rule has no repeat WARNING: only -w/-c and the Sensu extras, none reached.
  'mx-exim!mail-log-flood': { state: 'OK', first: /^MAILLOG_FLOOD OK - /, perf: { top_template_share: { unit: 'percent', crit: 50 }, lines_per_min: {} } },
  'mx-sendmail!mail-log-flood': { state: 'OK', first: /^MAILLOG_FLOOD OK - .*sendmail/, perf: { lines_per_min: {} } },
  'mx-missing!mail-queue': { state: 'UNKNOWN', first: /^MAILQ UNKNOWN - spool \S+\/fx\/no-such-spool not found: check the --spool path/, perf: {} },
  'mx-missing!mail-queue-deferred': { state: 'UNKNOWN', first: /^MAILQ UNKNOWN - spool \S+\/fx\/no-such-spool not found: check the --spool path/, perf: {} },
  'mx-missing!mail-bounces': { state: 'UNKNOWN', first: /^MAILER-DAEMON UNKNOWN - spool \S+\/fx\/no-such-spool not found: check the --spool path/, perf: {} },
  'mx-missing!mail-queue-growth': { state: 'UNKNOWN', first: /^MAILQ_GROWTH UNKNOWN - spool \S+\/fx\/no-such-spool not found: check the --spool path/, perf: {} },
  'mx-missing!mail-spool-disk': { state: 'UNKNOWN', first: /^SPOOL_DISK UNKNOWN - postfix spool \S+\/fx\/no-such-spool not found \(ENOENT\): give --spool DIR/, perf: {} },
  'mx-missing!mail-log-flood': { state: 'UNKNOWN', first: /^MAILLOG_FLOOD UNKNOWN - \S+\/fx\/no-such\.log not found/, perf: {} },
};

interface ApiService {
  name: string;
  attrs: {
    host_name: string;
    name: string;
    check_command: string;
    last_check: number;
    last_check_result: null | { state: number; output: string; performance_data: string[]; command: string[]; exit_status: number };
  };
}
interface Parsed {
  label: string;
  value: number;
  unit: string;
  warn: number | null;
  crit: number | null;
  min: number | null;
  max: number | null;
}

describe.skipIf(!!skip)('Icinga 2 runs every check', () => {
  let dir: string;
  let pid = 0;
  let port = 0;
  let ca: Buffer;
  let defs: string[] = [];
  let services = new Map<string, ApiService['attrs']>();
  let commands = new Map<string, Record<string, unknown>>();
  let parsed = new Map<string, Parsed[]>();
  let untouched: () => void = () => {};
  let daemonLog = '';

  /** One REST API call over https to 127.0.0.1, the server certificate verified against our CA. */
  const api = (method: 'GET' | 'POST', p: string, body?: unknown): Promise<{ status: number; json: any }> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: p,
          ca,
          servername: NODE,
          auth: `${API_USER}:${API_PASSWORD}`,
          headers: { Accept: 'application/json', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            try {
              resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
            } catch (e) {
              reject(new Error(`${method} ${p}: ${res.statusCode}: not JSON: ${text.slice(0, 200)}`));
            }
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });

  /** Poll (async) until fn returns a value; generous, against a hang only. */
  async function poll<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
    const end = Date.now() + ms;
    let last = '';
    for (;;) {
      if (pid && !pidAlive(pid)) throw new Error(`icinga2 exited while waiting for ${what}:\n${fs.readFileSync(daemonLog, 'utf8').slice(-3000)}`);
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last: ${last})` : ''}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  beforeAll(async () => {
    // Nothing of the machine's own Icinga changes: listing (name, size, mtime) before and after.
    // (A packaged icinga2 running beside us writes its own /var dirs: then only /etc/icinga2 is compared.)
    const packaged = (() => {
      try {
        return pidAlive(Number(fs.readFileSync('/run/icinga2/icinga2.pid', 'utf8').trim()));
      } catch {
        return false;
      }
    })();
    const watched = packaged ? ['/etc/icinga2'] : ['/etc/icinga2', '/var/lib/icinga2', '/var/cache/icinga2', '/var/log/icinga2', '/run/icinga2'];
    const snapshot = () => watched.flatMap((d) => (fs.existsSync(d) ? run('find', [d, '-printf', '%p %s %T@\\n']).out.split('\n') : [`${d} absent`]));
    const before = snapshot();
    untouched = () => expect(snapshot()).toEqual(before);

    dir = tempDir('mailq-icinga-');
    fs.chmodSync(dir, 0o755);
    // The checks as shipped: the two asset tarballs, unpacked like /opt/mailq-checks.
    const built = buildAssets(snapshotDist(path.join(dir, 'dist')), path.join(dir, 'assets'));
    const opt = path.join(dir, 'opt/mailq-checks');
    unpack(built.checksTarball, opt);
    unpack(built.nodeTarball, path.join(opt, 'node'));
    // Copies of the captured spools and logs, owned by nagios like a queue by its MTA.
    const fxRoot = path.join(__dirname, '../fixtures/mta');
    const fx = path.join(dir, 'fx');
    fs.cpSync(fxRoot, fx, { recursive: true });
    const rebase = (p: string) => path.join(fx, path.relative(fxRoot, p));
    const state = path.join(dir, 'state');
    // Icinga's own directories (-D ...Dir): nothing under /var or /etc.
    const idirs = { DataDir: 'data', LogDir: 'log', CacheDir: 'cache', SpoolDir: 'spool', InitRunDir: 'run' };
    const etc = path.join(dir, 'etc');
    for (const d of [state, etc, ...Object.values(idirs).map((d) => path.join(dir, d))]) fs.mkdirSync(d);
    fs.mkdirSync(path.join(dir, 'data/certs'));
    port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
      s.on('error', reject);
    });
    defs = [
      ...Object.entries(idirs).map(([k, v]) => `-D${k}=${path.join(dir, v)}`),
      `-DNodeName=${NODE}`,
      `-DZoneName=${NODE}`,
      // The install layout's constants, here the unpacked assets (commands.conf stays as shipped).
      `-DMailqChecksPluginDir=${opt}/bin`,
      `-DMailqChecksNode=${opt}/node/bin/node`,
    ];

    // The shipped files, unchanged; the rest is this test's (what a site has in conf.d).
    for (const f of ['commands.conf', 'services.conf']) fs.copyFileSync(path.join(ICINGA_DIR, f), path.join(etc, `mailq-${f}`));
    const value = (v: unknown): string => (Array.isArray(v) ? `[ ${v.map(value).join(', ')} ]` : typeof v === 'string' ? JSON.stringify(v) : String(v));
    const hosts = HOSTS.map((h) => {
      const vars: Record<string, unknown> = {
        mta: h.mta,
        mailq_spool: fixture(h.mta).spools.map(rebase),
        mailq_state_dir: state,
        maillog_flood_log: [rebase(fixtureLog(h.mta))],
        maillog_flood_from_start: true,
        spool_disk_free_critical: '1000T',
        ...JSON.parse(JSON.stringify(h.vars).replace(/@FX@/g, fx)),
      };
      return [`object Host "${h.name}" {`, '  check_command = "dummy"', '  address = "127.0.0.1"', ...Object.entries(vars).map(([k, v]) => `  vars.${k} = ${value(v)}`), '}'].join('\n');
    });
    fs.writeFileSync(
      path.join(etc, 'icinga2.conf'),
      [
        'include <itl>',
        'include "mailq-commands.conf"',
        'include "mailq-services.conf"',
        '',
        // Debian's generic-service checks every minute; here every second, no soft states. The log
        // flood check reads the whole log once (--from-start): it runs only when the test asks
        // (reschedule-check, force), so its one result is that first read.
        'template Service "generic-service" {',
        '  max_check_attempts = 1',
        '  check_interval = 1s',
        '  retry_interval = 1s',
        '  if (name == "mail-log-flood") { enable_active_checks = false }',
        '}',
        'object CheckerComponent "checker" { }',
        `object Endpoint NodeName { }`,
        `object Zone ZoneName { endpoints = [ NodeName ] }`,
        `object ApiListener "api" { bind_host = "127.0.0.1"; bind_port = ${port}; accept_config = false; accept_commands = false }`,
        `object ApiUser "${API_USER}" {`,
        `  password = "${API_PASSWORD}"`,
        '  permissions = [ "objects/query/Service", "objects/query/CheckCommand", "actions/reschedule-check" ]',
        '}',
        `object FileLogger "main-log" { path = LogDir + "/icinga2.log"; severity = "information" }`,
        ...hosts,
        '',
      ].join('\n'),
    );
    // Everything the nagios user reads or writes (the checks stay root's, world-readable).
    execFileSync('chown', ['-R', 'nagios:nagios', fx, state, etc, ...Object.values(idirs).map((d) => path.join(dir, d))]);

    // The API's certificates as `icinga2 pki` makes them (a CA in DataDir/ca, the node's key and
    // certificate signed by it in DataDir/certs, where the ApiListener looks by NodeName).
    const certs = path.join(dir, 'data/certs');
    for (const args of [
      ['pki', 'new-ca'],
      ['pki', 'new-cert', '--cn', NODE, '--key', `${certs}/${NODE}.key`, '--csr', `${certs}/${NODE}.csr`],
      ['pki', 'sign-csr', '--csr', `${certs}/${NODE}.csr`, '--cert', `${certs}/${NODE}.crt`],
    ]) {
      const r = run(icinga2!, [...args, ...defs]);
      expect(r.code, `icinga2 ${args.join(' ')}: ${r.out}${r.err}`).toBe(0);
    }
    fs.copyFileSync(path.join(dir, 'data/ca/ca.crt'), path.join(certs, 'ca.crt'));
    execFileSync('chown', ['nagios:nagios', path.join(certs, 'ca.crt')]);
    ca = fs.readFileSync(path.join(certs, 'ca.crt'));

    const conf = path.join(etc, 'icinga2.conf');
    const v = run(icinga2!, ['daemon', '-C', '-c', conf, ...defs]);
    expect(v.code, v.out + v.err).toBe(0);
    expect(v.out).not.toMatch(/critical\/|warning\/config/);
    expect(v.out).toMatch(/Instantiated 22 Services\./); // 5 per host, and the deferred queue of the 2 Postfix hosts

    // The daemon, in the foreground as our child (its pid is the one we stop), with a minimal
    // environment: the checks must not depend on the caller's PATH.
    daemonLog = path.join(dir, 'daemon.out');
    const out = fs.openSync(daemonLog, 'a');
    const child = spawn(icinga2!, ['daemon', '-c', conf, ...defs], { cwd: dir, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' }, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    pid = child.pid ?? 0;
    child.unref();
    expect(pid).toBeGreaterThan(0);

    await poll('the REST API', 90_000, async () => ((await api('GET', '/v1/objects/services?attrs=name')).status === 200 ? true : undefined));
    const forced = await api('POST', '/v1/actions/reschedule-check', { type: 'Service', filter: 'service.name == "mail-log-flood"', force: true });
    expect(forced.status, JSON.stringify(forced.json)).toBe(200);
    expect(forced.json.results).toHaveLength(HOSTS.length);

    const attrs = ['host_name', 'name', 'check_command', 'last_check', 'last_check_result'].map((a) => `attrs=${a}`).join('&');
    services = await poll('a check result for every service', 180_000, async () => {
      const r = await api('GET', `/v1/objects/services?${attrs}`);
      if (r.status !== 200) return undefined;
      const m = new Map<string, ApiService['attrs']>((r.json.results as ApiService[]).map((s) => [s.name, s.attrs]));
      if (![...m.values()].every((s) => s.last_check_result)) return undefined;
      // The growth check again and again, until its state file holds a few samples.
      const growthDone = HOSTS.filter((h) => h.name !== 'mx-missing').every((h) => {
        const p = m.get(`${h.name}!mail-queue-growth`)?.last_check_result?.performance_data ?? [];
        const s = p.find((x) => x.startsWith('samples='));
        return s && Number(/=(\d+)/.exec(s)![1]) >= 3;
      });
      return growthDone ? m : undefined;
    });
    const cc = await api('GET', '/v1/objects/checkcommands?attrs=name&attrs=arguments&attrs=command&attrs=vars');
    expect(cc.status).toBe(200);
    commands = new Map((cc.json.results as { name: string; attrs: Record<string, unknown> }[]).map((c) => [c.name, c.attrs]));

    // Icinga's own parser (parse_performance_data, as its metric writers use it) on what it stored.
    const all = [...services.entries()].map(([k, s]) => [k, s.last_check_result!.performance_data] as const);
    const script = `var a = ${JSON.stringify(all.map(([, p]) => p))}; var r = []; for (l in a) { var x = []; for (p in l) { x.add(parse_performance_data(p)) }; r.add(x) }; r`;
    const pr = run(icinga2!, ['console', '--eval', script, ...defs]);
    expect(pr.code, pr.out + pr.err).toBe(0);
    const lists = JSON.parse(pr.out.trim().split('\n').pop()!) as Parsed[][];
    parsed = new Map(all.map(([k], i) => [k, lists[i]]));
  }, 600_000);

  afterAll(async () => {
    if (pid) {
      const how = await stopPid(pid, 60_000);
      expect(how, 'icinga2 stops on SIGTERM').toBe('terminated');
    }
    removeTempDirs();
    untouched();
  });

  it('every host got the shipped apply rules, and every built check is scheduled', () => {
    expect([...services.keys()].sort()).toEqual(Object.keys(EXPECT).sort());
    const used = new Set([...services.values()].map((s) => s.last_check_result!.command[1]).map((c) => path.basename(c)));
    for (const bin of checkBins()) expect(used.has(bin), `a service running ${bin}`).toBe(true);
  });

  it.each(Object.entries(EXPECT).map(([k, e]) => [k, e.state] as const))('%s: %s, with its first line and performance data as Icinga parsed them', (key) => {
    const e = EXPECT[key];
    const r = services.get(key)!.last_check_result!;
    const first = r.output.split('\n')[0];
    expect(STATES[r.state], `${key}: ${r.output}`).toBe(e.state);
    expect(r.exit_status, key).toBe(r.state);
    expect(first, key).toMatch(e.first);
    expect(first, key).not.toMatch(/timed out/i);
    // Perfdata only after the one '|': none of it is left in the output Icinga shows.
    expect(r.output, key).not.toMatch(/\|.*=/);
    if (Object.keys(e.perf).length) expect(r.performance_data.length, key).toBeGreaterThan(0);
    else {
      expect(r.performance_data, key).toEqual([]);
      // Observed on 2.13.6: with nothing after it, the check's '|' stays in the output Icinga shows
      // (the text is cut at '|' only when performance data follows).
      expect(first, key).toMatch(/ \|\s*$/);
    }
    const byLabel = new Map(parsed.get(key)!.map((p) => [p.label, p]));
    expect(byLabel.size, `${key}: labels are unique`).toBe(parsed.get(key)!.length);
    for (const [label, want] of Object.entries(e.perf)) {
      const got = byLabel.get(label);
      expect(got, `${key}: perfdata ${label} in ${r.performance_data.join(' ')}`).toBeDefined();
      for (const k of ['unit', 'value', 'warn', 'crit'] as const) if (want[k] !== undefined) expect(got![k], `${key}: ${label}.${k}`).toBe(want[k]);
      expect(Number.isFinite(got!.value), `${key}: ${label} is a number`).toBe(true);
    }
  });

  it('the oldest message is as old as the capture says (perfdata oldest_age, parsed by Icinga)', () => {
    for (const key of ['mx-postfix!mail-queue', 'mx-postfix!mail-queue-deferred']) {
      const age = parsed.get(key)!.find((p) => p.label === 'oldest_age')!.value;
      const s = services.get(key)!;
      // Submitted before capturedAt, checked at last_check.
      expect(age, key).toBeGreaterThanOrEqual(Math.floor(s.last_check - fixture('postfix').capturedAt) - 1);
    }
  });

  it('Icinga built the command lines the admin asked for (host vars, rule vars, command defaults)', () => {
    const cmd = (k: string) => services.get(k)!.last_check_result!.command;
    const pf = cmd('mx-postfix!mail-queue');
    const after = (c: string[], flag: string) => c.filter((_, i) => c[i - 1] === flag);
    expect(pf.slice(0, 2)).toEqual([expect.stringMatching(/\/node\/bin\/node$/), expect.stringMatching(/\/bin\/check-mailq-depth$/)]);
    expect(after(pf, '-t')).toEqual(['20']);
    expect(after(pf, '--age-warning')).toEqual(['1h']); // the rule's default
    expect(after(pf, '--spool')).toEqual(fixture('postfix').spools.map((s) => expect.stringContaining(path.relative(path.join(__dirname, '../fixtures/mta'), s))));
    expect(after(cmd('mx-postfix!mail-queue-deferred'), '--queue')).toEqual(['deferred']);
    expect(after(cmd('mx-sendmail!mail-queue'), '--spool')).toHaveLength(fixture('sendmail').spools.length);
    expect(cmd('mx-sendmail!mail-queue')).toContain('--sizes');
    expect(cmd('mx-postfix!mail-queue')).not.toContain('--sizes');
    expect(after(cmd('mx-sendmail!mail-bounces'), '-w')).toEqual(['20']); // the command's default
    expect(after(cmd('mx-exim!mail-spool-disk'), '--path')).toEqual(['/var/log']);
    expect(after(cmd('mx-exim!mail-log-flood'), '--top')).toEqual(['3']);
  });

  it('ran the checks as the nagios user (the state files are its)', () => {
    const files = fs.readdirSync(path.join(dir, 'state')).filter((f) => f.startsWith('mailq_growth-'));
    expect(files.length).toBe(HOSTS.length - 1); // not for the missing spool
    for (const f of files) expect(fs.statSync(path.join(dir, 'state', f)).uid).toBe(nagiosUid);
  });

  it('every option of every check (its --help) is an argument of its CheckCommand, as loaded by Icinga', () => {
    // Not offered on purpose: --format (Icinga reads the Nagios output), --help, --version.
    const notOffered = new Set(['--format', '--help', '--version']);
    for (const bin of checkBins()) {
      const c = commands.get(bin.replace(/^check-/, ''));
      expect(c, `CheckCommand for ${bin}`).toBeDefined();
      const keys = new Set(Object.keys(c!.arguments as object));
      const help = runCheck(bin, ['--help']).out;
      // "-w, --warning": the short form stands for the long one.
      const short = new Map([...help.matchAll(/^\s+(-[a-zA-Z]), (--[a-z][a-z0-9-]*)/gm)].map((m) => [m[2], m[1]]));
      const longs = [...help.matchAll(/^\s+(?:-[a-zA-Z], )?(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]);
      expect(longs.length, bin).toBeGreaterThan(10);
      for (const o of longs) {
        if (notOffered.has(o)) continue;
        // Flags that default to true are offered as their --no- form.
        const has = keys.has(o) || keys.has(short.get(o) ?? '') || keys.has(o.replace(/^--/, '--no-'));
        expect(has, `${bin} ${o} in CheckCommand "${bin.replace(/^check-/, '')}"`).toBe(true);
      }
      // ...and nothing the check does not know.
      for (const k of keys) expect(longs.includes(k) || [...short.values()].includes(k) || longs.includes(k.replace(/^--no-/, '--')), `${k} is an option of ${bin}`).toBe(true);
      for (const [k, a] of Object.entries(c!.arguments as Record<string, { description?: string }>)) expect(a.description, `${bin} ${k} has a description`).toMatch(/\S/);
    }
  });

  it('the shipped files also validate beside Debian’s own configuration, and the sudo commands are the sudoers lines', () => {
    expect(fs.existsSync('/etc/icinga2/icinga2.conf'), 'Debian’s /etc/icinga2/icinga2.conf (icinga2-common)').toBe(true);
    const cache = path.join(dir, 'debian-cache');
    fs.mkdirSync(cache);
    execFileSync('chown', ['nagios:nagios', cache]);
    const conf = path.join(dir, 'etc', 'debian.conf');
    const host = (name: string, vars: string) => `object Host "${name}" { import "generic-host"; address = "127.0.0.1"; ${vars} }`;
    fs.writeFileSync(
      conf,
      [
        // As a site would: Debian's icinga2.conf (its conf.d, templates, features), then our two files,
        // with the constants at their defaults (the install layout: /usr/bin).
        'include "/etc/icinga2/icinga2.conf"',
        `include "${path.join(ICINGA_DIR, 'commands.conf')}"`,
        `include "${path.join(ICINGA_DIR, 'services.conf')}"`,
        host('mx1', 'vars.mta = "postfix"'),
        host('mx2', 'vars.mta = "postfix"; vars.mailq_sudo = true'),
        host('mx3', 'vars.mta = "sendmail"; vars.mailq_sudo = true'),
        '',
      ].join('\n'),
    );
    // Only the cache dir matters for -C (it writes the object list there); NodeName is Debian's.
    const d = defs.filter((x) => !/^-D(NodeName|ZoneName|MailqChecks\w+)=/.test(x)).map((x) => (x.startsWith('-DCacheDir=') ? `-DCacheDir=${cache}` : x));
    const v = run(icinga2!, ['daemon', '-C', '-c', conf, ...d]);
    expect(v.code, v.out + v.err).toBe(0);
    expect(v.out).not.toMatch(/critical\/|warning\/config/);
    /** `icinga2 object list` blocks: name -> attribute lines. */
    const objects = (type: string, name: string) => {
      const out = run(icinga2!, ['object', 'list', '--type', type, '--name', name, `-DCacheDir=${cache}`]).out;
      return new Map([...out.matchAll(/^Object '([^']+)' of type '\w+':\n([\s\S]*?)(?=^Object |$(?![\s\S]))/gm)].map((m) => [m[1], m[2]]));
    };
    const attr = (block: string, a: string) => JSON.parse(new RegExp(`^  \\* ${a} = (.*)$`, 'm').exec(block)![1]);
    const checkCommands = (h: string) =>
      Object.fromEntries([...objects('Service', `${h}!mail-*`)].map(([n, b]) => [n.split('!')[1], attr(b, 'check_command')]));
    expect(checkCommands('mx1')).toEqual({
      'mail-bounces': 'mailer-daemon',
      'mail-log-flood': 'maillog-flood',
      'mail-queue': 'mailq-depth',
      'mail-queue-deferred': 'mailq-depth',
      'mail-queue-growth': 'mailq-growth',
      'mail-spool-disk': 'spool-disk',
    });
    expect(checkCommands('mx2')).toEqual({
      'mail-bounces': 'mailer-daemon-as-postfix',
      'mail-log-flood': 'maillog-flood',
      'mail-queue': 'mailq-depth-as-postfix',
      'mail-queue-deferred': 'mailq-depth',
      'mail-queue-growth': 'mailq-growth-as-postfix',
      'mail-spool-disk': 'spool-disk',
    });
    expect(checkCommands('mx3')).toEqual({
      'mail-bounces': 'mailer-daemon',
      'mail-log-flood': 'maillog-flood',
      'mail-queue': 'mailq-depth-in-smmsp',
      'mail-queue-growth': 'mailq-growth',
      'mail-spool-disk': 'spool-disk',
    });
    // Debian's generic-service (every minute) under the shipped rules.
    expect(attr(objects('Service', 'mx1!mail-queue').get('mx1!mail-queue')!, 'check_interval')).toBe(60);

    // The sudo commands, as Icinga resolved them with the default constants, are the sudoers lines
    // word for word: `sudo -n -u postfix` for (postfix) rules, `sudo -n -g smmsp` for (:smmsp).
    const sudoers = fs.readFileSync(path.join(ASSETS_DIR, 'access/sudoers'), 'utf8');
    const alias = (name: string) => [...new RegExp(`^Cmnd_Alias\\s+${name}\\s*=([\\s\\S]*?)(?=^\\S)`, 'm').exec(sudoers)![1].matchAll(/(\/usr\/bin\/node [^,\n]*?)\s*(?:,|$)/gm)].map((m) => m[1].trim());
    const want = [...alias('MAILQ_AS_POSTFIX').map((c) => `/usr/bin/sudo -n -u postfix ${c}`), ...alias('MAILQ_IN_SMMSP').map((c) => `/usr/bin/sudo -n -g smmsp ${c}`)];
    expect(want).toHaveLength(4);
    const got = [...objects('CheckCommand', '*-*-*')].filter(([n]) => /-(as-postfix|in-smmsp)$/.test(n)).map(([, b]) => (attr(b, 'command') as string[]).join(' '));
    expect(got.sort()).toEqual(want.sort());
  });
});
