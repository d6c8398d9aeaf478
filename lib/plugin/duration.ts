// Durations for age thresholds and windows: 90 (seconds), 90s, 15m, 12h, 2d, 1w; decimals allowed (1.5h).

import { UnknownError } from './errors.js';

const UNIT: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

export function parseDuration(raw: string | number | undefined, what = 'duration'): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  if (text === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw]?)$/i.exec(text);
  if (!m) throw new UnknownError(`invalid ${what} '${String(raw)}'`, 'use seconds or a number with s, m, h, d or w, e.g. 90, 15m, 12h, 2d');
  const seconds = Number(m[1]) * UNIT[m[2].toLowerCase()];
  // 400 nines is Infinity: a threshold no age can reach, not a duration.
  if (!Number.isFinite(seconds)) throw new UnknownError(`invalid ${what} '${String(raw)}'`, 'give a duration of at most a few years');
  return seconds;
}

/** 3725 -> "1h 2m"; 45 -> "45s"; 200000 -> "2d 7h". Two most significant units. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  let s = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= n || (u === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** "1h20m", "45m", "2d3h" */
export function compactDuration(seconds: number): string {
  return formatDuration(seconds).replace(/ /g, '');
}

/** A projection is an estimate: whole minutes from 10 minutes on ("50m", not "50m27s"). */
export function aboutDuration(seconds: number): string {
  return compactDuration(seconds >= 600 ? Math.round(seconds / 60) * 60 : seconds);
}
