// lib/log/recent.ts: the bounded queue-ID memories every log grammar keeps between lines.
import { describe, expect, it } from 'vitest';
import { Recent, RecentMap } from '../../lib/log/recent.js';

describe('RecentMap', () => {
  it('never holds more than cap entries, and always the cap/2 most recent', () => {
    const cap = 1000;
    const m = new RecentMap<number>(cap);
    for (let i = 0; i < 10_000; i++) {
      m.set(`q${i}`, i);
      expect(m.size).toBeLessThanOrEqual(cap);
      if (i % 997 === 0) for (let j = Math.max(0, i - cap / 2 + 1); j <= i; j++) expect(m.get(`q${j}`)).toBe(j);
    }
    // Long gone.
    expect(m.has('q0')).toBe(false);
    expect(m.get('q100')).toBeUndefined();
  });

  it('set again makes a key the most recent: it outlives keys set after its first set', () => {
    const m = new RecentMap<string>(10);
    m.set('keep', 'a');
    for (let i = 0; i < 4; i++) m.set(`x${i}`, 'x');
    m.set('keep', 'b'); // refreshed
    for (let i = 4; i < 8; i++) m.set(`x${i}`, 'x');
    expect(m.get('keep')).toBe('b');
    expect(m.has('x0')).toBe(false);
  });

  it('delete finds a key in either generation, once', () => {
    const m = new RecentMap<number>(4);
    m.set('a', 1);
    m.set('b', 2); // a, b become the old generation
    m.set('c', 3);
    expect(m.delete('a')).toBe(true);
    expect(m.delete('a')).toBe(false);
    expect(m.delete('c')).toBe(true);
    expect(m.has('b')).toBe(true);
    expect(m.size).toBe(1);
  });

  it('a value set over one in the old generation is not shadowed by it', () => {
    const m = new RecentMap<number>(4);
    m.set('a', 1);
    m.set('b', 2);
    m.set('a', 3);
    expect(m.get('a')).toBe(3);
    expect(m.delete('a')).toBe(true);
    expect(m.get('a')).toBeUndefined();
  });
});

describe('Recent', () => {
  it('add, has, take', () => {
    const r = new Recent(2);
    r.add('x');
    expect(r.has('x')).toBe(true);
    expect(r.take('x')).toBe(true);
    expect(r.take('x')).toBe(false);
    expect(r.size).toBe(0);
  });
});
