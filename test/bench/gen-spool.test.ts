// The generator's spools must be real enough for the real parsers: every message it writes is read
// back by the MTA drivers with the same counts, senders and arrival times it says it wrote.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../bench/gen-spool.js';
import { LOCAL_HOST } from '../../bench/gen/model.js';
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
      // Partially delivered messages (DEFAULT_MIX.partial, 5%): only the recipients left are counted,
      // domain by domain, and no delivered local mailbox is among them.
      expect(g.partial).toBeGreaterThan(0.03 * g.total);
      expect(g.partial).toBeLessThan(0.07 * g.total);
      expect(g.delivered).toBe(g.partial);
      expect(new Map(s.recipientDomains.top(1000).map((e) => [e.key, e.count]))).toEqual(new Map(Object.entries(g.recipientDomains)));
      expect(g.recipientDomains[LOCAL_HOST]).toBeUndefined();
    });
  }
});

describe('partially delivered messages as each MTA writes them', () => {
  // One message, two recipients left and one delivered at each place of the list: the reader must
  // return exactly the two left, whatever the position of the delivered one.
  for (const [mta, split] of CASES) {
    it(`${mta}${split ? ' (split spool)' : ''}: the delivered recipient is not counted`, async () => {
      const out = path.join(tmp, `partial-${mta}${split ? '-split' : ''}`);
      const g = generate({ mta, count: 400, out, seed: 11, now: 1_795_000_000, split, mix: { flood: 0, bounce: 0, held: 0, fresh: 0, partial: 1 } });
      expect(g.partial).toBe(400);
      const spool = mta === 'sendmail' ? path.join(out, 'mqueue') : out;
      const r = await collectQueue(
        { mta, source: 'spool', spools: [spool], countOnly: false },
        { signal: new AbortController().signal, deadline: Infinity, now: () => g.now * 1000, timeout: 10 },
      );
      expect(r.summary.total).toBe(400);
      expect(r.summary.unreadable).toBe(0);
      expect(r.summary.recipients).toBe(g.recipients);
      expect(r.summary.recipients).toBeLessThan(g.recipients + g.delivered);
      expect(new Map(r.summary.recipientDomains.top(1000).map((e) => [e.key, e.count]))).toEqual(new Map(Object.entries(g.recipientDomains)));
    });
  }
});
