// --journal: journalctl with a saved cursor. journald does not run on the build machines (no
// systemd as PID 1), so the end-to-end test puts a fake `journalctl` first on PATH that records its
// arguments and prints journalctl's `-o json` output. The .json fixtures are the recorded short-iso
// entries (the .txt files) written out in journalctl's json format, one object per entry with its
// own __CURSOR (the last one is the recorded cursor).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { floodCheck } from '../../lib/checks/maillog-flood.js';
import { journalArgs, journalEntryLine, JSON_FIELDS, splitJournalOutput } from '../../lib/log/journal.js';
import { runSpec } from '../helpers/run.js';

const REC = path.join(__dirname, '../fixtures/logs/journal');

describe('journalctl output and arguments (pure)', () => {
  it('takes the cursor line off the end and drops journalctl notes', () => {
    const r = splitJournalOutput(fs.readFileSync(path.join(REC, 'after-cursor.txt'), 'utf8'));
    expect(r.cursor).toBe('s=8c6b2d1e;i=2a3;b=5e1f;m=1c9c380;t=5f1a2b3c4d5e6;x=77aa');
    expect(r.text.trim().split('\n')).toHaveLength(6);
    expect(splitJournalOutput('-- No entries --\n')).toEqual({ text: '', cursor: undefined });
    expect(splitJournalOutput('a\n-- Boot 1234 --\nb\n').text).toBe('a\nb\n');
  });

  it('asks for the newest entry on the first run, then what follows the cursor', () => {
    const base = ['-u', 'postfix@-.service', '-o', 'json', `--output-fields=${JSON_FIELDS.join(',')}`, '-q', '--no-pager'];
    expect(journalArgs(undefined, ['postfix@-.service'], { firstRun: true, fromStart: false })).toEqual({ args: [...base, '-n', '1'], baseline: true });
    expect(journalArgs(undefined, ['postfix@-.service'], { firstRun: true, fromStart: true })).toEqual({ args: base, baseline: false });
    expect(journalArgs({ units: ['postfix@-.service'], cursor: 's=1' }, ['postfix@-.service'], { firstRun: false, fromStart: false }).args).toEqual([...base, '--after-cursor', 's=1']);
    expect(journalArgs({ units: ['postfix@-.service'], since: 1795432000 }, ['postfix@-.service'], { firstRun: false, fromStart: false }).args).toEqual([...base, '--since', '@1795432000']);
  });
});

describe('journal entries as lines (pure)', () => {
  it('each json entry becomes the line short-iso prints for it, with its cursor', () => {
    const json = fs.readFileSync(path.join(REC, 'after-cursor.json'), 'utf8').trim().split('\n');
    const text = fs.readFileSync(path.join(REC, 'after-cursor.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('-- '));
    expect(json.map((j) => journalEntryLine(j)!.line.toString('utf8').replace(/\n$/, ''))).toEqual(text);
    expect(journalEntryLine(json[5])!.cursor).toBe('s=8c6b2d1e;i=2a3;b=5e1f;m=1c9c380;t=5f1a2b3c4d5e6;x=77aa');
    // MESSAGE as an array of bytes (not UTF-8), and a multi-line message: one line.
    const bytes = journalEntryLine(JSON.stringify({ __CURSOR: 'c', __REALTIME_TIMESTAMP: '1795432263000000', _HOSTNAME: 'mx1', SYSLOG_IDENTIFIER: 'x', MESSAGE: [0xff, 0x0a, 0x41] }))!;
    expect([...bytes.line.subarray(-4)]).toEqual([0xff, 0x20, 0x41, 0x0a]);
    expect(journalEntryLine('not json')).toBeUndefined();
  });
});

describe('--journal end to end with a fake journalctl', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maillog-journal-'));
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    // Prints newest.txt for "-n 1", after-cursor.txt for "--after-cursor <the newest cursor>", nothing otherwise.
    fs.writeFileSync(
      path.join(bin, 'journalctl'),
      `#!/bin/sh
printf '%s\\n' "$*" >> "${dir}/calls"
case "$*" in
  *"-n 1"*) cat "${REC}/newest.json" ;;
  *"--after-cursor s=8c6b2d1e;i=2a0;"*) cat "${REC}/after-cursor.json" ;;
  *"--after-cursor"*) : ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
`,
      { mode: 0o755 },
    );
    env = { PATH: `${bin}:/usr/bin:/bin` };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('records the cursor, then reads and counts the entries after it, then nothing new', async () => {
    const args = ['--journal', 'postfix@-.service', '--state-dir', path.join(dir, 'state'), '--format', 'json', '--sender-warning', '0.1', '--no-default-thresholds'];
    const t0 = Date.UTC(2026, 10, 23, 11, 10) / 1000;
    const first = JSON.parse((await runSpec(floodCheck, args, t0, env)).out);
    expect(first.status).toBe('OK');
    expect(first.summary).toBe('baseline recorded for journal postfix@-.service; the next run measures what is appended');

    const second = await runSpec(floodCheck, args, t0 + 60, env);
    const j = JSON.parse(second.out);
    expect(second.code).toBe(1);
    expect(j.lines).toBe(6);
    expect(j.stats.messages).toBe(2);
    expect(j.stats.bounces).toBe(1);
    expect(j.stats.deferrals).toBe(2);
    // One message each from app@qa.example and <> in 60 s: both over the limit, both on line one
    // (no bounce threshold, so <> is judged as a sender too),
    // each with its own recipient (the bounce went to alice, app's message to qanotify).
    expect(j.summary).toBe('sender <> (MAILER-DAEMON) 1 msg/min (50% of messages), top recipient alice@partner.example; sender app@qa.example 1 msg/min (50%), to qanotify@lab.example');
    // The overall rates are in the long output when an alert leads the summary.
    expect(j.details.join('\n')).toMatch(/rates: 6 lines\/min, 2 msg\/min, 1 bounces\/min, 2 deferrals\/min over 1m/);

    const third = JSON.parse((await runSpec(floodCheck, args, t0 + 120, env)).out);
    expect(third.lines).toBe(0);
    const calls = fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n');
    const base = `-u postfix@-.service -o json --output-fields=${JSON_FIELDS.join(',')} -q --no-pager`;
    expect(calls).toEqual([
      `${base} -n 1`,
      `${base} --after-cursor s=8c6b2d1e;i=2a0;b=5e1f;m=1c9c000;t=5f1a2b3c4d000;x=77a0`,
      `${base} --after-cursor s=8c6b2d1e;i=2a3;b=5e1f;m=1c9c380;t=5f1a2b3c4d5e6;x=77aa`,
    ]);
  });

  it('a failing journalctl is UNKNOWN with its first stderr line', async () => {
    fs.writeFileSync(path.join(dir, 'bin', 'journalctl'), '#!/bin/sh\necho "Failed to get journal access: Permission denied" >&2\nexit 1\n', { mode: 0o755 });
    const r = await runSpec(floodCheck, ['--journal', 'exim4', '--state-dir', path.join(dir, 'state')], Date.UTC(2026, 10, 23) / 1000, env);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^MAILLOG_FLOOD UNKNOWN - journalctl -u exim4 .* failed: Failed to get journal access: Permission denied: run the check as a user in group systemd-journal or adm/);
  });
});
