// The filesystems under the spools and paths a check watches: which mount holds each (walking up
// while the device stays the same), grouped by device, measured with statfs(2) (Node's fs.statfs,
// never parsed df output), and the reading kept between runs.

import fsp from 'node:fs/promises';
import path from 'node:path';
import { errorCode, UnknownError } from '../plugin/errors.js';
import type { MtaName } from '../mta/types.js';
import type { SpoolUsage } from './usage.js';

export interface Filesystem {
  /** Mount point, found by walking up while the device stays the same. */
  mount: string;
  /** Sanitised mount for metric labels: "/" -> root, "/var/spool" -> var_spool. */
  label: string;
  dev: number;
  spools: string[];
  paths: string[];
  /** statfs in bytes and inodes. */
  size: number;
  used: number;
  avail: number;
  inodes: number;
  inodesFree: number;
  /** Per spool on this filesystem, unless --no-spool-size. */
  spoolUsage: Record<string, SpoolUsage>;
}

/** One run's reading per filesystem (keyed by mount point): {"t":..,"fs":{"/var":{"used":..,"avail":..,"iused":..,"iavail":..}}} */
export interface DiskSample {
  t: number;
  fs: Record<string, { used: number; avail: number; iused: number; iavail: number }>;
  /** The time-to-full state (1 WARNING, 2 CRITICAL) each filesystem's run ended in, when not OK: the
   *  next run's hysteresis starts from it. {"/var":1} */
  alert?: Record<string, number>;
}

export function isDiskSample(x: unknown): x is DiskSample {
  if (!x || typeof x !== 'object') return false;
  const s = x as DiskSample;
  if (!Number.isFinite(s.t) || !s.fs || typeof s.fs !== 'object') return false;
  if (s.alert !== undefined && (!s.alert || typeof s.alert !== 'object' || !Object.values(s.alert).every((v) => v === 1 || v === 2))) return false;
  return Object.values(s.fs).every(
    (f) => !!f && typeof f === 'object' && [f.used, f.avail, f.iused, f.iavail].every((n) => Number.isFinite(n) && n >= 0),
  );
}

export function mountLabel(mount: string): string {
  const l = mount.replace(/^\/+|\/+$/g, '').replace(/[^A-Za-z0-9_]+/g, '_');
  return l || 'root';
}

/** df's Use%: used / (used + available to unprivileged users). */
export function usedPercent(used: number, avail: number): number {
  return used + avail > 0 ? (100 * used) / (used + avail) : 0;
}

/** The mount point holding p: the highest ancestor on the same device. */
export async function mountPointOf(p: string, dev: number): Promise<string> {
  let cur = p;
  for (;;) {
    const parent = path.dirname(cur);
    if (parent === cur) return cur;
    const st = await fsp.stat(parent).catch(() => undefined);
    if (!st || st.dev !== dev) return cur;
    cur = parent;
  }
}

export interface Target {
  given: string;
  real: string;
  dev: number;
  kind: 'spool' | 'path';
}

export async function statTarget(given: string, kind: Target['kind'], mta: MtaName): Promise<Target> {
  try {
    const real = await fsp.realpath(given);
    return { given, real, dev: (await fsp.stat(real)).dev, kind };
  } catch (err) {
    const code = errorCode(err) ?? (err as Error).message;
    if (kind === 'path') throw new UnknownError(`--path ${given} not found (${code})`, 'give an existing file or directory');
    throw new UnknownError(`${mta} spool ${given} not found (${code})`, 'give --spool DIR (and --mta) if the queue is elsewhere');
  }
}

/** Group targets by device: several paths on one filesystem are reported once. */
export async function filesystemsOf(targets: Target[]): Promise<Omit<Filesystem, 'size' | 'used' | 'avail' | 'inodes' | 'inodesFree' | 'spoolUsage'>[]> {
  const byDev = new Map<number, Omit<Filesystem, 'size' | 'used' | 'avail' | 'inodes' | 'inodesFree' | 'spoolUsage'>>();
  for (const t of targets) {
    let f = byDev.get(t.dev);
    if (!f) {
      const mount = await mountPointOf(t.real, t.dev);
      f = { mount, label: mountLabel(mount), dev: t.dev, spools: [], paths: [] };
      byDev.set(t.dev, f);
    }
    const list = t.kind === 'spool' ? f.spools : f.paths;
    if (!list.includes(t.real)) list.push(t.real);
  }
  const out = [...byDev.values()];
  // Two mounts that sanitise to the same label (/a-b, /a_b) must still give distinct metric names.
  const seen = new Map<string, number>();
  for (const f of out) {
    const n = seen.get(f.label) ?? 0;
    seen.set(f.label, n + 1);
    if (n) f.label = `${f.label}_${n + 1}`;
  }
  return out;
}

/** statfs of each group, in bytes and inodes (the first spool or path of the group is asked). */
export async function measureFilesystems(groups: Awaited<ReturnType<typeof filesystemsOf>>): Promise<Filesystem[]> {
  const filesystems: Filesystem[] = [];
  for (const g of groups) {
    const probe = g.spools[0] ?? g.paths[0];
    let s: Awaited<ReturnType<typeof fsp.statfs>>;
    try {
      s = await fsp.statfs(probe);
    } catch (err) {
      throw new UnknownError(`statfs ${probe} failed (${errorCode(err) ?? (err as Error).message})`, 'check the path and the filesystem');
    }
    filesystems.push({
      ...g,
      size: s.blocks * s.bsize,
      used: (s.blocks - s.bfree) * s.bsize,
      avail: s.bavail * s.bsize,
      inodes: s.files,
      inodesFree: s.ffree,
      spoolUsage: {},
    });
  }
  return filesystems;
}

/** This run's reading of every filesystem, as the state file keeps it. */
export function diskSample(t: number, filesystems: Filesystem[]): DiskSample {
  const sample: DiskSample = { t, fs: {} };
  for (const f of filesystems) sample.fs[f.mount] = { used: f.used, avail: f.avail, iused: Math.max(0, f.inodes - f.inodesFree), iavail: f.inodesFree };
  return sample;
}
