// The generator's spools must be real enough for the real parsers: every message it writes is read
// back by the MTA drivers with the same counts, senders and arrival times it says it wrote.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../bench/gen-spool.js';
import { collectQueue } from '../../lib/queue/source.js';
import type { MtaName } from '../../lib/mta/types.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gen-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CASES: [MtaName, boolean][] = [
  ['postfix', false],
  ['sendmail', false],
  ['exim', false],
  ['exim', true],
];

describe('generated spools read back by the drivers', () => {
  for (const [mta, split] of CASES) {
    it(`${mta}${split ? ' (split spool)' : ''}`, async () => {
      const out = path.join(tmp, `${mta}${split ? '-split' : ''}`);
      const g = generate({ mta, count: 3000, out, seed: 7, now: 1_795_000_000, split });
      const spool = mta === 'sendmail' ? path.join(out, 'mqueue') : out;
      const r = await collectQueue(
        { mta, source: 'spool', spools: [spool], countOnly: false },
        { signal: new AbortController().signal, deadline: Infinity, now: () => g.now * 1000, timeout: 10 },
      );
      const s = r.summary;
      expect(s.total).toBe(g.total);
      expect(s.unreadable).toBe(0);
      for (const [q, n] of Object.entries(g.byQueue)) expect(s.byQueue[q], q).toBe(n);
      expect(s.nullSender).toBe(g.nullSender);
      expect(s.recipients).toBe(g.recipients);
      expect(s.oldestArrival).toBe(g.oldestArrival);
      expect(s.senders.top(1)[0]).toEqual({ key: g.topSender, count: g.topSenderCount });
    });
  }
});
