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
  },
});
