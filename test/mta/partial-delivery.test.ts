// Messages delivered in part, on queues captured from the real MTAs (test/fixtures/capture-fixtures.sh:
// the postfix-partial, exim-partial and sendmail-partial cases, and one message of the opensmtpd case).
// One recipient, a local mailbox, got its copy at once; the others wait on the closed relay. Each MTA
// keeps that differently: Postfix turns the R record into a D record in place, Exim keeps the address
// in the -H file's non-recipients tree (and in its recipient list), Sendmail rewrites the qf without it,
// OpenSMTPD deletes that recipient's envelope file. The drivers must count only what is still to be
// delivered. The oracles: the capture's manifest ("delivered", written by the capture script from its
// plan and checked against the MTA's log) and the MTA's own listing of the same queue.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MTAS } from '../../lib/mta/index.js';
import type { QueuedMessage } from '../../lib/mta/types.js';
import { collectQueue } from '../../lib/queue/source.js';
import { FIXTURE_ROOT, PARTIAL_FIXTURE_ROOT, fixtureCases, type FixtureCase } from '../helpers/fixtures.js';

interface Submitted {
  from: string;
  to: string[];
  delivered?: string[];
  queueHint: string;
  generatedBy?: string;
}

const submittedOf = (c: FixtureCase): Submitted[] => JSON.parse(fs.readFileSync(path.join(c.dir, 'manifest.json'), 'utf8')).submitted;
const roots = [...new Set([FIXTURE_ROOT, PARTIAL_FIXTURE_ROOT])];
const cases = roots.flatMap((r) => fixtureCases(r)).filter((c) => submittedOf(c).some((s) => s.delivered?.length));
const domainOf = (a: string) => a.slice(a.lastIndexOf('@') + 1).toLowerCase();
const sorted = (a: string[]) => [...a].sort();

/** Every message of the captured spool, read by the driver (no cache, no sampling). */
function spoolMessages(c: FixtureCase): QueuedMessage[] {
  const d = MTAS[c.mta].driver;
  const out: QueuedMessage[] = [];
  const ctx = { signal: new AbortController().signal };
  for (const spool of c.spools)
    for (const e of d.listEntries(spool, ctx)) {
      const m = d.readMessage(e, { sizes: false });
      if (m) out.push(m);
    }
  return out;
}

/** The MTA's own listing of the same queue, parsed by the driver's listing parser. */
function listedMessages(c: FixtureCase): QueuedMessage[] {
  const d = MTAS[c.mta].driver;
  const out: QueuedMessage[] = [];
  const cmds = d.listingCommands();
  for (const spec of c.listingFiles) {
    const [label, file] = spec.includes('=') ? spec.split('=', 2) : ['', spec];
    const cmd = cmds.find((x) => (x.label ?? '') === label) ?? cmds[0];
    out.push(...d.parseListing(fs.readFileSync(file, 'latin1'), cmd, c.capturedAt * 1000));
  }
  return out;
}

describe('partially delivered captures are present', () => {
  // The repo's captures (and CI's fresh ones) have them for the four MTAs with local delivery;
  // nullmailer only relays (a file is sent whole to one smarthost), so it has none.
  it('has one for Postfix, Exim, Sendmail and OpenSMTPD', () => {
    expect(new Set(cases.map((c) => c.mta)), roots.join(' ')).toEqual(new Set(['postfix', 'exim', 'sendmail', 'opensmtpd']));
  });
});

for (const c of cases) {
  describe(`${c.name}: partially delivered messages`, () => {
    const submitted = submittedOf(c);
    const partial = submitted.filter((s) => s.delivered?.length);
    const messages = spoolMessages(c);

    it('each one is queued with only the recipients still to be delivered (manifest)', () => {
      for (const s of partial) {
        const left = sorted(s.to.filter((r) => !s.delivered!.includes(r)));
        const found = messages.filter((m) => m.sender === s.from && JSON.stringify(sorted(m.recipients)) === JSON.stringify(left));
        expect(found, `${s.from || '<>'} -> ${left.join(' ')}`).toHaveLength(1);
      }
      // A delivered address is in no queued message's recipients.
      const done = new Set(partial.flatMap((s) => s.delivered!));
      expect(messages.flatMap((m) => m.recipients).filter((r) => done.has(r))).toEqual([]);
    });

    it('recipients per message agree with the MTA listing of the same queue', () => {
      const listed = listedMessages(c);
      expect(listed.length).toBeGreaterThan(0);
      const byId = new Map(messages.map((m) => [m.id, m]));
      for (const l of listed) {
        const m = byId.get(l.id);
        expect(m, l.id).toBeDefined();
        expect(sorted(m!.recipients), l.id).toEqual(sorted(l.recipients));
      }
    });

    it('the queue summary counts recipients and top recipient domains as the manifest says', async () => {
      const r = await collectQueue(
        { mta: c.mta, source: 'spool', spools: c.spools, countOnly: false },
        { signal: new AbortController().signal, deadline: Infinity, now: () => c.capturedAt * 1000, timeout: 10 },
      );
      const truth = c.manifest.listingCounts ?? c.manifest.expected;
      expect(r.summary.recipients).toBe(truth.recipients);
      // Domains from the manifest where it lists the whole queue (every message submitted as
      // queued and still there); OpenSMTPD's case also has mail smtpd refused and a bounce it made.
      if (submitted.every((s) => s.queueHint === 'deferred' && !s.generatedBy)) {
        const want = new Map<string, number>();
        for (const s of submitted)
          for (const rc of s.to) if (!s.delivered?.includes(rc)) want.set(domainOf(rc), (want.get(domainOf(rc)) ?? 0) + 1);
        const got = new Map(r.summary.recipientDomains.top(100).map((e) => [e.key, e.count]));
        expect(got).toEqual(want);
        expect(r.summary.total).toBe(submitted.length);
      }
    });
  });
}
