// Sticky alerts (--sticky DURATION, as check_logfiles' sticky=): once a family of alerts (a flood of
// lines, one sender, bounces, deferrals, ...) has fired, the check keeps answering with it for
// DURATION after it was last seen, so a flood that comes and goes between two runs still pages, and a
// page is not "resolved" the minute after the flood stops. Pure: the record of earlier runs comes in,
// the answer and the record to keep come out; the check's I/O side loads and saves the record.
//
// The rules:
//  - a family alerting now is recorded: the state, its text, when the episode began (`since`) and
//    when it was last seen at WARNING or worse and at CRITICAL;
//  - a family not alerting now, last seen less than DURATION ago, is answered at the state it last
//    had, with its last text and "held by --sticky: since HH:MM, last seen HH:MM, clears HH:MM";
//  - CRITICAL is held for DURATION after it was last seen, then WARNING (when WARNING was seen
//    later) until DURATION after that: a flood that drops to a trickle steps down, never up;
//  - a family alerting now at a lower state than it had within DURATION answers the held state;
//  - a record older than DURATION is dropped; a clock that went back past a record's times ends it
//    (it cannot say how long ago it was); a record of a family the check no longer knows is dropped.

import { State } from './result.js';

export const STICKY_VERSION = 1;

/** One alert of a check, by family: the unit that sticks. */
export interface FamilyAlert {
  /** Stable name of what alerts ("lines", "repeat", "sender", "bounces", "deferrals", ...). */
  family: string;
  state: State;
  text: string;
}

export interface StickyRecord {
  family: string;
  /** The worst state of the episode still held. */
  state: State.WARNING | State.CRITICAL;
  /** The latest text the family alerted with. */
  text: string;
  /** Epoch seconds: the episode's first alert. */
  since: number;
  /** Epoch seconds the family was last seen alerting (any state), and at CRITICAL. */
  lastSeen: number;
  lastCritical?: number;
}

export interface StickyDoc {
  version: typeof STICKY_VERSION;
  records: StickyRecord[];
}

export interface StickyOutcome {
  /** This run's alerts with the held ones: the held ones' text says so. */
  alerts: FamilyAlert[];
  /** How many of `alerts` are held (not seen this run). */
  held: number;
  /** What to keep for the next run. */
  next: StickyDoc;
  notes: string[];
}

const isAlertState = (s: unknown): s is State.WARNING | State.CRITICAL => s === State.WARNING || s === State.CRITICAL;

export function isStickyDoc(x: unknown): x is StickyDoc {
  if (!x || typeof x !== 'object') return false;
  const d = x as StickyDoc;
  return (
    d.version === STICKY_VERSION &&
    Array.isArray(d.records) &&
    d.records.length <= 100 &&
    d.records.every(
      (r) =>
        r &&
        typeof r.family === 'string' &&
        r.family.length <= 100 &&
        isAlertState(r.state) &&
        typeof r.text === 'string' &&
        r.text.length <= 4000 &&
        Number.isFinite(r.since) &&
        Number.isFinite(r.lastSeen) &&
        r.since <= r.lastSeen &&
        (r.lastCritical === undefined || Number.isFinite(r.lastCritical)),
    )
  );
}

/** HH:MM of an epoch second in the local time zone (the zone the scheduler's host shows). */
export function clockTime(epochSec: number): string {
  const d = new Date(epochSec * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** The state a record still holds at `now`, or undefined when it has run out. */
function heldState(r: StickyRecord, now: number, hold: number): State.WARNING | State.CRITICAL | undefined {
  if (r.lastCritical !== undefined && now - r.lastCritical < hold) return State.CRITICAL;
  if (now - r.lastSeen < hold) return State.WARNING;
  return undefined;
}

/**
 * This run's alerts (any state; OK ones are ignored) against the record of earlier runs, held for
 * `hold` seconds. hold = 0 turns stickiness off (and drops the record).
 */
export function applySticky(prev: StickyDoc | undefined, current: readonly FamilyAlert[], now: number, hold: number): StickyOutcome {
  const notes: string[] = [];
  const records = new Map<string, StickyRecord>();
  if (hold > 0)
    for (const r of prev?.records ?? []) {
      if (r.lastSeen > now + 1 || (r.lastCritical ?? 0) > now + 1) {
        notes.push(`sticky: the clock is before the ${r.family} alert last seen at ${new Date(r.lastSeen * 1000).toISOString()}: that alert is no longer held`);
        continue;
      }
      if (heldState(r, now, hold) !== undefined) records.set(r.family, { ...r });
    }

  // This run's worst alert per family.
  const now_ = new Map<string, FamilyAlert>();
  for (const a of current) {
    if (!isAlertState(a.state)) continue;
    const had = now_.get(a.family);
    if (!had || a.state > had.state) now_.set(a.family, a);
  }

  const alerts: FamilyAlert[] = [];
  let held = 0;
  // Fully clear DURATION after the family was last seen (CRITICAL steps down to WARNING DURATION after it was last seen).
  const until = (r: StickyRecord) => clockTime(r.lastSeen + hold);
  for (const a of current) {
    if (isAlertState(a.state) && now_.get(a.family) !== a) {
      alerts.push(a); // a second alert of the same family this run (two repeated lines): as it is
      continue;
    }
    if (!isAlertState(a.state)) {
      alerts.push(a);
      continue;
    }
    const r = records.get(a.family);
    if (hold <= 0) {
      alerts.push(a);
      continue;
    }
    const next: StickyRecord = r
      ? { ...r, text: a.text, lastSeen: now, ...(a.state === State.CRITICAL ? { lastCritical: now } : {}) }
      : { family: a.family, state: a.state, text: a.text, since: now, lastSeen: now, ...(a.state === State.CRITICAL ? { lastCritical: now } : {}) };
    const holds = heldState(next, now, hold) ?? a.state;
    next.state = holds > a.state ? holds : a.state;
    records.set(a.family, next);
    if (next.state > a.state)
      alerts.push({ family: a.family, state: next.state, text: `${a.text} (held at ${next.state === State.CRITICAL ? 'CRITICAL' : 'WARNING'} by --sticky since ${clockTime(next.since)}, CRITICAL last seen ${clockTime(next.lastCritical!)}, clears ${until(next)})` });
    else alerts.push(a);
  }
  // Families not alerting this run that are still held.
  for (const r of records.values()) {
    if (now_.has(r.family)) continue;
    const s = heldState(r, now, hold);
    if (s === undefined) {
      records.delete(r.family);
      continue;
    }
    r.state = s;
    held++;
    alerts.push({ family: r.family, state: s, text: `${r.text} (held by --sticky: since ${clockTime(r.since)}, last seen ${clockTime(r.lastSeen)}, clears ${until(r)})` });
  }
  return { alerts, held, next: { version: STICKY_VERSION, records: [...records.values()] }, notes };
}
