// check-maillog-flood end to end, in-process: the real MTA logs read whole (--from-start), every
// exit-3 path, thresholds in perfdata, and the output contracts (one '|', graphite lines).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluateFlood, floodCheck, isFloodSample, type FloodData, type FloodOptions } from '../../lib/checks/maillog-flood.js';
import { fixtureCases } from '../helpers/fixtures.js';
import { runSpec } from '../helpers/run.js';

const LOG_FILES: Record<string, string> = { postfix: 'postfix.log', exim: 'mainlog', sendmail: 'mail.log', nullmailer: 'nullmailer.log', opensmtpd: 'mail.log' };
let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maillog-check-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
const state = () => ['--state-dir', path.join(dir, 'state')];

describe('real MTA logs, read whole', () => {
  // OpenSMTPD's log: its line parser and counts are tested on the capture in test/mta/opensmtpd.test.ts
  // (its manifest's submissions are not what the log shows: offline/ mail is never logged, smtpd's own bounce is).
  for (const c of fixtureCases().filter((x) => x.mta !== 'opensmtpd')) {
    it(`${c.name}: known counts in JSON, the top sender named, a WARNING on the sender threshold`, async () => {
      const log = path.join(c.dir, 'log', LOG_FILES[c.mta]);
      const manifest = JSON.parse(fs.readFileSync(path.join(c.dir, 'manifest.json'), 'utf8'));
      const logged = manifest.submitted.filter((m: { queueHint: string }) => !(c.mta === 'postfix' && m.queueHint === 'maildrop'));
      const appMessages = logged.filter((m: { from: string }) => m.from === 'app@qa.example').length;
      // 30 minutes after the capture: app@qa.example's messages over 30 min.
      const now = c.capturedAt + 1800;
      const r = await runSpec(floodCheck, ['--log', log, ...state(), '--from-start', '--sender-warning', String(appMessages / 31), '--format', 'json'], now);
      const j = JSON.parse(r.out);
      expect(j.stats.messages).toBe(logged.length);
      expect(j.stats.bounces).toBe(logged.filter((m: { from: string }) => m.from === '').length);
      expect(j.lines).toBe(fs.readFileSync(log, 'latin1').split('\n').filter((l, i, a) => l !== '' || i < a.length - 1).length);
      expect(r.code).toBe(1);
      expect(j.summary).toMatch(/^sender app@qa\.example [\d.]+ msg\/min \(\d+% of messages\), top recipient qanotify@lab\.example/);
    });
  }
});

