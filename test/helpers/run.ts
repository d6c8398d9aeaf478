// Run a check in-process with a fixed clock; stderr output fails the test (checks never write there).
import { runCheck, type CheckSpec, type CollectStatus, type RunContext } from '../../lib/plugin/check.js';

export async function runSpec<O, D extends CollectStatus>(spec: CheckSpec<O, D>, argv: string[], nowSec: number, env: NodeJS.ProcessEnv = {}) {
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
