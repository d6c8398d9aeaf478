// Every command line we ship runs: the Sensu CheckConfig commands (tokens at their defaults), the
// Nagios commands as the example services call them, the NRPE lines and the sudoers rules, each
// pointed at the captured spools/logs and expected to give a real verdict (exit 0-2) whose output
// the consuming program can read. The sudo lines in nrpe.cfg/commands.cfg must be, word for word,
// commands the sudoers file allows, and the sudoers file has no wildcards. The metric table in
// docs/integrations.md names every metric the checks emit.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ASSETS_DIR,
  checkBins,
  checkInvocation,
  checkOptions,
  DOC_USER_MACROS,
  expandMacros,
  fixtureArgs,
  loadResources,
  MTAS,
  NAGIOS_DIR,
  parseNagiosObjects,
  removeTempDirs,
  ROOT,
  run,
  runCheck,
  tempDir,
  which,
} from './helpers/env.js';
import { extractGraphite, flagValue, KNOWN_BOGUS_SENSU_METRICS, sensuExtractionProblems, shellWords, substituteTokens } from './helpers/sensu.js';

afterAll(removeTempDirs);

const bins = checkBins();
const read = (f: string) => fs.readFileSync(f, 'utf8');
const commands = new Map(parseNagiosObjects(read(path.join(NAGIOS_DIR, 'commands.cfg'))).map((o) => [o.attrs.command_name, o.attrs.command_line]));
const services = parseNagiosObjects(read(path.join(NAGIOS_DIR, 'services.cfg'))).filter((o) => o.type === 'service');
const nrpe = new Map(
  read(path.join(NAGIOS_DIR, 'nrpe.cfg'))
    .split('\n')
    .map((l) => /^command\[([^\]]+)\]=(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => [m[1], m[2]]),
);

/** Run one shipped invocation on fixtures and check its output is usable as `format`. */
function runShipped(what: string, line: string) {
  const inv = checkInvocation(line);
  if (!inv) throw new Error(`${what}: runs no check: ${line}`);
  expect(bins, `${what}: ${inv.bin} is not a built check`).toContain(inv.bin);
  const argv = fixtureArgs(inv.bin, inv.args, { stateDir: tempDir('mailq-cmd-state-') });
  // The shipped state dirs (/var/lib/mailq-checks/...) are replaced by a temp dir.
  const sd = argv.indexOf('--state-dir');
  if (sd >= 0 && argv[sd + 1].startsWith('/var/lib/')) argv[sd + 1] = tempDir('mailq-cmd-state-');
  const r = runCheck(inv.bin, argv);
  expect(r.err, what).toBe('');
  expect([0, 1, 2], `${what}: ${r.out}`).toContain(r.code);
  if (flagValue(argv, '--format') === 'graphite') {
    const g = extractGraphite(r.out);
    expect(g.errors, what).toEqual([]);
    expect(g.points.length, what).toBeGreaterThan(0);
  } else {
    expect(r.out.split('|').length, `${what}: exactly one |`).toBe(2);
    const x = sensuExtractionProblems(r.out);
    expect([x.missing, x.wrong], what).toEqual([[], []]);
    expect(x.bogus.map((p) => p.name).filter((n) => !(KNOWN_BOGUS_SENSU_METRICS[inv.bin] ?? []).includes(n)), what).toEqual([]);
  }
  return { inv, out: r.out, code: r.code };
}

describe('Sensu CheckConfig commands', () => {
  const checks = loadResources().filter((r) => r.type === 'CheckConfig');
  it.each(checks.map((c) => [c.metadata.name, c] as const))('%s runs on the captured spools/logs', (_name, c) => {
    const { inv } = runShipped(c.source, substituteTokens(c.spec.command));
    expect(inv.interpreter, 'Sensu commands rely on PATH (runtime assets)').toBeUndefined();
  });
});

