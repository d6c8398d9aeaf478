// The line splitter: lines found across chunk boundaries, an unfinished last line left for the next
// run, and bounded memory for a 100 MB line or binary garbage without a newline.
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../lib/log/lines.js';

function split(chunks: (string | Buffer)[], maxLine = 64, finish = false) {
  const lines: { text: string; truncated: boolean }[] = [];
  const sp = new LineSplitter((b, s, e, t) => lines.push({ text: b.toString('latin1', s, e), truncated: t }), maxLine);
  for (const c of chunks) sp.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  if (finish) sp.finish();
  return { lines, sp };
}

describe('LineSplitter', () => {
  it('hands on every complete line, wherever the chunks are cut', () => {
    const text = 'alpha\nbeta\n\ngamma delta\nepsilon\n';
    const want = ['alpha', 'beta', '', 'gamma delta', 'epsilon'];
    for (let cut = 0; cut <= text.length; cut++) {
      const { lines, sp } = split([text.slice(0, cut), text.slice(cut)]);
      expect(lines.map((l) => l.text), `cut at ${cut}`).toEqual(want);
      expect(sp.consumed).toBe(text.length);
      expect(sp.midLine).toBe(false);
    }
  });

  it('leaves an unfinished last line unconsumed (the writer may be mid-line), unless the file is finished', () => {
    const { lines, sp } = split(['one\ntwo\nthr', 'ee (still being written)']);
    expect(lines.map((l) => l.text)).toEqual(['one', 'two']);
    expect(sp.consumed).toBe(8);
    expect(sp.midLine).toBe(true);
    const done = split(['one\ntwo\nthree'], 64, true);
    expect(done.lines.map((l) => l.text)).toEqual(['one', 'two', 'three']);
    expect(done.sp.consumed).toBe(13);
  });

  it('counts an overlong line once, gives its first maxLine bytes, and skips the rest (in one chunk or many)', () => {
    const long = 'x'.repeat(1000);
    for (const chunks of [[`a\n${long}\nb\n`], [`a\n${long.slice(0, 10)}`, long.slice(10, 500), `${long.slice(500)}\nb\n`]]) {
      const { lines, sp } = split(chunks, 64);
      expect(lines.map((l) => [l.text.length, l.truncated])).toEqual([
        [1, false],
        [64, true],
        [1, false],
      ]);
      expect(sp.truncated).toBe(1);
      expect(sp.lines).toBe(3);
    }
  });

  it('keeps memory bounded on 32 MB of binary garbage without a newline, then resumes at the next line', () => {
    const garbage = Buffer.alloc(1 << 20);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff || 1;
    for (let i = 0; i < garbage.length; i++) if (garbage[i] === 10) garbage[i] = 11;
    const seen: number[] = [];
    const sp = new LineSplitter((_b, s, e) => seen.push(e - s), 4096);
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 32; i++) sp.push(garbage);
    sp.push(Buffer.from('\nNov 23 11:11:03 mx1 postfix/qmgr[1]: ok\n'));
    expect(seen).toEqual([4096, 'Nov 23 11:11:03 mx1 postfix/qmgr[1]: ok'.length]);
    expect(sp.lines).toBe(2);
    // The carry buffer never grows: no copy of the 32 MB line is kept.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 << 20);
  });

  it('skipFirst resumes inside an overlong line without counting its tail', () => {
    const lines: string[] = [];
    const sp = new LineSplitter((b, s, e) => lines.push(b.toString('latin1', s, e)), 64, true);
    sp.push(Buffer.from('rest of a very long line\nnext\n'));
    expect(lines).toEqual(['next']);
  });

  it('reports an overlong unfinished tail as inOverlong (the reader moves past it)', () => {
    const { sp } = split(['ok\n', 'y'.repeat(200)], 64);
    expect(sp.inOverlong).toBe(true);
    expect(sp.lines).toBe(2);
  });
});
