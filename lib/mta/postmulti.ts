// Postfix multi-instance hosts (postmulti): which instances exist and where their queues are, read
// the way postmulti itself reads them, with postconf. The primary instance's main.cf lists the
// others' configuration directories; each of those main.cf files names its instance:
//
//   $ postconf -h multi_instance_directories          $ postmulti -l
//   /etc/postfix-out /etc/postfix-in                   -               -               y         /etc/postfix
//                                                      postfix-out     mta             y         /etc/postfix-out
//   $ postconf -c /etc/postfix-out -h multi_instance_name multi_instance_enable queue_directory multi_instance_group
//   postfix-out                                        postfix-in      -               n         /etc/postfix-in
//   yes
//   /var/spool/postfix-out
//   mta
//
// (Captured from Debian 12's postfix 3.7.11 after `postmulti -e init` and `postmulti -I postfix-out
// -G mta -e create`: test/fixtures/config/postfix-multi.) postconf prints one line per parameter, in
// the order asked, an empty line for an empty value. Pure parsers here; postfix.ts runs postconf.

/** One Postfix instance, as `postmulti -l` lists it. */
export interface PostfixInstance {
  /** multi_instance_name; '-' for a nameless instance (the primary one is always '-'). */
  name: string;
  /** multi_instance_group; undefined when none ('-' in postmulti -l). */
  group?: string;
  enabled: boolean;
  configDirectory: string;
  /** queue_directory, when asked for. */
  queueDirectory?: string;
}

/** The parameters asked of each instance's postconf, in this order (instanceFromPostconf reads them back). */
export const INSTANCE_PARAMETERS = ['multi_instance_name', 'multi_instance_enable', 'queue_directory', 'multi_instance_group'] as const;

/** multi_instance_directories: absolute paths separated by spaces, commas or newlines (Postfix's list syntax). */
export function parseInstanceDirectories(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .filter((d) => d !== '')
    .filter((d, i, all) => all.indexOf(d) === i);
}

/** Postfix booleans: yes/no (postconf -h prints them as written; Postfix accepts yes/no, true/false). */
function postfixBool(v: string): boolean {
  return /^(yes|true|y|1)$/i.test(v.trim());
}

/** Pure: `postconf -c DIR -h` INSTANCE_PARAMETERS' output -> the instance. undefined when the output is not that. */
export function instanceFromPostconf(configDirectory: string, stdout: string): PostfixInstance | undefined {
  const lines = stdout.replace(/\n$/, '').split('\n');
  if (lines.length !== INSTANCE_PARAMETERS.length) return undefined;
  const [name, enable, queue, group] = lines.map((l) => l.trim());
  return {
    name: name === '' ? '-' : name,
    ...(group !== '' ? { group } : {}),
    enabled: postfixBool(enable),
    configDirectory,
    ...(queue.startsWith('/') ? { queueDirectory: queue } : {}),
  };
}

/** Pure: `postmulti -l` output (name, group, y/n, config directory; '-' for none) -> instances. */
export function parsePostmultiList(stdout: string): PostfixInstance[] {
  const out: PostfixInstance[] = [];
  for (const line of stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 4 || !f[3].startsWith('/')) continue;
    out.push({ name: f[0], ...(f[1] !== '-' ? { group: f[1] } : {}), enabled: f[2] === 'y', configDirectory: f[3] });
  }
  return out;
}

/**
 * An --instance value: postmulti's own rule for names (no '/', printable, and a name other than '-'
 * starts with "postfix-"), kept to letters, digits and . _ - here so that it can never be read as a
 * path or an option by a program it is handed to. Returns the reason it is refused, or undefined.
 */
export function instanceNameProblem(name: string): string | undefined {
  if (name === '-') return undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) return 'an instance name is letters, digits and . _ - (no /)';
  if (!name.startsWith('postfix-')) return 'Postfix instance names start with "postfix-" (postmulti -l lists them)';
  return undefined;
}

/** How the long output names the instances left out: "postfix-out (/var/spool/postfix-out), postfix-in (disabled, /var/spool/postfix-in)". */
export function describeInstances(list: PostfixInstance[]): string {
  return list
    .map((i) => {
      const bits = [i.enabled ? undefined : 'disabled', i.queueDirectory ?? i.configDirectory].filter(Boolean);
      return `${i.name === '-' ? i.configDirectory : i.name} (${bits.join(', ')})`;
    })
    .join(', ');
}
