// What Sensu Go would say about our resource files, without a Sensu backend: the fields of each
// resource type (sensu/core v2 protobufs: check.proto, asset.proto, handler.proto, meta.proto, and
// secrets/v1), their types, and the Validate() rules of core/v2 (check.go, asset.go, handler.go,
// validators.go). Unknown keys are errors too: Sensu would silently ignore a misspelt field.
// Also: the agent's metric extractors (agent/transformers/nagios.go, graphite.go), token
// substitution's `{{ .labels.x | default "y" }}`, sensu-pagerduty-handler's options, summary,
// dedup key, severity, team lookup and Events API v2 body, and sensu-go-graphite-handler's metric
// names and lines, ported line for line where behaviour matters.
//
// Ported from, and re-read against (docs/sensu-go.md): sensu-go at v6.12.0 (commit 72718bb2759d,
// the version test/integration/sensu-setup.sh pins), github.com/sensu/core v2.16.1 / v2.20.0,
// sensu-pagerduty-handler 2.6.3 (8013317b644b) with sensu-plugin-sdk v0.19.0, and
// sensu-go-graphite-handler 0.5.2 (f083cd89b855). These are ports, not the programs: the real
// ones are run where sensu-setup.sh could install them (the Go module proxy refused them here).
import type { YamlValue } from './yaml.js';

type Kind = 'string' | 'uint' | 'int' | 'bool' | 'strings' | 'stringMap' | 'object' | 'objects';
type Fields = Record<string, Kind | { kind: Kind; fields?: Fields }>;

const NAME_RE = /^[\w.\-:]+$/; // NameRegex
const ASSET_NAME_RE = /^[\w/_.\-:]+$/; // AssetNameRegex
const SUBSCRIPTION_RE = /^[\w.-]+(:?[\w.-]+)?$/; // SubscriptionNameRegex
const ENV_VAR_RE = /^[A-Za-z_][A-Za-z0-9_]*=/;
export const OUTPUT_METRIC_FORMATS = ['nagios_perfdata', 'graphite_plaintext', 'opentsdb_line', 'influxdb_line', 'prometheus_text'];

const META: Fields = { name: 'string', namespace: 'string', labels: 'stringMap', annotations: 'stringMap', created_by: 'string' };
const SECRET_REF: Fields = { name: 'string', secret: 'string' };
const RESOURCE_REF: Fields = { name: 'string', type: 'string', api_version: 'string' };

const CHECK_FIELDS: Fields = {
  command: 'string',
  handlers: 'strings',
  high_flap_threshold: 'uint',
  interval: 'uint',
  low_flap_threshold: 'uint',
  publish: 'bool',
  runtime_assets: 'strings',
  subscriptions: 'strings',
  proxy_entity_name: 'string',
  check_hooks: 'objects',
  stdin: 'bool',
  subdue: 'object',
  cron: 'string',
  ttl: 'int',
  timeout: 'uint',
  proxy_requests: 'object',
  round_robin: 'bool',
  output_metric_format: 'string',
  output_metric_handlers: 'strings',
  env_vars: 'strings',
  max_output_size: 'int',
  discard_output: 'bool',
  secrets: { kind: 'objects', fields: SECRET_REF },
  output_metric_tags: { kind: 'objects', fields: { name: 'string', value: 'string' } },
  pipelines: { kind: 'objects', fields: RESOURCE_REF },
  output_metric_thresholds: 'objects',
  subdues: 'objects',
  fallback_pipeline: { kind: 'object', fields: RESOURCE_REF },
  ttl_status: 'int',
};

const BUILD_FIELDS: Fields = { url: 'string', sha512: 'string', filters: 'strings', headers: 'stringMap' };
const ASSET_FIELDS: Fields = { ...BUILD_FIELDS, builds: { kind: 'objects', fields: BUILD_FIELDS } };

const HANDLER_FIELDS: Fields = {
  type: 'string',
  mutator: 'string',
  command: 'string',
  timeout: 'uint',
  socket: { kind: 'object', fields: { host: 'string', port: 'uint' } },
  handlers: 'strings',
  filters: 'strings',
  env_vars: 'strings',
  runtime_assets: 'strings',
  secrets: { kind: 'objects', fields: SECRET_REF },
};

const SECRET_FIELDS: Fields = { provider: 'string', id: 'string' };

