// Listing commands run in their own process group: at the deadline the whole tree dies, so nothing
// is left behind to stack up under the next scheduled run (incident 001's cron job did).
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../lib/plugin/exec.js';

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Running, not a zombie (in a container nobody may reap the orphaned, killed grandchild). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** The pid written to this file, once it is there (polled; the test's timeout guards a hang). */
async function waitForPid(file: string): Promise<number> {
  while (!fs.existsSync(file)) await new Promise((r) => setTimeout(r, 10));
  return Number(fs.readFileSync(file, 'utf8'));
}

/** Whether pid stops running within 30 s (a generous bound: a SIGKILLed process dies at once, even under load). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 3000 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
  return !alive(pid);
}

describe('runCommand', () => {
  it('returns stdout and the exit code', async () => {
    const r = await runCommand('sh', ['-c', 'echo hello; exit 3']);
    expect(r.stdout).toBe('hello\n');
    expect(r.exitCode).toBe(3);
    expect(r.failed).toBe(true);
  });

  it('reports a missing program as ENOENT', async () => {
    const r = await runCommand('/nonexistent/postqueue', ['-j']);
    expect(r.failed).toBe(true);
    expect(r.code).toBe('ENOENT');
  });

  // No wall-clock limits: the grandchild sleeps 1000 s, so a runCommand that waited for it instead of
  // killing the group would never return (the test's timeout is the guard against that hang). The pid
  // is waited for in a file, not guessed after a fixed sleep: on a loaded machine sh may start late.
  it('kills the whole process group when the signal aborts, grandchildren included', async () => {
    const ac = new AbortController();
    const pidFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'exec-test-')), 'pid');
    // The child starts a grandchild, writes its pid, then both sleep.
    const p = runCommand('sh', ['-c', `sleep 1000 & echo $! > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; wait`], { signal: ac.signal });
    const grandchild = await waitForPid(pidFile);
    expect(alive(grandchild)).toBe(true);
    ac.abort();
    const r = await p;
    expect(r.timedOut).toBe(true);
    expect(r.message).toMatch(/stopped at the deadline/);
    expect(await gone(grandchild)).toBe(true);
  });

  it('kills the group on its own timeout too', async () => {
    const pidFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'exec-test-')), 'pid');
    // 5 s: ample for sh to start its grandchild on a loaded machine; the grandchild sleeps far longer.
    const r = await runCommand('sh', ['-c', `sleep 1000 & echo $! > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; wait`], { timeoutMs: 5000 });
    expect(r.timedOut).toBe(true);
    expect(fs.existsSync(pidFile), 'sh never started its grandchild before the timeout').toBe(true);
    expect(await gone(Number(fs.readFileSync(pidFile, 'utf8')))).toBe(true);
  });
});

describe('a privileged run names a listing program it refuses, instead of "not found"', () => {
  const asRoot = process.getuid?.() === 0;
  it.skipIf(!asRoot)('a program in /usr/local/bin owned by another user is refused by path and owner', async () => {
    // Debian's nullmailer mailq is like this: setuid mail and owned by mail.
    const name = `mailq-checks-untrusted-${process.pid}`;
    const file = `/usr/local/bin/${name}`;
    fs.mkdirSync('/usr/local/bin', { recursive: true });
    fs.writeFileSync(file, '#!/bin/sh\necho listed\n', { mode: 0o755 });
    const { setPrivilegeProbe } = await import('../../lib/plugin/privilege.js');
    // The root answer (the suite's setup file makes in-process runs unprivileged: test/helpers/unprivileged.ts).
    setPrivilegeProbe(() => true);
    try {
      fs.chownSync(file, 65534, 65534);
      const { untrustedProgram } = await import('../../lib/plugin/exec.js');
      expect(untrustedProgram(name)).toEqual({ path: file, owner: 65534 });
      const r = await runCommand(name, []);
      expect(r.failed).toBe(true);
      expect(r.code).toBe('EUNTRUSTED');
      expect(r.message).toBe(`${file} refused: a privileged run executes only programs root owns alone (this one: uid 65534)`);
      // Root's own copy of the same kind is run, and a name nobody has is still "not found".
      fs.chownSync(file, 0, 0);
      expect((await runCommand(name, [])).stdout.trim()).toBe('listed');
      expect((await runCommand(`${name}-nosuch`, [])).message).toBe(`${name}-nosuch not found`);
    } finally {
      setPrivilegeProbe(() => false);
      fs.rmSync(file, { force: true });
    }
  });
});
