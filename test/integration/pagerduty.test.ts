// Each check's real alert, as PagerDuty would show it through sensu-pagerduty-handler with our
// handler definition: the default summary template "{{.Entity.Name}}/{{.Check.Name}} :
// {{.Check.Output}}" cut at 1,024 bytes, the severity from our status map, the dedup key. A page
// must read well: the first line under 200 characters with state, number and culprit first, and
// the culprit must survive the cut. Every built check needs a scenario here (an incident-shaped
// queue or log that makes it alert): a new check without one fails the first test.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBins, fixture, fixtureLog, loadResources, removeTempDirs, run, runCheck, tempDir } from './helpers/env.js';
import { flagValue, pagerDutySeverity, pagerDutySummary, PAGERDUTY_DEFAULT_DEDUP, evalTemplate, shellWords, substituteTokens, type MiniEvent } from './helpers/sensu.js';

const ENTITY = 'mx1.mail.example.com';
const resources = loadResources();
const pd = resources.find((r) => r.type === 'Handler' && r.metadata.name === 'pagerduty')!;
const pdArgv = shellWords(pd.spec.command);
const alertChecks = resources.filter((r) => r.type === 'CheckConfig' && (r.spec.handlers ?? []).includes('pagerduty'));
/** The Sensu check name paging for a binary (what {{.Check.Name}} is). */
const sensuName = (bin: string) => alertChecks.find((c) => path.basename(shellWords(substituteTokens(c.spec.command))[0]) === bin)?.metadata.name;

interface Scenario {
  /** What incident it is. */
  what: string;
  /** Exit code expected: 1 WARNING or 2 CRITICAL. */
  status: 1 | 2;
  /** Produces the check's output. */
  run: () => { out: string; code: number };
  /** Text that names the culprit (who/what to look at), in the first line. */
  culprit: () => RegExp;
}

let work: string;
let flood: { dir: string; topSender: string; total: number };

/** A generated Postfix queue: a notification flood plus backscatter (incident 000/002 shaped). */
function genSpool(dir: string, count: number): { topSender: string; total: number } {
  fs.rmSync(dir, { recursive: true, force: true });
  const r = run(process.execPath, [path.join(__dirname, '../../dist/tools/gen-spool.js'), '--mta', 'postfix', '--count', String(count), '--out', dir, '--quiet']);
  if (r.code !== 0) throw new Error(`gen-spool: ${r.out}${r.err}`);
  return JSON.parse(r.out.trim().split('\n').pop()!);
}

const SCENARIOS: Record<string, Scenario> = {
  'check-mailq-depth': {
    what: 'incident 000: one application floods one alias',
    status: 2,
    run: () => runCheck('check-mailq-depth', ['--mta', 'postfix', '--spool', flood.dir, '-w', '500', '-c', '1000', '--age-warning', '1h', '--age-critical', '1d']),
    culprit: () => new RegExp(`top sender ${flood.topSender.replace(/\./g, '\\.')} \\(\\d+%\\)`),
  },
  'check-mailer-daemon': {
    what: 'incident 002: backscatter, bounces to one victim domain',
    status: 2,
    run: () => runCheck('check-mailer-daemon', ['--mta', 'postfix', '--spool', flood.dir, '-w', '10', '-c', '25']),
    culprit: () => /\d+% of them to victim-a\.example/,
  },
  'check-mailq-growth': {
    what: 'incident 004: the deferred queue grows minute after minute',
    status: 2,
    run: () => {
      // Four samples a minute apart (clock pinned), the queue regenerated bigger each time. A generated
      // spool has no queue runs: --queue-run 0, so 3 samples over a minute make the baseline (issue 15).
      const spool = path.join(work, 'growing');
      const state = tempDir('mailq-pd-growth-');
      const t0 = Date.now() - 10 * 60_000;
      let last = { out: '', code: -1 };
      [400, 800, 1200, 1600].forEach((n, i) => {
        genSpool(spool, n);
        last = runCheck('check-mailq-growth', ['--mta', 'postfix', '--spool', spool, '--state-dir', state, '--queue', 'deferred', '-w', '50', '-c', '200', '--queue-run', '0'], { FAKE_NOW_MS: String(t0 + i * 60_000) });
      });
      return last;
    },
    culprit: () => /deferred growing \+?[\d,.]+\/min/,
  },
  'check-spool-disk': {
    what: 'incident 001: the spool filesystem runs out of space',
    status: 2,
    // Less than 1000 TB free: CRITICAL on any machine.
    run: () => runCheck('check-spool-disk', ['--mta', 'postfix', '--spool', fixture('postfix').spools[0], '--state-dir', tempDir('mailq-pd-disk-'), '--free-critical', '1000T']),
    culprit: () => {
      const mount = run('df', ['-P', fixture('postfix').spools[0]]).out.trim().split('\n').pop()!.split(/\s+/).pop()!;
      return new RegExp(`SPOOL_DISK CRITICAL - ${mount.replace(/[/.]/g, '\\$&')} \\d+% used \\([\\d.]+ [KMGTP]?B free\\)`);
    },
  },
  'check-maillog-flood': {
    what: 'incidents 000/003: one sender floods the log',
    status: 2,
    // The captured Postfix log read a minute after it was written (clock pinned): app@qa.example
    // sent 10 messages in that minute.
    run: () =>
      runCheck('check-maillog-flood', ['--log', fixtureLog('postfix'), '--state-dir', tempDir('mailq-pd-log-'), '--from-start', '-w', '100000', '-c', '1000000', '--sender-warning', '2', '--sender-critical', '5'], {
        FAKE_NOW_MS: String((fixture('postfix').capturedAt + 60) * 1000),
      }),
    culprit: () => /app@qa\.example/,
  },
};

