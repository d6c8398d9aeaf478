// The range table, in the spirit of Monitoring::Plugin's t/Monitoring-Plugin-Range.t:
// invalid strings are rejected naming the text; valid ones alert exactly where the guidelines say.
import { describe, expect, it } from 'vitest';
import { UnknownError } from '../../lib/plugin/errors.js';
import { alerts, parseRange } from '../../lib/plugin/range.js';
import { State, thresholdState } from '../../lib/plugin/result.js';

const INVALID = [':', '1:~', 'foo', '1-10', '10:~', '1-10:2.4', '1,10', '@', '~', '2:1', '10:5', '@20:10', '1:2:3', '~~10', '10 20', '--1', '1e3', 'x10', '@@1'];

describe('parseRange rejects', () => {
  it.each(INVALID)('%j naming the bad text', (text) => {
    let err: unknown;
    try {
      parseRange(text, 'warning');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownError);
    expect((err as UnknownError).line()).toContain(`'${text}'`);
    expect((err as UnknownError).line()).toMatch(/10:20/); // says how to fix it
  });
});

describe('parseRange bounds', () => {
  it.each([
    ['6', 0, 6, false],
    ['-7:23', -7, 23, false],
    [':5.75', 0, 5.75, false],
    ['~:-95.99', -Infinity, -95.99, false],
    ['123456789012345:', 123456789012345, Infinity, false],
    ['~:', -Infinity, Infinity, false],
    ['@0:657.8210567', 0, 657.8210567, true],
    ['@1:1', 1, 1, true],
    ['  10:20 ', 10, 20, false],
    ['+5:', 5, Infinity, false],
    ['.5:1.5', 0.5, 1.5, false],
  ] as const)('%j -> [%s, %s] inside=%s', (text, start, end, inside) => {
    const r = parseRange(text)!;
    expect([r.start, r.end, r.inside]).toEqual([start, end, inside]);
    expect(r.text).toBe(text.trim());
  });

  it('treats an empty or missing range as no threshold', () => {
    expect(parseRange('')).toBeUndefined();
    expect(parseRange('   ')).toBeUndefined();
    expect(parseRange(undefined)).toBeUndefined();
  });
});

// [range, values that alert, values that do not]
const ALERTS: [string, number[], number[]][] = [
  ['6', [-1, 6.1, 79.999999, -0.0001], [0, 4, 6, 5.9999]],
  ['-7:23', [-8, 23.1, -7.0001, 1000], [-7, 0, 23, 22.99]],
  [':5.75', [-1, 5.76, 100], [0, 5.75, 3]],
  ['~:-95.99', [-95.98, 0, 100], [-96, -95.99, -1e9]],
  ['10:', [9.9, -1, 0], [10, 10.0001, 1e9]],
  ['~:10', [10.1, 11, 1e9], [10, -1e9, 0]],
  ['10:20', [9.99, 20.01, 0, -5], [10, 15, 20]],
  ['@10:20', [10, 15, 20], [9.99, 20.01, 0]],
  ['@0:657.8210567', [0, 657.8210567, 300], [-1, 657.83, 1000]],
  ['1:1', [0.9, 1.1], [1]],
  ['@6', [0, 3, 6], [-1, 6.5]],
  ['~:', [], [-1e12, 0, 1e12]],
];

describe('alerts', () => {
  for (const [text, yes, no] of ALERTS) {
    it(`${text}: alerts on ${yes.join(', ') || 'nothing'}; not on ${no.join(', ')}`, () => {
      const r = parseRange(text)!;
      for (const v of yes) expect(alerts(r, v), `${text} @ ${v}`).toBe(true);
      for (const v of no) expect(alerts(r, v), `${text} @ ${v}`).toBe(false);
    });
  }
});

describe('thresholdState', () => {
  it('evaluates CRITICAL before WARNING (incident 001: WARN-first made CRIT unreachable)', () => {
    const w = parseRange('500')!;
    const c = parseRange('5000')!;
    expect(thresholdState(100, w, c)).toBe(State.OK);
    expect(thresholdState(600, w, c)).toBe(State.WARNING);
    expect(thresholdState(512_340, w, c)).toBe(State.CRITICAL);
  });
  it('gives CRITICAL when a value is in both ranges, whatever their order', () => {
    expect(thresholdState(50, parseRange('10')!, parseRange('20')!)).toBe(State.CRITICAL);
    expect(thresholdState(50, parseRange('20')!, parseRange('10')!)).toBe(State.CRITICAL);
  });
  it('is OK without thresholds', () => {
    expect(thresholdState(1e9)).toBe(State.OK);
  });
});

describe('boundedState: the verdict a value known only to lie in [lo, hi] decides', async () => {
  const { boundedState, State } = await import('../../lib/plugin/result.js');
  const r = (t: string) => parseRange(t);
  // [lo, hi, warn, crit, expected] worked out by hand from the Nagios range rules.
  const rows: [number, number, string | undefined, string | undefined, number | undefined][] = [
    [6000, Infinity, '1000', '5000', State.CRITICAL], // every value > 5000
    [3000, Infinity, '1000', '5000', State.WARNING], // every value alerts, some are critical: at least WARNING
    [500, Infinity, '1000', '5000', undefined], // may be OK, may be CRITICAL
    [500, Infinity, undefined, '5000', undefined],
    [5000, Infinity, undefined, '5000', undefined], // 5000 itself is not above 5000
    [5001, Infinity, undefined, '5000', State.CRITICAL],
    [0, Infinity, undefined, undefined, State.OK], // nothing can alert
    [10, 20, '~:30', '~:40', State.OK], // bounded above: provably below both
    [35, 50, '~:30', '~:40', State.WARNING], // all above 30, some above 40
    [12, 12, '10', '20', State.WARNING], // exact value: the plain rule
    [5, Infinity, '@0:4', '@10:', undefined], // inside ranges: 5..9 alerts on neither
    [10, Infinity, '@0:4', '@10:', State.CRITICAL],
  ];
  for (const [lo, hi, w, c, want] of rows)
    it(`[${lo}, ${hi}] -w ${w ?? '-'} -c ${c ?? '-'} -> ${want === undefined ? 'undecided' : State[want]}`, () => {
      expect(boundedState(lo, hi, w ? r(w) : undefined, c ? r(c) : undefined)).toBe(want);
    });
});
