// Sensu Go itself (issue 16): sensu-backend, sensu-agent and sensuctl from github.com/sensu/sensu-go
// and sensu-pagerduty-handler, installed by test/integration/sensu-setup.sh with `go install` at
// the versions it pins (on CI, root and CI=true, it runs here when they are missing).
//
// State on 2026-12-01: the Go module proxy answers 403 "This module version is not available" for
// every github.com/sensu/* module and version tried (docs/sensu-go.md lists each), so nothing here
// has run the real programs yet. What this file checks now: the pins are versions the go command
// can name, and on CI the install failed for that reason only. When the programs are installed it
// also checks they are the pinned builds; the end-to-end run (backend, agent, shipped definitions,
// events read back) is written down step by step in docs/sensu-go.md and is a todo here: it was
// not written blind, without the programs to run it against.
//
// What is real today elsewhere: the checks and assets (sensu-asset.test.ts), carbon
// (sensu-graphite.test.ts, graphite.test.ts), the check outputs paged (pagerduty.test.ts, which
// also runs the real handler against a loopback endpoint once it is installed).
import { describe, expect, it } from 'vitest';
import { run, which } from './helpers/env.js';
import { SENSU_PROGRAMS, SENSU_SETUP, sensuPins, sensuPrograms } from './helpers/sensu-programs.js';

const real = sensuPrograms();
const all = SENSU_PROGRAMS.every((n) => real.bin[n]);
if (!all) console.warn(`sensu-go.test.ts: the real Sensu Go programs are not run: ${real.reason}`);
const go = which('go') ?? '/usr/local/go/bin/go';

describe('sensu-setup.sh', () => {
  it('is valid bash and pins one version per module, as the go command names a commit', () => {
    expect(run('bash', ['-n', SENSU_SETUP]).code).toBe(0);
    const pins = sensuPins();
    // github.com/sensu/sensu-go has a go.mod without /v6, so its v6.x tags are no module versions;
    // a commit is v0.0.0-<UTC commit time>-<12 hex> (no v0/v1 tag below it).
    expect(pins.sensuGo).toMatch(/^github\.com\/sensu\/sensu-go@v0\.0\.0-\d{14}-[0-9a-f]{12}$/);
    // sensu-pagerduty-handler's 2.x tags have no leading v; the newest v-tag below is v1.1.0.
    expect(pins.pagerDuty).toMatch(/^github\.com\/sensu\/sensu-pagerduty-handler@v1\.1\.1-0\.\d{14}-[0-9a-f]{12}$/);
  });

  it('failed, if it ran, only because the module proxy refused the modules (exit 2)', () => {
    expect(real.setupBroken).toBeUndefined();
  });
});

describe.skipIf(!all)('the installed Sensu Go programs', () => {
  it('are the pinned builds (go version -m)', () => {
    const pins = sensuPins();
    for (const n of SENSU_PROGRAMS) {
      const r = run(go, ['version', '-m', real.bin[n]!]);
      expect(r.code, r.err).toBe(0);
      const mod = /^\s*mod\s+(\S+)\s+(\S+)/m.exec(r.out);
      expect(mod && `${mod[1]}@${mod[2]}`, n).toBe(n === 'sensu-pagerduty-handler' ? pins.pagerDuty : pins.sensuGo);
    }
  });

  it('sensu-pagerduty-handler can be pointed at a loopback endpoint (--alternate-endpoint)', () => {
    const r = run(real.bin['sensu-pagerduty-handler']!, ['--help']);
    expect(r.out + r.err).toMatch(/--alternate-endpoint/);
    expect(r.out + r.err).toMatch(/PAGERDUTY_ALTERNATE_ENDPOINT/);
  });

  it.todo('backend + agent on 127.0.0.1 with the shipped assets, checks and handlers: events read back (docs/sensu-go.md, "The end-to-end test")');
});
