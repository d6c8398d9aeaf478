// Tests never touch the machine's own state: every check run by a test (in-process or as a
// binary) keeps its state and envelope cache in a fresh temporary directory, not /var/lib.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailq-test-state-'));

export default defineConfig({
  test: {
    env: { MAILQ_CHECKS_STATE_DIR: stateDir },
    // In-process checks run as an unprivileged user would (the suite runs as root); each test file
    // gets its own state dir inside stateDir (parallel files never share a lock): see the files.
    setupFiles: ['test/helpers/unprivileged.ts', 'test/helpers/state-dir.ts'],
    // Generous on purpose: the suite must pass on a loaded 2-core machine. These are limits against a
    // hang, not measurements (nothing here is timed; speed lives in `npm run bench`).
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
});
