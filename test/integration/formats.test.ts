// --format prometheus and --format influx against the real programs (Debian 12 packages):
// - promtool check metrics (package prometheus): every check's output on its normal, alert and error
//   paths is valid exposition and passes promtool's lint;
// - prometheus-node-exporter with only its textfile collector, on 127.0.0.1, scraped over loopback:
//   every check's --textfile file is read (no scrape error), its series come back with their values,
//   two files of one check (--textfile-suffix) live side by side, and a label value with '"', '\' and
//   spaces (a spool path) comes back as it was;
// - influxd 1.6 on 127.0.0.1 with its data in a temp dir: every check's lines are accepted by /write
//   (twice, the second run's integer and float fields must not conflict with the first's), read back
//   with /query (tags, field values, field types, the ns timestamp), errors included.
// Daemons are started by us on ports we pick, stopped by pid; temp dirs removed. On CI (root, CI=true)
// missing programs are installed with test/integration/formats-setup.sh; elsewhere the tests skip.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBins, checkOptions, fixture, fixtureArgs, isRoot, pidAlive, removeTempDirs, run, runCheck, stopPid, tempDir, waitFor, which } from './helpers/env.js';

const setup = (() => {
  if ((which('promtool') && which('prometheus-node-exporter') && which('influxd')) || !isRoot() || process.env.CI !== 'true' || !which('apt-get')) return '';
  const r = run('bash', [path.join(__dirname, 'formats-setup.sh')], { timeout: 900_000 });
  return r.code === 0 ? '' : `formats-setup.sh failed (${r.code}): ${(r.out + r.err).trim().split('\n').slice(-3).join(' / ')}`;
})();
const missing = (prog: string, pkg: string) =>
  setup || (which(prog) ? '' : `${prog} not installed (Debian package ${pkg}): run \`sudo bash test/integration/formats-setup.sh\` (CI does)`);
const skipPromtool = missing('promtool', 'prometheus');
const skipNode = missing('prometheus-node-exporter', 'prometheus-node-exporter');
const skipInflux = missing('influxd', 'influxdb');
for (const [f, s] of [['promtool', skipPromtool], ['node_exporter', skipNode], ['influxd', skipInflux]]) if (s) console.warn(`formats.test.ts: ${f} tests skipped: ${s}`);

const bins = checkBins();
const ID: Record<string, string> = {};

/** A port nothing listens on right now (bound and released by us). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A daemon of ours: its output to a log file in `dir`, its pid kept for afterAll. */
function daemon(cmd: string, args: string[], dir: string, name: string): { pid: number; log: () => string } {
  const logFile = path.join(dir, `${name}.log`);
  const fd = fs.openSync(logFile, 'a');
  const p = spawn(cmd, args, { stdio: ['ignore', fd, fd], cwd: dir });
  fs.closeSync(fd);
  p.unref();
  return { pid: p.pid!, log: () => fs.readFileSync(logFile, 'utf8') };
}

/** Arguments for each check's three paths, against the captured queues and logs. */
function argsFor(bin: string, path_: 'normal' | 'alert' | 'error', stateDir: string): string[] {
  const opts = checkOptions(bin);
  const base = opts.has('--from-start') ? ['--from-start'] : [];
  if (path_ === 'alert') base.push('-w', '0', '-c', '0', ...(opts.has('--min-messages') ? ['--min-messages', '1'] : []));
  if (path_ === 'error') base.push(...(opts.has('--spool') ? ['--mta', 'postfix', '--spool', '/nonexistent/mailq-spool'] : ['--log', '/nonexistent/mail.log']));
  return fixtureArgs(bin, base, { stateDir });
}

