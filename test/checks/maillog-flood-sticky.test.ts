// check-maillog-flood --sticky end to end, in-process, on the real Postfix capture's log: a sender
// flood seen in one run keeps the check CRITICAL for the duration after it was last seen, across
// runs (each run is a fresh process's worth of state: only the files in the state dir carry over),
// and clears after. Expected counts come from the capture's manifest.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { floodCheck } from '../../lib/checks/maillog-flood.js';
import type { FloodData } from '../../lib/log/flood-run.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { runSpec } from '../helpers/run.js';

const c = fixtureCases().find((x) => x.name === 'postfix')!;
const source = path.join(c.dir, 'log', 'postfix.log');
const manifest = JSON.parse(fs.readFileSync(path.join(c.dir, 'manifest.json'), 'utf8'));
// Every submission of app@qa.example is logged (none went to maildrop in this capture).
const appMessages = manifest.submitted.filter((m: { from: string; queueHint: string }) => m.from === 'app@qa.example' && m.queueHint !== 'maildrop').length;

let dir: string;
let log: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flood-sticky-'));
  log = path.join(dir, 'mail.log');
  fs.writeFileSync(log, '');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const T0 = c.capturedAt;
/** The capture's whole log appended in one minute: appMessages msg/min from app@qa.example. */
const flood = () => fs.appendFileSync(log, fs.readFileSync(source));
const run = (t: number, extra: string[] = []) =>
  runSpec(floodCheck, ['--log', log, '--state-dir', path.join(dir, 'state'), '--sender-critical', String(appMessages / 2), ...extra], t);

describe('--sticky', () => {
  it('holds a flood seen once for the duration after it was last seen, naming the culprit, then clears', async () => {
    expect(appMessages).toBeGreaterThan(2);
    const sticky = ['--sticky', '30m'];
    expect((await run(T0, sticky)).code).toBe(0); // baseline
    flood();
    const hit = await run(T0 + 60, sticky);
    expect(hit.code).toBe(2);
    expect(hit.out).toMatch(/^MAILLOG_FLOOD CRITICAL - sender app@qa\.example /);
    expect(hit.out).toMatch(/sticky_held=0;;;0/);
    // Five minutes later nothing new was logged: still CRITICAL, the same culprit first, and why.
    const held = await run(T0 + 360, sticky);
    expect(held.code).toBe(2);
    expect(held.out.slice(0, 300)).toMatch(/^MAILLOG_FLOOD CRITICAL - sender app@qa\.example .*\(held by --sticky: since \d\d:\d\d, last seen \d\d:\d\d, clears \d\d:\d\d\)/);
    expect(held.out).toMatch(/sticky_held=1;;;0/);
    // 30 minutes after it was last seen (T0 + 60): cleared.
    const later = await run(T0 + 60 + 1800, sticky);
    expect(later.code).toBe(0);
    expect(later.out).not.toMatch(/held by --sticky/);
  });

  it('without --sticky the same runs go OK the run after the flood', async () => {
    await run(T0);
    flood();
    expect((await run(T0 + 60)).code).toBe(2);
    const after = await run(T0 + 360);
    expect(after.code).toBe(0);
    expect(after.out).not.toMatch(/held by --sticky|sticky_held/);
  });

  it('the record survives in the state dir as JSON (a restart loses nothing), and a damaged one is not trusted', async () => {
    const sticky = ['--sticky', '1h', '--format', 'json'];
    await run(T0, sticky);
    flood();
    await run(T0 + 60, sticky);
    const files = fs.readdirSync(path.join(dir, 'state')).filter((f) => f.endsWith('.sticky'));
    expect(files).toHaveLength(1);
    const file = path.join(dir, 'state', files[0]);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(doc.records.map((r: { family: string; state: number }) => [r.family, r.state])).toEqual([['sender', 2]]);
    const j = JSON.parse((await run(T0 + 120, sticky)).out);
    expect(j.status).toBe('CRITICAL');
    expect(j.sticky[0]).toMatchObject({ family: 'sender', state: 'CRITICAL', since: T0 + 60, lastSeen: T0 + 60 });
    fs.writeFileSync(file, '{"version":1,"records":[{"family":"sender","state":9}]}');
    const r = await run(T0 + 180, ['--sticky', '1h', '-v']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/sticky record .* is damaged: no alert is held this run/);
  });

  it('a bad duration is exit 3 naming it', async () => {
    const r = await run(T0, ['--sticky', '30 minutes']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^MAILLOG_FLOOD UNKNOWN - invalid --sticky '30 minutes'/);
  });
});

// The record is saved by the collector before the state lock is let go, as check-mailq-growth saves
// its verdict with its sample: a run that starts once this one has let go of the lock reads this
// run's record, never the one before it.
const stateDir = () => path.join(dir, 'state');
const files = (end: string) => (fs.existsSync(stateDir()) ? fs.readdirSync(stateDir()).filter((f) => f.endsWith(end)) : []);

describe('--sticky record', () => {
  it('is saved by the collector, with the lock still held: when collect() returns, the record holds this run and the lock is gone', async () => {
    expect(appMessages).toBeGreaterThan(2);
    const seen: { records: unknown; locks: string[] }[] = [];
    // The same check, looking at the state dir the moment its collector hands back (before the runner judges).
    const watched = {
      ...floodCheck,
      collect: async (o: Parameters<typeof floodCheck.collect>[0], ctx: Parameters<typeof floodCheck.collect>[1]): Promise<FloodData> => {
        const d = await floodCheck.collect(o, ctx);
        const sticky = files('.sticky');
        seen.push({ records: sticky.length ? JSON.parse(fs.readFileSync(path.join(stateDir(), sticky[0]), 'utf8')).records : undefined, locks: files('.lock') });
        return d;
      },
    };
    const argv = ['--log', log, '--state-dir', stateDir(), '--sender-critical', String(appMessages / 2), '--sticky', '30m'];
    expect((await runSpec(watched, argv, T0)).code).toBe(0); // baseline: nothing alerts, nothing held
    flood();
    expect((await runSpec(watched, argv, T0 + 60)).code).toBe(2);
    expect(seen[1].records).toMatchObject([{ family: 'sender', state: 2, since: T0 + 60, lastSeen: T0 + 60, lastCritical: T0 + 60 }]);
    expect(seen[1].locks).toEqual([]);
    // The next run reads it (held, nothing new logged) and saves its own before letting go.
    const held = await runSpec(watched, argv, T0 + 360);
    expect(held.code).toBe(2);
    expect(held.out).toMatch(/held by --sticky/);
    expect(seen[2].records).toMatchObject([{ family: 'sender', state: 2, since: T0 + 60, lastSeen: T0 + 60 }]);
  });
});