describe('options and exit 3', () => {
  it.each([
    [['--max-bytes', '12Q'], /^MAILLOG_FLOOD UNKNOWN - invalid --max-bytes '12Q'/],
    [['--max-bytes', '100'], /^MAILLOG_FLOOD UNKNOWN - invalid --max-bytes '100': give at least 4 KB/],
    [['--repeat-critical', '50:x'], /^MAILLOG_FLOOD UNKNOWN - invalid --repeat-critical range '50:x'/],
    [['--top', '-1'], /^MAILLOG_FLOOD UNKNOWN - invalid --top '-1'/],
    [['--journal', 'x;rm -rf /'], /^MAILLOG_FLOOD UNKNOWN - invalid --journal 'x;rm -rf \/': give a systemd unit name/],
    [['--journal', 'postfix', '--log', '/var/log/mail.log'], /^MAILLOG_FLOOD UNKNOWN - --log and --journal both given/],
    [['--nonsense'], /^MAILLOG_FLOOD UNKNOWN - Unknown argument: nonsense/],
  ])('%j', async (args, want) => {
    const r = await runSpec(floodCheck, [...args, ...state()], 1795432267);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(want);
    expect(r.out.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('a missing --log is UNKNOWN naming it; a glob with no match too', async () => {
    const missing = path.join(dir, 'nope.log');
    const r = await runSpec(floodCheck, ['--log', missing, ...state()], 1795432267);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(new RegExp(`^MAILLOG_FLOOD UNKNOWN - ${missing} not found`));
    const g = await runSpec(floodCheck, ['--log', path.join(dir, '*.log'), ...state()], 1795432267);
    expect(g.out).toMatch(/^MAILLOG_FLOOD UNKNOWN - no log file matches .*\*\.log/);
  });

  it('an unreadable log is UNKNOWN with the fix', async () => {
    if (process.getuid?.() === 0) {
      // root reads anything: check the message through a directory instead.
      const r = await runSpec(floodCheck, ['--log', dir, ...state()], 1795432267);
      expect(r.code).toBe(3);
      return;
    }
    const f = path.join(dir, 'secret.log');
    fs.writeFileSync(f, 'x\n', { mode: 0 });
    const r = await runSpec(floodCheck, ['--log', f, ...state(), '--from-start'], 1795432267);
    expect(r.out).toMatch(/UNKNOWN - cannot read .* \(EACCES\): run the check as a user that can read the mail log/);
  });
});

describe('output', () => {
  const data = (): FloodData => ({
    baseline: false,
    interval: 300,
    intervalFrom: 'last run',
    previousRun: 1795432000,
    lines: 5000,
    bytes: 600000,
    skipped: 0,
    scale: 1,
    sampledBytes: 0,
    files: [{ path: '/var/log/mail.log', events: ['read'], read: 600000, skipped: 0 }],
    notes: [],
    unread: [],
    errors: [],
    stats: {
      lines: 5000,
      analysedLines: 5000,
      culprits: [{ key: 'app@qa.example', count: 900, recipient: { key: 'qanotify@lab.example', count: 900 } }],
      deferredRecipients: [],
      longLines: 0,
      unrecognised: 0,
      formats: { rfc3164: 5000 },
      templates: [{ template: 'postfix/smtpd[<n>]: warning: hostname <id> does not resolve | pipe', count: 4000 }],
      distinctTemplates: 3,
      templatesApproximate: false,
      senders: [{ key: 'app@qa.example', count: 900 }],
      recipients: [{ key: 'qanotify@lab.example', count: 900 }],
      clients: [{ key: 'qa-app-07[10.0.0.7]', count: 900 }],
      bounceClients: [],
      bounceDomains: [],
      bounceRecipients: 0,
      sendersApproximate: false,
      messages: 1000,
      bounces: 0,
      deliveries: 1000,
      deferrals: 0,
      failures: 0,
      rejects: 0,
    },
  });
  const opts = (extra: Partial<FloodOptions> = {}): FloodOptions => ({
    logs: [],
    logsGiven: true,
    journal: [],
    fromStart: false,
    maxBytes: 256 << 20,
    exactLimit: 8 << 20,
    maxLine: 16384,
    top: 5,
    repeatMinRate: 10,
    timeout: 10,
    ...extra,
  });

  it('CRITICAL before WARNING in the summary; the culprits first', () => {
    const crit = { text: '100', start: 0, end: 100, inside: false };
    const warn = { text: '50', start: 0, end: 50, inside: false };
    const e = evaluateFlood(data(), opts({ senderWarning: warn, repeatCritical: crit, repeatWarning: warn }));
    // share 80% > 50 (warning only: 80 is inside 0..100); sender 180/min > 100? no: sender warning 50 -> WARNING
    expect(e.state).toBe(1);
    const e2 = evaluateFlood(data(), opts({ senderWarning: warn, repeatCritical: { text: '60', start: 0, end: 60, inside: false } }));
    expect(e2.state).toBe(2);
    expect(e2.summary).toMatch(/^80% of lines: "postfix\/smtpd\[<n>\]: warning: hostname <id> does not resolve ¦? ?\| pipe" \(800\/min\); sender app@qa\.example 180 msg\/min/);
  });

  it('renders one "|" in Nagios output and 3-field Graphite lines', async () => {
    const log = path.join(dir, 'mail.log');
    fs.writeFileSync(log, 'Nov 23 11:11:03 mx1 app[1]: a | b\n');
    const n = await runSpec(floodCheck, ['--log', log, ...state(), '--from-start'], 1795432267);
    expect(n.out.split('|')).toHaveLength(2);
    const g = await runSpec(floodCheck, ['--log', log, '--state-dir', path.join(dir, 's2'), '--from-start', '--format', 'graphite'], 1795432267);
    for (const line of g.out.trim().split('\n')) expect(line).toMatch(/^mx1\.mail\.maillog_flood\.[a-z_]+ [\d.]+ 1795432267$/);
  });

  it('state samples are validated (a hand-edited cursor is refused and replaced by a baseline)', () => {
    expect(isFloodSample({ t: 1, files: [{ path: '/x', dev: 1, ino: 2, offset: 3, size: 3, fp: 'ab', fpLen: 2 }], lines: 0, bytes: 0, skipped: 0 })).toBe(true);
    expect(isFloodSample({ t: 1, files: [{ path: '/x', dev: 1, ino: 2, offset: -3, size: 3, fp: 'ab', fpLen: 2 }], lines: 0, bytes: 0, skipped: 0 })).toBe(false);
    expect(isFloodSample({ t: 1, files: [], journal: { units: 'x' }, lines: 0, bytes: 0, skipped: 0 })).toBe(false);
  });
});
