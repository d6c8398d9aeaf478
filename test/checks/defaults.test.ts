// Issue 18: the default thresholds. Every check, run with no threshold option, on every quiet real
// capture in test/fixtures (the spools and logs Debian's Postfix, Exim, Sendmail, OpenSMTPD and
// nullmailer made; test/fixtures/README.md) is OK; a default is parsed by its option's own parser (a
// wrong one fails here, not at 3 a.m.); the family rule (-w alone brings no default -c); --help shows
// the defaults and ends with the incidents they catch. The incident replays with the defaults are in
// test/incidents (defaults.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mailerDaemonCheck } from '../../lib/checks/mailer-daemon.js';
import { floodCheck } from '../../lib/checks/maillog-flood.js';
import { depthCheck } from '../../lib/checks/mailq-depth.js';
import { growthCheck } from '../../lib/checks/mailq-growth.js';
import { spoolDiskCheck } from '../../lib/checks/spool-disk.js';
import { COMMON_TABLE, incidentLines, type CheckSpec } from '../../lib/plugin/check.js';
import { readOptions, thresholdFamilies, withThresholdDefaults, type OptionTable } from '../../lib/plugin/options.js';
import { fixtureCases, PARTIAL_FIXTURE_ROOT } from '../helpers/fixtures.js';
import { runSpec } from '../helpers/run.js';
import { mountTmpfs, removeTempDirs, tempDir, unmount } from '../helpers/state-harness.js';

afterAll(removeTempDirs);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- one list holds checks of different option types
const CHECKS: CheckSpec<any, any>[] = [depthCheck, growthCheck, spoolDiskCheck, mailerDaemonCheck, floodCheck];
const table = (c: { table?: OptionTable }) => c.table as OptionTable;

const CASES = [...fixtureCases(), ...fixtureCases(PARTIAL_FIXTURE_ROOT)];
const LOGS = CASES.flatMap((c) => {
  const dir = path.join(c.dir, 'log');
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => ({ name: `${c.name}/log/${f}`, file: path.join(dir, f), capturedAt: c.capturedAt })) : [];
});
// The log-flow captures (test/fixtures/capture-logflow.sh): Postfix, Exim and Sendmail.
const FLOW = path.join(__dirname, '../fixtures/logs/flow');
for (const m of fs.existsSync(FLOW) ? fs.readdirSync(FLOW).sort() : []) {
  const manifest = JSON.parse(fs.readFileSync(path.join(FLOW, m, 'manifest.json'), 'utf8'));
  LOGS.push({ name: `logs/flow/${m}/${manifest.log}`, file: path.join(FLOW, m, manifest.log), capturedAt: manifest.capturedAt });
}

const spoolArgs = (c: (typeof CASES)[number]) => ['--mta', c.mta, ...c.spools.flatMap((s) => ['--spool', s])];
const firstLine = (out: string) => out.split('\n')[0];

describe('every default is a value its option parses', () => {
  for (const c of CHECKS) {
    it(`${c.name}: each default parses, each threshold row has a family, every family of a default has a WARNING and a CRITICAL row`, () => {
      const t = table(c);
      const rows = Object.entries(t).filter(([, s]) => s.thresholdDefault);
      expect(rows.length, `${c.name} has no default threshold`).toBeGreaterThan(0);
      for (const [name, s] of rows) {
        expect(s.family, `--${name}`).toBeDefined();
        expect(s.thresholdDefault!.why, `--${name}`).toMatch(/incident 00\d|incidents 00\d/);
        // The kind's own parser, exactly as a user's value: throws (UnknownError) on a bad default.
        expect(() => readOptions({ [name]: s }, { [name]: s.thresholdDefault!.value })).not.toThrow();
      }
      for (const [family, names] of thresholdFamilies(t)) {
        if (!names.some((n) => t[n].thresholdDefault)) continue;
        expect(names.filter((n) => /(^|-)warning$/.test(n)).length, `${c.name} family ${family}`).toBe(1);
        expect(names.filter((n) => /(^|-)critical$/.test(n)).length, `${c.name} family ${family}`).toBe(1);
      }
    });
  }

  it('--no-default-thresholds is one row of the shared table, a flag on by default', () => {
    expect(COMMON_TABLE['default-thresholds']).toMatchObject({ kind: 'flag', default: true });
  });
});

