// Flood replays, one per incident pattern: a baseline, then five minutes of ordinary traffic with the
// incident mixed in (generated as the MTA writes it). The alert must be the right one, at the right
// state, and name the culprit in the first 300 characters of the summary. The same thresholds on
// ordinary traffic alone must stay OK (so the alert is caused by the incident, not by the limits).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { floodCheck } from '../../lib/checks/maillog-flood.js';
import { FLOOD, MaillogGenerator, type LogMta } from '../../bench/gen/maillog.js';
import { runSpec } from '../helpers/run.js';

const T0 = Date.UTC(2026, 10, 23, 1, 15) / 1000;
let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maillog-incident-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Baseline at T0, then `during` writes five minutes of log, then the check runs at T0 + 300. */
async function replay(mta: LogMta, thresholds: string[], during: (g: MaillogGenerator) => void) {
  const log = path.join(dir, `${mta}-${Math.random().toString(36).slice(2)}.log`);
  const g = new MaillogGenerator({ mta, start: T0 - 60, seed: 3 });
  g.normal(20, 60);
  fs.writeFileSync(log, g.take());
  // Each replay judges by the family it names only: the defaults of the others are off (they are
  // tested on the quiet captures and the incident replays, test/checks/defaults.test.ts, test/incidents).
  const args = ['--log', log, '--state-dir', path.join(dir, 'state'), ...thresholds, '--no-default-thresholds'];
  const base = await runSpec(floodCheck, args, T0);
  expect(base.code).toBe(0);
  during(g);
  fs.appendFileSync(log, g.take());
  // The same run twice, from copies of the baseline state: Nagios text, and JSON for the data.
  fs.cpSync(path.join(dir, 'state'), path.join(dir, 'state-json'), { recursive: true });
  const r = await runSpec(floodCheck, args, T0 + 300);
  const jsonArgs = ['--log', log, '--state-dir', path.join(dir, 'state-json'), ...thresholds, '--no-default-thresholds', '--format', 'json'];
  const j = JSON.parse((await runSpec(floodCheck, jsonArgs, T0 + 300)).out);
  expect(j.summary).toBe(r.out.split('\n')[0].replace(/^MAILLOG_FLOOD \w+ - /, '').split(' | ')[0]);
  return { ...r, first: r.out.split('\n')[0], summary: r.out.split('\n')[0].replace(/^MAILLOG_FLOOD \w+ - /, '').split(' | ')[0], truth: g.truth, j };
}

const ORDINARY = (g: MaillogGenerator) => g.normal(150, 300);

describe('incident 000: one application mails one alias, from one server', () => {
  const limits = ['--sender-warning', '30', '--sender-critical', '120'];

  it('CRITICAL naming the sender, the alias and the sending client', async () => {
    const r = await replay('postfix', limits, (g) => {
      g.normal(150, 300);
      g.t -= 300;
      g.flood(1500, 300); // 300 messages a minute
    });
    expect(r.code).toBe(2);
    const head = r.summary.slice(0, 300);
    expect(head).toMatch(new RegExp(`^sender ${FLOOD.sender} 300 msg/min \\(9\\d% of messages\\)`));
    expect(head).toContain(`top recipient ${FLOOD.recipient}`);
    expect(head).toContain(`top client ${FLOOD.clientHost}[${FLOOD.clientIp}]`);
    expect(r.first).toMatch(/ top_sender_per_min=300;30;120;0 /);
  });

  it('ordinary traffic with the same limits is OK', async () => {
    const r = await replay('postfix', limits, ORDINARY);
    expect(r.code).toBe(0);
  });
});

describe('incident 002: backscatter, bounces to random forged addresses in our domain', () => {
  const limits = ['--bounce-warning', '20', '--bounce-critical', '100'];

  for (const mta of ['exim', 'postfix'] as LogMta[]) {
    it(`${mta}: CRITICAL naming the bounce rate and the domain the forged recipients are in`, async () => {
      const r = await replay(mta, limits, (g) => {
        g.normal(150, 300);
        g.t -= 300;
        g.bounceStorm(2000, 300);
      });
      expect(r.code).toBe(2);
      expect(r.j.stats.bounces).toBeGreaterThan(1000);
      const head = r.summary.slice(0, 300);
      expect(head).toMatch(/^bounces \(null sender\) \d+\/min \(9\d% of messages\), to lab\.example 100% \(\d[\d,]* distinct recipients\), top bounce client \S+/);
      expect(head).toMatch(/\d+ rejects\/min/);
      expect(r.j.stats.bounceDomains[0].key).toBe('lab.example');
    });
  }

  it('ordinary traffic with the same limits is OK', async () => {
    const r = await replay('exim', limits, ORDINARY);
    expect(r.code).toBe(0);
  });
});

describe('incident 003: a scanner prints one bogus error in a tight loop', () => {
  const limits = ['-w', '2000', '-c', '10000', '--repeat-warning', '30', '--repeat-critical', '50'];

  it('CRITICAL quoting the repeated line, and the line flood names it too', async () => {
    const r = await replay('postfix', limits, (g) => {
      g.normal(150, 300);
      g.t -= 300;
      g.scannerLoop(60000, 300); // 12,000 lines a minute
    });
    expect(r.code).toBe(2);
    const head = r.summary.slice(0, 300);
    expect(head).toMatch(/^12,\d{3} lines\/min, 9\d% of lines: "clamd\[<n>\]: ERROR: accept\(\) failed: Loaded <n> signatures\."/);
    // One alert for the line flood and the repeated line: the line is quoted once.
    expect(r.j.alerts).toHaveLength(1);
    expect(r.j.alerts[0].text).toMatch(/^12,\d{3} lines\/min, 9\d% of lines: "clamd\[<n>\]: ERROR: accept\(\) failed: Loaded <n> signatures\." \(12,000\/min\)$/);
    expect(r.summary.split('clamd[').length).toBe(2);
    // Without -w/-c the share alone alerts, quoting the same line.
    const share = await replay('postfix', ['--repeat-critical', '50'], (g) => g.scannerLoop(60000, 300));
    expect(share.code).toBe(2);
    // The alert alone makes the first line; the overall rates move to the long output.
    expect(share.summary).toMatch(/^(9\d|100)% of lines: "clamd\[<n>\]: ERROR: accept\(\) failed: Loaded <n> signatures\." \(12,000\/min\)$/);
  });

  it('a repeated line below --repeat-min-rate does not alert on its share alone', async () => {
    const r = await replay('postfix', ['--repeat-critical', '50', '--repeat-min-rate', '100'], (g) => g.scannerLoop(100, 300));
    expect(r.code).toBe(0);
  });

  it('ordinary traffic with the same limits is OK', async () => {
    const r = await replay('postfix', limits, ORDINARY);
    expect(r.code).toBe(0);
  });
});
