// Incident 000: a refactor turned a WARNING into an ERROR mail, "once a minute, each"; an application
// on one QA server (SpocSkulker) made direct SMTP connections to the central Postfix relay and queued
// 500,000 messages to one alias overnight. Nobody noticed for hours.
//
// Replay: a Postfix relay with ordinary traffic (a steady ~150 deferred messages, ~40 messages a
// minute in the log) for ten minutes; at 01:15 the application starts mailing qanotify@lab.example
// from qa-app-07.qa.example[10.20.30.47] at 600 messages a minute, rising by 200 each minute; the
// relay cannot deliver them as fast, so they queue. Checks every 60 s (scenario time).
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FLOOD, MaillogGenerator } from '../../bench/gen/maillog.js';
import { rng } from '../../bench/gen/model.js';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { floodCheck } from '../../lib/checks/maillog-flood.js';
import { growthCheck } from '../../lib/checks/mailq-growth.js';
import { tempDir } from '../helpers/state-harness.js';
import { defaultsPass } from './defaults.js';
import { head300, measured, replayed, perfdata, Scenario, type Variant } from './harness.js';
import { MailLog, ordinary, Spool } from './world.js';

/** The log-flood thresholds docs/check-maillog-flood.md suggests for a mid-size relay, used in every scenario. */
export const FLOOD_PROFILE = ['-w', '2000', '-c', '10000', '--repeat-warning', '30', '--repeat-critical', '50', '--sender-warning', '30', '--sender-critical', '120', '--bounce-warning', '20', '--bounce-critical', '100'];

export const ONSET_000 = Date.UTC(2026, 10, 23, 1, 15) / 1000;
export const STEP_000 = 60;
const PRE = 10;
const POST = 10;
/** Flood messages in the k-th minute after onset (k = 1, 2, ...). */
export const floodRate = (k: number) => 600 + 200 * (k - 1);
const CLIENT = `${FLOOD.clientHost}[${FLOOD.clientIp}]`;

export async function run000(variant: Variant = 'thresholds') {
  const root = tempDir('incident-000-');
  const spoolRoot = path.join(root, 'spool');
  const logFile = path.join(root, 'log', 'mail.log');
  const state = path.join(root, 'state');
  const spool = new Spool('postfix', spoolRoot, 0);
  const random = rng(1000);
  const g = new MaillogGenerator({ mta: 'postfix', start: ONSET_000 - (PRE + 1) * STEP_000, seed: 1000 });
  const log = new MailLog(logFile, g);
  const s = new Scenario(
    '000',
    ONSET_000,
    [
      { key: 'growth', name: 'check-mailq-growth', spec: growthCheck, argv: ['--mta', 'postfix', '--spool', spoolRoot, '--state-dir', state, '-w', '100', '-c', '500'] },
      { key: 'depth', name: 'check-mailq-depth', spec: depthCheck, argv: ['--mta', 'postfix', '--spool', spoolRoot, '-w', '1000', '-c', '5000', '--top', '3'] },
      { key: 'flood', name: 'check-maillog-flood', spec: floodCheck, argv: ['--log', logFile, '--state-dir', state, ...FLOOD_PROFILE] },
    ],
    [[spoolRoot, '/var/spool/postfix'], [path.dirname(logFile), '/var/log'], [root, '']],
    variant,
  );

  // Before: ordinary mail, some of it deferred for hours (slow or dead destinations).
  spool.add(150, ONSET_000 - PRE * STEP_000 - 3 * 3600, ONSET_000 - PRE * STEP_000, () => ordinary(random), 'normal');
  g.normal(40, STEP_000);
  log.flush(ONSET_000 - PRE * STEP_000);
  const flood = { messages: 0 };

  for (let k = -PRE; k <= POST; k++) {
    const t = ONSET_000 + k * STEP_000;
    if (k > -PRE) {
      // The minute (t - STEP, t]: ordinary mail comes and goes, the queue stays level.
      const n = 30 + (((k + PRE) * 7) % 21);
      spool.add(n, t - STEP_000, t, () => ordinary(random), 'normal');
      spool.remove(n, 'normal');
      g.t = t - STEP_000;
      g.normal(n, STEP_000);
      if (k > 0) {
        const r = floodRate(k);
        spool.add(
          r,
          t - STEP_000,
          t,
          () => ({
            kind: 'flood',
            sender: FLOOD.sender,
            recipients: [FLOOD.recipient],
            client: CLIENT,
            subject: `ERROR: customer ${100000 + Math.floor(random() * 900000)} has no active services`,
          }),
          'flood',
        );
        g.t = t - STEP_000;
        g.flood(r, STEP_000);
        flood.messages += r;
      }
      log.flush(t);
    }
    await s.tick(t);
  }
  return { s, spool, flood };
}

