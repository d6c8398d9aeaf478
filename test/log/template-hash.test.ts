// The template counter hashes most lines without writing their template (hashTemplate) and writes
// it only when it is new (buildTemplate): the two must give the same hash for every line, or one
// template would be counted under two names. Checked on every line of every real MTA capture in
// test/fixtures, and on lines made to hit each rule (control bytes, tabs, UTF-8, long words, cuts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newHeader, parseHeader } from '../../lib/log/syslog.js';
import { buildTemplate, hashTemplate, last, MAX_TEMPLATE, OUT, TemplateCounter } from '../../lib/log/template.js';

const FIXTURES = path.join(__dirname, '../fixtures');

function logFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...logFiles(p));
    else if (e.isFile() && (/\.log$/.test(e.name) || e.name === 'mainlog') && p.includes(`${path.sep}log`)) out.push(p);
  }
  return out;
}

/** Both ways for one line: [hash-only result or null when it declines, written template's hash, the template]. */
function both(line: Buffer): { fast: [number, number] | null; slow: [number, number]; template: string } {
  const h = parseHeader(line, 0, line.length, newHeader());
  const ok = hashTemplate(line, line.length, h);
  const fast: [number, number] | null = ok ? [last.h1, last.h2] : null;
  buildTemplate(line, line.length, h);
  return { fast, slow: [last.h1, last.h2], template: OUT.toString('latin1', 0, last.length) };
}

const files = logFiles(FIXTURES);

describe('hashTemplate = buildTemplate', () => {
  it('finds the real captures', () => {
    // postfix, exim, sendmail, opensmtpd, nullmailer captures at least.
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  it.each(files.map((f) => [path.relative(FIXTURES, f)]))('every line of %s', (rel) => {
    const data = fs.readFileSync(path.join(FIXTURES, rel));
    let start = 0;
    let hashed = 0;
    let lines = 0;
    while (start < data.length) {
      let nl = data.indexOf(10, start);
      if (nl < 0) nl = data.length;
      const r = both(data.subarray(start, nl));
      lines++;
      if (r.fast) {
        hashed++;
        expect(r.fast, `line ${lines}: ${r.template}`).toEqual(r.slow);
      } else expect(r.template.length + 8, `line ${lines} declined but short: ${r.template}`).toBeGreaterThanOrEqual(MAX_TEMPLATE - 64);
      start = nl + 1;
    }
    // Nearly all real lines take the fast path.
    expect(hashed).toBeGreaterThan(lines * 0.8);
  });

  it.each([
    ['tabs and control bytes', 'Nov 23 11:11:03 mx1 app[1]: a\tb \x01\x02x c\x7fd 12\x03 user\x05@x'],
    ['UTF-8 words and a number with a trailing dot', 'Nov 23 11:11:03 mx1 app[1]: Grüße an 12. und 10.1.2.3. und 1.2.3.4'],
    ['IPv6, hex, ids, addresses with a colon', 'Nov 23 11:11:03 mx1 postfix/smtpd[9]: 4jY3D06MmczBynC: client=x[2001:db8::1], deadbeefcafe0 abcdefabcdef <a@b>: x1y2:'],
    ['no tag', 'just some text 42 words'],
    ['Exim mainlog with pid', '2026-11-23 11:11:03.123 [4242] 1xVRxS-0002CF-23 <= app@qa.example H=(x) [10.0.0.1] P=esmtp S=1234'],
    ['empty message', 'Nov 23 11:11:03 mx1 app[1]: '],
    ['a word at the end', 'Nov 23 11:11:03 mx1 app[1]: ends with id1234'],
  ])('%s', (_name, line) => {
    const r = both(Buffer.from(line, 'latin1'));
    expect(r.fast).not.toBeNull();
    expect(r.fast).toEqual(r.slow);
  });

  it('declines a template that would be cut, and buildTemplate cuts it', () => {
    const r = both(Buffer.from(`Nov 23 11:11:03 mx1 app[1]: ${'word '.repeat(60)}`));
    expect(r.fast).toBeNull();
    expect(r.template.endsWith('\xe2\x80\xa6')).toBe(true);
  });

  it('TemplateCounter.add counts the same as buildTemplate + addLast', () => {
    const data = fs.readFileSync(path.join(FIXTURES, 'mta/postfix/log/postfix.log'));
    const a = new TemplateCounter(50);
    const b = new TemplateCounter(50);
    let start = 0;
    while (start < data.length) {
      let nl = data.indexOf(10, start);
      if (nl < 0) nl = data.length;
      const line = data.subarray(start, nl);
      const h = parseHeader(line, 0, line.length, newHeader());
      a.add(line, line.length, h);
      buildTemplate(line, line.length, h);
      b.addLast();
      start = nl + 1;
    }
    expect(a.top(1000)).toEqual(b.top(1000));
    expect(a.top(1).length).toBe(1);
  });
});
