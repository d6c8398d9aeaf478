// Where Sendmail keeps its queues, read from its own configuration file (sendmail.cf for the MTA,
// submit.cf for the MSP's client queue). The lines that matter, as m4 writes them from Debian's
// sendmail.mc (sendmail-cf 8.17.1.9) with QUEUE_DIR and QUEUE_GROUP defined:
//
//   O QueueDirectory=/var/spool/mqueue/q*
//   Qbulk, P=/var/spool/mqueue/bulk*, F=f, I=1h, R=2
//
// Older hand-written files use the one-letter option form `OQ/var/spool/mqueue`. A trailing `*`
// in the last component is Sendmail's multiple queue directories: every entry of the parent whose
// name starts with what stands before the `*` (queue.c multiqueue_cache; the real binary lists each
// one in `sendmail -bp`). A queue group's Path must lie under QueueDirectory's base: sendmail
// refuses the file otherwise ("QueuePath ... not subpath of QueueDirectory").
// Pure: text in, paths out; the directory listing is done by the caller (expandQueuePath takes it).

/** What a cf file says about queue locations. */
export interface SendmailQueueConfig {
  /** The QueueDirectory value as written (the last one wins, as in readcf), undefined when absent. */
  queueDirectory?: string;
  /** Queue groups' Path values (Q lines), in file order. */
  groupPaths: { group: string; path: string }[];
}

/** Comment lines start with '#'; continuation lines start with a space or tab (readcf joins them). */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length) {
      out[out.length - 1] += line;
      continue;
    }
    out.push(line);
  }
  return out.filter((l) => l !== '' && !l.startsWith('#'));
}

/** The value of an O line for QueueDirectory (long or one-letter form), or undefined. */
export function queueDirectoryOf(line: string): string | undefined {
  if (line.startsWith('O ')) {
    const m = /^O\s+QueueDirectory\s*=\s*(.*?)\s*$/i.exec(line);
    return m && m[1] !== '' ? m[1] : undefined;
  }
  // One-letter form: "OQ/var/spool/mqueue" (Q is QueueDirectory's short name).
  if (line.startsWith('OQ')) {
    const v = line.slice(2).trim();
    return v !== '' ? v : undefined;
  }
  return undefined;
}

/** A Q line: "Qname, P=path, F=f, ..." (the key may be spelt out: Path=). */
export function queueGroupOf(line: string): { group: string; path?: string } | undefined {
  if (!line.startsWith('Q') || line.startsWith('Q ')) return undefined;
  const fields = line.slice(1).split(',');
  const group = fields[0].trim();
  if (!/^[A-Za-z0-9_.-]+$/.test(group)) return undefined;
  for (const f of fields.slice(1)) {
    const m = /^\s*([A-Za-z]+)\s*=\s*(.*?)\s*$/.exec(f);
    // readcf reads the key by its first letter: P and Path are the same field.
    if (m && (m[1] === 'P' || m[1].toLowerCase() === 'path') && m[2] !== '') return { group, path: m[2] };
  }
  return { group };
}

/** Pure: the queue locations a cf file names. */
export function parseSendmailCf(text: string): SendmailQueueConfig {
  const cfg: SendmailQueueConfig = { groupPaths: [] };
  for (const line of logicalLines(text)) {
    const q = queueDirectoryOf(line);
    if (q !== undefined) {
      cfg.queueDirectory = q;
      continue;
    }
    const g = queueGroupOf(line);
    if (g?.path !== undefined) cfg.groupPaths.push({ group: g.group, path: g.path });
  }
  return cfg;
}

/** A queue path split into the fixed directory and the name prefix of a `*` wildcard, if any. */
export interface QueuePath {
  /** The directory itself, or for a wildcard the parent whose entries are matched. */
  dir: string;
  /** Entries of `dir` whose name starts with this are queue directories; undefined: `dir` is one. */
  prefix?: string;
}

/**
 * `/var/spool/mqueue/q*` -> { dir: '/var/spool/mqueue', prefix: 'q' }; `/var/spool/mqueue/*` ->
 * prefix ''; `/var/spool/mqueue` -> { dir }. Only the last component may hold the `*`, and only at
 * its end (sendmail's rule); anything else, or a relative path, is undefined (not a usable location).
 */
export function splitQueuePath(value: string): QueuePath | undefined {
  if (!value.startsWith('/') || value.includes('\0')) return undefined;
  const v = value.length > 1 ? value.replace(/\/+$/, '') : value;
  const slash = v.lastIndexOf('/');
  const last = v.slice(slash + 1);
  const star = v.indexOf('*');
  if (star < 0) return { dir: v };
  if (star !== v.length - 1 || star <= slash) return undefined;
  return { dir: v.slice(0, slash) || '/', prefix: last.slice(0, -1) };
}

/**
 * The queue directories a path stands for, given the names in its parent (`entries`, from
 * readdir) and a test for "is a directory" (stat, so a symlink to a directory counts, as in
 * sendmail). Sorted, as sendmail -bp lists them. "." and ".." never match.
 */
export function expandQueuePath(p: QueuePath, entries: readonly string[], isDir: (path: string) => boolean): string[] {
  if (p.prefix === undefined) return [p.dir];
  const prefix = p.prefix;
  const join = (n: string) => (p.dir === '/' ? `/${n}` : `${p.dir}/${n}`);
  return entries
    .filter((n) => n !== '.' && n !== '..' && n.startsWith(prefix) && isDir(join(n)))
    .sort()
    .map(join);
}