export const RESOURCE_TYPES: Record<string, { apiVersion: string; spec: Fields }> = {
  CheckConfig: { apiVersion: 'core/v2', spec: CHECK_FIELDS },
  Asset: { apiVersion: 'core/v2', spec: ASSET_FIELDS },
  Handler: { apiVersion: 'core/v2', spec: HANDLER_FIELDS },
  Secret: { apiVersion: 'secrets/v1', spec: SECRET_FIELDS },
};

export interface Resource {
  type: string;
  api_version: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, any>;
  /** Where it was read from, for messages. */
  source: string;
}

const isObj = (v: unknown): v is Record<string, YamlValue> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkFields(where: string, v: unknown, fields: Fields, errors: string[]): void {
  if (!isObj(v)) {
    errors.push(`${where}: must be a mapping`);
    return;
  }
  for (const [k, val] of Object.entries(v)) {
    const f = fields[k];
    if (!f) {
      errors.push(`${where}.${k}: unknown field (known: ${Object.keys(fields).join(', ')})`);
      continue;
    }
    const kind = typeof f === 'string' ? f : f.kind;
    const sub = typeof f === 'string' ? undefined : f.fields;
    const at = `${where}.${k}`;
    const bad = (what: string) => errors.push(`${at}: must be ${what}, got ${JSON.stringify(val)}`);
    switch (kind) {
      case 'string':
        if (typeof val !== 'string') bad('a string');
        break;
      case 'uint':
        if (!(typeof val === 'number' && Number.isInteger(val) && val >= 0 && val <= 0xffffffff)) bad('an unsigned 32-bit integer');
        break;
      case 'int':
        if (!(typeof val === 'number' && Number.isInteger(val))) bad('an integer');
        break;
      case 'bool':
        if (typeof val !== 'boolean') bad('true or false');
        break;
      case 'strings':
        if (!Array.isArray(val) || val.some((x) => typeof x !== 'string')) bad('a list of strings');
        break;
      case 'stringMap':
        if (!isObj(val) || Object.values(val).some((x) => typeof x !== 'string')) bad('a mapping of strings to strings (quote numbers)');
        break;
      case 'object':
        if (!isObj(val)) bad('a mapping');
        else if (sub) checkFields(at, val, sub, errors);
        break;
      case 'objects':
        if (!Array.isArray(val) || val.some((x) => !isObj(x))) bad('a list of mappings');
        else if (sub) val.forEach((x, i) => checkFields(`${at}[${i}]`, x, sub, errors));
        break;
    }
  }
}

const nameErr = (what: string, name: unknown, re: RegExp) =>
  typeof name !== 'string' || name === '' ? `${what} must not be empty` : re.test(name) ? undefined : `${what} '${name}' cannot contain spaces or special characters`;

