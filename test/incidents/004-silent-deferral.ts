// Incident 004: new nodes added to a Postfix filtering cluster could not deliver to the next hop.
// Postfix kept retrying until its 12-hour bounce threshold; 54,000 messages bounced before partner
// tickets gave it away. Nothing failed loudly: the deferred queue just grew, and aged.
//
// Replay: one filtering node passes 200 messages a minute to the next hop. Normally 8% defer
// briefly (retried and delivered within 5 minutes: a steady ~80 in deferred, none older than 5
// minutes). At 16:30 ET the next hop refuses this node: every message defers and nothing leaves.
// Checks every 60 s (scenario time), 35 minutes of it.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MaillogGenerator } from '../../bench/gen/maillog.js';
import { rng } from '../../bench/gen/model.js';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { floodCheck } from '../../lib/checks/maillog-flood.js';
import { growthCheck } from '../../lib/checks/mailq-growth.js';
import { runAt, tempDir } from '../helpers/state-harness.js';
import { FLOOD_PROFILE } from './000-notification-flood.js';
import { defaultsPass } from './defaults.js';
import { head300, measured, replayed, perfdata, Scenario, type Variant } from './harness.js';
import { logMessages, MailLog, ordinary, ORDINARY_DOMAINS, Spool } from './world.js';

export const ONSET_004 = Date.UTC(2022, 11, 1, 21, 30) / 1000; // 4:30 pm ET
const STEP = 60;
const PRE = 10;
const POST = 35;
const PER_MIN = 200;
/** Deferred mail is retried and delivered this long after it arrived, while the next hop works. */
const RETRY = 300;
const AGE_WARNING = 10 * 60;
const AGE_CRITICAL = 30 * 60;
const BOUNCE_THRESHOLD = 12 * 3600;

function checks(spoolRoot: string, logFile: string, state: string) {
  return [
    { key: 'growth', name: 'check-mailq-growth', spec: growthCheck, argv: ['--mta', 'postfix', '--spool', spoolRoot, '--state-dir', state, '--queue', 'deferred', '-w', '50', '-c', '500'] },
    { key: 'age', name: 'check-mailq-depth', spec: depthCheck, argv: ['--mta', 'postfix', '--spool', spoolRoot, '--queue', 'deferred', '--age-warning', '10m', '--age-critical', '30m'] },
    { key: 'flood', name: 'check-maillog-flood', spec: floodCheck, argv: ['--log', logFile, '--state-dir', state, ...FLOOD_PROFILE, '--deferral-warning', '60', '--deferral-critical', '600'] },
  ];
}

export async function run004(variant: Variant = 'thresholds') {
  const root = tempDir('incident-004-');
  const spoolRoot = path.join(root, 'spool');
  const logFile = path.join(root, 'log', 'mail.log');
  const state = path.join(root, 'state');
  const spool = new Spool('postfix', spoolRoot, 4);
  const random = rng(4004);
  const g = new MaillogGenerator({ mta: 'postfix', start: ONSET_004 - (PRE + 1) * STEP, seed: 4004 });
  const log = new MailLog(logFile, g);
  const s = new Scenario('004', ONSET_004, checks(spoolRoot, logFile, state), [[spoolRoot, '/var/spool/postfix'], [path.dirname(logFile), '/var/log'], [root, '']], variant);
  const pick = <T>(a: readonly T[]) => a[Math.floor(random() * a.length)];
  const nextHop: [string, string] = ['filter-out.cloud.example', '10.40.0.25'];
  // Inbound mail from the internet: many senders, none of them more than a few a minute.
  const sender = () => `news${Math.floor(random() * 400)}@sender${Math.floor(random() * 60)}.example`;
  const inbound = () => ({ ...ordinary(random), sender: sender(), client: `${nextHop[0]}[${nextHop[1]}]` });

  // Steady state: 8% of the mail in the last 5 minutes waits in deferred.
  spool.add(Math.round((PER_MIN * 0.08 * RETRY) / 60), ONSET_004 - PRE * STEP - RETRY, ONSET_004 - PRE * STEP, inbound, 'retry');
  for (let k = -PRE; k <= POST; k++) {
    const t = ONSET_004 + k * STEP;
    if (k > -PRE) {
      const broken = k > 0;
      // The log: every message of the minute, delivered or deferred.
      let deferred = 0;
      g.t = t - STEP;
      logMessages(g, PER_MIN, STEP, (i) => {
        const defer = broken || i % 12 === 0;
        if (defer) deferred++;
        const n = 1 + Math.floor(random() * 2);
        return {
          sender: sender(),
          recipients: Array.from({ length: n }, () => `user${Math.floor(random() * 3000)}@${pick(ORDINARY_DOMAINS)}`),
          client: nextHop,
          status: defer ? 'deferred' : 'sent',
        };
      });
      log.flush(t);
      // The queue: the deferred ones wait; while the next hop works, they leave after RETRY seconds.
      spool.add(deferred, t - STEP, t, inbound, 'retry');
      if (!broken) spool.removeArrivedBy(t - RETRY, 'retry');
    }
    await s.tick(t);
  }
  return { s, spool };
}

