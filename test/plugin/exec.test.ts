// Listing commands run in their own process group: at the deadline the whole tree dies, so nothing
// is left behind to stack up under the next scheduled run (incident 001's cron job did).
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../lib/plugin/exec.js';

import fs from 'node:fs';

/** Running, not a zombie (in a container nobody may reap the orphaned, killed grandchild). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
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

  it('kills the whole process group when the signal aborts, grandchildren included', async () => {
    const ac = new AbortController();
    // The child starts a grandchild and prints its pid, then both sleep.
    const p = runCommand('sh', ['-c', 'sleep 30 & echo $!; wait'], { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    const t0 = Date.now();
    const r = await p;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.timedOut).toBe(true);
    expect(r.message).toMatch(/stopped at the deadline/);
    const grandchild = Number(r.stdout.trim());
    expect(grandchild).toBeGreaterThan(1);
    await new Promise((res) => setTimeout(res, 100));
    expect(alive(grandchild)).toBe(false);
  });

  it('kills the group on its own timeout too', async () => {
    const r = await runCommand('sh', ['-c', 'sleep 30 & echo $!; wait'], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    await new Promise((res) => setTimeout(res, 100));
    expect(alive(Number(r.stdout.trim()))).toBe(false);
  });
});
