// check-maillog-flood --sticky saves the alerts it holds inside its collector, before the state lock is
// let go, as check-mailq-growth saves its verdict with its sample: a run that starts once this one
// has let go of the lock reads this run's record, never the one before it. On the real Postfix
// capture's log; the flood's size comes from the capture's manifest.
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
const appMessages = manifest.submitted.filter((m: { from: string; queueHint: string }) => m.from === 'app@qa.example' && m.queueHint !== 'maildrop').length;

let dir: string;
let log: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flood-sticky-save-'));
  log = path.join(dir, 'mail.log');
  fs.writeFileSync(log, '');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const T0 = c.capturedAt;
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
    fs.appendFileSync(log, fs.readFileSync(source));
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
