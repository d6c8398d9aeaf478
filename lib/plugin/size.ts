// Sizes for free-space thresholds and messages: 500M, 2G, 1.5T, 2GiB, 2GB, 4096 (bytes).
// Powers of 1024, as df -h prints them, so "--free-warning 2G" means what df's "2.0G" shows.

import { UnknownError } from './errors.js';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'] as const;
const POWER: Record<string, number> = { '': 0, b: 0, k: 1, m: 2, g: 3, t: 4, p: 5 };

export function parseSize(raw: string | number | undefined, what = 'size'): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  if (text === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(?:([kmgtp])(?:i?b)?|(b))?$/i.exec(text);
  if (!m) throw new UnknownError(`invalid ${what} '${String(raw)}'`, 'use bytes or a number with K, M, G or T (powers of 1024), e.g. 500M, 2G');
  const unit = (m[2] ?? m[3] ?? '').toLowerCase();
  const bytes = Math.round(Number(m[1]) * 1024 ** POWER[unit]);
  if (!Number.isFinite(bytes)) throw new UnknownError(`invalid ${what} '${String(raw)}'`, 'give a size of at most a few PB');
  return bytes;
}

/** 1932735283 -> "1.8 GB"; 440401920 -> "420 MB"; 512 -> "512 B". Negative values keep their sign. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  const sign = bytes < 0 ? '-' : '';
  let v = Math.abs(bytes);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.6 KB would print as "1024 KB": step up instead.
  if (u < UNITS.length - 1 && u > 0 && Math.round(v) >= 1024) {
    v /= 1024;
    u++;
  }
  const text = u === 0 ? String(Math.round(v)) : v < 10 ? v.toFixed(1).replace(/\.0$/, '') : String(Math.round(v));
  return `${sign}${text} ${UNITS[u]}`;
}

/** Bytes per second as a signed hourly rate: "+420 MB/h", "-12 KB/h". */
export function formatByteRate(bytesPerSecond: number): string {
  const perHour = bytesPerSecond * 3600;
  return `${perHour >= 0 ? '+' : ''}${formatBytes(perHour)}/h`;
}
