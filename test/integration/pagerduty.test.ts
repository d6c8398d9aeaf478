// Each check's real alert, as PagerDuty would show it through sensu-pagerduty-handler with our
// handler definition: the default summary template "{{.Entity.Name}}/{{.Check.Name}} :
// {{.Check.Output}}" cut at 1,024 bytes, the severity from our status map, the dedup key, and the
// whole Events API v2 body with the routing key of the check's team. A page must read well: the
// first line under 200 characters with state, number and culprit first, and the culprit must
// survive the cut. Every built check needs a scenario here (an incident-shaped queue or log that
// makes it alert): a new check without one fails the first test.
//
// The outputs are the real checks'. The handler is the rules of its source ported into
// helpers/sensu.ts (pagerDutyRequest), and, where test/integration/sensu-setup.sh could install it,
// also the real sensu-pagerduty-handler: fed the event on stdin as the backend would, pointed at
// a loopback HTTP endpoint with its own PAGERDUTY_ALTERNATE_ENDPOINT, and its POST body must equal
// the port's. The Go module proxy refused that module here (docs/sensu-go.md), so those tests skip
// with that reason until it is served.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBins, fixture, fixtureLog, loadResources, removeTempDirs, run, runCheck, tempDir } from './helpers/env.js';
import { sensuPrograms } from './helpers/sensu-programs.js';
import {
  evalTemplate,
  flagValue,
  PAGERDUTY_DEFAULT_DEDUP,
  PAGERDUTY_KEYSPACE,
  pagerDutyRequest,
  pagerDutySeverity,
  pagerDutySummary,
  shellWords,
  substituteTokens,
  type MiniEvent,
  type PagerDutyV2Event,
  type Resource,
} from './helpers/sensu.js';

const ENTITY = 'mx1.mail.example.com';
const resources = loadResources();
const pd = resources.find((r) => r.type === 'Handler' && r.metadata.name === 'pagerduty')!;
const pdArgv = shellWords(pd.spec.command);
const alertChecks = resources.filter((r) => r.type === 'CheckConfig' && (r.spec.handlers ?? []).includes('pagerduty'));
const alertCheck = (bin: string) => alertChecks.find((c) => path.basename(shellWords(substituteTokens(c.spec.command))[0]) === bin);
/** The Sensu check name paging for a binary (what {{.Check.Name}} is). */
const sensuName = (bin: string) => alertCheck(bin)?.metadata.name;

// The handler's environment as the backend builds it from the shipped secrets: each secret's value
// under the env var its `name` says. Values here name the Secret they stand for.
const keyOf = (secret: string) => `routing-key-of-${secret}`;
const handlerEnv: Record<string, string> = Object.fromEntries((pd.spec.secrets ?? []).map((s: { name: string; secret: string }) => [s.name, keyOf(s.secret)]));
// Who gets paged (the design: queue and log checks page mail ops, the disk check platform ops) and
// which shipped Secret holds each team's Events API v2 integration key.
const TEAM_OF: Record<string, string> = { 'check-spool-disk': 'platform_ops' };
const TEAM_SECRET: Record<string, string> = { mail_ops: 'pagerduty-mail-ops-key', platform_ops: 'pagerduty-platform-ops-key' };

const real = sensuPrograms();
const pdBin = real.bin['sensu-pagerduty-handler'];
const realSkip = pdBin ? '' : real.reason;
if (realSkip) console.warn(`pagerduty.test.ts: the real sensu-pagerduty-handler is not run: ${realSkip}`);

/** The event as the backend pipes it to a handler (core/v2 Event JSON): the shipped check plus its result. */
function sensuEvent(check: Resource, out: string, status: number): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    timestamp: now,
    metadata: { namespace: 'default' },
    entity: { entity_class: 'agent', metadata: { name: ENTITY, namespace: 'default' }, subscriptions: [...(check.spec.subscriptions ?? []), `entity:${ENTITY}`], system: { hostname: ENTITY, os: 'linux', arch: 'amd64' } },
    check: {
      ...check.spec,
      command: substituteTokens(check.spec.command),
      metadata: { name: check.metadata.name, namespace: 'default', labels: check.metadata.labels ?? {}, annotations: check.metadata.annotations ?? {} },
      output: out,
      status,
      issued: now,
      executed: now,
      state: status === 0 ? 'passing' : 'failing',
    },
  };
}