/** Field-level and Validate()-level errors of one resource document (empty: valid). */
export function validateResource(doc: unknown, source: string): string[] {
  const errors: string[] = [];
  if (!isObj(doc)) return [`${source}: a resource must be a mapping`];
  for (const k of Object.keys(doc)) if (!['type', 'api_version', 'metadata', 'spec'].includes(k)) errors.push(`${source}: unknown top-level field '${k}'`);
  const t = RESOURCE_TYPES[String(doc.type)];
  if (!t) return [...errors, `${source}: unknown type '${String(doc.type)}' (known: ${Object.keys(RESOURCE_TYPES).join(', ')})`];
  const where = `${source} ${String(doc.type)}/${isObj(doc.metadata) ? String(doc.metadata.name) : '?'}`;
  if (doc.api_version !== t.apiVersion) errors.push(`${where}: api_version must be ${t.apiVersion}, got ${String(doc.api_version)}`);
  checkFields(`${where} metadata`, doc.metadata, META, errors);
  checkFields(`${where} spec`, doc.spec, t.spec, errors);
  if (errors.length) return errors;
  const meta = doc.metadata as Record<string, YamlValue>;
  const spec = doc.spec as Record<string, any>;
  const e = (msg: string | undefined) => msg && errors.push(`${where}: ${msg}`);

  switch (doc.type) {
    case 'CheckConfig': {
      e(nameErr('check name', meta.name, NAME_RE));
      if (spec.cron !== undefined && spec.interval > 0) e('must only specify either an interval or a cron schedule');
      if (!spec.interval && !spec.cron) e('check interval must be greater than 0 or a valid cron schedule must be provided');
      if (spec.ttl > 0 && spec.ttl <= spec.interval) e('ttl must be greater than check interval');
      if (spec.ttl > 0 && spec.ttl < 5) e('minimum ttl is 5 seconds');
      for (const a of spec.runtime_assets ?? []) e(nameErr("asset's name", a, ASSET_NAME_RE));
      for (const s of spec.subscriptions ?? []) e(s === '' ? 'subscriptions cannot be empty strings' : nameErr('subscription', s, SUBSCRIPTION_RE));
      if (spec.output_metric_format !== undefined && !OUTPUT_METRIC_FORMATS.includes(spec.output_metric_format)) e('output metric format is not valid');
      if ((spec.low_flap_threshold ?? 0) !== 0 || (spec.high_flap_threshold ?? 0) !== 0)
        if (!(spec.low_flap_threshold > 0 && spec.high_flap_threshold > spec.low_flap_threshold)) e('invalid flap thresholds');
      for (const v of spec.env_vars ?? []) if (!ENV_VAR_RE.test(v)) e(`env var '${v}' must be KEY=VALUE`);
      if (spec.max_output_size < 0) e('MaxOutputSize must be >= 0');
      if (typeof spec.command !== 'string' || spec.command.trim() === '') e('command must not be empty');
      for (const h of [...(spec.handlers ?? []), ...(spec.output_metric_handlers ?? [])]) e(nameErr('handler name', h, NAME_RE));
      break;
    }
    case 'Asset': {
      e(nameErr('asset name', meta.name, ASSET_NAME_RE));
      const builds: Record<string, unknown>[] = spec.builds ?? [];
      const one = (b: Record<string, any>, w: string) => {
        if (!b.sha512) e(`${w}SHA-512 checksum cannot be empty`);
        else if (b.sha512.length < 128) e(`${w}SHA-512 checksum must be at least 128 characters`);
        else if (!/^[0-9a-f]{128}$/.test(b.sha512)) e(`${w}sha512 must be 128 lowercase hex digits`);
        if (!b.url) e(`${w}URL cannot be empty`);
        else if (!/^https?:\/\/[^\s/]+\/\S+$/.test(b.url)) e(`${w}URL '${b.url}' is not an http(s) URL of a file`);
        for (const f of b.filters ?? []) e(filterError(f) && `${w}filter '${f}': ${filterError(f)}`);
      };
      if (builds.length === 0) one(spec, '');
      else builds.forEach((b, i) => one(b as Record<string, unknown>, `builds[${i}]: `));
      break;
    }
    case 'Handler': {
      e(nameErr('handler name', meta.name, NAME_RE));
      switch (spec.type) {
        case undefined:
        case '':
          e('empty handler type');
          break;
        case 'pipe':
          if (!spec.command?.trim()) e('missing command');
          break;
        case 'set':
          break;
        case 'tcp':
        case 'udp':
          if (!spec.socket) e('tcp and udp handlers need a valid socket');
          else if (!spec.socket.host) e('socket host undefined');
          else if (!spec.socket.port) e('socket port undefined');
          if (spec.command) e(`a ${spec.type} handler has no command`);
          break;
        default:
          e(`unknown handler type: ${spec.type}`);
      }
      for (const v of spec.env_vars ?? []) if (!ENV_VAR_RE.test(v)) e(`env var '${v}' must be KEY=VALUE`);
      break;
    }
    case 'Secret': {
      e(nameErr('secret name', meta.name, NAME_RE));
      if (!spec.provider) e('provider must be set');
      if (!spec.id) e('id must be set');
      break;
    }
  }
  return errors;
}

/**
 * Asset filters are Sensu JavaScript expressions; ours are the entity.system comparisons.
 * Accept `<entity.system.*> == '<value>'` joined by && / ||, reject anything else.
 */
function filterError(f: string): string | undefined {
  const term = /^\s*entity\.system\.(os|arch|platform|platform_family|platform_version|arm_version|libc_type|float_type)\s*==\s*'[^']*'\s*$/;
  return f.split(/&&|\|\|/).every((t) => term.test(t)) ? undefined : "expected entity.system.<field> == '<value>'";
}

/**
 * sensuctl create's splitResources (cli/resource/parse.go): chunks between lines starting with
 * `---`, empty ones dropped. A chunk of only comments would be sent as an empty resource.
 */
