// --sticky's rules (lib/plugin/sticky.ts), run by run as a scheduler would call the check: the record
// one run returns is the next run's input. The expected states are written from the rules in the
// file's header, by hand, not computed.
import { describe, expect, it } from 'vitest';
import { State } from '../../lib/plugin/result.js';
import { applySticky, clockTime, isStickyDoc, type FamilyAlert, type StickyDoc } from '../../lib/plugin/sticky.js';

const T0 = Date.UTC(2026, 11, 1, 14, 0, 0) / 1000;
const HOLD = 30 * 60;
const W = State.WARNING;
const C = State.CRITICAL;
const OK = State.OK;
const deferral = (state: State): FamilyAlert => ({ family: 'deferrals', state, text: `deferrals 1,200/min: 97% to mx.partner.example[203.0.113.5]:25` });
const sender = (state: State): FamilyAlert => ({ family: 'sender', state, text: 'sender spam@shop.example 800 msg/min' });

/** Runs every `every` seconds from T0; `alerts(k)` is what run k sees. Returns each run's states by family. */
function replay(runs: number, every: number, alerts: (k: number) => FamilyAlert[], hold = HOLD) {
  let doc: StickyDoc | undefined;
  const out: { t: number; states: Record<string, State>; texts: string[]; held: number }[] = [];
  for (let k = 0; k < runs; k++) {
    const t = T0 + k * every;
    const r = applySticky(doc, alerts(k), t, hold);
    // What is saved is read back as the next run would: through JSON and the validator.
    const saved: unknown = JSON.parse(JSON.stringify(r.next));
    expect(isStickyDoc(saved)).toBe(true);
    doc = saved as StickyDoc;
    const states: Record<string, State> = {};
    for (const a of r.alerts) states[a.family] = Math.max(states[a.family] ?? OK, a.state);
    out.push({ t, states, texts: r.alerts.map((a) => a.text), held: r.held });
  }
  return out;
}

describe('applySticky', () => {
  it('a flood seen in one run is held for the duration after it was last seen, then clears', () => {
    // Every 5 minutes; CRITICAL in run 2 only (10:00 after T0).
    const r = replay(12, 300, (k) => (k === 2 ? [deferral(C)] : []));
    const seq = r.map((x) => x.states.deferrals ?? OK);
    // Seen at +10m; held while now - 10m < 30m: runs at +15, +20, +25, +30, +35 held; +40m cleared.
    expect(seq).toEqual([OK, OK, C, C, C, C, C, C, OK, OK, OK, OK]);
    expect(r[3].held).toBe(1);
    expect(r[3].texts[0]).toBe('deferrals 1,200/min: 97% to mx.partner.example[203.0.113.5]:25 (held by --sticky: since ' + clockTime(T0 + 600) + ', last seen ' + clockTime(T0 + 600) + ', clears ' + clockTime(T0 + 600 + HOLD) + ')');
    expect(r[9].texts).toEqual([]);
  });

  it('the culprit leads the held text: the alert first, what holds it after', () => {
    const r = replay(2, 60, (k) => (k === 0 ? [deferral(C)] : []));
    expect(r[1].texts[0].startsWith('deferrals 1,200/min: 97% to mx.partner.example')).toBe(true);
    expect(r[1].texts[0]).toMatch(/\(held by --sticky: since \d\d:\d\d, last seen \d\d:\d\d, clears \d\d:\d\d\)$/);
  });

  it('CRITICAL steps down to WARNING a duration after CRITICAL was last seen, never up', () => {
    // Every 10 minutes: C at run 0, W at runs 1..4 (10..40 min), then quiet.
    const r = replay(10, 600, (k) => (k === 0 ? [deferral(C)] : k <= 4 ? [deferral(W)] : []));
    const seq = r.map((x) => x.states.deferrals ?? OK);
    // CRITICAL last seen at 0: held CRITICAL while now < 30m (runs 1, 2); from 30m WARNING (W seen at 40m) until 70m.
    expect(seq).toEqual([C, C, C, W, W, W, W, OK, OK, OK]);
    // A WARNING run answered at the held CRITICAL says so.
    expect(r[1].texts[0]).toMatch(/held at CRITICAL by --sticky since \d\d:\d\d, CRITICAL last seen/);
  });

  it('families are held each on its own', () => {
    const r = replay(8, 600, (k) => (k === 0 ? [sender(W)] : k === 2 ? [deferral(C)] : []));
    expect(r.map((x) => x.states.sender ?? OK)).toEqual([W, W, W, OK, OK, OK, OK, OK]);
    expect(r.map((x) => x.states.deferrals ?? OK)).toEqual([OK, OK, C, C, C, OK, OK, OK]);
  });

  it('a condition that stays keeps its "since": the episode began at the first alert', () => {
    const r = replay(4, 300, () => [deferral(W)]);
    const doc = applySticky(undefined, [deferral(W)], T0, HOLD).next;
    expect(doc.records[0].since).toBe(T0);
    // Nothing is held while the condition is there: the alert is as it is.
    expect(r.every((x) => x.held === 0 && x.texts[0] === deferral(W).text)).toBe(true);
  });

  it('a flood that comes and goes between runs never lets the page resolve (no flap)', () => {
    const pattern = [C, OK, C, OK, OK, C, OK, OK, OK, C];
    const r = replay(pattern.length, 300, (k) => (pattern[k] === OK ? [] : [deferral(pattern[k])]));
    const seq = r.map((x) => x.states.deferrals ?? OK);
    expect(seq).toEqual(pattern.map(() => C));
    const without = replay(pattern.length, 300, (k) => (pattern[k] === OK ? [] : [deferral(pattern[k])]), 0);
    // Without --sticky (hold 0) the verdict follows the pattern: 6 state changes.
    expect(without.map((x) => x.states.deferrals ?? OK)).toEqual(pattern);
  });

  it('a clock that went back past the record ends the hold, and says so', () => {
    const doc = applySticky(undefined, [deferral(C)], T0, HOLD).next;
    const r = applySticky(doc, [], T0 - 3600, HOLD);
    expect(r.alerts).toEqual([]);
    expect(r.notes[0]).toMatch(/^sticky: the clock is before the deferrals alert last seen at 2026-12-01T14:00:00.000Z/);
  });

  it('OK and UNKNOWN alerts are never held', () => {
    const r = replay(2, 60, (k) => (k === 0 ? [{ family: 'unread', state: State.UNKNOWN, text: 'x' }, deferral(OK)] : []));
    expect(r[1].texts).toEqual([]);
  });

  it('a damaged record is not trusted', () => {
    expect(isStickyDoc({ version: 1, records: [{ family: 'x', state: 7, text: '', since: 0, lastSeen: 0 }] })).toBe(false);
    expect(isStickyDoc({ version: 2, records: [] })).toBe(false);
    expect(isStickyDoc({ version: 1, records: [{ family: 'x', state: 2, text: 't', since: 10, lastSeen: 5 }] })).toBe(false);
    expect(isStickyDoc(null)).toBe(false);
  });
});