describe('the family rule', () => {
  const t = table(depthCheck);
  it('a family with any option given gets no default: -w alone, no default -c', () => {
    const { argv, defaulted } = withThresholdDefaults(t, { warning: '50000' });
    expect(argv.warning).toBe('50000');
    expect(argv.critical).toBeUndefined();
    expect(defaulted).toEqual([]);
    // The other families of a check keep theirs: check-spool-disk's -w alone leaves inodes and fill time defaulted.
    const disk = withThresholdDefaults(table(spoolDiskCheck), { warning: '95' });
    expect(disk.argv.warning).toBe('95');
    expect(disk.argv.critical).toBeUndefined();
    expect(disk.defaulted.sort()).toEqual(['fill-critical', 'fill-warning', 'inode-critical', 'inode-warning']);
  });
  it('depth has no default age (a healthy deferred queue holds mail for days): nothing filled in for it', () => {
    const { argv, defaulted } = withThresholdDefaults(t, {});
    expect(defaulted.sort()).toEqual(['critical', 'warning']);
    expect(argv['age-warning']).toBeUndefined();
  });
  it('--no-default-thresholds: nothing filled in', () => {
    expect(withThresholdDefaults(t, {}, true)).toEqual({ argv: {}, defaulted: [] });
  });

  it("a user's -w 50000 is never met by the default -c 5000: OK on a queue of 6,000 (and CRITICAL with the defaults)", async () => {
    // A Postfix queue of 6,000: the captured deferred file, hard-linked under 6,000 names.
    const c = CASES.find((x) => x.name === 'postfix')!;
    const spool = tempDir('defaults-6000-');
    for (const q of ['incoming', 'active', 'deferred', 'hold', 'maildrop', 'corrupt']) fs.mkdirSync(path.join(spool, q));
    const deferred = path.join(c.dir, 'spool', 'deferred');
    const sub = fs.readdirSync(deferred).sort()[0];
    const id = fs.readdirSync(path.join(deferred, sub)).sort()[0];
    const src = path.join(deferred, sub, id);
    for (let i = 0; i < 6000; i++) {
      const name = (0x10000000000 + i * 4099).toString(16).toUpperCase();
      const d = path.join(spool, 'deferred', name[0]);
      fs.mkdirSync(d, { recursive: true });
      fs.linkSync(src, path.join(d, name));
    }
    const args = ['--mta', 'postfix', '--spool', spool, '--count-only'];
    const own = await runSpec(depthCheck, [...args, '-w', '50000'], c.capturedAt + 60);
    expect(firstLine(own.out)).toMatch(/^MAILQ OK - 6,000 messages queued \(deferred 6,000\) \| total=6000;50000;;0/);
    expect(own.code).toBe(0);
    const defaults = await runSpec(depthCheck, args, c.capturedAt + 60);
    expect(firstLine(defaults.out)).toMatch(/^MAILQ CRITICAL - 6,000 messages queued .*\| total=6000;1000;5000;0/);
    expect(defaults.code).toBe(2);
    const none = await runSpec(depthCheck, [...args, '--no-default-thresholds'], c.capturedAt + 60);
    expect(firstLine(none.out)).toMatch(/^MAILQ OK - 6,000 messages queued .*\| total=6000;;;0/);
  });

  it('--count-only with the defaults is OK on a quiet capture; a given --age-warning is refused (no ages are read)', async () => {
    const c = CASES.find((x) => x.name === 'postfix')!;
    const r = await runSpec(depthCheck, [...spoolArgs(c), '--count-only'], c.capturedAt + 60);
    expect(r.code, r.out).toBe(0);
    const bad = await runSpec(depthCheck, [...spoolArgs(c), '--count-only', '--age-warning', '4h'], c.capturedAt + 60);
    expect(firstLine(bad.out)).toMatch(/^MAILQ UNKNOWN - --age-warning\/--age-critical need message ages/);
  });
});

