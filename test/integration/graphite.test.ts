// Graphite: a real carbon-cache (Debian's graphite-carbon) on 127.0.0.1 with a config in a temp
// dir (1-second retention, so every value lands), fed each check's `--format graphite` output
// over TCP and, in a second run, by the check itself with `--graphite-send`. The values are read
// back from the whisper files and must equal what the check printed (graphite lines) and what
// the same run reported as JSON metrics. carbon-cache is stopped by its pid.
// Needs carbon-cache and python3's whisper module: test/integration/graphite-setup.sh (CI).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { carbonSkipReason, freePort, sendTcp as send, startCarbon, type Carbon } from './helpers/carbon.js';
import { checkBins, checkOptions, fixtureArgs, removeTempDirs, runCheck, tempDir } from './helpers/env.js';
import { extractGraphite } from './helpers/sensu.js';

// On CI (root, CI=true) missing packages are installed (helpers/carbon.ts); elsewhere the test says how and skips.
const skip = carbonSkipReason();
if (skip) console.warn(`graphite.test.ts skipped: ${skip}`);

const bins = checkBins();

describe.skipIf(!!skip)('carbon-cache stores every check’s metrics', () => {
  let carbon: Carbon;
  let port: number;
  const stored = (names: string[]) => carbon.stored(names);

  beforeAll(async () => {
    carbon = await startCarbon();
    port = carbon.port;
  });

  afterAll(async () => {
    if (carbon) expect(await carbon.stop(), 'carbon-cache stops on SIGTERM').toBe('terminated');
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
    expect(carbon.logs()).not.toMatch(/invalid line|Invalid line/);
  });
});