export function sensuctlChunks(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const line of text.replace(/\n$/, '').split('\n')) {
    if (line.startsWith('---')) {
      if (cur !== '') out.push(cur);
      cur = '';
    } else cur += line + '\n';
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Token substitution (sensu-go token/token.go): only the shape our commands use.

/** Render `{{ .labels.NAME | default "X" }}` with the entity's labels; any other token is an error. */
export function substituteTokens(s: string, labels: Record<string, string> = {}): string {
  return s.replace(/\{\{(.*?)\}\}/g, (all, inner: string) => {
    const m = /^\s*\.labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\|\s*default\s+(?:"([^"]*)"|([0-9.]+))\s*$/.exec(inner);
    if (!m) throw new Error(`unsupported token ${all} (only {{ .labels.NAME | default "VALUE" }})`);
    return labels[m[1]] ?? m[2] ?? m[3];
  });
}

// ---------------------------------------------------------------------------------------------
// The agent's metric extractors (agent/transformers): what Sensu makes of our output.

export interface MetricPoint {
  name: string;
  value: number;
  timestamp?: number;
}

/** nagios.go ParseNagios: errors are what the agent would log (and drop). */
export function extractNagios(output: string): { points: MetricPoint[]; errors: string[] } {
  const parts = output.split('|');
  if (parts.length !== 2) return { points: [], errors: ['nagios perfdata format requires at least one performance data metric'] };
  const points: MetricPoint[] = [];
  const errors: string[] = [];
  for (let metric of parts[1].trim().split(' ')) {
    metric = metric.trim();
    if (metric.length === 0) continue;
    const kv = metric.split(';')[0].split('=');
    if (kv.length !== 2) {
      errors.push(`invalid nagios perfdata metric: ${JSON.stringify(metric)}`);
      continue;
    }
    const label = kv[0].replace(/ /g, '_');
    const str = kv[1].replace(/[^-\d.]/g, '');
    // strconv.ParseFloat: the whole string must be a number.
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(str)) {
      errors.push(`invalid nagios perfdata metric value: ${JSON.stringify(kv[1])}`);
      continue;
    }
    points.push({ name: label, value: Number(str) });
  }
  return { points, errors };
}

/**
 * Words of long output that Sensu's extractor turns into metrics today, per check: the lead is
 * told; lib/ should keep `=` out of long output or put the perfdata after it (see
 * docs/integrations.md, "Sensu and long output"). Anything else bogus fails the tests.
 */
// The Nagios renderer shows '=' as ':' in long output, so no check may produce one any more.
export const KNOWN_BOGUS_SENSU_METRICS: Record<string, string[]> = {};

/** Perfdata as Nagios reads it: after `|` on line one, and after `|` on a later line (plugin API). */
export function nagiosPerfdata(output: string): MetricPoint[] {
  const lines = output.replace(/\n$/, '').split('\n');
  const perf: string[] = [];
  for (const l of lines) {
    const at = l.indexOf('|');
    if (at >= 0) perf.push(l.slice(at + 1));
  }
  return extractNagios(`x|${perf.join(' ')}`).points;
}

/**
 * What Sensu's extractor gets wrong on this output, compared with Nagios' reading:
 * missing/wrong perfdata, and bogus metrics made from words of the long output (`uid=0`).
 * `noise` counts the "invalid nagios perfdata metric" errors the agent logs (one per word of
 * long output after the perfdata: ParseNagios splits everything after `|` on spaces).
 */
export function sensuExtractionProblems(output: string): { missing: string[]; wrong: string[]; bogus: MetricPoint[]; noise: number } {
  const want = nagiosPerfdata(output);
  const got = extractNagios(output);
  const byName = new Map(got.points.map((p) => [p.name, p]));
  const wantNames = new Set(want.map((p) => p.name));
  return {
    missing: want.filter((p) => !byName.has(p.name)).map((p) => p.name),
    wrong: want.filter((p) => byName.has(p.name) && byName.get(p.name)!.value !== p.value).map((p) => `${p.name}: ${byName.get(p.name)!.value} != ${p.value}`),
    bogus: got.points.filter((p) => !wantNames.has(p.name)),
    noise: got.errors.length,
  };
}

