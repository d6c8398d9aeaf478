// A queue directory or file the check may not read: the error names it, and the remedy is read off
// its own owner, group and mode, so it is one that works on this host (Debian's Sendmail queue is
// smmta:smmsp 2750 and group smmsp reads it; Postfix's 0700 postfix only the postfix user; another
// distribution's 0700 root only root), never a guess from what distributions usually do.

import fs from 'node:fs';
import path from 'node:path';
import { errorCode } from '../plugin/errors.js';

export const isDenied = (err: unknown): boolean => errorCode(err) === 'EACCES' || errorCode(err) === 'EPERM';

/** The error a walker or reader throws for a refused queue directory or file: it names the path. */
export function deniedError(err: unknown, path: string, what: string): Error {
  const e = new Error(`cannot read ${what} ${path}: permission denied`, { cause: err });
  return Object.assign(e, { code: errorCode(err) ?? 'EACCES', path });
}

/** Who owns what was refused, and who asked: plain data for `accessRemedy`. */
export interface Refused {
  path: string;
  directory: boolean;
  /** st.mode & 0o7777 */
  mode: number;
  owner: string;
  group: string;
  gid: number;
  /** The user the check runs as (for the usermod line). */
  user: string;
}

/**
 * How to let `user` read what was refused. A directory needs r and x, a file r. When the group has
 * them (and is not root's), membership of that group is enough: no sudo, no other user. Otherwise
 * only the owner can read it: sudo -u owner (root: plain sudo). `alternative` is the MTA's own
 * listing command, offered only where it works for an unprivileged user. `named`: the path the error
 * line names (the remedy then says "the directory"; a refused parent is named).
 */
export function accessRemedy(r: Refused, alternative?: string, named?: string): string {
  const need = r.directory ? 0o5 : 0o4;
  const what = named === r.path ? (r.directory ? 'the directory' : 'the file') : r.path;
  const is = `${what} is ${r.owner}:${r.group} ${r.mode.toString(8).padStart(4, '0')}`;
  const or = alternative ? `, or ${alternative}` : '';
  if (r.gid !== 0 && ((r.mode >> 3) & need) === need) {
    const g = /^\d+$/.test(r.group) ? `#${r.group}` : r.group;
    return (
      `${is}: add ${r.user} to group ${r.group} (usermod -aG ${r.group} ${r.user}, then restart the agent or NRPE), ` +
      `or run the check with sudo -g ${g} (README 'Spool access')${or}`
    );
  }
  if (r.owner === 'root') return `${is}, readable only by root: run the check through sudo as root (README 'Spool access')${or}`;
  // sudo takes a numeric id as #N.
  const u = /^\d+$/.test(r.owner) ? `#${r.owner}` : r.owner;
  return `${is}, readable only by ${r.owner}: run the check as ${r.owner} with sudo -u ${u} (README 'Spool access')${or}`;
}

/** name of an id in /etc/passwd or /etc/group (field 3 = id), else the number. */
function nameOf(file: string, id: number): string {
  try {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && f[2] === String(id) && f[0]) return f[0];
    }
  } catch {
    /* no such file: the number will do */
  }
  return String(id);
}

/** The name of the user this check runs as (the effective uid: the one the kernel checks). */
export function currentUser(): string {
  const uid = process.geteuid?.();
  return uid === undefined ? 'the monitoring user' : nameOf('/etc/passwd', uid);
}

/** The ids the kernel checks a path against: effective uid, effective gid and the supplementary groups. */
export interface Ids {
  uid: number;
  gids: number[];
}

/** Whether the mode bits of `st` give `ids` every bit of `need` (0o4 read, 0o1 search), as the kernel decides. */
export function allows(st: { mode: number; uid: number; gid: number }, need: number, ids: Ids): boolean {
  if (ids.uid === 0) return true;
  const bits = st.uid === ids.uid ? st.mode >> 6 : ids.gids.includes(st.gid) ? st.mode >> 3 : st.mode;
  return (bits & need) === need;
}

function ownIds(): Ids {
  const gids = [process.getegid?.() ?? -1, ...(process.getgroups?.() ?? [])];
  return { uid: process.geteuid?.() ?? -1, gids };
}

/**
 * The facts `accessRemedy` needs about a refused path. The refusal may come from a directory above it
 * that cannot be searched (Debian's /var/spool/exim4 is 0750 Debian-exim: its input/ is what the walk
 * names): the first path component, from the top, that the mode bits refuse is the one described.
 * undefined when nothing on the way can be stat'ed or every bit allows it (an ACL, a mount option).
 */
export function refused(p: string, ids: Ids = ownIds()): Refused | undefined {
  const full = path.resolve(p);
  const parts = full.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const at = '/' + parts.slice(0, i).join('/');
    let st: fs.Stats;
    try {
      st = fs.statSync(at);
    } catch {
      return undefined;
    }
    const last = i === parts.length;
    const need = !last ? 0o1 : st.isDirectory() ? 0o5 : 0o4;
    if (allows(st, need, ids)) continue;
    return {
      path: at,
      directory: st.isDirectory(),
      mode: st.mode & 0o7777,
      owner: nameOf('/etc/passwd', st.uid),
      group: nameOf('/etc/group', st.gid),
      gid: st.gid,
      user: currentUser(),
    };
  }
  return undefined;
}

/** A spool directory that could not be read, as one error: what and where, with the access remedy when
 *  it was refused (deniedError), else the reason (no such directory, not a directory, the errno). The
 *  error keeps `code` and `path` for the callers that tell a missing queue from a broken one. */
export function spoolError(err: unknown, path: string, what: string): Error {
  if (isDenied(err)) return deniedError(err, path, what);
  const c = errorCode(err) ?? 'EIO';
  const why = c === 'ENOENT' ? 'no such directory' : c === 'ENOTDIR' ? 'not a directory' : c;
  return Object.assign(new Error(`cannot read ${what} ${path}: ${why}`, { cause: err }), { code: c, path });
}