describe('--help shows every default and ends with the incidents it catches', () => {
  for (const c of CHECKS) {
    it(c.name, async () => {
      const r = await runSpec(c, ['--help'], 1795432267);
      const help = r.out.replace(/\s+/g, ' ');
      for (const [name, s] of Object.entries(table(c)))
        if (s.thresholdDefault) expect(help, `--${name}`).toContain(`[default: ${s.thresholdDefault.value}; ${s.thresholdDefault.why}]`);
      expect(help).toContain('--default-thresholds');
      const incidents = c.incidents ?? [];
      expect(incidents.length, `${c.name} names no incident`).toBeGreaterThan(0);
      // The last lines (yargs wraps them at the terminal width): the heading, then each incident.
      const ws = (t: string) => t.replace(/\s+/g, ' ').trim();
      expect(ws(r.out).endsWith(ws(incidentLines(incidents).join('\n'))), r.out.slice(-600)).toBe(true);
      expect(r.out.trimEnd().split('\n').filter((l) => /^\S/.test(l)).at(-1)).toMatch(/^Incidents the default thresholds catch/);
      incidents.forEach((x) => {
        // The example gives no threshold: it is the defaults that catch the incident.
        expect(x.command).not.toMatch(/ (-w|-c|--[a-z-]*(warning|critical))\b/);
        expect(x.command.startsWith(`${c.name} `)).toBe(true);
      });
    });
  }
});

describe('no threshold options: OK on every quiet real capture', () => {
  it('there are captures of every MTA', () => {
    expect(new Set(CASES.map((c) => c.mta))).toEqual(new Set(['postfix', 'exim', 'sendmail', 'nullmailer', 'opensmtpd']));
    expect(LOGS.length).toBeGreaterThanOrEqual(CASES.length);
  });

  for (const c of CASES) {
    // A minute after the copy: the queue as the MTA left it (their ages are a minute or so).
    const now = c.capturedAt + 60;
    it(`${c.name}: check-mailq-depth, from the spool and from the MTA's own listing`, async () => {
      const r = await runSpec(depthCheck, [...spoolArgs(c), '--state-dir', tempDir('defaults-depth-')], now);
      expect(firstLine(r.out)).toMatch(/^MAILQ OK - /);
      expect(firstLine(r.out)).toMatch(/ total=\d+;1000;5000;0/);
      expect(r.code).toBe(0);
      if (!c.listingFiles.length) return;
      const l = await runSpec(depthCheck, [...spoolArgs(c), '--source', 'command', ...c.listingFiles.flatMap((f) => ['--listing-file', f]), '--no-cache'], now);
      expect(l.code, l.out).toBe(0);
    });

    it(`${c.name}: check-mailer-daemon`, async () => {
      const r = await runSpec(mailerDaemonCheck, [...spoolArgs(c), '--exact', '--no-cache'], now);
      expect(firstLine(r.out)).toMatch(/^MAILER-DAEMON OK - .*\| ratio=[\d.]+%;20;50;0;100/);
      expect(r.code).toBe(0);
    });

    it(`${c.name}: check-mailq-growth, eight runs a minute apart on the unchanged queue (a rate needs a queue-run cycle, 5m)`, async () => {
      const state = tempDir('defaults-growth-');
      let last = { out: '', code: -1 };
      for (let i = 0; i < 8; i++) {
        last = await runSpec(growthCheck, [...spoolArgs(c), '--state-dir', state], now + 60 * i);
        expect(last.code, last.out).toBe(0);
      }
      // Judged (a rate, not a baseline), against the defaults.
      expect(firstLine(last.out)).toMatch(/^MAILQ_GROWTH OK - queue steady [+-]?0(\.0+)?\/min .*\| rate=-?0;~:30;~:300/);
    });
  }

  for (const l of LOGS) {
    it(`${l.name}: check-maillog-flood, the whole capture as one minute's appendage`, async () => {
      // The capture's log, read whole by the run a minute after its first line would have been read
      // by the run before: a check every minute (the incident replays' schedule).
      const r = await runSpec(floodCheck, ['--log', l.file, '--from-start', '--state-dir', tempDir('defaults-flood-')], l.capturedAt + 60);
      expect(firstLine(r.out)).toMatch(/^MAILLOG_FLOOD OK - /);
      expect(firstLine(r.out)).toMatch(/ lines_per_min=[\d.]+;2000;10000;0 /);
      expect(r.code).toBe(0);
    });
  }

  // The spool on a filesystem of its own (a quiet spool filesystem: the capture and nothing else),
  // its log beside it; four runs a minute apart, nothing written in between.
  // Mounted when the first disk test runs (not when the file is collected: a filtered run leaves no mount).
  const skip = process.getuid?.() !== 0 ? 'not root: cannot mount a tmpfs' : '';
  let fsMount: ReturnType<typeof mountTmpfs> | undefined;
  const mounted = (): string => {
    fsMount ??= mountTmpfs(64);
    if ('skip' in fsMount) throw new Error(fsMount.skip);
    return fsMount.dir;
  };
  afterAll(() => {
    if (fsMount && 'dir' in fsMount) unmount(fsMount.dir);
  });
  for (const c of CASES) {
    it.skipIf(skip)(`${c.name}: check-spool-disk${skip ? ` (skipped: ${skip})` : ''}`, async () => {
      const root = path.join(mounted(), c.name);
      fs.mkdirSync(root);
      execFileSync('cp', ['-a', path.join(c.dir, 'spool'), path.join(root, 'spool')]);
      if (fs.existsSync(path.join(c.dir, 'log'))) execFileSync('cp', ['-a', path.join(c.dir, 'log'), path.join(root, 'log')]);
      else fs.mkdirSync(path.join(root, 'log'));
      const spools = c.spools.map((s) => path.join(root, 'spool', path.relative(path.join(c.dir, 'spool'), s)));
      const state = tempDir('defaults-disk-');
      let last = { out: '', code: -1 };
      for (let i = 0; i < 4; i++) {
        last = await runSpec(spoolDiskCheck, ['--mta', c.mta, ...spools.flatMap((s) => ['--spool', s]), '--path', path.join(root, 'log'), '--state-dir', state], c.capturedAt + 60 * (i + 1));
        expect(last.code, last.out).toBe(0);
      }
      expect(firstLine(last.out)).toMatch(/^SPOOL_DISK OK - .*\| used_pct=[\d.]+%;80;90;0;100 .*inodes_used_pct=[\d.]+%;80;90;0;100/);
    });
  }
});

