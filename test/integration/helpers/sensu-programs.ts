// The real Sensu Go programs, where they are: test/integration/sensu-setup.sh installs them with
// `go install` at pinned versions into SENSU_BIN_DIR. On CI (root, CI=true) a missing program is
// installed here, once per test file (the script takes a lock and is a no-op when they are there).
// What the tests do without them is said by `reason`: never a silent skip.
import fs from 'node:fs';
import path from 'node:path';
import { isRoot, run, which } from './env.js';

export const SENSU_SETUP = path.join(__dirname, '..', 'sensu-setup.sh');
export const SENSU_BIN_DIR = process.env.SENSU_BIN_DIR ?? '/usr/local/lib/mailq-checks-itest/sensu/bin';
export const SENSU_PROGRAMS = ['sensu-backend', 'sensu-agent', 'sensuctl', 'sensu-pagerduty-handler'] as const;
export type SensuProgram = (typeof SENSU_PROGRAMS)[number];

/** The versions sensu-setup.sh pins (read from the script, so there is one place to change them). */
export function sensuPins(): Record<'sensuGo' | 'pagerDuty', string> {
  const text = fs.readFileSync(SENSU_SETUP, 'utf8');
  const v = (name: string) => {
    const m = new RegExp(`^${name}=(\\S+)$`, 'm').exec(text);
    if (!m) throw new Error(`${SENSU_SETUP}: no ${name}= line`);
    return m[1];
  };
  return { sensuGo: `${v('SENSU_GO_MODULE')}@${v('SENSU_GO_VERSION')}`, pagerDuty: `${v('SENSU_PD_MODULE')}@${v('SENSU_PD_VERSION')}` };
}

const goCommand = () => which('go') ?? (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);

function find(name: SensuProgram): string | undefined {
  const p = path.join(SENSU_BIN_DIR, name);
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return p;
  } catch {
    return which(name);
  }
}

export interface SensuPrograms {
  /** Path of each program found (after the CI install, if one ran). */
  bin: Partial<Record<SensuProgram, string>>;
  /** Why some are missing, for the skip message; '' when all are there. */
  reason: string;
  /** sensu-setup.sh ran and failed for another reason than the module proxy's refusal. */
  setupBroken?: string;
}

let cached: SensuPrograms | undefined;
export function sensuPrograms(): SensuPrograms {
  if (cached) return cached;
  const missing = () => SENSU_PROGRAMS.filter((n) => !find(n));
  let reason = '';
  let setupBroken: string | undefined;
  const go = goCommand();
  if (missing().length && isRoot() && process.env.CI === 'true' && go) {
    // Cold, sensu-backend is a large build: generous, as a limit against a hang only.
    const r = run('bash', [SENSU_SETUP], { timeout: 3_600_000, env: { ...process.env, SENSU_BIN_DIR, GO: go } });
    // The go command's last lines, the proxy's address left out (the error text is what matters).
    const tail = (r.out + r.err).replace(/https?:\/\/[^/\s]+/g, '$GOPROXY').trim().split('\n').slice(-4).join(' / ');
    if (r.code === 2) reason = `the Go module proxy refused the pinned Sensu modules (sensu-setup.sh: ${tail}); see docs/sensu-go.md`;
    else if (r.code !== 0) setupBroken = `sensu-setup.sh failed (${r.code}): ${tail}`;
  }
  const bin: SensuPrograms['bin'] = {};
  for (const n of SENSU_PROGRAMS) {
    const p = find(n);
    if (p) bin[n] = p;
  }
  const gone = missing();
  if (gone.length && !reason)
    reason = setupBroken
      ? setupBroken
      : `${gone.join(', ')} not installed: run \`bash test/integration/sensu-setup.sh\` as root (CI does; the Go module proxy refused these modules on 2026-12-01, docs/sensu-go.md)`;
  cached = { bin, reason, setupBroken };
  return cached;
}
