// check-spool-disk's time to full, run after run as a scheduler runs it (issue 15): the same engine
// and the same promises as check-mailq-growth. A pure filesystem is filled at a known rate (the
// generator's), sampled at 30 s, 1 m and 5 m with +-10% jitter (seeded), with the state carried over
// as the real run carries it (tidySamples; the sample keeps the time-to-full alert it ended in).
import { describe, expect, it } from 'vitest';
import { diskAlert, diskHeldBefore, evaluateSpoolDisk, type SpoolDiskData, type SpoolDiskOptions } from '../../lib/checks/spool-disk.js';
import { diskSample, type DiskSample, type Filesystem } from '../../lib/disk/filesystem.js';
import { judge } from '../../lib/disk/verdict.js';
import { parseRange } from '../../lib/plugin/range.js';
import { State } from '../../lib/plugin/result.js';
import { tidySamples } from '../../lib/plugin/state.js';
import { prng } from '../helpers/prng.js';

const T0 = 1_795_000_000;
const GB = 1024 ** 3;
const SIZE = 100 * GB;

function options(): SpoolDiskOptions {
  return {
    mta: 'postfix',
    paths: [],
    spoolSize: false,
    window: 3600,
    minSamples: 3,
    timeout: 10,
    warning: parseRange('95'),
    critical: parseRange('99'),
    fillWarning: { text: '86400:', start: 86400, end: Infinity, inside: false },
    fillCritical: { text: '14400:', start: 14400, end: Infinity, inside: false },
  };
}

function fsAt(used: number): Filesystem {
  return { mount: '/var', label: 'var', dev: 1, spools: ['/var/spool/postfix'], paths: [], size: SIZE, used, avail: SIZE - used, inodes: 0, inodesFree: 0, spoolUsage: {} };
}

/** Runs every `interval` +- 10%, the used bytes `used(s)`; the states and the fill rates per run. */
function drive(used: (s: number) => number, interval: number, length: number, seed: number) {
  const r = prng(seed);
  const o = options();
  let kept: DiskSample[] = [];
  const out: { s: number; state: State; rate?: number; ttf?: number }[] = [];
  for (let k = 0; k * interval <= length; k++) {
    const s = k * interval + (k ? r.uniform(-0.1, 0.1) * interval : 0);
    const t = T0 + s;
    kept = tidySamples(kept, t, o.window, 500).samples;
    const f = fsAt(Math.round(used(s)));
    const held = diskHeldBefore(kept, t);
    const sample = diskSample(t, [f]);
    const window = [...kept, sample];
    const alert = diskAlert([judge(f, window, o, (held?.['/var'] ?? State.OK) as State)]);
    if (alert) sample.alert = alert;
    kept.push(sample);
    const data: SpoolDiskData = { mta: 'postfix', filesystems: [f], samples: kept, notes: [], held };
    const ev = evaluateSpoolDisk(data, o, t);
    const m = (l: string) => ev.metrics.find((x) => x.label === l)?.value;
    out.push({ s, state: ev.state, rate: m('fill_bytes_per_hour'), ttf: m('time_to_full') });
  }
  return out;
}

const changes = (runs: { state: State }[]) => runs.slice(1).filter((x, i) => x.state !== runs[i].state).length;

describe.each([30, 60, 300])('every %ss +-10%%', (interval) => {
  it('a fill that puts the time to full right at --fill-warning (24h, +-noise): one alert, never a flap', () => {
    // 50 GB free, filling at 50 GB a day plus +-20 MB of noise: the time to full sits at 24h.
    const noise = prng(interval);
    const perSec = (50 * GB) / 86400;
    const runs = drive((s) => 50 * GB + perSec * s + noise.gauss(20 * 1024 ** 2), interval, 4 * 3600, 100 + interval);
    expect(changes(runs)).toBeLessThanOrEqual(1);
    const judged = runs.filter((x) => x.rate !== undefined).slice(3);
    for (const x of judged) expect(Math.abs(x.rate! - perSec * 3600) / (perSec * 3600)).toBeLessThan(0.1);
  });

  it('a log that starts filling the disk fast (after a quiet hour): CRITICAL within 3 runs, and it stays', () => {
    const onset = 3600;
    // 2 GB a minute: 50 GB free is gone in 25 minutes.
    const runs = drive((s) => 50 * GB + Math.max(0, s - onset) * ((2 * GB) / 60), interval, onset + 20 * 60, 200 + interval);
    const after = runs.filter((x) => x.s > onset && x.s < onset + 20 * 60);
    expect(runs.filter((x) => x.s <= onset).every((x) => x.state === State.OK)).toBe(true);
    const first = after.findIndex((x) => x.state === State.CRITICAL);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(3);
    expect(after.slice(first).every((x) => x.state === State.CRITICAL)).toBe(true);
    for (const x of after.slice(2)) expect(Math.abs(x.rate! - 120 * GB) / (120 * GB)).toBeLessThan(0.1);
  });

  it('a log rotated away every 20 minutes (a sawtooth of drops): no fill projected once two rotations were seen', () => {
    // A disk has no known cycle: until two drops have measured the period, the rise between two
    // rotations cannot be told from a fill (it may alert then, as any check would).
    const runs = drive((s) => 50 * GB + ((s % 1200) / 1200) * 2 * GB, interval, 4 * 3600, 300 + interval);
    expect(runs.filter((x) => x.s > 2 * 1200 + interval).every((x) => x.state === State.OK)).toBe(true);
    expect(changes(runs)).toBeLessThanOrEqual(2);
  });
});
