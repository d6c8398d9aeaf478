#!/usr/bin/env node
// `npm run demo`: generate a realistic spool per MTA (a notification flood to one alias, a bounce
// storm, ordinary mail) in a temp dir and run the checks against it, printing what they print.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dist = path.join(root, 'dist');
const count = Number(process.env.DEMO_COUNT ?? 20000);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mailq-demo-'));

function sh(title, file, args) {
  console.log(`\n$ ${title}`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(r.stdout);
  if (r.stderr) process.stdout.write(r.stderr);
  console.log(`(exit ${r.status}, ${ms.toFixed(0)} ms)`);
  return r;
}

try {
  const spools = {};
  for (const [mta, n, extra] of [
    ['postfix', count, []],
    ['sendmail', Math.ceil(count / 4), []],
    ['exim', Math.ceil(count / 4), ['--split']],
  ]) {
    const out = path.join(work, mta);
    const r = spawnSync(process.execPath, [path.join(dist, 'tools/gen-spool.js'), '--mta', mta, '--count', String(n), '--out', out, '--quiet', ...extra], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`generating the ${mta} spool failed: ${r.stderr}`);
    spools[mta] = mta === 'sendmail' ? path.join(out, 'mqueue') : out;
    const s = JSON.parse(r.stdout);
    console.log(`generated ${mta} spool: ${s.total.toLocaleString('en-US')} messages in ${out}`);
  }
  const depth = path.join(dist, 'check-mailq-depth.js');
  const pf = ['--mta', 'postfix', '--spool', spools.postfix];
  sh('check-mailq-depth --mta postfix -w 1000 -c 5000 --age-warning 1h --age-critical 12h', depth, [...pf, '-w', '1000', '-c', '5000', '--age-warning', '1h', '--age-critical', '12h']);
  sh('check-mailq-depth --mta postfix --queue hold -w 100 -c 500', depth, [...pf, '--queue', 'hold', '-w', '100', '-c', '500']);
  sh('check-mailq-depth --mta postfix --count-only --format graphite --scheme mx1.mail', depth, [...pf, '--count-only', '--format', 'graphite', '--scheme', 'mx1.mail']);
  sh('check-mailq-depth --mta sendmail -w 500 -c 5000 --format json', depth, ['--mta', 'sendmail', '--spool', spools.sendmail, '-w', '500', '-c', '5000', '--format', 'json']);
  sh('check-mailq-depth --mta exim -w 500 -c 5000 --top 3', depth, ['--mta', 'exim', '--spool', spools.exim, '-w', '500', '-c', '5000', '--top', '3']);
  sh('check-mailq-depth --mta postfix -w 10:5   (a bad range: UNKNOWN, exit 3)', depth, [...pf, '-w', '10:5']);
  sh('check-mailq-depth --mta postfix --spool /nonexistent   (UNKNOWN, exit 3)', depth, ['--mta', 'postfix', '--spool', '/nonexistent']);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