describe('Nagios command definitions', () => {
  it('define a command for every built check, through $USER6$ (node) and $USER5$ (the checks)', () => {
    for (const bin of bins) {
      const name = bin.replace(/-/g, '_');
      expect(commands.get(name), `command ${name} in sensu-assets/nagios/commands.cfg`).toBe(`$USER6$ $USER5$/${bin} -t 20 -w $ARG1$ -c $ARG2$ $ARG3$`);
    }
  });

  it('keep -t under Nagios’ default service_check_timeout (60 s)', () => {
    for (const [name, line] of commands) {
      const inv = checkInvocation(expandMacros(line, DOC_USER_MACROS));
      if (inv) expect(Number(flagValue(inv.args, '-t') ?? 10), name).toBeLessThan(60);
    }
  });

  it.each(services.map((s) => [s.attrs.service_description + ' on ' + s.attrs.host_name, s] as const))('example service %s runs', (_d, s) => {
    const [name, ...args] = s.attrs.check_command.split('!');
    const line = commands.get(name);
    expect(line, `command ${name}`).toBeDefined();
    if (name === 'check_nrpe_mailq') {
      expect(nrpe.has(args[0]), `nrpe.cfg command[${args[0]}]`).toBe(true);
      return;
    }
    runShipped(`service ${s.attrs.service_description}`, expandMacros(line!, DOC_USER_MACROS, args));
  });

  it('every check has an example service', () => {
    const used = new Set(services.map((s) => commands.get(s.attrs.check_command.split('!')[0])).filter(Boolean).map((l) => checkInvocation(expandMacros(l!, DOC_USER_MACROS))?.bin));
    for (const bin of bins) expect(used.has(bin), bin).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// sudo

/** Cmnd_Alias contents and the rules: runas (`postfix`, or `:smmsp` for a group only) -> allowed command lines. */
function parseSudoers(text: string): { aliases: Map<string, string[]>; rules: { users: string; runas: string; cmds: string[] }[] } {
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
  const aliases = new Map<string, string[]>();
  const rules: { users: string; runas: string; cmds: string[] }[] = [];
  for (const l of joined) {
    let m: RegExpExecArray | null;
    if ((m = /^Cmnd_Alias\s+(\w+)\s*=\s*(.*)$/.exec(l))) aliases.set(m[1], m[2].split(/\s*,\s*/).map((c) => c.replace(/\s+/g, ' ').trim()));
    else if ((m = /^(\S+)\s+ALL\s*=\s*\((\w*(?::\w+)?)\)\s*NOPASSWD:\s*(.*)$/.exec(l))) rules.push({ users: m[1], runas: m[2], cmds: m[3].split(/\s*,\s*/) });
    else if (!/^(User_Alias|Defaults)/.test(l)) throw new Error(`sudoers line not modelled: ${l}`);
  }
  return { aliases, rules };
}
const sudoersText = read(path.join(ASSETS_DIR, 'access/sudoers'));
const sudoers = parseSudoers(sudoersText);
const allowed = sudoers.rules.flatMap((r) => r.cmds.flatMap((c) => (sudoers.aliases.get(c) ?? [c]).map((cmd) => ({ runas: r.runas, cmd }))));

/** Every sudo invocation we ship, as [where, runas, command]. */
const sudoLines: [string, string, string][] = [
  ...[...commands].map(([n, l]) => [`commands.cfg ${n}`, expandMacros(l, DOC_USER_MACROS)] as const),
  ...[...nrpe].map(([n, l]) => [`nrpe.cfg ${n}`, l] as const),
]
  .filter(([, l]) => /^(\/usr\/bin\/)?sudo\s/.test(l))
  .map(([w, l]) => {
    const words = shellWords(l);
    const inv = checkInvocation(l)!;
    const cmd = words.slice(words.findIndex((x) => x === inv.interpreter || x.endsWith(`/${inv.bin}`))).join(' ');
    // As a sudoers Runas_Spec: `postfix`, `:smmsp` (-g alone: the caller's uid), `root`.
    return [w, inv.sudoGroup ? `${inv.sudoUser ?? ''}:${inv.sudoGroup}` : inv.sudoUser!, cmd];
  });

describe('sudo rules (sensu-assets/access/sudoers)', () => {
  it('allow exact command lines only: absolute paths, no wildcard, the node interpreter named', () => {
    expect(allowed.length).toBeGreaterThan(0);
    for (const { cmd } of allowed) {
      expect(cmd, 'wildcards let the caller add --spool/--state-dir/--log').not.toMatch(/[*?[\]]/);
      // The install layout, as commands.cfg documents it for resource.cfg ($USER6$ node, $USER5$ the checks).
      expect(cmd.startsWith(`${DOC_USER_MACROS.USER6} ${DOC_USER_MACROS.USER5}/check-`), cmd).toBe(true);
      expect(cmd).not.toMatch(/\/var\/cache\/sensu/);
      expect(cmd.endsWith('""'), 'no argument-less form').toBe(false);
    }
  });

  it('cover every sudo line in commands.cfg and nrpe.cfg word for word, with the right target user', () => {
    expect(sudoLines.length).toBeGreaterThan(0);
    for (const [where, runas, cmd] of sudoLines) expect(allowed, where).toContainEqual({ runas, cmd });
    for (const a of allowed) expect(sudoLines.some(([, r, c]) => r === a.runas && c === a.cmd), `sudoers rule used nowhere: ${a.cmd}`).toBe(true);
  });

  it('run the checks with least privilege: as postfix for Postfix (0700 postfix), in group smmsp for Sendmail, never root', () => {
    for (const { runas, cmd } of allowed) expect(runas).toBe(/--mta sendmail/.test(cmd) ? ':smmsp' : 'postfix');
  });

  it.each(allowed.map((a) => [a.cmd, a] as const))('%s runs', (_c, a) => {
    runShipped(`sudoers (${a.runas})`, a.cmd);
  });

  it.skipIf(!which('visudo'))('pass visudo -c', () => {
    const r = run(which('visudo')!, ['-c', '-f', path.join(ASSETS_DIR, 'access/sudoers')]);
    expect(r.code, r.out + r.err).toBe(0);
  });
});

describe('NRPE commands (sensu-assets/nagios/nrpe.cfg)', () => {
  it('cover every built check', () => {
    const used = new Set([...nrpe.values()].map((l) => checkInvocation(l)?.bin));
    for (const bin of bins) expect(used.has(bin), bin).toBe(true);
  });
  it.each([...nrpe])('%s runs', (name, line) => {
    const { inv } = runShipped(`nrpe ${name}`, line);
    expect(inv.interpreter).toBe(DOC_USER_MACROS.USER6);
  });
});

describe('spool-access.sh', () => {
  const script = path.join(ASSETS_DIR, 'access/spool-access.sh');
  it('is valid bash and, in --dry-run, prints what it would do', () => {
    expect(run('bash', ['-n', script]).code).toBe(0);
    const r = run('bash', [script, '--dry-run', '--postfix-acl', 'sensu']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^\+ install -d -m 0750 -o sensu -g sensu \/var\/lib\/mailq-checks \/var\/lib\/mailq-checks\/metrics$/m);
  });
  it('refuses bad usage', () => {
    expect(run('bash', [script]).code).toBe(2);
    expect(run('bash', [script, '--bogus', 'x']).code).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------

describe('docs/integrations.md metric table', () => {
  const docs = path.join(ROOT, 'docs/integrations.md');
  /**
   * Rows of the table as patterns: `mailq_depth.<queue>` -> /^mailq_depth\.[a-z0-9_]+$/;
   * `<metric>` stands for the check's metrics named in other rows.
   */
  const documented = () => {
    const names = [...read(docs).matchAll(/^\|\s*`([a-z_]+)\.([a-z_<>]+)`/gm)].map((m) => [m[1], m[2]] as const);
    const plain = (check: string) => names.filter(([c, n]) => c === check && !n.includes('<')).map(([, n]) => n);
    return names.map(([c, n]) => new RegExp(`^${c}\\.${n.replace(/<metric>/g, `(${plain(c).join('|')})`).replace(/<[a-z]+>/g, '[a-z0-9_]+')}$`));
  };

  it('names every metric of every check (all MTAs; stateful checks after a few runs)', () => {
    expect(fs.existsSync(docs), 'docs/integrations.md').toBe(true);
    const patterns = documented();
    expect(patterns.length).toBeGreaterThan(10);
    const seen = new Set<string>();
    for (const bin of bins)
      for (const mta of MTAS) {
        const state = tempDir('mailq-docs-');
        const extra = [...(checkOptions(bin).has('--limit') ? ['--limit', '1000000'] : []), ...(checkOptions(bin).has('--from-start') ? ['--from-start'] : [])];
        // Four runs a minute apart (clock pinned), so stateful checks report their rate metrics.
        const t0 = Date.now() - 10 * 60_000;
        for (let i = 0; i < 4; i++) {
          const r = runCheck(bin, fixtureArgs(bin, ['--format', 'json', ...extra], { mta, stateDir: state }), { FAKE_NOW_MS: String(t0 + i * 60_000) });
          const j = JSON.parse(r.out);
          for (const m of j.metrics) seen.add(`${j.check}.${m.label}`);
        }
      }
    const missing = [...seen].filter((n) => !patterns.some((p) => p.test(n)));
    expect(missing, 'metrics missing from the table in docs/integrations.md').toEqual([]);
  }, 180_000);
});
