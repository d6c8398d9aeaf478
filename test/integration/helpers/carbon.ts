// A real carbon-cache (Debian's graphite-carbon) on 127.0.0.1 with a config in a temp dir
// (1-second retention, so every value lands as sent), for graphite.test.ts and
// sensu-graphite.test.ts. Needs carbon-cache and python3's whisper module:
// test/integration/graphite-setup.sh, which CI (root, CI=true) runs here when they are missing.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { isRoot, run, stopPid, tempDir, waitFor, which, whisperPython } from './env.js';

/** Why carbon cannot be run here ('' when it can), after installing it on CI. */
export function carbonSkipReason(): string {
  const setup = (() => {
    if ((which('carbon-cache') && whisperPython()) || !isRoot() || process.env.CI !== 'true' || !which('apt-get')) return '';
    const r = run('bash', [path.join(__dirname, '..', 'graphite-setup.sh')], { timeout: 600_000 });
    return r.code === 0 ? '' : `graphite-setup.sh failed (${r.code}): ${(r.out + r.err).trim().split('\n').slice(-3).join(' / ')}`;
  })();
  if (setup) return setup;
  if (!which('carbon-cache')) return 'carbon-cache not installed: run `sudo bash test/integration/graphite-setup.sh` (CI does)';
  if (!whisperPython()) return 'python3 cannot import whisper: install python3-whisper (test/integration/graphite-setup.sh)';
  return '';
}

/** A port nothing listens on right now (bound and released by us). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Write text to a TCP port and close, as carbon's plaintext senders (and Sensu's TCP handler) do. */
export function sendTcp(port: number, text: string): Promise<void> {
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

export interface Carbon {
  /** The plaintext line receiver's port on 127.0.0.1. */
  port: number;
  dir: string;
  /** Every metric path stored so far: [[timestamp, value], ...]. */
  readWhisper(): Record<string, [number, number][]>;
  /** Wait until carbon has written every one of these metric paths (bounded), then read all. */
  stored(names: string[]): Promise<Record<string, [number, number][]>>;
  /** carbon's own log files, concatenated. */
  logs(): string;
  stop(): Promise<'terminated' | 'killed' | 'gone'>;
}

export async function startCarbon(): Promise<Carbon> {
  const carbon = which('carbon-cache');
  const python = whisperPython();
  if (!carbon || !python) throw new Error(carbonSkipReason() || 'carbon-cache or whisper missing');
  const dir = tempDir('mailq-carbon-');
  for (const d of ['conf', 'storage/whisper', 'log', 'run', 'lists']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const port = await freePort();
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
  // 1-second resolution for an hour: each value sent lands as is.
  fs.writeFileSync(path.join(dir, 'conf/storage-schemas.conf'), '[everything]\npattern = .*\nretentions = 1s:1h\n');
  fs.writeFileSync(path.join(dir, 'conf/storage-aggregation.conf'), '[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = last\n');
  const pidfile = path.join(dir, 'run/carbon-cache.pid');
  const r = run(carbon, [`--config=${dir}/conf/carbon.conf`, `--pidfile=${pidfile}`, `--logdir=${dir}/log`, 'start'], { cwd: dir });
  if (r.code !== 0) throw new Error(`carbon-cache start exited ${r.code}: ${r.out}${r.err}`);
  const pid = await waitFor('carbon-cache pidfile', 20_000, () => {
    const p = fs.existsSync(pidfile) ? Number(fs.readFileSync(pidfile, 'utf8').trim()) : 0;
    return p > 0 ? p : undefined;
  });
  await waitFor('carbon line receiver', 30_000, () => (run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).code === 0 ? true : undefined));

  const whisperDir = path.join(dir, 'storage/whisper');
  const readWhisper = (): Record<string, [number, number][]> => {
    if (!fs.existsSync(whisperDir)) return {};
    const w = run(python, ['-c', READ_WHISPER, whisperDir]);
    if (w.code !== 0) throw new Error(`reading whisper: ${w.err}`);
    return JSON.parse(w.out);
  };
  return {
    port,
    dir,
    readWhisper,
    stored: (names) =>
      waitFor(`carbon to write ${names.length} metrics`, 30_000, () => {
        const w = readWhisper();
        return names.every((n) => w[n]?.length) ? w : undefined;
      }),
    logs: () =>
      fs
        .readdirSync(path.join(dir, 'log'))
        .map((f) => fs.readFileSync(path.join(dir, 'log', f), 'utf8'))
        .join('\n'),
    stop: () => stopPid(pid),
  };
}
