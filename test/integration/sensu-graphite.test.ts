// The shipped Sensu metric paths into a real carbon-cache (Debian's graphite-carbon, on 127.0.0.1,
// helpers/carbon.ts). The checks and carbon are real; Sensu Go's agent and backend and
// sensu-go-graphite-handler are not (the Go module proxy refuses their modules here,
// docs/sensu-go.md), so their part is the rules of their sources ported into helpers/sensu.ts:
//
// - alert checks (output_metric_format: nagios_perfdata, output_metric_handlers: [graphite]): the
//   shipped command run on the captured spools/logs, its output through the agent's nagios_perfdata
//   extractor (extractNagios), the points through the shipped `graphite` pipe handler's naming and
//   line format (graphiteHandlerLines), sent to carbon; read back from whisper, every perfdata value
//   the check printed (as Nagios reads it) must be stored under the name the handler gives it, plus
//   the handler's two annotation series (status, action.<state>).
// - metrics checks (graphite_plaintext, the `graphite-plaintext` TCP handler with only_check_output):
//   the shipped command's output, which the agent's graphite_plaintext extractor must accept whole,
//   sent to carbon byte for byte as the TCP handler does; every line must be stored.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { carbonSkipReason, sendTcp, startCarbon, type Carbon } from './helpers/carbon.js';
import { fixtureArgs, loadResources, removeTempDirs, runCheck, tempDir } from './helpers/env.js';
import { extractGraphite, extractNagios, graphiteHandlerLines, nagiosPerfdata, shellWords, substituteTokens, type Resource } from './helpers/sensu.js';

const skip = carbonSkipReason();
if (skip) console.warn(`sensu-graphite.test.ts skipped: ${skip}`);

const ENTITY = 'mx1.mail.example.com';
const resources = loadResources();
const checks = resources.filter((r) => r.type === 'CheckConfig');
const handlers = new Map(resources.filter((r) => r.type === 'Handler').map((h) => [h.metadata.name, h]));
const viaHandler = (name: string) => checks.filter((c) => (c.spec.output_metric_handlers ?? []).includes(name)).map((c) => [c.metadata.name, c] as const);

/** The shipped command on the captured spools/logs; its /var/lib state dir moved to a temp dir. */
function runShipped(c: Resource) {
  const argv = shellWords(substituteTokens(c.spec.command));
  const bin = path.basename(argv[0]);
  const args = fixtureArgs(bin, argv.slice(1), { stateDir: tempDir('mailq-sg-state-') });
  const sd = args.indexOf('--state-dir');
  if (sd >= 0 && args[sd + 1].startsWith('/var/lib/')) args[sd + 1] = tempDir('mailq-sg-state-');
  const r = runCheck(bin, args);
  expect([0, 1, 2], `${c.metadata.name}: ${r.out}${r.err}`).toContain(r.code);
  return r;
}

describe.skipIf(!!skip)('Sensu metrics into a real carbon-cache', () => {
  let carbon: Carbon;
  beforeAll(async () => {
    carbon = await startCarbon();
  });
  afterAll(async () => {
    if (carbon) expect(await carbon.stop(), 'carbon-cache stops on SIGTERM').toBe('terminated');
    removeTempDirs();
  });

  it('every check has an alert definition through `graphite` and a metrics one through `graphite-plaintext`', () => {
    expect(viaHandler('graphite').length).toBeGreaterThan(0);
    expect(viaHandler('graphite-plaintext').length).toBe(viaHandler('graphite').length);
  });

  it.each(viaHandler('graphite'))('%s: perfdata -> nagios_perfdata -> graphite pipe handler -> carbon', async (name, c) => {
    const r = runShipped(c);
    const executed = Math.floor(Date.now() / 1000);
    // Words of the long output after the perfdata are logged by the agent as invalid metrics and
    // dropped (docs/integrations.md, "Sensu and long output"); what must hold is checked below.
    const extracted = extractNagios(r.out);
    const handler = handlers.get('graphite')!;
    const lines = graphiteHandlerLines(shellWords(handler.spec.command).slice(1), {
      timestamp: executed,
      Entity: { Name: ENTITY },
      Check: { Name: name, Status: r.code, State: r.code === 0 ? 'passing' : 'failing' },
      // ParseNagios stamps every point with the check's `executed` time.
      points: extracted.points.map((p) => ({ ...p, timestamp: executed })),
    });
    await sendTcp(carbon.port, lines.join('\n') + '\n');

    // What must be there: each perfdata value the check printed, as Nagios reads it, under
    // sensu.<entity with _ for .>.<check>_<label> (the handler's README), at %f precision.
    const entity = ENTITY.replace(/\./g, '_');
    const want = new Map(nagiosPerfdata(r.out).map((p) => [`sensu.${entity}.${name}_${p.name}`, Number(p.value.toFixed(6))]));
    expect(want.size, r.out).toBeGreaterThan(0);
    const status = `sensu.annotations.events.${entity}.${name}.status`;
    const action = `sensu.annotations.events.${entity}.${name}.action.${r.code === 0 ? 'passing' : 'failing'}`;
    const w = await carbon.stored([...want.keys(), status, action]);
    for (const [metric, value] of want) expect(w[metric], metric).toEqual([[executed, value]]);
    expect(w[status]).toEqual([[executed, r.code]]);
    expect(w[action]).toEqual([[executed, 1]]);
    // Nothing else of this check's: no bogus metric from long output reached carbon.
    const mine = Object.keys(w).filter((k) => k.startsWith(`sensu.${entity}.${name}_`));
    expect(mine.sort()).toEqual([...want.keys()].sort());
  });

  it.each(viaHandler('graphite-plaintext'))('%s: graphite_plaintext output -> TCP handler (only_check_output) -> carbon', async (name, c) => {
    const handler = handlers.get('graphite-plaintext')!;
    expect(handler.spec).toMatchObject({ type: 'tcp', mutator: 'only_check_output' });
    const r = runShipped(c);
    const lines = extractGraphite(r.out);
    expect(lines.errors, r.out).toEqual([]);
    expect(lines.points.length, r.out).toBeGreaterThan(0);
    await sendTcp(carbon.port, r.out);
    const w = await carbon.stored(lines.points.map((p) => p.name));
    for (const p of lines.points) expect(w[p.name], `${name}: ${p.name}`).toEqual([[p.timestamp, p.value]]);
  });

  it('carbon logged no invalid line', () => {
    expect(carbon.logs()).not.toMatch(/invalid line/i);
  });
});
