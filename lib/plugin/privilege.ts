// Is this run privileged, i.e. may it do what its caller could not? Then nothing the caller controls
// may choose a program to run (PATH) or a file to quote (--listing-file): see findProgram in exec.ts
// and listingFilesOption in lib/queue/source.ts.
//
// Privileged means any of:
// - root: the real or the effective uid is 0 (a process that only dropped its euid can take it back);
// - Linux capabilities in the effective set (a service given CAP_DAC_READ_SEARCH to read the spools
//   reads /etc/shadow just as well);
// - started through sudo, doas or pkexec (SUDO_UID/SUDO_USER/SUDO_GID/SUDO_COMMAND, DOAS_USER,
//   PKEXEC_UID): `sudo -u postfix` runs as a user the caller is not. A caller can set these itself,
//   but then it only restricts its own run.
//
// The answer comes from the real process only (its ids, /proc/self/status and process.env), never
// from the RunContext a test builds: nothing on the command line or in an env object handed to the
// runner can switch it off. In-process tests run as root on the build machines and plant fake
// listing programs on PATH, so the test setup (test/helpers/unprivileged.ts, a vitest setupFile)
// replaces the probe with setPrivilegeProbe(). That function is reachable only by code in the same
// module graph: an installed binary never calls it, and no argument, environment variable or file
// can reach it from outside.

import fs from 'node:fs';

export type PrivilegeProbe = () => boolean;

const SUDO_VARS = ['SUDO_UID', 'SUDO_USER', 'SUDO_GID', 'SUDO_COMMAND', 'DOAS_USER', 'PKEXEC_UID'];

/** Non-zero CapEff in /proc/self/status (Linux); false where there is no such file. */
function hasCapabilities(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)\s*$/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    return m !== null && /[1-9a-f]/.test(m[1]);
  } catch {
    return false;
  }
}

/** The probe of the real process. */
export const realPrivilegeProbe: PrivilegeProbe = () => {
  if (process.geteuid?.() === 0 || process.getuid?.() === 0) return true;
  if (SUDO_VARS.some((v) => process.env[v] !== undefined && process.env[v] !== '')) return true;
  return hasCapabilities();
};

let probe: PrivilegeProbe = realPrivilegeProbe;

export function privileged(): boolean {
  return probe();
}

/** Tests only (see the top of this file): replace the probe; no argument restores the real one. */
export function setPrivilegeProbe(p?: PrivilegeProbe): void {
  probe = p ?? realPrivilegeProbe;
}

/**
 * The only directories a privileged run takes programs from, in this order. /usr/local/sbin and
 * /usr/local/bin are kept, after the system directories (a packaged MTA wins): FHS gives them to the
 * local administrator (root), Debian's and Ubuntu's sudo secure_path list them, and an MTA built from
 * source may live there. Where an installer made them writable by someone else (Homebrew chowns
 * /usr/local), trustedExecutable() refuses what is in them. /usr/lib/sendmail is Sendmail's
 * historical place (on most systems a symlink to the sendmail binary, so nothing is found "in" it).
 */
export const SYSTEM_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/lib/sendmail', '/usr/local/sbin', '/usr/local/bin'] as const;

/** PATH given to every child of a privileged run. */
export const SYSTEM_PATH = SYSTEM_DIRS.filter((d) => d !== '/usr/lib/sendmail').join(':');

/**
 * May a privileged run execute this file? Its real path and the directory holding it must be owned by
 * root and writable by nobody else (the same rule as sudo's secure_path advice and OpenSSH's StrictModes).
 */
export function trustedExecutable(file: string): boolean {
  try {
    const real = fs.realpathSync(file);
    const f = fs.statSync(real);
    if (!f.isFile() || f.uid !== 0 || (f.mode & 0o022) !== 0 || (f.mode & 0o111) === 0) return false;
    const d = fs.statSync(real.slice(0, real.lastIndexOf('/')) || '/');
    return d.uid === 0 && (d.mode & 0o022) === 0;
  } catch {
    return false;
  }
}