/** graphite.go ParseGraphite (v6.12.0: with parseSeries, Graphite's `name;tag=value` series). */
export function extractGraphite(output: string): { points: MetricPoint[]; errors: string[] } {
  const points: MetricPoint[] = [];
  const errors: string[] = [];
  const text = output.trim();
  if (text === '') return { points, errors };
  // bufio.Scanner's ScanLines: lines end at \n, a \r before it is dropped.
  for (const line of text.split('\n').map((l) => l.replace(/\r$/, ''))) {
    const args = line.split(' ');
    if (args.length !== 3) {
      errors.push(`graphite plain text format requires exactly 3 arguments: ${JSON.stringify(line)}`);
      continue;
    }
    const [series, ...tagTexts] = args[0].split(';');
    const badTag = tagTexts.find((t) => t.split('=').length !== 2);
    if (badTag !== undefined) {
      errors.push(`metric series name is invalid: ${JSON.stringify(args[0])} invalid graphite data tag format must be in form of name=value: ${badTag}`);
      continue;
    }
    args[0] = series;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(args[1]) && !/^[-+]?(Inf|NaN)$/i.test(args[1])) {
      errors.push(`metric value is invalid, second argument must be a float: ${args[1]}`);
      continue;
    }
    if (!/^[-+]?\d+$/.test(args[2])) {
      errors.push(`metric timestamp is invalid, third argument must be an int: ${args[2]}`);
      continue;
    }
    points.push({ name: args[0], value: Number(args[1]), timestamp: Number(args[2]) });
  }
  return { points, errors };
}

// ---------------------------------------------------------------------------------------------
// sensu-pagerduty-handler (main.go and pagerduty/event_v2.go at commit 8013317b644b, tag 2.6.3,
// the version test/integration/sensu-setup.sh pins; option resolution from sensu-plugin-sdk v0.19.0,
// the SDK version its go.mod requires: sensu/plugin.go SetupFlag, SetAnnotationValue, SetValue).

export const PAGERDUTY_DEFAULT_SUMMARY = '{{.Entity.Name}}/{{.Check.Name}} : {{.Check.Output}}';
export const PAGERDUTY_DEFAULT_DEDUP = '{{.Entity.Name}}-{{.Check.Name}}';
export const PAGERDUTY_KEYSPACE = 'sensu.io/plugins/sensu-pagerduty-handler/config';

export interface MiniEvent {
  Entity: { Name: string; Namespace: string; Annotations?: Record<string, string> };
  Check: { Name: string; Output: string; Status: number; State?: string; Annotations?: Record<string, string> };
}

/** Go text/template for plain field references only ({{.Entity.Name}} ...); anything else throws. */
export function evalTemplate(tpl: string, ev: MiniEvent): string {
  return tpl.replace(/\{\{(.*?)\}\}/g, (all, inner: string) => {
    const m = /^\s*\.(Entity|Check)\.(\w+)\s*$/.exec(inner);
    if (!m) throw new Error(`template ${all}: only {{.Entity.X}} / {{.Check.X}} are modelled here`);
    const v = (ev[m[1] as 'Entity' | 'Check'] as Record<string, unknown>)[m[2]];
    if (v === undefined) throw new Error(`template ${all}: no such field in the test event`);
    return String(v);
  });
}

/** getSummary: the template, then `summary[:1024]` (Go slices bytes). */
export function pagerDutySummary(ev: MiniEvent, tpl = PAGERDUTY_DEFAULT_SUMMARY): string {
  const s = Buffer.from(evalTemplate(tpl, ev), 'utf8');
  return s.length > 1024 ? s.subarray(0, 1024).toString('utf8') : s.toString('utf8');
}

/** getPagerDutySeverity with parseStatusMap. */
export function pagerDutySeverity(status: number, statusMapJSON: string): string {
  const valid = new Set(['info', 'critical', 'warning', 'error']);
  if (statusMapJSON) {
    const m = JSON.parse(statusMapJSON) as Record<string, number[]>;
    const byStatus = new Map<number, string>();
    for (const [sev, statuses] of Object.entries(m)) {
      if (!valid.has(sev)) throw new Error(`invalid pagerduty severity: ${sev}`);
      for (const s of statuses) byStatus.set(s, sev);
    }
    const sev = byStatus.get(status);
    if (sev) return sev;
  }
  return status < 3 ? ['info', 'warning', 'critical'][status] : 'warning';
}

/** getTeamToken: which env var holds a team's key. */
export function pagerDutyTeamEnvVar(team: string, suffix = '_pagerduty_token'): string {
  const v = team.replace(/[^A-Za-z0-9]+/g, '_');
  return new RegExp(`${suffix}$`).test(v) ? v : v + suffix.replace(/[^A-Za-z0-9]+/g, '_');
}

// ---------------------------------------------------------------------------------------------

