// Which mail logs to read: the default log (the first of the MTAs' usual paths that exists), --log
// values with globs expanded to the live files (never their rotated siblings), and one file under
// two names read once.

import fs from 'node:fs';
import path from 'node:path';
import { UnknownError } from '../plugin/errors.js';
import { MTA_NAMES, MTAS } from '../mta/index.js';

/** The usual mail log paths, in the order they are looked for: each MTA's, as its registry row declares them. */
export const DEFAULT_LOGS = [...new Set(MTA_NAMES.flatMap((n) => MTAS[n].log.defaultLogs))];

export const GLOB = /[*?[\]{}]/;
/** Rotated siblings a glob like /var/log/mail* also matches: read through their live file instead. */
const ROTATED_NAME = /(\.\d+|-\d{8}(\d{2})?)(\.gz)?$|\.gz$/;

/** Expand --log values: literal paths as given, globs to the live files they match (no rotated ones). */
export async function resolveLogs(patterns: string[]): Promise<{ files: string[]; errors: string[] }> {
  const files: string[] = [];
  const errors: string[] = [];
  for (const p of patterns) {
    if (!GLOB.test(p)) {
      files.push(path.resolve(p));
      continue;
    }
    const { default: fg } = await import('fast-glob');
    const matches = fg
      .sync(p, { absolute: true, onlyFiles: true, dot: true, suppressErrors: true })
      .filter((m) => !ROTATED_NAME.test(path.basename(m)))
      .sort();
    if (!matches.length) errors.push(`no log file matches ${p}`);
    files.push(...matches);
  }
  return { files: [...new Set(files)], errors };
}

/**
 * One log under two names (a hard link, a glob matching a symlink too) is read once: files are told
 * apart by dev:ino. The name kept is the one with a saved cursor, else the first.
 */
export function sameFiles(files: string[], withCursor: Map<string, unknown>): { files: string[]; notes: string[] } {
  const groups = new Map<string, string[]>();
  const order: string[] = [];
  for (const f of files) {
    let id: string;
    try {
      const s = fs.statSync(f);
      id = `${s.dev}:${s.ino}`;
    } catch {
      id = `path:${f}`; // gone or unreadable: tailFile says so
    }
    const g = groups.get(id);
    if (g) g.push(f);
    else {
      groups.set(id, [f]);
      order.push(id);
    }
  }
  const notes: string[] = [];
  const out: string[] = [];
  for (const id of order) {
    const g = groups.get(id)!;
    const keep = g.find((f) => withCursor.has(f)) ?? g[0];
    out.push(keep);
    for (const f of g) if (f !== keep) notes.push(`${f} is the same file as ${keep} (hard link or symlink): read once`);
  }
  return { files: out, notes };
}


/** The first default log that exists, else exit 3 saying where it looked. */
export function defaultLog(candidates: readonly string[] = DEFAULT_LOGS): string {
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new UnknownError(`no mail log found (looked for ${candidates.join(', ')})`, 'give --log FILE or --journal UNIT');
  return found;
}
