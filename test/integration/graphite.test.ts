// Graphite: a real carbon-cache (Debian's graphite-carbon) on 127.0.0.1 with a config in a temp
// dir (1-second retention, so every value lands), fed each check's `--format graphite` output
// over TCP and, in a second run, by the check itself with `--graphite-send`. The values are read
// back from the whisper files and must equal what the check printed (graphite lines) and what
// the same run reported as JSON metrics. carbon-cache is stopped by its pid.
// Needs carbon-cache and python3's whisper module: test/integration/graphite-setup.sh (CI).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBins, checkOptions, fixtureArgs, isRoot, removeTempDirs, run, runCheck, stopPid, tempDir, waitFor, which, whisperPython } from './helpers/env.js';
import { extractGraphite } from './helpers/sensu.js';

// On CI (root, CI=true) missing packages are installed here; elsewhere the test says how and skips.
const setup = (() => {
  if ((which('carbon-cache') && whisperPython()) || !isRoot() || process.env.CI !== 'true' || !which('apt-get')) return '';
  const r = run('bash', [path.join(__dirname, 'graphite-setup.sh')], { timeout: 600_000 });
  return r.code === 0 ? '' : `graphite-setup.sh failed (${r.code}): ${(r.out + r.err).trim().split('\n').slice(-3).join(' / ')}`;
})();
const carbon = which('carbon-cache');
const python = whisperPython();
const skip = setup
  ? setup
  : !carbon
  ? 'carbon-cache not installed: run `sudo bash test/integration/graphite-setup.sh` (CI does)'
  : !python
    ? 'python3 cannot import whisper: install python3-whisper (test/integration/graphite-setup.sh)'
    : '';
if (skip) console.warn(`graphite.test.ts skipped: ${skip}`);

const bins = checkBins();

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

function send(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ host: '127.0.0.1', port }, () => sock.end(text));
    sock.setTimeout(5000, () => sock.destroy(new Error('carbon: send timed out')));
    sock.on('error', reject);
    sock.on('close', (hadError) => (hadError ? undefined : resolve()));
  });
}

const READ_WHISPER = `
import json, os, sys, whisper
root = sys.argv[1]
out = {}
for d, _, files in os.walk(root):
    for f in files:
        if f.endswith('.wsp'):
            p = os.path.join(d, f)
            (start, end, step), values = whisper.fetch(p, 0)
            out[os.path.relpath(p, root)[:-4].replace(os.sep, '.')] = [[start + i * step, v] for i, v in enumerate(values) if v is not None]
print(json.dumps(out))
`;