/** Split a command line as sh would for the quoting we use: '...', "..." (with \" \\ \$), \x. */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      if (j < 0) throw new Error(`unterminated ' in ${s}`);
      cur += s.slice(i + 1, j);
      i = j;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && /["\\$`]/.test(s[j + 1] ?? '')) j++;
        cur += s[j];
      }
      if (j >= s.length) throw new Error(`unterminated " in ${s}`);
      i = j;
      has = true;
    } else if (c === '\\') {
      cur += s[++i] ?? '';
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else if (/[|&;<>()$`*?[\]]/.test(c)) {
      throw new Error(`shell metacharacter '${c}' in ${s}: not modelled`);
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** The value of --flag VALUE / --flag=VALUE in argv. */
export function flagValue(argv: string[], ...names: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    for (const n of names) {
      if (argv[i] === n) return argv[i + 1];
      if (argv[i].startsWith(`${n}=`)) return argv[i].slice(n.length + 1);
    }
  }
  return undefined;
}

/**
 * The handler's options that our definition uses or relies on, as its option table declares them
 * (flag, env var, annotation path under PAGERDUTY_KEYSPACE, default). A value is resolved as the
 * SDK does: default < env var < flag < the check's annotation, else the entity's annotation.
 */
const PAGERDUTY_OPTIONS = {
  token: { flag: ['--token', '-t'], env: 'PAGERDUTY_TOKEN', path: 'token', def: '' },
  team: { flag: ['--team'], env: 'PAGERDUTY_TEAM', path: 'team', def: '' },
  teamSuffix: { flag: ['--team-suffix'], env: 'PAGERDUTY_TEAM_SUFFIX', path: 'team-suffix', def: '_pagerduty_token' },
  dedupKeyTemplate: { flag: ['--dedup-key-template', '-k'], env: 'PAGERDUTY_DEDUP_KEY_TEMPLATE', path: 'dedup-key-template', def: PAGERDUTY_DEFAULT_DEDUP },
  statusMap: { flag: ['--status-map', '-s'], env: 'PAGERDUTY_STATUS_MAP', path: 'status-map', def: '' },
  summaryTemplate: { flag: ['--summary-template', '-S'], env: 'PAGERDUTY_SUMMARY_TEMPLATE', path: 'summary-template', def: PAGERDUTY_DEFAULT_SUMMARY },
  detailsTemplate: { flag: ['--details-template', '-d'], env: 'PAGERDUTY_DETAILS_TEMPLATE', path: 'details-template', def: '' },
  detailsFormat: { flag: ['--details-format'], env: 'PAGERDUTY_DETAILS_FORMAT', path: 'details-format', def: 'string' },
  alternateEndpoint: { flag: ['--alternate-endpoint', '-e'], env: 'PAGERDUTY_ALTERNATE_ENDPOINT', path: 'alternate-endpoint', def: '' },
  clientName: { flag: ['--client-name'], env: '', path: 'client-name', def: 'Sensu' },
} as const;
export type PagerDutyOptions = Record<keyof typeof PAGERDUTY_OPTIONS, string>;

/** The handler's configuration for one event (argv without the program name). */
export function pagerDutyOptions(argv: string[], env: Record<string, string | undefined>, ev: MiniEvent): PagerDutyOptions {
  const out = {} as PagerDutyOptions;
  for (const [k, o] of Object.entries(PAGERDUTY_OPTIONS) as [keyof PagerDutyOptions, (typeof PAGERDUTY_OPTIONS)[keyof PagerDutyOptions]][]) {
    let v: string = o.def;
    if (o.env && env[o.env] !== undefined && env[o.env] !== '') v = env[o.env]!;
    const f = flagValue(argv, ...o.flag);
    if (f !== undefined) v = f;
    const key = `${PAGERDUTY_KEYSPACE}/${o.path}`;
    const ann = ev.Check.Annotations?.[key] || ev.Entity.Annotations?.[key];
    // SetValue: a JSON string value is unquoted; anything else that is not JSON is taken as is.
    if (ann) v = /^".*"$/.test(ann) ? (JSON.parse(ann) as string) : ann;
    out[k] = v;
  }
  return out;
}

/** The Events API v2 body the handler POSTs (pagerduty.V2Event with V2Payload; json tags, omitempty). */
export interface PagerDutyV2Event {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key?: string;
  client?: string;
  payload: { summary: string; source: string; severity: string; component?: string; custom_details?: unknown };
}

/**
 * What the handler sends for one event, and to where (checkArgs, getTeamToken, manageIncident).
 * Throws the handler's own error where it would exit 1 without sending.
 */
export function pagerDutyRequest(argv: string[], env: Record<string, string | undefined>, ev: MiniEvent): { url: string; body: PagerDutyV2Event } {
  const o = pagerDutyOptions(argv, env, ev);
  let token = o.token;
  if (o.team) {
    const teamToken = env[pagerDutyTeamEnvVar(o.team, o.teamSuffix)];
    if (teamToken) token = teamToken;
  }
  if (!token) throw new Error('no auth token provided');
  if (o.detailsFormat !== 'string' && o.detailsFormat !== 'json') throw new Error(`invalid details format: ${o.detailsFormat}`);
  const severity = pagerDutySeverity(ev.Check.Status, o.statusMap);
  const summary = pagerDutySummary(ev, o.summaryTemplate);
  // With no details template the handler sends the whole event; ours always sets one.
  if (!o.detailsTemplate) throw new Error('no --details-template: the handler would send the whole Sensu event (not modelled)');
  const detailsText = evalTemplate(o.detailsTemplate, ev);
  const details: unknown = o.detailsFormat === 'json' ? JSON.parse(detailsText) : detailsText;
  const dedup = evalTemplate(o.dedupKeyTemplate, ev);
  if (!dedup) throw new Error('pagerduty dedup key is empty');
  const body: PagerDutyV2Event = {
    routing_key: token,
    event_action: ev.Check.Status === 0 ? 'resolve' : 'trigger',
    dedup_key: dedup,
    ...(o.clientName ? { client: o.clientName } : {}),
    payload: { summary, source: ev.Entity.Name, severity, component: ev.Check.Name, ...(details !== '' ? { custom_details: details } : {}) },
  };
  return { url: o.alternateEndpoint || 'https://events.pagerduty.com/v2/enqueue', body };
}

// ---------------------------------------------------------------------------------------------
// sensu-go-graphite-handler (main.go at commit f083cd89b855, tag 0.5.2; its lines written by
// github.com/marpaia/graphite-golang's sendMetrics: "%s %s %d\n", a zero timestamp sent as now).

export interface MetricsEvent {
  timestamp: number;
  Entity: { Name: string };
  Check: { Name: string; Status: number; State: string };
  points: MetricPoint[];
}

/** Go's %f: six decimals (Inf/NaN as Go prints them). */
const goF = (v: number) => (Number.isFinite(v) ? v.toFixed(6) : Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf');

/**
 * The plaintext lines the handler sends to carbon for one event (argv without the program name):
 * `<prefix>.<entity, every . as _>.<check>_<point, / as _, "/" as root> <%f> <ts>` per point,
 * then `<annotation-prefix>.events.<entity>.<check>.action.<state> 1` and `.status <status>`.
 */
export function graphiteHandlerLines(argv: string[], ev: MetricsEvent, now = Math.floor(Date.now() / 1000)): string[] {
  const prefixSource = argv.includes('--prefix-source');
  const noPrefix = argv.includes('--no-prefix');
  const prefixFlag = flagValue(argv, '--prefix') ?? 'sensu';
  const annotationPrefix = flagValue(argv, '--annotation-prefix') ?? 'sensu.annotations';
  // CheckArgs: only the first '.' of the entity name becomes '_' for --prefix-source.
  const source = ev.Entity.Name.replace('.', '_');
  let prefix = '';
  if (prefixFlag !== '' && !noPrefix) prefix = prefixSource ? `${prefixFlag}.${source}` : prefixFlag;
  else if (prefixSource) prefix = source;
  const entity = ev.Entity.Name.replace(/\./g, '_');
  const ts = (t: number | undefined) => (t ? t : now);
  const lines = ev.points.map((p) => {
    const name = prefix === '' ? p.name : `${prefix}.${entity}.${ev.Check.Name}_${p.name === '/' ? 'root' : p.name.replace(/\//g, '_')}`;
    return `${name} ${goF(p.value)} ${ts(p.timestamp)}`;
  });
  const ann = `${annotationPrefix}.events.${entity}.${ev.Check.Name}`;
  lines.push(`${ann}.action.${ev.Check.State} 1 ${ts(ev.timestamp)}`, `${ann}.status ${ev.Check.Status} ${ts(ev.timestamp)}`);
  return lines;
}