export function incident004(): void {
  describe('incident 004: silent deferral on a Postfix filtering node', () => {
    let x: Awaited<ReturnType<typeof run004>>;
    beforeAll(async () => {
      x = await run004();
      measured.push(...x.s.rows());
      replayed.push(x.s);
    }, 240_000);

    it('no check alerts before the onset (deferred mail that is retried and delivered is normal)', () => {
      for (const key of ['growth', 'age', 'flood']) {
        const before = x.s.before(key);
        expect(before.length).toBe(PRE + 1);
        expect(before.filter((r) => r.code !== 0).map((r) => `${r.after}s ${r.line}`)).toEqual([]);
      }
    });

    it('growth on the deferred queue warns on the second run after onset, naming the deferred queue', () => {
      const w = x.s.first('growth', 'WARNING')!;
      expect(w).toBeDefined();
      expect(w.after).toBeLessThanOrEqual(2 * STEP);
      expect(head300(w.line)).toMatch(/^MAILQ_GROWTH WARNING - deferred growing \+(19\d|20\d)\/min/);
      // Every run from then on keeps saying so.
      expect(x.s.of('growth').filter((r) => r.after >= w.after).every((r) => r.code === 1)).toBe(true);
    });

    it('oldest-age fires within minutes of the age thresholds, not after the 12-hour bounce threshold', () => {
      const w = x.s.first('age', 'WARNING')!;
      const c = x.s.first('age', 'CRITICAL')!;
      expect(w).toBeDefined();
      expect(c).toBeDefined();
      // The oldest deferred message arrived up to RETRY before the onset and never left.
      expect(w.after).toBeGreaterThanOrEqual(AGE_WARNING - RETRY);
      expect(w.after).toBeLessThanOrEqual(AGE_WARNING);
      expect(c.after).toBeLessThanOrEqual(AGE_CRITICAL);
      expect(c.after).toBeLessThan(BOUNCE_THRESHOLD / 20);
      for (const d of [w, c]) expect(head300(d.line)).toMatch(/^MAILQ (WARNING|CRITICAL) - [\d,]+ in deferred of [\d,]+ queued, oldest \d+m( \d+s)?/);
      const last = x.s.last('age');
      expect(perfdata(last.out).deferred).toBe(x.spool.count('retry'));
      expect(perfdata(last.out).oldest_age).toBe(last.t - x.spool.oldest('retry')!);
    });

    it('the log shows the deferrals from the first run after onset', () => {
      const w = x.s.first('flood', 'WARNING')!;
      expect(w.after).toBe(STEP);
      expect(head300(w.line)).toMatch(/^MAILLOG_FLOOD WARNING - deferrals \d+\/min/);
    });

    // Known bug (see docs/incidents.md, "Findings"): --queue deferred thresholds the deferred count,
    // but --age-* judge the oldest message of every queue, hold included. A filtering node keeps
    // quarantined mail in hold for days, so the age alert fires on a healthy node (and an admin who
    // raises the age thresholds past the hold queue's age loses incident 004's early warning).
    it('--queue deferred --age-* judges the deferred queue only, not mail held for days in hold', async () => {
      const root = tempDir('incident-004-hold-');
      const spool = new Spool('postfix', path.join(root, 'spool'), 40);
      const random = rng(40);
      spool.add(3, ONSET_004 - 2 * 86400, ONSET_004 - 86400, () => ordinary(random, 'held'), 'held');
      spool.add(16, ONSET_004 - RETRY, ONSET_004, () => ordinary(random), 'retry');
      const r = await runAt(depthCheck, checks(spool.root, '', '')[1].argv, ONSET_004);
      expect(r.out.split('\n')[0]).toMatch(/^MAILQ OK - 16 in deferred of 19 queued, oldest (\d+m )?\d+s;/);
      expect(r.code).toBe(0);
    });
  });

  defaultsPass('004', run004);
}
