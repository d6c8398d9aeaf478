// Incident 003: a corrupted ClamAV signature update left the scanners printing one bogus error
// ("ERROR: accept() failed: Loaded 362916 signatures.") in a tight loop until the log partition of
// the MXs was full; then the mail services could not log, stalled, and thousands of messages queued.
//
// Replay: a Postfix MX with its log on a small partition (a 128 MB tmpfs, 20 MB of it older logs:
// at the ordinary 3.5 MB/h it would last over a day) and its spool on another (1 GB tmpfs). Ordinary
// traffic, 60 messages a minute, for ten minutes. At 10:20 EST clamd starts its loop, 100,000 lines
// (8 MB) a minute; the content filter stops passing mail, so new mail stays queued. Six minutes in,
// logrotate rotates mail.log (rename, new file) in the middle of the flood. The log partition fills
// about 13 minutes in. Checks every 60 s (scenario time).
// Without root (no tmpfs) the disk check is skipped and the rest runs on the ordinary filesystem.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaillogGenerator, SCANNER_LINE } from '../../bench/gen/maillog.js';
import { rng } from '../../bench/gen/model.js';
import { floodCheck } from '../../lib/checks/maillog-flood.js';
import { growthCheck } from '../../lib/checks/mailq-growth.js';
import { spoolDiskCheck } from '../../lib/checks/spool-disk.js';
import { mountTmpfs, tempDir, unmount } from '../helpers/state-harness.js';
import { FLOOD_PROFILE } from './000-notification-flood.js';
import { defaultsPass } from './defaults.js';
import { head300, measured, replayed, perfdata, Scenario, type CheckDef, type Variant } from './harness.js';
import { ballast, MailLog, ordinary, Spool } from './world.js';

export const ONSET_003 = Date.UTC(2008, 1, 12, 15, 20) / 1000; // 10:20 EST
const STEP = 60;
const PRE = 10;
const POST = 16;
const LOOP_PER_MIN = 100_000;
const MAIL_PER_MIN = 60;
const ROTATE_AT = 6; // minutes after onset
const MB = 1024 * 1024;
const lineCount = (b: Buffer) => b.reduce((n, c) => (c === 10 ? n + 1 : n), 0);

export async function run003(logFs: string | undefined, spoolFs: string | undefined, variant: Variant = 'thresholds') {
  const root = tempDir('incident-003-');
  const logDir = logFs ?? path.join(root, 'log');
  const spoolRoot = path.join(spoolFs ?? root, 'postfix');
  const logFile = path.join(logDir, 'mail.log');
  const state = path.join(root, 'state');
  const spool = new Spool('postfix', spoolRoot, 3);
  const random = rng(3003);
  const g = new MaillogGenerator({ mta: 'postfix', start: ONSET_003 - (PRE + 1) * STEP, seed: 3003, host: 'mx3' });
  ballast(path.join(logDir, 'mail.log.2.gz'), 20 * MB);
  const log = new MailLog(logFile, g);
  const defs: CheckDef[] = [
    { key: 'flood', name: 'check-maillog-flood', spec: floodCheck, argv: ['--log', logFile, '--state-dir', state, ...FLOOD_PROFILE] },
    { key: 'growth', name: 'check-mailq-growth', spec: growthCheck, argv: ['--mta', 'postfix', '--spool', spoolRoot, '--state-dir', state, '-w', '30', '-c', '300'] },
  ];
  if (logFs && spoolFs)
    defs.splice(1, 0, {
      key: 'disk',
      name: 'check-spool-disk',
      spec: spoolDiskCheck,
      argv: ['--mta', 'postfix', '--spool', spoolRoot, '--path', logDir, '--state-dir', state, '-w', '80', '-c', '90', '--fill-warning', '24h', '--fill-critical', '4h'],
    });
  const aliases: [string, string][] = [[spoolRoot, '/var/spool/postfix'], [logDir, '/var/log']];
  if (spoolFs) aliases.push([spoolFs, '/var/spool']);
  aliases.push([root, '']);
  const s = new Scenario('003', ONSET_003, defs, aliases, variant);

  spool.add(200, ONSET_003 - PRE * STEP - 1800, ONSET_003 - PRE * STEP, () => ordinary(random), 'normal');
  g.normal(MAIL_PER_MIN, STEP);
  log.flush(ONSET_003 - PRE * STEP);
  const truth = { loopLines: 0, rotatedAt: 0, linesAt: new Map<number, number>() };

  for (let k = -PRE; k <= POST; k++) {
    const t = ONSET_003 + k * STEP;
    if (k > -PRE) {
      const looping = k > 0;
      const n = MAIL_PER_MIN - 10 + ((k + PRE) * 7) % 21;
      // Mail: before, it comes and goes; once the scanners are gone, it stays.
      spool.add(n, t - STEP, t, () => ordinary(random), looping ? 'stalled' : 'normal');
      if (!looping) spool.remove(n, 'normal');
      g.t = t - STEP;
      g.normal(n, STEP);
      if (looping) {
        g.t = t - STEP;
        g.scannerLoop(LOOP_PER_MIN, STEP);
        truth.loopLines += LOOP_PER_MIN;
      }
      if (k === ROTATE_AT) {
        // logrotate in the middle of the minute: half of it in mail.log.1, half in the new mail.log.
        const text = Buffer.from(g.take());
        truth.linesAt.set(t, lineCount(text));
        const cut = text.indexOf(10, text.length >> 1) + 1;
        log.append(text.subarray(0, cut), t);
        log.rotate();
        log.append(text.subarray(cut), t);
        truth.rotatedAt = t;
      } else {
        const text = Buffer.from(g.take());
        truth.linesAt.set(t, lineCount(text));
        log.append(text, t);
      }
    }
    await s.tick(t);
  }
  return { s, spool, log, truth, logDir };
}