/** A loopback Events API v2 endpoint: records each POST, answers as PagerDuty does (202). */
interface Recorded {
  method: string;
  url: string;
  contentType: string;
  body: PagerDutyV2Event;
}
let endpoint: { url: string; server: http.Server; got: Recorded[] } | undefined;
async function startEndpoint(): Promise<NonNullable<typeof endpoint>> {
  const got: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as PagerDutyV2Event;
      got.push({ method: req.method ?? '', url: req.url ?? '', contentType: String(req.headers['content-type'] ?? ''), body });
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: body.dedup_key }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/v2/enqueue`, server, got };
}

/** Run the real handler with the shipped command's arguments, the event on stdin (bounded). */
function runHandler(bin: string, event: Record<string, unknown>, env: Record<string, string>): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, pdArgv.slice(1), { env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    p.stdout.on('data', (d: Buffer) => (err += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    });
    p.stdin.end(JSON.stringify(event));
  });
}

interface Scenario {
  /** What incident it is. */
  what: string;
  /** Exit code expected: 1 WARNING or 2 CRITICAL. */
  status: 1 | 2;
  /** Produces the check's output. */
  run: () => { out: string; code: number };
  /** Text that names the culprit (who/what to look at), in the first line. */
  culprit: () => RegExp;
}

let work: string;
let flood: { dir: string; topSender: string; total: number };

/** A generated Postfix queue: a notification flood plus backscatter (incident 000/002 shaped). */
function genSpool(dir: string, count: number): { topSender: string; total: number } {
  fs.rmSync(dir, { recursive: true, force: true });
  const r = run(process.execPath, [path.join(__dirname, '../../dist/tools/gen-spool.js'), '--mta', 'postfix', '--count', String(count), '--out', dir, '--quiet']);
  if (r.code !== 0) throw new Error(`gen-spool: ${r.out}${r.err}`);
  return JSON.parse(r.out.trim().split('\n').pop()!);
}

const SCENARIOS: Record<string, Scenario> = {
  'check-mailq-depth': {
    what: 'incident 000: one application floods one alias',
    status: 2,
    run: () => runCheck('check-mailq-depth', ['--mta', 'postfix', '--spool', flood.dir, '-w', '500', '-c', '1000', '--age-warning', '1h', '--age-critical', '1d']),
    culprit: () => new RegExp(`top sender ${flood.topSender.replace(/\./g, '\\.')} \\(\\d+%\\)`),
  },
  'check-mailer-daemon': {
    what: 'incident 002: backscatter, bounces to one victim domain',
    status: 2,
    run: () => runCheck('check-mailer-daemon', ['--mta', 'postfix', '--spool', flood.dir, '-w', '10', '-c', '25']),
    culprit: () => /\d+% of them to victim-a\.example/,
  },
  'check-mailq-growth': {
    what: 'incident 004: the deferred queue grows minute after minute',
    status: 2,
    run: () => {
      // Four samples a minute apart (clock pinned), the queue regenerated bigger each time. A generated
      // spool has no queue runs: --queue-run 0, so 3 samples over a minute make the baseline (issue 15).
      const spool = path.join(work, 'growing');
      const state = tempDir('mailq-pd-growth-');
      const t0 = Date.now() - 10 * 60_000;
      let last = { out: '', code: -1 };
      [400, 800, 1200, 1600].forEach((n, i) => {
        genSpool(spool, n);
        last = runCheck('check-mailq-growth', ['--mta', 'postfix', '--spool', spool, '--state-dir', state, '--queue', 'deferred', '-w', '50', '-c', '200', '--queue-run', '0'], { FAKE_NOW_MS: String(t0 + i * 60_000) });
      });
      return last;
    },
    culprit: () => /deferred growing \+?[\d,.]+\/min/,
  },
  'check-spool-disk': {
    what: 'incident 001: the spool filesystem runs out of space',
    status: 2,
    // Less than 1000 TB free: CRITICAL on any machine.
    run: () => runCheck('check-spool-disk', ['--mta', 'postfix', '--spool', fixture('postfix').spools[0], '--state-dir', tempDir('mailq-pd-disk-'), '--free-critical', '1000T']),
    culprit: () => {
      const mount = run('df', ['-P', fixture('postfix').spools[0]]).out.trim().split('\n').pop()!.split(/\s+/).pop()!;
      return new RegExp(`SPOOL_DISK CRITICAL - ${mount.replace(/[/.]/g, '\\$&')} \\d+% used \\([\\d.]+ [KMGTP]?B free\\)`);
    },
  },
  'check-maillog-flood': {
    what: 'incidents 000/003: one sender floods the log',
    status: 2,
    // The captured Postfix log read a minute after it was written (clock pinned): app@qa.example
    // sent 10 messages in that minute.
    run: () =>
      runCheck('check-maillog-flood', ['--log', fixtureLog('postfix'), '--state-dir', tempDir('mailq-pd-log-'), '--from-start', '-w', '100000', '-c', '1000000', '--sender-warning', '2', '--sender-critical', '5'], {
        FAKE_NOW_MS: String((fixture('postfix').capturedAt + 60) * 1000),
      }),
    culprit: () => /app@qa\.example/,
  },
};

beforeAll(() => {
  work = tempDir('mailq-pd-');
  flood = { dir: path.join(work, 'flood'), ...genSpool(path.join(work, 'flood'), 3000) };
});
afterAll(async () => {
  if (endpoint) await new Promise<void>((resolve) => endpoint!.server.close(() => resolve()));
  removeTempDirs();
});

describe('PagerDuty alerts through sensu-pagerduty-handler', () => {
  const bins = checkBins();

  it('every built check has a paging scenario and a Sensu check that pages', () => {
    for (const bin of bins) {
      expect(SCENARIOS[bin], `add a scenario for ${bin} in test/integration/pagerduty.test.ts`).toBeDefined();
      expect(sensuName(bin), `an alert CheckConfig for ${bin} with handlers: [pagerduty]`).toBeDefined();
    }
  });

  describe('the queue back to OK: the same dedup key, event_action resolve', () => {
    let ev: MiniEvent;
    let out = '';
    let code = -1;
    beforeAll(() => {
      ({ out, code } = runCheck('check-mailq-depth', ['--mta', 'postfix', '--spool', flood.dir, '-w', '100000', '-c', '200000', '--age-warning', '1d', '--age-critical', '2d']));
      ev = { Entity: { Name: ENTITY, Namespace: 'default' }, Check: { Name: sensuName('check-mailq-depth')!, Output: out, Status: code, Annotations: alertCheck('check-mailq-depth')!.metadata.annotations } };
    });

    it('resolves the incident the alert opened (ported handler)', () => {
      expect(code, out).toBe(0);
      const { body } = pagerDutyRequest(pdArgv.slice(1), handlerEnv, ev);
      expect(body.event_action).toBe('resolve');
      expect(body.dedup_key).toBe(`${ENTITY}-mailq-depth`);
      expect(body.routing_key).toBe(keyOf(TEAM_SECRET.mail_ops));
      expect(body.payload.severity).toBe('info');
    });

    it.skipIf(!!realSkip)('the real sensu-pagerduty-handler sends the same resolve', async () => {
      endpoint ??= await startEndpoint();
      endpoint.got.length = 0;
      const env = { ...handlerEnv, PAGERDUTY_ALTERNATE_ENDPOINT: endpoint.url };
      const r = await runHandler(pdBin!, sensuEvent(alertCheck('check-mailq-depth')!, out, code), env);
      expect(r.code, r.err).toBe(0);
      expect(endpoint.got.map((g) => g.body)).toEqual([pagerDutyRequest(pdArgv.slice(1), env, ev).body]);
    });
  });

  describe.each(bins.filter((b) => SCENARIOS[b]).map((b) => [b, SCENARIOS[b]] as const))('%s', (bin, sc) => {
    let out = '';
    let code = -1;
    let ev: MiniEvent;
    beforeAll(() => {
      ({ out, code } = sc.run());
      ev = { Entity: { Name: ENTITY, Namespace: 'default' }, Check: { Name: sensuName(bin)!, Output: out, Status: code, Annotations: alertCheck(bin)!.metadata.annotations } };
    });

    it(`alerts (${sc.what})`, () => {
      expect(code, out).toBe(sc.status);
    });

    it('first line: under 200 characters before the perfdata, state, number and culprit first', () => {
      const first = out.split('\n')[0];
      const text = first.split(' | ')[0];
      expect(text.length, `${bin}: shorten the summary (first line before the perfdata) to under 200 characters: ${text}`).toBeLessThan(200);
      expect(text).toMatch(/^[A-Z_-]+ (WARNING|CRITICAL) - .{0,60}\d/);
      expect(text).toMatch(sc.culprit());
      // As PagerDuty lists it: "<entity>/<check> : <first line>".
      const page = `${ENTITY}/${ev.Check.Name} : ${text}`;
      expect(page.length, page).toBeLessThan(200 + ENTITY.length + ev.Check.Name.length + 4);
    });

    it('summary: the default template, cut at 1,024 bytes, still names the culprit', () => {
      const summary = pagerDutySummary(ev);
      expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(1024);
      expect(summary.startsWith(`${ENTITY}/${ev.Check.Name} : `)).toBe(true);
      expect(summary).toMatch(sc.culprit());
      expect(summary.split('\n')[0]).toMatch(/(WARNING|CRITICAL) - /);
    });

    it("Events API v2 body: the team's routing key, dedup key, severity, culprit in the summary's first 200 characters", () => {
      const team = TEAM_OF[bin] ?? 'mail_ops';
      expect(alertCheck(bin)!.metadata.annotations?.[`${PAGERDUTY_KEYSPACE}/team`], `${bin} pages ${team}`).toBe(team);
      const { url, body } = pagerDutyRequest(pdArgv.slice(1), handlerEnv, ev);
      expect(url).toBe('https://events.pagerduty.com/v2/enqueue');
      expect(body.routing_key).toBe(keyOf(TEAM_SECRET[team]));
      expect(body.event_action).toBe('trigger');
      expect(body.dedup_key).toBe(`${ENTITY}-${ev.Check.Name}`);
      expect(body.payload.severity).toBe(code === 2 ? 'critical' : 'warning');
      expect(body.payload.source).toBe(ENTITY);
      expect(body.payload.component).toBe(ev.Check.Name);
      expect(body.payload.summary.slice(0, 200)).toMatch(sc.culprit());
      expect(body.payload.custom_details).toBe(out);
    });

    it.skipIf(!!realSkip)('the real sensu-pagerduty-handler POSTs that body to a loopback endpoint', async () => {
      endpoint ??= await startEndpoint();
      endpoint.got.length = 0;
      const event = sensuEvent(alertCheck(bin)!, out, code);
      const r = await runHandler(pdBin!, event, { ...handlerEnv, PAGERDUTY_ALTERNATE_ENDPOINT: endpoint.url });
      expect(r.code, r.err).toBe(0);
      expect(endpoint.got).toHaveLength(1);
      const [req] = endpoint.got;
      expect([req.method, req.url, req.contentType]).toEqual(['POST', '/v2/enqueue', 'application/json']);
      expect(req.body).toEqual(pagerDutyRequest(pdArgv.slice(1), { ...handlerEnv, PAGERDUTY_ALTERNATE_ENDPOINT: endpoint.url }, ev).body);
      expect(req.body.payload.summary.slice(0, 200)).toMatch(sc.culprit());
    });

    it('severity and dedup key from our handler definition', () => {
      const sev = pagerDutySeverity(code, flagValue(pdArgv, '--status-map', '-s') ?? '');
      expect(sev).toBe(code === 2 ? 'critical' : 'warning');
      const key = evalTemplate(flagValue(pdArgv, '--dedup-key-template', '-k') ?? PAGERDUTY_DEFAULT_DEDUP, ev);
      expect(key).toBe(`${ENTITY}-${ev.Check.Name}`);
    });
  });
});