export function incident000(): void {
  describe('incident 000: a notification flood to one alias through direct SMTP (Postfix relay)', () => {
    let x: Awaited<ReturnType<typeof run000>>;
    beforeAll(async () => {
      x = await run000();
      measured.push(...x.s.rows());
      replayed.push(x.s);
    }, 240_000);

    it('no check alerts on ordinary traffic before the onset', () => {
      for (const key of ['growth', 'depth', 'flood']) {
        const before = x.s.before(key);
        expect(before.length).toBe(PRE + 1);
        expect(before.filter((r) => r.code !== 0).map((r) => `${r.after}s ${r.line}`)).toEqual([]);
      }
    });

    // Issue 15: a new regime is believed from its third sample (one or two odd samples never alert), so
    // within 3 check intervals of onset (it was 2, from the "rising in each of the last 3 samples" reading).
    it('growth goes WARNING and CRITICAL within 3 check intervals of onset, at the rate the relay saw', () => {
      const w = x.s.first('growth', 'WARNING');
      const c = x.s.first('growth', 'CRITICAL');
      expect(w, 'growth never warned').toBeDefined();
      expect(c, 'growth never went CRITICAL').toBeDefined();
      expect(w!.after).toBeLessThanOrEqual(3 * STEP_000);
      expect(c!.after).toBeLessThanOrEqual(3 * STEP_000);
      expect(w!.after).toBeLessThanOrEqual(c!.after);
      // One rise is never a trend (a burst): the first run after onset stays OK.
      expect(x.s.of('growth').find((r) => r.after === STEP_000)!.code).toBe(0);
      // The rate judged is the slower of the two minutes' growth, what the queue really did.
      const run = x.s.of('growth').find((r) => r.after === c!.after)!;
      const slowest = Math.min(floodRate(1), floodRate(2));
      expect(perfdata(run.out).rate).toBeGreaterThan(slowest * 0.9);
      expect(perfdata(run.out).rate).toBeLessThan(slowest * 1.1);
      expect(head300(c!.line)).toMatch(/^MAILQ_GROWTH CRITICAL - queue growing \+[\d,]+\/min/);
    });

    it('depth warns, then goes CRITICAL, naming the alias and the sender', () => {
      const w = x.s.first('depth', 'WARNING')!;
      const c = x.s.first('depth', 'CRITICAL')!;
      expect(w).toBeDefined();
      expect(c).toBeDefined();
      expect(w.after).toBeLessThan(c.after);
      expect(x.s.of('depth').find((r) => r.after === w.after)!.state).toBe('WARNING');
      for (const d of [w, c]) {
        expect(head300(d.line)).toContain(`top sender ${FLOOD.sender}`);
        expect(head300(d.line)).toContain(`top recipient ${FLOOD.recipient}`);
      }
      // The count is the queue, to the message.
      const last = x.s.last('depth');
      expect(perfdata(last.out).total).toBe(x.spool.count());
      expect(x.spool.count('flood')).toBe(x.flood.messages);
      // The sending client is in the long output (see the report: not in the summary).
      expect(last.out).toMatch(new RegExp(`top clients:\\n  ${FLOOD.clientHost.replace(/\./g, '\\.')}\\[${FLOOD.clientIp.replace(/\./g, '\\.')}\\] [\\d,]+ \\(9\\d%\\)`));
    });

    it('log flood goes CRITICAL on the first run after onset, naming the sender, the alias and the sending client', () => {
      const c = x.s.first('flood', 'CRITICAL')!;
      expect(c).toBeDefined();
      expect(c.after).toBe(STEP_000);
      expect(x.s.first('flood', 'WARNING')!.after).toBe(STEP_000);
      const h = head300(c.line);
      expect(h).toMatch(new RegExp(`^MAILLOG_FLOOD CRITICAL - sender ${FLOOD.sender} ${floodRate(1)} msg/min`));
      expect(h).toContain(`top recipient ${FLOOD.recipient}`);
      expect(h).toContain(`top client ${CLIENT}`);
      // And it stays CRITICAL while the flood goes on.
      expect(x.s.of('flood').filter((r) => r.after > 0).every((r) => r.code === 2)).toBe(true);
    });
  });

  defaultsPass('000', run000, { metrics: true });
}
