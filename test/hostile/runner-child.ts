// A check bundled the way dist/ bundles the real ones (main() from lib/plugin/check.ts, the real process
// context), whose collect and afterOutput misbehave on purpose, so the runner's exit paths can be driven
// through a real pipe: the answer is flushed before every exit, whatever blocks the process.
// RUNNER_CHILD_MODE picks the misbehaviour; RUNNER_CHILD_MARK (a file) is created once it is under way.
//   big      an answer of RUNNER_CHILD_LINES long lines (WARNING), then afterOutput work that never ends
//   crash    as big, then an uncaught exception thrown from the afterOutput work
//   hang     collect never returns and ignores the deadline signal
//   stuck    as hang, with a thread of libuv's pool blocked opening RUNNER_CHILD_FIFO (a FIFO nobody writes:
//            a hung NFS or FUSE mount stands for the same thing)
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { main, metric, type CheckSpec } from '../../lib/plugin/check.js';
import { State } from '../../lib/plugin/result.js';

const mode = process.env.RUNNER_CHILD_MODE ?? 'big';
const lines = Number(process.env.RUNNER_CHILD_LINES ?? 2000);
const mark = () => {
  if (process.env.RUNNER_CHILD_MARK) fs.writeFileSync(process.env.RUNNER_CHILD_MARK, String(process.pid));
};

export const LAST_LINE = 'the last line of the long output';

const spec: CheckSpec<Record<string, never>, { value: number; afterOutput?: () => Promise<void> }> = {
  name: 'check-runner-child',
  service: 'CHILD',
  id: 'runner_child',
  description: 'a misbehaving check for the runner tests',
  version: '0.0.0',
  options: (y) => y,
  validate: () => ({}),
  collect: async () => {
    if (mode === 'hang' || mode === 'stuck') {
      if (mode === 'stuck') void fsp.readFile(process.env.RUNNER_CHILD_FIFO!).catch(() => undefined);
      mark();
      return new Promise(() => undefined);
    }
    return {
      value: 7,
      afterOutput: () => {
        mark();
        if (mode === 'crash')
          setTimeout(() => {
            throw new Error('thrown after the answer');
          }, 300);
        return new Promise(() => undefined);
      },
    };
  },
  evaluate: (d) => ({
    state: State.WARNING,
    summary: `value ${d.value}`,
    metrics: [metric('value', d.value, { warn: { text: '5', start: 0, end: 5, inside: false } })],
    details: [...Array.from({ length: lines }, (_, i) => `line ${String(i).padStart(6, '0')} ${'x'.repeat(100)}`), LAST_LINE],
  }),
};

main(spec);