export function incident003(): void {
  const logFs = mountTmpfs(128);
  const spoolFs = mountTmpfs(1024);
  const skip = 'skip' in logFs ? logFs.skip : 'skip' in spoolFs ? spoolFs.skip : '';
  // The defaults pass fills a log partition of its own.
  const logFsDefaults = mountTmpfs(128);
  const spoolFsDefaults = mountTmpfs(1024);
  afterAll(() => {
    for (const m of [logFs, spoolFs, logFsDefaults, spoolFsDefaults]) if ('dir' in m) unmount(m.dir);
  });
  const skipDefaults = 'skip' in logFsDefaults ? logFsDefaults.skip : 'skip' in spoolFsDefaults ? spoolFsDefaults.skip : '';
  defaultsPass(
    '003',
    (variant) => run003(skipDefaults ? undefined : (logFsDefaults as { dir: string }).dir, skipDefaults ? undefined : (spoolFsDefaults as { dir: string }).dir, variant),
    skipDefaults ? { absent: { keys: ['disk'], why: skipDefaults } } : {},
  );

  describe('incident 003: a virus scanner prints one error in a tight loop until the log partition is full', () => {
    let x: Awaited<ReturnType<typeof run003>>;
    beforeAll(async () => {
      x = await run003('dir' in logFs && !skip ? logFs.dir : undefined, 'dir' in spoolFs && !skip ? spoolFs.dir : undefined);
      measured.push(...x.s.rows());
      replayed.push(x.s);
    }, 240_000);

    it('no check alerts before the onset', () => {
      for (const c of x.s.checks) {
        const before = x.s.before(c.key);
        expect(before.length).toBe(PRE + 1);
        expect(before.filter((r) => r.code !== 0).map((r) => `${r.after}s ${r.line}`)).toEqual([]);
      }
    });

    it('log flood goes CRITICAL on the first run after onset, quoting the line as a template', () => {
      const c = x.s.first('flood', 'CRITICAL')!;
      expect(c).toBeDefined();
      expect(c.after).toBe(STEP);
      const quoted = `"clamd[<n>]: ${SCANNER_LINE.replace('362916', '<n>')}"`;
      expect(quoted).toBe('"clamd[<n>]: ERROR: accept() failed: Loaded <n> signatures."');
      expect(head300(c.line)).toMatch(/^MAILLOG_FLOOD CRITICAL - ~?100,\d{3} lines\/min, (9\d|100)% of lines: /);
      expect(head300(c.line)).toMatch(new RegExp(`${quoted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(~?(99|100),\\d{3}/min\\)`));
    });

    it('survives logrotate in the middle of the flood: no line lost or counted twice, still CRITICAL', () => {
      const flood = x.s.of('flood');
      const at = flood.find((r) => r.t === x.truth.rotatedAt)!;
      const before = flood.find((r) => r.t === x.truth.rotatedAt - STEP)!;
      expect(at.code).toBe(2);
      expect(at.out).toMatch(/mail\.log: rotated/);
      expect(head300(at.line)).toContain('"clamd[<n>]: ERROR: accept() failed: Loaded <n> signatures."');
      // Exactly the lines written that minute, half of them read from mail.log.1, half from the new mail.log.
      expect(perfdata(at.out).lines_per_min).toBe(x.truth.linesAt.get(at.t));
      expect(perfdata(before.out).lines_per_min).toBe(x.truth.linesAt.get(before.t));
      // And the run after reads only the new file.
      const next = flood.find((r) => r.t === x.truth.rotatedAt + STEP)!;
      expect(next.code).toBe(2);
      expect(next.out).not.toMatch(/rotated/);
      expect(flood.every((r) => r.code !== 3)).toBe(true);
    });

    // Issue 15: a new regime is believed from its third sample, so within 3 runs (it was 2).
    it('growth warns within 3 runs of onset as mail stops leaving', () => {
      const w = x.s.first('growth', 'WARNING')!;
      expect(w).toBeDefined();
      expect(w.after).toBeLessThanOrEqual(3 * STEP);
      expect(head300(w.line)).toMatch(/^MAILQ_GROWTH WARNING - queue growing \+(4\d|5\d|6\d|7\d)\/min/);
    });

    it.skipIf(skip)(`spool-disk warns on the log partition's time to full before it is full${skip ? ` (skipped: ${skip})` : ''}`, () => {
      expect(x.log.fullAt, 'the log partition never filled').toBeDefined();
      const w = x.s.first('disk', 'WARNING')!;
      const c = x.s.first('disk', 'CRITICAL')!;
      expect(w).toBeDefined();
      expect(c).toBeDefined();
      // Warned, and went CRITICAL, at least 5 minutes (5 runs) before the partition was full.
      expect(x.log.fullAt! - c.t).toBeGreaterThanOrEqual(5 * STEP);
      expect(w.t).toBeLessThanOrEqual(c.t);
      expect(head300(c.line)).toMatch(/^SPOOL_DISK CRITICAL - \/var\/log \d+% used \([\d.]+ MB free\), full in ~\d+m\d*s? at \+\d+ MB\/h/);
      // The spool's filesystem is named too, and is fine.
      expect(c.line).toMatch(/; \/var\/spool \d+(\.\d)?% used/);
      // Once full: CRITICAL, 0 B free, and said so.
      const after = x.s.of('disk').filter((r) => r.t > x.log.fullAt!);
      expect(after.length).toBeGreaterThan(0);
      for (const r of after) expect(r.line).toMatch(/^SPOOL_DISK CRITICAL - \/var\/log 100% used \(0 B free\), full/);
      expect(fs.statfsSync(x.logDir).bavail).toBe(0);
    });
  });
}
