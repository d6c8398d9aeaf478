// The Sensu Go resources in sensu-assets/: every YAML document read and checked against Sensu Go's
// resource fields and validation rules, then against each other and against the built checks
// (every dist/check-*.js has an alert and a metrics CheckConfig, handlers and assets they name
// exist, PagerDuty routing resolves for every team).
//
// Against rules ported from Sensu's sources (helpers/sensu.ts), not a backend: fast and run
// everywhere. The real `sensuctl create` of these files is the end-to-end test that waits for the
// Go module proxy to serve github.com/sensu/sensu-go (docs/sensu-go.md); until then a resource
// the real backend would refuse for a rule not ported here is not caught.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ASSETS_DIR, checkBins, checkOptions, loadResources, ROOT, yamlFiles } from './helpers/env.js';
import {
  evalTemplate,
  flagValue,
  PAGERDUTY_DEFAULT_DEDUP,
  PAGERDUTY_KEYSPACE,
  pagerDutySeverity,
  pagerDutyTeamEnvVar,
  sensuctlChunks,
  shellWords,
  substituteTokens,
  validateResource,
  type Resource,
} from './helpers/sensu.js';
import { parseYamlDocuments } from './helpers/yaml.js';

const resources = loadResources();
const ofType = (t: string) => resources.filter((r) => r.type === t);
const checks = ofType('CheckConfig');
const handlers = new Map(ofType('Handler').map((h) => [h.metadata.name, h]));
const bins = checkBins();
const argvOf = (c: Resource) => shellWords(substituteTokens(c.spec.command));
const binOf = (c: Resource) => path.basename(argvOf(c)[0]);
const isMetrics = (c: Resource) => c.spec.output_metric_format === 'graphite_plaintext';
const alertFor = (bin: string) => checks.filter((c) => binOf(c) === bin && !isMetrics(c));
const metricsFor = (bin: string) => checks.filter((c) => binOf(c) === bin && isMetrics(c));