// docs/default-thresholds.md: the table of every default, generated from the option tables and
// checked here (UPDATE_DEFAULTS_DOC=1 rewrites it), so the page cannot drift from the code.
const DOC = path.join(__dirname, '../../docs/default-thresholds.md');
const BEGIN = '<!-- defaults-table:begin (generated from the option tables; UPDATE_DEFAULTS_DOC=1 npx vitest run test/checks/defaults.test.ts) -->';
const END = '<!-- defaults-table:end -->';
function defaultsTable(): string {
  const rows = ['| check | option | default | family | from incident; what a quiet server shows |', '|---|---|---|---|---|'];
  for (const c of CHECKS)
    for (const [name, s] of Object.entries(table(c)))
      if (s.thresholdDefault) rows.push(`| ${c.name} | \`${s.alias ? `-${s.alias}, ` : ''}--${name}\` | \`${s.thresholdDefault.value}\` | ${s.family} | ${s.thresholdDefault.why.replace(/\|/g, '\\|')} |`);
  return rows.join('\n');
}

describe('docs/default-thresholds.md', () => {
  it(process.env.UPDATE_DEFAULTS_DOC === '1' ? 'rewrites the table' : 'holds the table of every default, as the option tables say', () => {
    let doc = fs.readFileSync(DOC, 'utf8');
    const i = doc.indexOf(BEGIN);
    const j = doc.indexOf(END);
    expect(i, `${DOC} has the begin marker`).toBeGreaterThanOrEqual(0);
    expect(j).toBeGreaterThan(i);
    if (process.env.UPDATE_DEFAULTS_DOC === '1') {
      doc = `${doc.slice(0, i + BEGIN.length)}\n${defaultsTable()}\n${doc.slice(j)}`;
      fs.writeFileSync(DOC, doc);
    }
    expect(doc.slice(doc.indexOf(BEGIN) + BEGIN.length, doc.indexOf(END)).trim()).toBe(defaultsTable());
  });

  it('each check page points to it and names its defaults', () => {
    for (const c of CHECKS) {
      const page = path.join(__dirname, `../../docs/${c.name}.md`);
      if (!fs.existsSync(page)) continue;
      const text = fs.readFileSync(page, 'utf8').replace(/\s+/g, ' ');
      expect(text, page).toContain('default-thresholds.md');
      for (const [name, s] of Object.entries(table(c)))
        if (s.thresholdDefault) {
          const forms = [`--${name} ${s.thresholdDefault.value}`, ...(s.alias ? [`-${s.alias} ${s.thresholdDefault.value}`] : [])];
          expect(forms.some((f) => text.includes(f)), `${page}: ${forms.join(' or ')}`).toBe(true);
        }
    }
  });
});
