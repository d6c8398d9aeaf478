// The queue moving under the check: a writer process creates, renames between queues and deletes
// thousands of files per second, and now and then swaps a whole queue directory, while every queue
// check scans the same spool again and again. Vanished files are skipped, never a crash, never an
// error; the count stays within what could have been there.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eximHeaderFile } from '../../bench/gen/exim.js';
import { postfixQueueFile } from '../../bench/gen/postfix.js';
import { sendmailQf } from '../../bench/gen/sendmail.js';
import type { MtaName } from '../../lib/mta/types.js';
import { CHECKS, cleanup, crashes, metric, run, tmp } from './harness.js';

afterAll(cleanup);
const NOW = 1795432267;
const SLOTS = 3000;
const msg = (id: string) => ({ id, kind: 'normal' as const, queue: 'deferred', arrival: NOW - 60, sender: 'a@b.example', recipients: ['c@d.example'], body: 'x' });

/** Per MTA: the queue dirs the writer moves files between, a file name for slot i, and its content. */
const LAYOUT: Partial<Record<MtaName, { spool: (root: string) => string; dirs: string[]; name: (i: number) => string; data: (i: number) => Buffer }>> = {
  postfix: { spool: (r) => r, dirs: ['incoming', 'active', 'deferred/A', 'deferred/B', 'hold'], name: (i) => `W${String(i).padStart(9, '0')}`, data: (i) => postfixQueueFile(msg(`W${i}`)) },
  sendmail: { spool: (r) => path.join(r, 'mqueue'), dirs: ['mqueue', 'mqueue/q1', 'mqueue/q2'], name: (i) => `qfW${String(i).padStart(9, '0')}`, data: (i) => sendmailQf(msg(`W${i}`)) },
  exim: {
    spool: (r) => r,
    dirs: ['input', 'input/a', 'input/b'],
    name: (i) => `1xVZZZ-${String(i).padStart(6, '0')}-00-H`,
    data: (i) => eximHeaderFile(msg(`1xVZZZ-${String(i).padStart(6, '0')}-00`)),
  },
  // nullmailer: sender line, recipient lines, a blank line, the message (lib/mta/nullmailer-queuefile.ts).
  nullmailer: { spool: (r) => r, dirs: ['queue', 'failed'], name: (i) => `${NOW - 60}.${100000 + i}`, data: () => Buffer.from('a@b.example\nc@d.example\n\nSubject: x\n\nx\n') },
};

// The writer: a plain Node script, so it runs as its own process at full speed.
const WRITER = `
const fs = require('fs'), path = require('path');
const [root, dirsJson, filesPath, seconds] = process.argv.slice(1);
const dirs = JSON.parse(dirsJson), files = JSON.parse(fs.readFileSync(filesPath, 'utf8'));
const end = Date.now() + Number(seconds) * 1000;
let ops = 0, i = 0;
const where = new Map();
while (Date.now() < end) {
  const k = i++ % files.length;
  const [name, data] = files[k];
  const cur = where.get(k);
  try {
    if (cur === undefined) { const d = dirs[i % dirs.length]; fs.writeFileSync(path.join(root, d, name), Buffer.from(data, 'base64'), { mode: 0o700 }); where.set(k, d); }
    else if (i % 3 === 0) { fs.unlinkSync(path.join(root, cur, name)); where.delete(k); }
    else { const d = dirs[(dirs.indexOf(cur) + 1) % dirs.length]; fs.renameSync(path.join(root, cur, name), path.join(root, d, name)); where.set(k, d); }
    ops++;
  } catch { where.delete(k); }
  if (i % 5000 === 0) {
    // Swap a whole queue directory for an empty one, as a careless admin (or a restore) might.
    const d = path.join(root, dirs[(i / 5000) % dirs.length]);
    try { fs.renameSync(d, d + '.old'); fs.mkdirSync(d); fs.rmSync(d + '.old', { recursive: true, force: true }); } catch {}
    for (const [k2, d2] of where) if (d2 === dirs[(i / 5000) % dirs.length]) where.delete(k2);
  }
}
process.stdout.write(String(ops));
`;

describe.each(['postfix', 'sendmail', 'exim', 'nullmailer'] as MtaName[])('%s spool under a concurrent writer', (mta) => {
  it('every queue check scans it 5 times while it churns: no crash, no error, counts in range', async () => {
    const root = tmp(`hostile-churn-${mta}-`);
    const L = LAYOUT[mta]!;
    for (const d of L.dirs) fs.mkdirSync(path.join(root, d), { recursive: true });
    if (mta === 'postfix') for (const q of ['maildrop', 'corrupt']) fs.mkdirSync(path.join(root, q));
    const files = Array.from({ length: SLOTS }, (_, i) => [L.name(i), L.data(i).toString('base64')]);
    const filesPath = path.join(tmp('hostile-churn-files-'), 'files.json');
    fs.writeFileSync(filesPath, JSON.stringify(files));
    const writer = spawn(process.execPath, ['-e', WRITER, root, JSON.stringify(L.dirs), filesPath, '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let ops = '';
    writer.stdout.on('data', (s) => (ops += s));
    const done = new Promise((r) => writer.on('close', r));
    await new Promise((r) => setTimeout(r, 300));
    const spool = L.spool(root);
    const state = tmp('hostile-churn-state-');
    let scans = 0;
    try {
      for (let round = 0; round < 5; round++) {
        for (const name of ['check-mailq-depth', 'check-mailer-daemon', 'check-mailq-growth', 'check-spool-disk']) {
          const argv = ['--mta', mta, '--spool', spool, '--format', 'json', '-t', '20'];
          if (name === 'check-mailq-depth' || name === 'check-mailer-daemon') argv.push('--source', 'spool');
          if (name === 'check-mailer-daemon') argv.push('--exact', '--min-messages', '0');
          if (name === 'check-mailq-growth' || name === 'check-spool-disk') argv.push('--state-dir', path.join(state, name));
          const a = await run(CHECKS[name], argv, NOW + round * 60);
          expect(crashes(a), `${name}: ${a.out}`).toEqual([]);
          expect(a.code, `${name}: ${a.out}`).toBeLessThan(3);
          if (name === 'check-mailq-depth') expect(metric(a, 'total')).toBeLessThanOrEqual(SLOTS * 2);
          scans++;
        }
      }
    } finally {
      await done;
    }
    // The writer really was busy meanwhile (thousands of operations a second when the machine is idle; the bound allows for a loaded CI).
    expect(Number(ops)).toBeGreaterThan(1500);
    expect(scans).toBe(20);
  });
});