describe('YAML files in sensu-assets/', () => {
  it('are all read, and every document is a valid Sensu Go resource', () => {
    expect(yamlFiles().length).toBeGreaterThanOrEqual(3);
    expect(resources.length).toBeGreaterThan(0);
    // loadResources throws with every error; the count says nothing was dropped.
    const docs = yamlFiles().reduce((n, f) => n + parseYamlDocuments(fs.readFileSync(f, 'utf8'), f).length, 0);
    expect(resources.length).toBe(docs);
  });

  it('split as sensuctl create splits them: every chunk between --- lines is one resource', () => {
    for (const f of yamlFiles()) {
      const chunks = sensuctlChunks(fs.readFileSync(f, 'utf8'));
      expect(chunks.length, path.relative(ROOT, f)).toBe(parseYamlDocuments(fs.readFileSync(f, 'utf8'), f).length);
      for (const c of chunks) expect(parseYamlDocuments(c, f), `${path.relative(ROOT, f)}: a chunk without a resource:\n${c}`).toHaveLength(1);
    }
  });

  const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import yaml'], { encoding: 'utf8' }).status === 0);
  it.skipIf(!python)('are read the same by PyYAML (when python3 has it)', () => {
    for (const f of yamlFiles()) {
      const r = spawnSync(python!, ['-c', 'import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))', f], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(parseYamlDocuments(fs.readFileSync(f, 'utf8'), f), path.relative(ROOT, f)).toEqual(JSON.parse(r.stdout));
    }
  });

  it('reader: folded commands, flow lists, quotes; duplicate keys, tabs, open quotes, aliases refused with file:line', () => {
    const [doc] = parseYamlDocuments(
      ['a: >-', '  one two', '  three', 'b: [x, "y z", 3]', "c: 'it''s'", 'd:', '- e: 1', '  f: true', 'g: "q # not a comment" # a comment'].join('\n'),
    );
    expect(doc).toEqual({ a: 'one two three', b: ['x', 'y z', 3], c: "it's", d: [{ e: 1, f: true }], g: 'q # not a comment' });
    for (const bad of ['a: 1\na: 2', 'a:\n\t- b', 'a: "open', 'a: b: c', 'a: &x 1\nb: *x', 'a: *nothing'])
      expect(() => parseYamlDocuments(bad, 'bad.yml'), bad).toThrow(/bad\.yml:\d+/);
  });

  it('validator: catches what Sensu would reject or silently ignore', () => {
    const check = { type: 'CheckConfig', api_version: 'core/v2', metadata: { name: 'x' }, spec: { command: 'true', interval: 60 } };
    expect(validateResource(check, 't')).toEqual([]);
    const broken: [unknown, RegExp][] = [
      [{ ...check, spec: { command: 'true', interval: 60, output_metrics_handlers: ['g'] } }, /output_metrics_handlers: unknown field/],
      [{ ...check, spec: { command: 'true' } }, /interval must be greater than 0/],
      [{ ...check, spec: { command: 'true', interval: 60, cron: '* * * * *' } }, /either an interval or a cron/],
      [{ ...check, spec: { command: 'true', interval: 60, output_metric_format: 'nagios' } }, /output metric format is not valid/],
      [{ ...check, spec: { command: 'true', interval: '60' } }, /unsigned 32-bit integer/],
      [{ ...check, spec: { command: 'true', interval: 60, ttl: 30 } }, /ttl must be greater than check interval/],
      [{ ...check, metadata: { name: 'has space' } }, /cannot contain spaces/],
      [{ ...check, metadata: { name: 'x', labels: { n: 5 } } }, /mapping of strings/],
      [{ ...check, api_version: 'core/v3' }, /api_version must be core\/v2/],
      [{ type: 'Asset', api_version: 'core/v2', metadata: { name: 'a' }, spec: { builds: [{ url: 'https://h/a.tgz', sha512: 'abc' }] } }, /at least 128/],
      [{ type: 'Asset', api_version: 'core/v2', metadata: { name: 'a' }, spec: { builds: [{ url: 'https://h/a.tgz', sha512: 'a'.repeat(128), filters: ['os == linux'] }] } }, /filter/],
      [{ type: 'Handler', api_version: 'core/v2', metadata: { name: 'h' }, spec: { type: 'tcp' } }, /need a valid socket/],
      [{ type: 'Handler', api_version: 'core/v2', metadata: { name: 'h' }, spec: { type: 'pipe' } }, /missing command/],
      [{ type: 'Mutator', api_version: 'core/v2', metadata: { name: 'm' }, spec: {} }, /unknown type/],
    ];
    for (const [doc, re] of broken) expect(validateResource(doc, 't').join('\n'), JSON.stringify(doc)).toMatch(re);
  });
});

describe('CheckConfigs', () => {
  it('exist for every built check: an alert and a metrics variant, each naming the check first', () => {
    expect(bins.length).toBeGreaterThan(0);
    for (const bin of bins) {
      expect(alertFor(bin).length, `alert CheckConfig for ${bin} in sensu-assets/checks/`).toBe(1);
      expect(metricsFor(bin).length, `metrics CheckConfig for ${bin} in sensu-assets/checks/`).toBe(1);
    }
    for (const c of checks) expect(bins, `${c.source}: ${binOf(c)} is not a built check`).toContain(binOf(c));
  });

  it("cover every check in package.json's bin", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    for (const bin of Object.keys(pkg.bin ?? {}).filter((b) => b.startsWith('check-'))) {
      expect(alertFor(bin).length, `alert CheckConfig for ${bin}`).toBe(1);
      expect(metricsFor(bin).length, `metrics CheckConfig for ${bin}`).toBe(1);
    }
  });

  it('alert variants: Nagios output with perfdata to the graphite handler, events to PagerDuty', () => {
    for (const c of checks.filter((x) => !isMetrics(x))) {
      expect(c.spec.output_metric_format, c.source).toBe('nagios_perfdata');
      expect(c.spec.output_metric_handlers, c.source).toEqual(['graphite']);
      expect(c.spec.handlers, c.source).toEqual(['pagerduty']);
      expect(flagValue(argvOf(c), '--format') ?? 'nagios', c.source).toBe('nagios');
    }
  });

  it('metrics variants: --format graphite, graphite_plaintext, the TCP handler, no paging', () => {
    for (const c of checks.filter(isMetrics)) {
      expect(flagValue(argvOf(c), '--format'), c.source).toBe('graphite');
      expect(c.spec.output_metric_handlers, c.source).toEqual(['graphite-plaintext']);
      expect(c.spec.handlers ?? [], c.source).toEqual([]);
      expect(c.metadata.name, c.source).toMatch(/-metrics$/);
    }
  });

  it('timeout is above the check’s own -t, and not above the interval', () => {
    for (const c of checks) {
      const t = Number(flagValue(argvOf(c), '-t', '--timeout') ?? 10);
      expect(c.spec.timeout, `${c.source}: Sensu's timeout vs -t ${t}`).toBeGreaterThan(t);
      expect(c.spec.timeout, c.source).toBeLessThanOrEqual(c.spec.interval);
      expect(c.spec.publish, c.source).toBe(true);
      expect(c.spec.subscriptions?.length, c.source).toBeGreaterThan(0);
    }
  });

  it('run with the runtime asset first (its bin/node comes first on PATH), then the checks asset', () => {
    for (const c of checks) expect(c.spec.runtime_assets, c.source).toEqual(['mailq-checks-node', 'mailq-checks']);
    const build = fs.readFileSync(path.join(ASSETS_DIR, 'build.mjs'), 'utf8');
    expect(build).toContain("ASSET_NAME = 'mailq-checks'");
    expect(build).toContain("NODE_ASSET_NAME = 'mailq-checks-node'");
  });

  it('tokens: thresholds default without labels and follow entity labels', () => {
    const depth = alertFor('check-mailq-depth')[0];
    expect(substituteTokens(depth.spec.command)).toMatch(/-w 1000 -c 5000/);
    expect(substituteTokens(depth.spec.command, { mailq_depth_warning: '20000', mailq_depth_critical: '90000' })).toMatch(/-w 20000 -c 90000/);
    for (const c of checks) expect(() => substituteTokens(c.spec.command), c.source).not.toThrow();
    // Token substitution runs over the whole check, annotations included: none may hold braces.
    for (const c of checks) for (const v of Object.values(c.metadata.annotations ?? {})) expect(v, c.source).not.toMatch(/\{\{/);
  });

  it('stateful checks: the alert and metrics variants never share a state file', () => {
    // check-mailq-depth and check-mailer-daemon keep only the envelope cache there, keyed by spool and
    // meant to be shared by both variants (the second to start reads it without waiting for the lock).
    const cacheOnly = new Set(['check-mailq-depth', 'check-mailer-daemon']);
    for (const bin of bins.filter((b) => checkOptions(b).has('--state-dir') && !cacheOnly.has(b))) {
      const dirs = [...alertFor(bin), ...metricsFor(bin)].map((c) => flagValue(argvOf(c), '--state-dir') ?? '(default)');
      expect(new Set(dirs).size, `${bin}: state dirs ${dirs.join(', ')}`).toBe(dirs.length);
    }
  });
});

describe('Handlers', () => {
  it('every handler a check names is defined', () => {
    for (const c of checks) for (const h of [...(c.spec.handlers ?? []), ...(c.spec.output_metric_handlers ?? [])]) expect(handlers.has(h), `${c.source}: handler ${h}`).toBe(true);
  });

  it('graphite-plaintext: TCP to carbon with only_check_output, used only by --format graphite checks', () => {
    const tcp = handlers.get('graphite-plaintext')!;
    expect(tcp.spec).toMatchObject({ type: 'tcp', mutator: 'only_check_output', socket: { port: 2003 } });
    const users = checks.filter((c) => (c.spec.output_metric_handlers ?? []).includes('graphite-plaintext'));
    expect(users.length).toBe(bins.length);
    for (const c of users) {
      expect(c.spec.output_metric_format, c.source).toBe('graphite_plaintext');
      expect(flagValue(argvOf(c), '--format'), c.source).toBe('graphite');
    }
    // Every handler that passes raw output to a socket is only ever fed carbon plaintext.
    for (const [name, h] of handlers)
      if (h.spec.mutator === 'only_check_output')
        for (const c of checks.filter((x) => [...(x.spec.handlers ?? []), ...(x.spec.output_metric_handlers ?? [])].includes(name)))
          expect(c.spec.output_metric_format, `${c.source} -> ${name}`).toBe('graphite_plaintext');
  });

  it('graphite: the metrics handler for extracted perfdata (sensu-go-graphite-handler)', () => {
    const g = handlers.get('graphite')!;
    expect(g.spec.type).toBe('pipe');
    expect(shellWords(g.spec.command)[0]).toBe('sensu-go-graphite-handler');
    expect(g.spec.filters).toContain('has_metrics');
    expect(g.spec.runtime_assets).toEqual(['sensu/sensu-go-graphite-handler']);
  });

  describe('pagerduty', () => {
    const pd = handlers.get('pagerduty')!;
    const argv = shellWords(pd.spec.command);
    const statusMap = flagValue(argv, '--status-map', '-s')!;

    it('runs sensu-pagerduty-handler on incidents, default summary template', () => {
      expect(argv[0]).toBe('sensu-pagerduty-handler');
      expect(pd.spec.runtime_assets).toEqual(['sensu/sensu-pagerduty-handler']);
      expect(pd.spec.filters).toEqual(expect.arrayContaining(['is_incident', 'not_silenced']));
      // The summary is the handler's default: "<entity>/<check> : <output>" (what pagerduty.test.ts renders).
      expect(flagValue(argv, '--summary-template', '-S')).toBeUndefined();
    });

    it('severity: WARNING -> warning, CRITICAL -> critical, UNKNOWN -> error (and 126/127)', () => {
      expect([0, 1, 2, 3, 126, 127].map((s) => pagerDutySeverity(s, statusMap))).toEqual(['info', 'warning', 'critical', 'error', 'error', 'error']);
    });

    it('dedup key: entity and check, the same whatever the output or state', () => {
      const tpl = flagValue(argv, '--dedup-key-template', '-k') ?? PAGERDUTY_DEFAULT_DEDUP;
      const ev = (status: number, output: string) => ({ Entity: { Name: 'mx1.example.com', Namespace: 'default' }, Check: { Name: 'mailq-depth', Output: output, Status: status } });
      expect(evalTemplate(tpl, ev(1, 'MAILQ WARNING - 1,200 queued'))).toBe('mx1.example.com-mailq-depth');
      expect(evalTemplate(tpl, ev(2, 'MAILQ CRITICAL - 9,000 queued'))).toBe(evalTemplate(tpl, ev(0, 'MAILQ OK')));
    });

    it('routing: every alert check names a team whose key the handler can look up', () => {
      const envs = new Set([...(pd.spec.secrets ?? []).map((s: { name: string }) => s.name), ...(pd.spec.env_vars ?? []).map((v: string) => v.split('=')[0])]);
      expect(envs.has('PAGERDUTY_TOKEN'), 'a default key for teams without one').toBe(true);
      const secrets = new Set(ofType('Secret').map((s) => s.metadata.name));
      for (const s of pd.spec.secrets ?? []) expect(secrets.has(s.secret), `Secret ${s.secret}`).toBe(true);
      const teams = new Set<string>();
      for (const c of checks.filter((x) => (x.spec.handlers ?? []).includes('pagerduty'))) {
        const team = c.metadata.annotations?.[`${PAGERDUTY_KEYSPACE}/team`];
        expect(team, `${c.source}: ${PAGERDUTY_KEYSPACE}/team annotation`).toBeTruthy();
        expect(envs.has(pagerDutyTeamEnvVar(team!)), `${c.source}: handler env ${pagerDutyTeamEnvVar(team!)}`).toBe(true);
        teams.add(team!);
      }
      expect(teams.size).toBeGreaterThanOrEqual(2); // the queue checks page mail ops, the disk check platform ops
    });
  });
});