describe.skipIf(!!skip)('carbon-cache stores every check’s metrics', () => {
  let dir: string;
  let port: number;
  let pid = 0;
  const whisperDir = () => path.join(dir, 'storage/whisper');
  const readWhisper = (): Record<string, [number, number][]> => {
    if (!fs.existsSync(whisperDir())) return {};
    const r = run(python!, ['-c', READ_WHISPER, whisperDir()]);
    if (r.code !== 0) throw new Error(`reading whisper: ${r.err}`);
    return JSON.parse(r.out);
  };
  /** Wait until carbon has written every one of these metric paths (bounded). */
  const stored = (names: string[]) =>
    waitFor(`carbon to write ${names.length} metrics`, 30_000, () => {
      const w = readWhisper();
      return names.every((n) => w[n]?.length) ? w : undefined;
    });

  beforeAll(async () => {
    dir = tempDir('mailq-carbon-');
    for (const d of ['conf', 'storage/whisper', 'log', 'run', 'lists']) fs.mkdirSync(path.join(dir, d), { recursive: true });
    port = await freePort();
    const [pickle, query] = [await freePort(), await freePort()];
    fs.writeFileSync(
      path.join(dir, 'conf/carbon.conf'),
      `[cache]
STORAGE_DIR = ${dir}/storage/
LOCAL_DATA_DIR = ${dir}/storage/whisper/
WHITELISTS_DIR = ${dir}/lists/
CONF_DIR = ${dir}/conf/
LOG_DIR = ${dir}/log/
PID_DIR = ${dir}/run/
USER =
DATABASE = whisper
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 10000
MAX_CREATES_PER_MINUTE = inf
MIN_TIMESTAMP_RESOLUTION = 1
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = ${port}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = ${pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = ${query}
LOG_LISTENER_CONNECTIONS = True
LOG_UPDATES = False
LOG_CREATES = True
CARBON_METRIC_INTERVAL = 0
WHISPER_AUTOFLUSH = True
WHISPER_FALLOCATE_CREATE = False
`,
    );
    // 1-second resolution for an hour: each value the checks send lands as is.
    fs.writeFileSync(path.join(dir, 'conf/storage-schemas.conf'), '[everything]\npattern = .*\nretentions = 1s:1h\n');
    fs.writeFileSync(path.join(dir, 'conf/storage-aggregation.conf'), '[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = last\n');
    const pidfile = path.join(dir, 'run/carbon-cache.pid');
    const r = run(carbon!, [`--config=${dir}/conf/carbon.conf`, `--pidfile=${pidfile}`, `--logdir=${dir}/log`, 'start'], { cwd: dir });
    expect(r.code, r.out + r.err).toBe(0);
    pid = await waitFor('carbon-cache pidfile', 20_000, () => {
      const p = fs.existsSync(pidfile) ? Number(fs.readFileSync(pidfile, 'utf8').trim()) : 0;
      return p > 0 ? p : undefined;
    });
    await waitFor('carbon line receiver', 30_000, () => {
      const ok = run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).code === 0;
      return ok ? true : undefined;
    });
  });

  afterAll(async () => {
    if (pid) expect(await stopPid(pid), 'carbon-cache stops on SIGTERM').toBe('terminated');
    removeTempDirs();
  });

  it.each(bins)('%s: --format graphite sent to carbon, read back from whisper', async (bin) => {
    const extra = checkOptions(bin).has('--from-start') ? ['--from-start'] : [];
    const r = runCheck(bin, fixtureArgs(bin, ['--format', 'graphite', '--scheme', 'itest.fmt', ...extra], { stateDir: tempDir('mailq-carbon-state-') }));
    expect([0, 1, 2], r.out).toContain(r.code);
    const lines = extractGraphite(r.out);
    expect(lines.errors).toEqual([]);
    expect(lines.points.length).toBeGreaterThan(0);
    for (const p of lines.points) expect(p.name).toMatch(/^itest\.fmt\.[a-z_]+\.[A-Za-z0-9_]+$/);
    await send(port, r.out);
    const w = await stored(lines.points.map((p) => p.name));
    for (const p of lines.points) expect(w[p.name], p.name).toEqual([[p.timestamp, p.value]]);
  });

  it.each(bins)('%s: --graphite-send from a --format json run stores the same values as its JSON metrics', async (bin) => {
    const extra = checkOptions(bin).has('--from-start') ? ['--from-start'] : [];
    const r = runCheck(bin, fixtureArgs(bin, ['--format', 'json', '--scheme', 'itest.send', '--graphite-send', `127.0.0.1:${port}`, ...extra], { stateDir: tempDir('mailq-carbon-state-') }));
    expect([0, 1, 2], r.out).toContain(r.code);
    const j = JSON.parse(r.out) as { check: string; time: number; details: string[]; metrics: { label: string; value: number }[] };
    const metrics = j.metrics.filter((m) => Number.isFinite(m.value));
    expect(j.details.join('\n')).toMatch(new RegExp(`graphite: sent ${metrics.length} metrics? to 127\\.0\\.0\\.1:${port}`));
    const w = await stored(metrics.map((m) => `itest.send.${j.check}.${m.label}`));
    for (const m of metrics) expect(w[`itest.send.${j.check}.${m.label}`], m.label).toEqual([[Math.floor(j.time), m.value]]);
    // The same metric names as the --format graphite run.
    const fmt = Object.keys(w).filter((n) => n.startsWith(`itest.fmt.${j.check}.`)).map((n) => n.slice(`itest.fmt.${j.check}.`.length));
    expect(metrics.map((m) => m.label).sort()).toEqual(fmt.sort());
  });

  it('carbon down: --graphite-send notes it and the state does not change', async () => {
    const closed = await freePort();
    const args = fixtureArgs('check-mailq-depth', ['-w', '10', '-c', '50']);
    const plain = runCheck('check-mailq-depth', args);
    const r = runCheck('check-mailq-depth', [...args, '--graphite-send', `127.0.0.1:${closed}`]);
    expect(r.code).toBe(plain.code);
    const summary = (out: string) => out.split(' | ')[0].replace(/oldest [^;]+;/, '');
    expect(summary(r.out)).toBe(summary(plain.out));
    expect(r.out).toMatch(new RegExp(`graphite: not sent to 127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`));
  });

  it('carbon logged no invalid line from any check', () => {
    const logs = fs.readdirSync(path.join(dir, 'log')).map((f) => fs.readFileSync(path.join(dir, 'log', f), 'utf8')).join('\n');
    expect(logs).not.toMatch(/invalid line|Invalid line/);
  });
});
