// Run a check in-process with a fixed clock; stderr output fails the test (checks never write there).
import { runCheck, type CheckSpec, type CollectStatus, type RunContext } from '../../lib/plugin/check.js';

/** The test run's state dir (vitest.config.ts): checks run here never write to /var/lib/mailq-checks. */
export const TEST_ENV: NodeJS.ProcessEnv = { MAILQ_CHECKS_STATE_DIR: process.env.MAILQ_CHECKS_STATE_DIR };

export async function runSpec<O, D extends CollectStatus>(spec: CheckSpec<O, D>, argv: string[], nowSec: number, env: NodeJS.ProcessEnv = TEST_ENV) {
  let out = '';
  let code = -1;
  const ctx: RunContext = {
    argv,
    env,
    now: () => nowSec * 1000,
    hostname: 'mx1.lab.example',
    stdout: (s) => (out += s),
    stderr: (s) => {
      throw new Error(`unexpected stderr: ${s}`);
    },
    exit: (c) => (code = c),
  };
  await runCheck(spec, ctx);
  return { out, code };
}
