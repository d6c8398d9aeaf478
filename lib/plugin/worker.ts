// Worker threads run the check's own bundle again (one file per check, nothing else to ship):
// a module that needs a thread registers its job under a role, and main() runs that job instead
// of the check when the bundle was started as a worker with that role.

import { isMainThread, workerData } from 'node:worker_threads';

const roles = new Map<string, (data: unknown) => void>();

export function registerWorker(role: string, run: (data: unknown) => void): void {
  roles.set(role, run);
}

/** In a worker started with a registered role: run its job and return true. */
export function runAsWorker(): boolean {
  if (isMainThread) return false;
  const role = (workerData as { role?: unknown } | null)?.role;
  const run = typeof role === 'string' ? roles.get(role) : undefined;
  if (!run) return false;
  run(workerData);
  return true;
}
