// Incident 001's world in time, without the test framework (so `npm run demo` replays it too): a
// Sendmail relay whose /var fills up (see 001-sendmail-drowning.ts for the story and the assertions).
// /var is the directory given (a 160 MB tmpfs in the tests); one hour of ordinary traffic, then the
// relay stops delivering: 700 new messages every 15 minutes, 55% of them bounces, until /var is full.
// All five checks run every 15 minutes, as a relay's Sensu schedule would.
import path from 'node:path';
import { MaillogGenerator } from '../../bench/gen/maillog.js';
import { rng } from '../../bench/gen/model.js';
import { mailerDaemonCheck } from '../../lib/checks/mailer-daemon.js';
import { floodCheck } from '../../lib/checks/maillog-flood.js';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { growthCheck } from '../../lib/checks/mailq-growth.js';
import { spoolDiskCheck } from '../../lib/checks/spool-disk.js';
import { runAt, tempDir } from '../helpers/state-harness.js';
import { Scenario, type Variant } from './harness.js';
import { ballast, logMessages, MailLog, ordinary, Spool } from './world.js';

export const ONSET_001 = Date.UTC(2018, 2, 5, 20, 0) / 1000;
export const STEP = 15 * 60;
export const PRE = 4;
export const MAX_POST = 40;
export const PER_STEP = 700;
export const BOUNCE_SHARE = 0.55;
const MB = 1024 * 1024;

export async function run001(varFs: string, variant: Variant = 'thresholds') {
  const root = tempDir('incident-001-');
  const spoolRoot = path.join(varFs, 'spool');
  const logDir = path.join(varFs, 'log');
  const logFile = path.join(logDir, 'maillog');
  const state = path.join(root, 'state');
  const spool = new Spool('sendmail', spoolRoot, 1);
  const mqueue = spool.spoolDir;
  const random = rng(1001);
  const g = new MaillogGenerator({ mta: 'sendmail', start: ONSET_001 - (PRE + 1) * STEP, seed: 1001, host: 'relay1' });
  ballast(path.join(logDir, 'maillog.1'), 40 * MB);
  const log = new MailLog(logFile, g);
  const s = new Scenario(
    '001',
    ONSET_001,
    [
      { key: 'disk', name: 'check-spool-disk', spec: spoolDiskCheck, argv: ['--mta', 'sendmail', '--spool', mqueue, '--path', logDir, '--state-dir', state, '-w', '80', '-c', '90', '--fill-warning', '24h', '--fill-critical', '4h'] },
      { key: 'bounces', name: 'check-mailer-daemon', spec: mailerDaemonCheck, argv: ['--mta', 'sendmail', '--spool', mqueue, '-w', '20', '-c', '50'] },
      { key: 'depth', name: 'check-mailq-depth', spec: depthCheck, argv: ['--mta', 'sendmail', '--spool', mqueue, '-w', '1000', '-c', '5000'] },
      { key: 'growth', name: 'check-mailq-growth', spec: growthCheck, argv: ['--mta', 'sendmail', '--spool', mqueue, '--state-dir', state, '--window', '1h', '-w', '20', '-c', '200'] },
      // The relay's log: ordinary traffic is ~20 messages and ~1 bounce a minute; after the onset 47
      // messages a minute arrive, 55% of them bounces, every one deferred.
      { key: 'flood', name: 'check-maillog-flood', spec: floodCheck, argv: ['--log', logFile, '--state-dir', state, '--bounce-warning', '10', '--bounce-critical', '20', '--deferral-warning', '30', '--deferral-critical', '100'] },
    ],
    [[mqueue, '/var/spool/mqueue'], [logDir, '/var/log'], [varFs, '/var'], [root, '']],
    variant,
  );
  const bounce = () => ({
    kind: 'bounce' as const,
    sender: '',
    recipients: [`${Math.floor(random() * 1e9).toString(36)}@${random() < 0.7 ? 'itsm.corp.example' : 'alerts.corp.example'}`],
    subject: 'Returned mail: see transcript for details',
  });

  // Before: ordinary relay traffic, a few hundred waiting, 5% of them bounces.
  const t0 = ONSET_001 - PRE * STEP;
  spool.add(285, t0 - 3000, t0, () => ordinary(random), 'normal');
  spool.add(15, t0 - 3000, t0, bounce, 'old-bounce');
  const graphite: { t: number; depth: string; bounces: string }[] = [];

  for (let k = -PRE; k <= MAX_POST; k++) {
    const t = ONSET_001 + k * STEP;
    if (k > -PRE) {
      g.t = t - STEP;
      if (k <= 0) {
        const n = 280 + ((k + PRE) * 13) % 41;
        spool.add(n, t - STEP, t, () => ordinary(random), 'normal');
        spool.remove(n, 'normal');
        g.normal(n, STEP);
      } else if (!spool.fullAt && !log.fullAt) {
        // Nothing leaves. The bounces of what cannot be delivered cannot be delivered either.
        const kinds = Array.from({ length: PER_STEP }, (_, i) => (i * BOUNCE_SHARE) % 1 < BOUNCE_SHARE);
        const bounces = kinds.filter(Boolean).length;
        spool.add(bounces, t - STEP, t, bounce, 'bounce');
        spool.add(PER_STEP - bounces, t - STEP, t, () => ordinary(random), 'stuck');
        logMessages(g, PER_STEP, STEP, (i) => ({
          sender: kinds[i] ? '' : 'itsm@itsm.corp.example',
          recipients: [`user${Math.floor(random() * 3000)}@corp.example`],
          client: ['itsm.corp.example', '10.0.0.40'],
          status: 'deferred',
        }));
      }
      log.flush(t);
    }
    await s.tick(t);
    if (k === 4) {
      // What the incident's mqtotal script fed Graphite ("servername.mqcount COUNT TIME"), from the spool.
      const d = await runAt(depthCheck, ['--mta', 'sendmail', '--spool', mqueue, '--count-only', '--format', 'graphite', '--scheme', 'relay1.mail'], t);
      const b = await runAt(mailerDaemonCheck, ['--mta', 'sendmail', '--spool', mqueue, '--format', 'graphite', '--scheme', 'relay1.mail'], t);
      graphite.push({ t, depth: d.out, bounces: b.out });
    }
    const full = spool.fullAt ?? log.fullAt;
    if (full !== undefined && t >= full + 2 * STEP) break;
  }
  return { s, spool, log, graphite, fullAt: spool.fullAt ?? log.fullAt, varFs };
}
