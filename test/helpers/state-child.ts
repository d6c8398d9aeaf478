// A second real process for the state store tests, bundled by state-harness.ts. Speaks one JSON
// event per line on stdout; holds what it took until its stdin closes.
//   hold  {"dir","check","what","label"}   openState (lock + load), then wait
//   lock  {"path"}                         acquireLock alone, then wait
//   exit  {"dir","check","what","label"}   openState, then process.exit(3) without releasing
//   crash {"dir","check","what","label","sample"}  record a sample and die by SIGKILL between write and rename
import { acquireLock } from '../../lib/plugin/lock.js';
import { openState, type Sample } from '../../lib/plugin/state.js';
import { UnknownError } from '../../lib/plugin/errors.js';

const [mode, json] = process.argv.slice(2);
const arg = JSON.parse(json ?? '{}');
const say = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
const stdinClosed = () =>
  new Promise<void>((resolve) => {
    process.stdin.on('data', () => undefined);
    process.stdin.on('end', resolve);
    process.stdin.resume();
  });
const isSample = (x: unknown): x is Sample & Record<string, unknown> => !!x && typeof x === 'object' && Number.isFinite((x as Sample).t);
const store = (extra: object = {}) =>
  openState({ dir: arg.dir, check: arg.check, what: arg.what, label: arg.label ?? [], env: {}, now: () => Date.now(), window: 3600, deadline: Date.now() + 60_000, isSample, ...extra });

async function run(): Promise<void> {
  try {
    if (mode === 'hold') {
      const st = await store();
      say({ event: 'locked', pid: process.pid, file: st.file, samples: st.samples.length });
      await stdinClosed();
      await st.release();
      say({ event: 'released' });
    } else if (mode === 'lock') {
      const l = await acquireLock(arg.path, { now: () => Date.now(), deadline: Date.now() + 60_000 });
      say({ event: 'locked', pid: process.pid });
      await stdinClosed();
      await l.release();
      say({ event: 'released' });
    } else if (mode === 'exit') {
      // The runner's hard deadline ends the process with exit() while collect still holds the lock.
      const st = await store();
      say({ event: 'locked', pid: process.pid, file: st.file });
      process.exit(3);
    } else if (mode === 'crash') {
      const st = await store({
        beforeRename: (tmp: string) => {
          say({ event: 'renaming', tmp });
          process.kill(process.pid, 'SIGKILL');
        },
      });
      await st.record(arg.sample);
      say({ event: 'survived' });
    } else {
      throw new Error(`unknown mode ${mode}`);
    }
  } catch (err) {
    if (err instanceof UnknownError) {
      say({ event: 'busy', message: err.line(), code: 3 });
      process.exitCode = 3;
      return;
    }
    throw err;
  }
}

void run();
