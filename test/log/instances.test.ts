// Instance-prefixed Postfix tags in the flood check, on real lines: three instances of Debian 12's
// postfix 3.7.11 (dpkg -x, private mount namespace: test/fixtures/config/postfix-multi/capture) each
// wrote its own maillog_file. The default instance logs as postfix/..., postmulti's postfix-out as
// postfix-out/... (the default syslog_name is the instance name), postfix-in with syslog_name =
// smtp-in as smtp-in/.... The lines are unchanged; they are only put one file after another here,
// as one shared log would hold them. Expected counts come from each instance's own postqueue -j.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FloodAnalyser, instanceNotes } from '../../lib/log/flood.js';
import { LineSplitter } from '../../lib/log/lines.js';
import { mtaOfTag } from '../../lib/log/mailflow.js';
import { MTA_NAMES } from '../../lib/mta/index.js';

/** The registry's index of Postfix's log grammar (mtaOfTag's answer for a Postfix tag). */
const POSTFIX = MTA_NAMES.indexOf('postfix');
import { isPostfixTag, tagHasPrefix } from '../../lib/log/syslog.js';

const FIX = path.join(__dirname, '..', 'fixtures', 'config', 'postfix-multi');
const INSTANCES = { postfix: 'postfix', 'postfix-out': 'postfix-out', 'smtp-in': 'postfix-in' } as const; // syslog name -> instance

/** What an instance's postqueue -j listed: its messages (all deferred), null-sender ones, recipients. */
function listed(instance: string) {
  const rows = fs
    .readFileSync(path.join(FIX, 'listing', `postqueue-c-${instance}-j.txt`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { sender: string; recipients: { address: string }[] });
  return { messages: rows.length, bounces: rows.filter((r) => r.sender === 'MAILER-DAEMON').length, deferrals: rows.reduce((n, r) => n + r.recipients.length, 0) };
}

const shared = Buffer.concat(['postfix.log', 'postfix-out.log', 'postfix-in.log'].map((f) => fs.readFileSync(path.join(FIX, 'log', f))));

function analyse(instance?: string) {
  const a = new FloodAnalyser(Date.UTC(2026, 11, 1, 16) / 1000, { instance });
  const sp = new LineSplitter(a.handler);
  sp.push(shared);
  sp.finish();
  a.endChunk();
  return a.stats(10);
}

describe('Postfix lines whatever the syslog_name', () => {
  it('tags: <anything>/<Postfix program> is Postfix; other slashes are not', () => {
    const tag = (t: string) => mtaOfTag(Buffer.from(t), 0, t.length);
    for (const t of ['postfix/smtp', 'postfix-out/qmgr', 'smtp-in/cleanup', 'postfix/submission/smtpd', 'mx2/pickup']) expect(tag(t), t).toBe(POSTFIX);
    for (const t of ['cyrus/imapd', 'systemd', 'smtpd', 'sm-mta', 'a/b/c']) expect(tag(t), t).not.toBe(POSTFIX);
    expect(isPostfixTag(Buffer.from('smtp-in/smtp'), 0, 12)).toBe(true);
    const has = (t: string, n: string) => tagHasPrefix(Buffer.from(t), 0, t.length, Buffer.from(n));
    expect(has('postfix-out/smtp', 'postfix-out')).toBe(true);
    expect(has('postfix-out/submission/smtpd', 'postfix-out')).toBe(true);
    expect(has('postfix-outbound/smtp', 'postfix-out')).toBe(false);
    expect(has('postfix/smtp', 'postfix-out')).toBe(false);
    expect(has('postfix-out', 'postfix-out')).toBe(false);
  });

  it('every instance counted without --instance, and the long output says they were mixed', () => {
    const all = Object.values(INSTANCES).map(listed);
    const s = analyse();
    expect(s.messages).toBe(all.reduce((n, x) => n + x.messages, 0));
    expect(s.bounces).toBe(all.reduce((n, x) => n + x.bounces, 0));
    expect(s.deferrals).toBe(all.reduce((n, x) => n + x.deferrals, 0));
    expect(Object.keys(s.postfixNames ?? {}).sort()).toEqual(Object.keys(INSTANCES).sort());
    expect(instanceNotes(s)[0]).toMatch(/3 syslog names \(instances\) counted together: .*--instance NAME/);
  });

  for (const [name, instance] of Object.entries(INSTANCES))
    it(`--instance ${name}: that instance's mail only`, () => {
      const s = analyse(name);
      const want = listed(instance);
      expect({ messages: s.messages, bounces: s.bounces, deferrals: s.deferrals }).toEqual(want);
      expect(s.otherInstanceLines).toBeGreaterThan(0);
      expect(instanceNotes(s, name)[0]).toContain(`--instance ${name}:`);
      // Every line is still read and templated: only the mail flow is per instance.
      expect(s.lines).toBe(shared.toString('latin1').split('\n').filter(Boolean).length);
    });

  it('one syslog name: no note', () => {
    const a = new FloodAnalyser(Date.UTC(2026, 11, 1, 16) / 1000);
    const sp = new LineSplitter(a.handler);
    sp.push(fs.readFileSync(path.join(FIX, 'log', 'postfix.log')));
    sp.finish();
    expect(instanceNotes(a.stats(5))).toEqual([]);
  });
});