beforeAll(() => {
  work = tempDir('mailq-pd-');
  flood = { dir: path.join(work, 'flood'), ...genSpool(path.join(work, 'flood'), 3000) };
});
afterAll(removeTempDirs);

describe('PagerDuty alerts through sensu-pagerduty-handler', () => {
  const bins = checkBins();

  it('every built check has a paging scenario and a Sensu check that pages', () => {
    for (const bin of bins) {
      expect(SCENARIOS[bin], `add a scenario for ${bin} in test/integration/pagerduty.test.ts`).toBeDefined();
      expect(sensuName(bin), `an alert CheckConfig for ${bin} with handlers: [pagerduty]`).toBeDefined();
    }
  });

  describe.each(bins.filter((b) => SCENARIOS[b]).map((b) => [b, SCENARIOS[b]] as const))('%s', (bin, sc) => {
    let out = '';
    let code = -1;
    let ev: MiniEvent;
    beforeAll(() => {
      ({ out, code } = sc.run());
      ev = { Entity: { Name: ENTITY, Namespace: 'default' }, Check: { Name: sensuName(bin)!, Output: out, Status: code } };
    });

    it(`alerts (${sc.what})`, () => {
      expect(code, out).toBe(sc.status);
    });

    it('first line: under 200 characters before the perfdata, state, number and culprit first', () => {
      const first = out.split('\n')[0];
      const text = first.split(' | ')[0];
      expect(text.length, `${bin}: shorten the summary (first line before the perfdata) to under 200 characters: ${text}`).toBeLessThan(200);
      expect(text).toMatch(/^[A-Z_-]+ (WARNING|CRITICAL) - .{0,60}\d/);
      expect(text).toMatch(sc.culprit());
      // As PagerDuty lists it: "<entity>/<check> : <first line>".
      const page = `${ENTITY}/${ev.Check.Name} : ${text}`;
      expect(page.length, page).toBeLessThan(200 + ENTITY.length + ev.Check.Name.length + 4);
    });

    it('summary: the default template, cut at 1,024 bytes, still names the culprit', () => {
      const summary = pagerDutySummary(ev);
      expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(1024);
      expect(summary.startsWith(`${ENTITY}/${ev.Check.Name} : `)).toBe(true);
      expect(summary).toMatch(sc.culprit());
      expect(summary.split('\n')[0]).toMatch(/(WARNING|CRITICAL) - /);
    });

    it('severity and dedup key from our handler definition', () => {
      const sev = pagerDutySeverity(code, flagValue(pdArgv, '--status-map', '-s') ?? '');
      expect(sev).toBe(code === 2 ? 'critical' : 'warning');
      const key = evalTemplate(flagValue(pdArgv, '--dedup-key-template', '-k') ?? PAGERDUTY_DEFAULT_DEDUP, ev);
      expect(key).toBe(`${ENTITY}-${ev.Check.Name}`);
    });
  });
});
