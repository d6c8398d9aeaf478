// `npm run demo`: incident 001 (a Sendmail relay drowning: the queue grows, half of it bounces, the
// log floods, /var fills) replayed in compressed scenario time with all five checks on their own
// 15-minute schedule, as the incident tests replay it (test/incidents/001-world.ts). It prints a
// timeline, one line per check per state change, and writes a chart of the metrics with a marker
// where each check first went WARNING and CRITICAL. /var is a 160 MB tmpfs when run as root (so it
// really fills), a plain temp directory otherwise (then /var never fills and check-spool-disk stays
// quiet: said at the end). The checks run in-process with the scenario's clock: no sleeps.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run001 } from '../test/incidents/001-world.js';
import { afterText, perfdata, type Run } from '../test/incidents/harness.js';
import { mountTmpfs, removeTempDirs, tempDir, unmount } from '../test/helpers/state-harness.js';
import { chartOf } from '../test/incidents/charts.js';

const outDir = path.resolve(process.env.DEMO_OUT ?? path.join(os.tmpdir(), 'mailq-demo'));
fs.mkdirSync(outDir, { recursive: true });

/** /var for the scenario: a 160 MB tmpfs when we may mount one, a plain temp directory otherwise. */
function mountVar(): { dir: string; tmpfs: boolean } {
  const m = mountTmpfs(160);
  return 'dir' in m ? { dir: m.dir, tmpfs: true } : { dir: tempDir('mailq-demo-var-'), tmpfs: false };
}

async function main(): Promise<void> {
  const v = mountVar();
  const started = process.hrtime.bigint();
  process.stdout.write(`Incident 001 replayed: a Sendmail relay stops delivering at the onset; 700 messages arrive every 15 minutes, 55% of them bounces.\n`);
  process.stdout.write(`/var: ${v.tmpfs ? 'a 160 MB tmpfs (it fills up)' : 'a plain directory (not root: /var cannot fill here)'}; every check runs every 15 minutes of scenario time.\n\n`);
  let x: Awaited<ReturnType<typeof run001>>;
  try {
    x = await run001(v.dir);
  } finally {
    if (v.tmpfs) unmount(v.dir);
  }
  const s = x.s;
  const nameOf = (key: string): string => s.def(key).name;
  // The timeline: each check's state changes, in time order.
  const changes: Run[] = [];
  for (const { key } of s.checks) {
    let last = 'OK';
    for (const r of s.of(key)) {
      if (r.state !== last) changes.push(r);
      last = r.state;
    }
  }
  changes.sort((a, b) => a.t - b.t || a.key.localeCompare(b.key));
  process.stdout.write('time after onset  check                state     first line of the answer\n');
  for (const r of changes) process.stdout.write(`${afterText(r.after).padEnd(17)} ${nameOf(r.key).padEnd(20)} ${r.state.padEnd(9)} ${r.line.slice(0, 150)}\n`);
  if (x.fullAt !== undefined) process.stdout.write(`${afterText(x.fullAt - s.onset).padEnd(17)} (/var is full: the relay can accept no more mail)\n`);

  const svg = chartOf(s, 'Incident 001 replayed: a Sendmail relay drowning');
  const chart = path.join(outDir, 'incident-001.svg');
  fs.writeFileSync(chart, svg);
  const runs = path.join(outDir, 'incident-001-runs.json');
  fs.writeFileSync(runs, JSON.stringify(s.runs.map((r) => ({ check: nameOf(r.key), after: r.after, state: r.state, line: r.line, perfdata: perfdata(r.out) })), null, 1));
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`\n${s.runs.length} check runs over ${afterText(s.runs[s.runs.length - 1].after)} of scenario time in ${secs.toFixed(1)} s.\n`);
  process.stdout.write(`chart:  ${chart}  (open it in a browser)\nruns:   ${runs}  (every run's state, first line and perfdata)\n`);
  if (!v.tmpfs) process.stdout.write('check-spool-disk watched a plain directory: run `sudo npm run demo` to see /var fill on a tmpfs.\n');
}

main()
  .finally(removeTempDirs)
  .catch((err) => {
    process.stderr.write(`demo failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