/** A series with its labels in name order (node_exporter re-exposes them sorted). */
function normalized(series: string): string {
  const b = series.indexOf('{');
  if (b < 0) return series;
  const labels = [...series.slice(b + 1, -1).matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]}="${m[2]}"`);
  return `${series.slice(0, b)}{${labels.sort().join(',')}}`;
}
/** The exposition as {series (labels sorted) -> value}, '# ' lines and blank lines left out. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(normalized(line.slice(0, i)), Number(line.slice(i + 1)));
  }
  return out;
}
const stateOf = (text: string) => [...samples(text)].find(([k]) => k.startsWith('mailq_check_state{'))?.[1];

describe.skipIf(!!skipPromtool)('promtool check metrics on every check’s --format prometheus', () => {
  afterAll(() => removeTempDirs());
  const cases = bins.flatMap((b) => (['normal', 'alert', 'error'] as const).map((p) => [b, p] as const));
  it.each(cases)('%s (%s path): valid, lint-clean, state gauge = exit code', (bin, p) => {
    const r = runCheck(bin, argsFor(bin, p, tempDir('mailq-prom-state-')).concat('--format', 'prometheus'));
    if (p === 'error') expect(r.code, r.out).toBe(3);
    else expect([0, 1, 2], r.out).toContain(r.code);
    expect(r.err).toBe('');
    expect(r.out.endsWith('\n')).toBe(true);
    expect(stateOf(r.out)).toBe(r.code);
    const lint = run(which('promtool')!, ['check', 'metrics'], { input: r.out });
    expect({ code: lint.code, out: lint.out + lint.err }).toEqual({ code: 0, out: '' });
  });
  it('the alert path alerts where a threshold of 0 must (the queue and the disk are not empty)', () => {
    const codes = Object.fromEntries(bins.map((b) => [b, runCheck(b, argsFor(b, 'alert', tempDir('mailq-prom-state-')).concat('--format', 'prometheus')).code]));
    expect(codes['check-mailq-depth']).toBe(2);
    expect(codes['check-spool-disk']).toBe(2);
  });
});

describe.skipIf(!!skipNode)('node_exporter’s textfile collector reads every check’s --textfile', () => {
  let dir: string;
  let textDir: string;
  let port: number;
  let node: { pid: number; log: () => string } | undefined;
  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    dir = tempDir('mailq-node-exporter-');
    textDir = path.join(dir, 'textfile');
    fs.mkdirSync(textDir);
    port = await freePort();
    node = daemon(
      which('prometheus-node-exporter')!,
      ['--collector.disable-defaults', '--collector.textfile', `--collector.textfile.directory=${textDir}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      dir,
      'node-exporter',
    );
    await waitFor('node_exporter to listen', 30_000, () => (run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).code === 0 ? true : undefined));
  });
  afterAll(async () => {
    if (node) expect(await stopPid(node.pid), 'node_exporter stops on SIGTERM').not.toBe('killed');
    removeTempDirs();
  });

  it('every check (normal run, and an error run under a suffix): no scrape error, the series and values of each file', async () => {
    const files: Record<string, { code: number; text: string }> = {};
    for (const bin of bins) {
      for (const [p, suffix] of [['normal', undefined], ['error', 'broken']] as const) {
        const r = runCheck(bin, [...argsFor(bin, p, tempDir('mailq-node-state-')), '--textfile', textDir, ...(suffix ? ['--textfile-suffix', suffix] : [])]);
        // stdout is still the Nagios answer, and the exit code the state.
        expect(r.out, bin).toMatch(/^[A-Z_-]+ (OK|WARNING|CRITICAL|UNKNOWN) - /);
        const written = fs.readdirSync(textDir).filter((f) => !Object.keys(files).includes(f));
        expect(written, `${bin} wrote one .prom file and no temp file`).toHaveLength(1);
        const name = written[0];
        files[name] = { code: r.code, text: fs.readFileSync(path.join(textDir, name), 'utf8') };
        if (p === 'error') expect(r.code).toBe(3);
        expect(stateOf(files[name].text), name).toBe(r.code);
      }
    }
    expect(Object.keys(files)).toHaveLength(bins.length * 2);
    const scraped = samples(await scrape());
    expect(scraped.get('node_textfile_scrape_error'), node!.log()).toBe(0);
    for (const [name, f] of Object.entries(files)) {
      expect(scraped.get(`node_textfile_mtime_seconds{file="${path.join(textDir, name)}"}`), name).toBeGreaterThan(0);
      for (const [series, value] of samples(f.text)) expect(scraped.get(series), `${name}: ${series}`).toBe(value);
    }
    // The captured Postfix queue, as its manifest counts it.
    const pf = fixture('postfix').manifest.expected;
    const depth = [...scraped].filter(([k]) => k.startsWith('mailq_depth_queue_messages{') && k.includes('mta="postfix"'));
    for (const [q, n] of Object.entries(pf.byQueue)) expect(depth.find(([k]) => k.includes(`queue="${q}"`))?.[1], q).toBe(n);
    expect([...scraped].find(([k]) => k.startsWith('mailq_depth_messages{'))?.[1]).toBe(pf.total);
  });

  it('a spool path with quotes, a backslash and spaces comes back as the same label value', async () => {
    const odd = path.join(tempDir('mailq-node-spool-'), 'spool "q" \\ x');
    fs.cpSync(fixture('postfix').spools[0], odd, { recursive: true });
    const r = runCheck('check-mailq-depth', ['--mta', 'postfix', '--spool', odd, '--textfile', textDir, '--textfile-suffix', 'odd']);
    expect([0, 1, 2]).toContain(r.code);
    const esc = odd.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    const text = await scrape();
    expect(samples(text).get(`mailq_check_state{check="mailq_depth",mta="postfix",spool="${esc}",suffix="odd"}`)).toBe(r.code);
    expect(samples(text).get('node_textfile_scrape_error')).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// influx

interface Point {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number | string>;
  integers: string[];
  ns: string;
}
/** Our own reading of a line (the escapes the renderer writes), to know what to ask influxd for. */
function parseLine(line: string): Point {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      cur += c + line[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ' ' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  expect(parts, line).toHaveLength(3);
  const split = (s: string, sep: string) => {
    const out: string[] = [];
    let c2 = '';
    let q = false;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === '\\' && i + 1 < s.length) {
        c2 += s[i] + s[++i];
        continue;
      }
      if (s[i] === '"') q = !q;
      if (s[i] === sep && !q) {
        out.push(c2);
        c2 = '';
      } else c2 += s[i];
    }
    out.push(c2);
    return out;
  };
  const unesc = (s: string) => s.replace(/\\([,= "\\])/g, '$1');
  const [m, ...tagParts] = split(parts[0], ',');
  const tags = Object.fromEntries(tagParts.map((t) => split(t, '=').map(unesc) as [string, string]));
  const fields: Point['fields'] = {};
  const integers: string[] = [];
  for (const f of split(parts[1], ',')) {
    const [k, v] = split(f, '=');
    const key = unesc(k);
    if (v.startsWith('"')) fields[key] = v.slice(1, -1).replace(/\\(["\\])/g, '$1');
    else if (v.endsWith('i')) {
      fields[key] = Number(v.slice(0, -1));
      integers.push(key);
    } else fields[key] = Number(v);
  }
  return { measurement: unesc(m), tags, fields, integers, ns: parts[2] };
}

describe.skipIf(!!skipInflux)('influxd stores every check’s --format influx', () => {
  let dir: string;
  let port: number;
  let influx: { pid: number; log: () => string } | undefined;
  const base = () => `http://127.0.0.1:${port}`;
  const query = async (q: string, db = 'mailq') => {
    const res = await fetch(`${base()}/query?db=${db}&epoch=ns&q=${encodeURIComponent(q)}`, { method: 'POST' });
    const body = (await res.json()) as { results: { series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[]; error?: string }[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.results[0].error, q).toBeUndefined();
    return body.results[0].series ?? [];
  };
  const write = async (text: string) => {
    const res = await fetch(`${base()}/write?db=mailq&precision=ns`, { method: 'POST', body: text });
    return { status: res.status, body: await res.text() };
  };

  beforeAll(async () => {
    dir = tempDir('mailq-influxd-');
    port = await freePort();
    const rpc = await freePort();
    fs.writeFileSync(
      path.join(dir, 'influxdb.conf'),
      `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[coordinator]
[retention]
  enabled = false
[shard-precreation]
  enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = false
  log-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
`,
    );
    influx = daemon(which('influxd')!, ['-config', path.join(dir, 'influxdb.conf')], dir, 'influxd');
    await waitFor('influxd /ping', 60_000, () => {
      if (!pidAlive(influx!.pid)) throw new Error(`influxd exited: ${influx!.log().slice(-2000)}`);
      return run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).code === 0 ? true : undefined;
    });
    const ping = await fetch(`${base()}/ping`);
    expect(ping.status).toBe(204);
    await query('CREATE DATABASE mailq', '');
  });
  afterAll(async () => {
    if (influx) expect(await stopPid(influx.pid), 'influxd stops on SIGTERM').not.toBe('killed');
    removeTempDirs();
  });

  it.each(bins)('%s: normal, again later, and error runs written with /write and read back with /query', async (bin) => {
    const stateDir = tempDir('mailq-influx-state-');
    const runs = [
      { p: 'normal' as const, at: 1_796_000_000_000 },
      { p: 'normal' as const, at: 1_796_000_300_000 },
      { p: 'error' as const, at: 1_796_000_600_000 },
    ];
    for (const { p, at } of runs) {
      const r = runCheck(bin, [...argsFor(bin, p, stateDir), '--format', 'influx'], { FAKE_NOW_MS: String(at) });
      if (p === 'error') expect(r.code).toBe(3);
      expect(r.err).toBe('');
      const points = r.out.trimEnd().split('\n').map(parseLine);
      expect(points[0].fields.state, r.out).toBe(r.code);
      for (const pt of points) expect(BigInt(pt.ns) / 1_000_000_000n).toBe(BigInt(Math.floor(at / 1000)));
      const w = await write(r.out);
      expect(w, r.out).toEqual({ status: 204, body: '' });
      for (const pt of points) {
        const where = Object.entries(pt.tags)
          .map(([k, v]) => `"${k}" = '${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
          .join(' AND ');
        // GROUP BY *: one series per tag set; a tag a line does not have is '' there.
        const all = await query(`SELECT * FROM "${pt.measurement}" WHERE time = ${pt.ns} AND ${where} GROUP BY *`);
        const series = all.filter((s) => Object.entries(s.tags ?? {}).every(([k, v]) => (pt.tags[k] ?? '') === v));
        expect(series, `${bin}: ${JSON.stringify(pt)}`).toHaveLength(1);
        expect(Object.fromEntries(Object.entries(series[0].tags ?? {}).filter(([, v]) => v !== ''))).toEqual(pt.tags);
        const { columns, values } = series[0];
        expect(values).toHaveLength(1);
        const row = Object.fromEntries(columns.map((c, i) => [c, values[0][i]]));
        expect(String(row.time)).toBe(pt.ns);
        for (const [k, v] of Object.entries(pt.fields)) expect(row[k], k).toBe(v);
      }
      ID[bin] = points[0].measurement;
    }
    const keys = await query(`SHOW FIELD KEYS FROM "${ID[bin]}"`);
    const types = Object.fromEntries(keys[0].values.map(([k, t]) => [k, t]));
    expect(types.state).toBe('integer');
    expect(types.summary).toBe('string');
  });

  it('tags with spaces, commas, = and a backslash (a spool path) come back as they were', async () => {
    const odd = path.join(tempDir('mailq-influx-spool-'), 'spool a,b=c d\\e');
    fs.cpSync(fixture('postfix').spools[0], odd, { recursive: true });
    const r = runCheck('check-mailq-depth', ['--mta', 'postfix', '--spool', odd, '--format', 'influx', '--textfile-suffix', 'odd']);
    expect(await write(r.out)).toEqual({ status: 204, body: '' });
    const series = await query(`SELECT "total", "state" FROM "mailq_depth" WHERE "suffix" = 'odd' GROUP BY "spool"`);
    expect(series.map((s) => s.tags?.spool)).toEqual([odd]);
    expect(series[0].values[0][1]).toBe(fixture('postfix').manifest.expected.total);
  });

  it('influxd logged no write error', () => {
    expect(influx!.log()).not.toMatch(/partial write|field type conflict|unable to parse/);
  });
});
