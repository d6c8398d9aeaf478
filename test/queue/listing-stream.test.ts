// Listings are streamed: the runner hands stdout on line by line, the parsers hand on each message
// as its entry ends, and the aggregation takes it at once. A listing of any size costs the memory of
// one line; at the deadline the process group dies and what was read so far is kept.
// No wall-clock assertions: only behaviour (killed, partial with a count, memory), so a loaded
// machine passes too.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exim } from '../../lib/mta/exim.js';
import { parseEximBp } from '../../lib/mta/exim-bp.js';
import { parsePostqueueJson, postfix } from '../../lib/mta/postfix.js';
import { parseMailq } from '../../lib/mta/sendmail-mailq.js';
import { sendmail } from '../../lib/mta/sendmail.js';
import type { MtaDriver, QueuedMessage } from '../../lib/mta/types.js';
import { UnknownError } from '../../lib/plugin/errors.js';
import { MAX_LINE_BYTES, STDERR_CAP, streamCommand, streamFile } from '../../lib/plugin/exec.js';
import { collectQueue, streamListings as readListing } from '../../lib/queue/source.js';
import { FIXTURE_ROOT } from '../helpers/fixtures.js';
import { built, cleanup, isRoot, NOBODY, runBinary, tmp } from '../hostile/harness.js';

afterAll(cleanup);

const GEN = path.join(__dirname, 'gen-listing.mjs');
const BIG_MB = Number(process.env.BIG_LISTING_MB ?? 200);
const RSS_LIMIT_KB = 150 * 1024;
const fixture = (f: string) => path.join(FIXTURE_ROOT, f);

/** Running, not a zombie (in a container nobody may reap a killed, orphaned grandchild). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function allGone(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 250 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 20));
  return pids.filter(alive);
}

function collect() {
  const lines: { line: string; truncated: boolean }[] = [];
  return { lines, onLine: (line: string, truncated: boolean) => lines.push({ line, truncated }) };
}

function fakeBin(dir: string, name: string, body: string): void {
  fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

async function withPath<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const old = process.env.PATH;
  process.env.PATH = `${dir}:${old}`;
  try {
    return await fn();
  } finally {
    process.env.PATH = old;
  }
}

/** A deadline as the check runner arms one: the signal aborts and `deadline` is when. */
function deadlineIn(ms: number) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  return { ctx: { signal: ac.signal, deadline: Date.now() + ms, now: () => Date.now(), timeout: ms / 1000 }, done: () => clearTimeout(timer) };
}

describe('streamCommand', () => {
  it('hands on lines split across chunks, a last line without newline included', async () => {
    const c = collect();
    const script = "const w=(s)=>process.stdout.write(s);w('al');setTimeout(()=>w('pha\\nbe'),30);setTimeout(()=>w('ta\\n\\ngam'),60);setTimeout(()=>w('ma'),90)";
    const r = await streamCommand(process.execPath, ['-e', script], { onLine: c.onLine });
    expect(r).toMatchObject({ failed: false, timedOut: false, exitCode: 0, lines: 4, truncatedLines: 0 });
    expect(c.lines.map((l) => l.line)).toEqual(['alpha', 'beta', '', 'gamma']);
  });

  it('cuts an overlong line at the cap, flags it, and goes on with the next', async () => {
    const c = collect();
    const r = await streamCommand(process.execPath, ['-e', "process.stdout.write('x'.repeat(3 << 20) + '\\nafter\\n')"], { onLine: c.onLine });
    expect(r.truncatedLines).toBe(1);
    expect(c.lines).toHaveLength(2);
    expect(c.lines[0].truncated).toBe(true);
    expect(c.lines[0].line.length).toBe(MAX_LINE_BYTES);
    expect(c.lines[1]).toEqual({ line: 'after', truncated: false });
  });

  it('keeps only the first bytes of stderr, and reports the exit code', async () => {
    const r = await streamCommand(process.execPath, ['-e', "process.stderr.write('e'.repeat(100000)); process.exitCode = 3"], { onLine: () => {} });
    expect(r.stderr).toBe('e'.repeat(STDERR_CAP));
    expect(r).toMatchObject({ exitCode: 3, failed: true, timedOut: false });
    expect(r.message).toMatch(/exit code 3/);
  });

  it('decodes each line as UTF-8 when valid, else latin1, by default; utf8 or latin1 on request', async () => {
    const script = "process.stdout.write(Buffer.from([0x61, 0xc3, 0xa9, 0x0a, 0xe9, 0x0a]))";
    const t = collect();
    await streamCommand(process.execPath, ['-e', script], { onLine: t.onLine });
    const u = collect();
    await streamCommand(process.execPath, ['-e', script], { onLine: u.onLine, encoding: 'utf8' });
    const l = collect();
    await streamCommand(process.execPath, ['-e', script], { onLine: l.onLine, encoding: 'latin1' });
    expect(t.lines.map((x) => x.line)).toEqual(['aé', 'é']);
    expect(u.lines.map((x) => x.line)).toEqual(['aé', '\ufffd']);
    expect(l.lines.map((x) => x.line)).toEqual(['a\u00c3\u00a9', '\u00e9']);
  });

  it('reports a missing program as ENOENT', async () => {
    const r = await streamCommand('/nonexistent/postqueue', ['-j'], { onLine: () => {} });
    expect(r).toMatchObject({ failed: true, timedOut: false, code: 'ENOENT', lines: 0 });
  });

  it('a child that never ends: at the deadline the whole group is killed, with the lines read so far', async () => {
    const c = collect();
    // Prints its own pid and a grandchild's, then lines forever.
    const r = await streamCommand('sh', ['-c', 'echo $$; sleep 300 & echo $!; exec yes queued-line'], { onLine: c.onLine, timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.failed).toBe(true);
    expect(r.message).toMatch(/stopped at the deadline/);
    expect(r.lines).toBeGreaterThan(2);
    expect(c.lines.length).toBe(r.lines);
    expect(c.lines.slice(2).every((l) => l.line === 'queued-line')).toBe(true);
    const pids = c.lines.slice(0, 2).map((l) => Number(l.line));
    expect(pids.every((p) => p > 1)).toBe(true);
    expect(await allGone(pids)).toEqual([]);
  });

  it('the abort signal stops it the same way', async () => {
    const ac = new AbortController();
    const c = collect();
    const p = streamCommand('sh', ['-c', 'echo $$; sleep 300 & echo $!; exec yes x'], {
      onLine: (line, t) => {
        c.onLine(line, t);
        if (c.lines.length === 1000) ac.abort();
      },
      signal: ac.signal,
    });
    const r = await p;
    expect(r.timedOut).toBe(true);
    expect(r.lines).toBeGreaterThanOrEqual(1000);
    expect(await allGone(c.lines.slice(0, 2).map((l) => Number(l.line)))).toEqual([]);
  });

  it('a line handler that throws stops the read, kills the child and rejects', async () => {
    let pid = 0;
    const p = streamCommand('sh', ['-c', 'echo $$; exec yes x'], {
      onLine: (line) => {
        if (!pid) pid = Number(line);
        else throw new Error('parser bug');
      },
    });
    await expect(p).rejects.toThrow('parser bug');
    expect(await allGone([pid])).toEqual([]);
  });
});

describe('streamFile', () => {
  it('reads a file as lines (latin1 as recorded listings are)', async () => {
    const c = collect();
    const r = await streamFile(fixture('exim/listing/exim-bp.txt'), { onLine: c.onLine, encoding: 'latin1' });
    const text = fs.readFileSync(fixture('exim/listing/exim-bp.txt'), 'latin1');
    expect(r).toMatchObject({ failed: false, timedOut: false, bytes: text.length });
    expect(c.lines.map((l) => l.line)).toEqual(text.replace(/\n$/, '').split('\n'));
  });

  it('an infinite deadline is none (setTimeout would fire at once)', async () => {
    const r = await streamFile(fixture('exim/listing/exim-bp.txt'), { onLine: () => {}, timeoutMs: Infinity });
    expect(r).toMatchObject({ failed: false, timedOut: false });
    expect(r.lines).toBeGreaterThan(0);
  });

  it('rejects with the fs error code', async () => {
    await expect(streamFile('/nonexistent/listing', { onLine: () => {} })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(streamFile(FIXTURE_ROOT, { onLine: () => {} })).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('stops at the deadline on a pipe that never ends', async () => {
    const fifo = path.join(tmp('stream-fifo-'), 'listing');
    await new Promise((r) => spawn('mkfifo', [fifo]).on('close', r));
    // The shell writes a first line the moment the FIFO opens (no node start-up to wait for on a
    // loaded machine), then node writes lines forever.
    const writer = spawn('sh', ['-c', `exec > '${fifo}'; echo first; exec '${process.execPath}' '${GEN}' postfix forever`], { stdio: 'ignore' });
    try {
      const r = await streamFile(fifo, { onLine: () => {}, timeoutMs: 500 });
      expect(r.timedOut).toBe(true);
      expect(r.lines).toBeGreaterThan(0);
    } finally {
      writer.kill('SIGKILL');
    }
  });
});

describe('readListing / collectQueue stream the listing into the aggregation', () => {
  const bin = tmp('stream-bin-');
  const pids = path.join(bin, 'pids');
  // A first message printed by the shell itself, so the deadline finds one read however slowly node
  // starts on a loaded machine; then node's messages forever.
  const FIRST = '{"queue_name": "deferred", "queue_id": "4F1C21A0B2", "arrival_time": 1795432267, "message_size": 1894, "forced_expire": false, "sender": "app@qa.example", "recipients": [{"address": "qanotify@lab.example"}]}';
  fakeBin(bin, 'postqueue', `echo $$ >> ${pids}; echo '${FIRST}'; exec ${process.execPath} ${GEN} postfix forever`);

  it('a listing that never ends: partial, with the messages read before the deadline', async () => {
    const { ctx, done } = deadlineIn(1500);
    let seen = 0;
    try {
      const r = await withPath(bin, () => readListing(postfix, ['/var/spool/postfix'], () => seen++, ctx));
      expect(r.partial).toBe("'postqueue -j' did not finish before the deadline");
      expect(r.messages).toBeGreaterThan(0);
      expect(seen).toBe(r.messages);
    } finally {
      done();
    }
    expect(await allGone(fs.readFileSync(pids, 'utf8').trim().split('\n').map(Number))).toEqual([]);
  });

  it('collectQueue keeps the summary of what was read (counts as lower bounds)', async () => {
    const { ctx, done } = deadlineIn(1500);
    try {
      const q = await withPath(bin, () => collectQueue({ mta: 'postfix', source: 'command', countOnly: false }, ctx));
      expect(q.partial).toBe("'postqueue -j' did not finish before the deadline");
      expect(q.summary.total).toBeGreaterThan(0);
      expect(q.files).toBe(q.summary.total);
      expect(Object.values(q.summary.byQueue).reduce((a, b) => a + b, 0)).toBe(q.summary.total);
      expect(q.summary.recipients).toBeGreaterThan(0);
    } finally {
      done();
    }
  });

  const listingOf = async (driver: MtaDriver, scripts: Record<string, string>, listingFiles?: string[]) => {
    const dir = tmp('stream-bin-');
    for (const [name, body] of Object.entries(scripts)) fakeBin(dir, name, body);
    const { ctx, done } = deadlineIn(60_000);
    const got: QueuedMessage[] = [];
    try {
      const r = await withPath(dir, () => readListing(driver, [], (m) => got.push(m), { ...ctx, listingFiles }));
      return { ...r, got };
    } finally {
      done();
    }
  };
  const cat = (f: string) => `cat '${fixture(f)}'`;

  it('the messages are those of the whole-output parser, in order', async () => {
    const r = await listingOf(postfix, { postqueue: cat('postfix/listing/postqueue-j.txt') });
    expect(r.got).toEqual(parsePostqueueJson(fs.readFileSync(fixture('postfix/listing/postqueue-j.txt'), 'utf8')));
    expect(r.partial).toBeUndefined();
  });

  it('a fatal line after some messages is still UNKNOWN', async () => {
    const p = listingOf(postfix, { postqueue: `${cat('postfix/listing/postqueue-j.txt')}; echo 'postqueue: fatal: Queue report unavailable - mail system is down'` });
    await expect(p).rejects.toThrow(UnknownError);
    await expect(p).rejects.toThrow(/printed no queue listing: postqueue: fatal: Queue report unavailable/);
  });

  it('output that is no listing is UNKNOWN describing it (never quoting it); "is empty" is an empty queue', async () => {
    await expect(listingOf(exim, { exim: "printf '\\n  \\n  LOG: MAIN PANIC DIE  \\nmore\\n'", exim4: 'exit 1' })).rejects.toThrow(/printed no queue listing \(33 bytes in 4 lines, text; not quoted\)$/);
    const empty = await listingOf(postfix, { postqueue: "echo 'Mail queue is empty'" });
    expect(empty).toMatchObject({ messages: 0, partial: undefined });
  });

  it('an optional listing (mailq -qQ) that fails after printing messages adds none of them', async () => {
    const plain = fs.readFileSync(fixture('sendmail/listing/mailq.txt'), 'latin1');
    const held = fs.readFileSync(fixture('sendmail/listing/mailq-qQ.txt'), 'latin1');
    const script = (tail: string) => `case "$1" in -qQ) ${cat('sendmail/listing/mailq-qQ.txt')}; ${tail};; *) ${cat('sendmail/listing/mailq.txt')};; esac`;
    const ok = await listingOf(sendmail, { mailq: script('exit 0') });
    const idQueue = (ms: QueuedMessage[]) => ms.map((m) => `${m.queue}/${m.id}`);
    expect(idQueue(ok.got)).toEqual(idQueue([...parseMailq(plain), ...parseMailq(held, { label: 'quarantine' })]));
    expect(ok.got.filter((m) => m.queue === 'quarantine')).toHaveLength(2);
    const fatal = await listingOf(sendmail, { mailq: script("echo 'mailq: fatal: no quarantine'") });
    expect(fatal.got.map((m) => m.id)).toEqual(parseMailq(plain).map((m) => m.id));
    const failed = await listingOf(sendmail, { mailq: script('exit 78') });
    expect(failed.messages).toBe(parseMailq(plain).length);
  });

  it('--listing-file is streamed through the same rules', async () => {
    const f = fixture('exim/listing/exim-bp.txt');
    const r = await listingOf(exim, {}, [f]);
    expect(r.got.map((m) => m.id)).toEqual(parseEximBp(fs.readFileSync(f, 'latin1')).map((m) => m.id));
    await expect(listingOf(exim, {}, ['/nonexistent/exim-bp.txt'])).rejects.toThrow(/cannot read listing file \/nonexistent\/exim-bp.txt \(ENOENT\)/);
    await expect(listingOf(exim, {}, [FIXTURE_ROOT])).rejects.toThrow(/\(EISDIR\)/);
    // Listing files for other labels only: this listing printed nothing.
    expect(await listingOf(exim, {}, [`quarantine=${f}`])).toMatchObject({ messages: 0 });
  });
});

// ---------------------------------------------------------------------------------------------
// The built check, as a real process, on a ~200 MB listing: peak RSS from the kernel (VmHWM).

describe(`check-mailq-depth --source command on a ${BIG_MB} MB listing`, () => {
  const dir = tmp('stream-big-');
  const hwmFile = path.join(dir, 'hwm');
  const preload = path.join(dir, 'hwm.mjs');
  fs.writeFileSync(
    preload,
    `import fs from 'node:fs';
if (/check-mailq-depth\\.js$/.test(process.argv[1] ?? '')) process.on('exit', () => {
  const m = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  fs.writeFileSync(${JSON.stringify(hwmFile)}, m ? m[1] : '');
});
`,
  );
  // Run as nobody when the suite runs as root: a root run takes programs only from the system
  // directories and refuses --listing-file (lib/plugin/privilege.ts). So every dir it writes is open.
  fs.chmodSync(dir, 0o777);
  const open = (prefix: string) => {
    const d = tmp(prefix);
    fs.chmodSync(d, 0o777);
    return d;
  };
  const run = async (mta: string, scripts: Record<string, string>, argv: string[]) => {
    const bin = open('stream-big-bin-');
    for (const [name, body] of Object.entries(scripts)) fakeBin(bin, name, body);
    fs.chmodSync(bin, 0o755);
    fs.rmSync(hwmFile, { force: true });
    const a = await runBinary('check-mailq-depth', ['--mta', mta, '--source', 'command', '--format', 'json', ...argv], {
      uid: isRoot ? NOBODY : undefined,
      env: { PATH: `${bin}:${process.env.PATH}`, NODE_OPTIONS: `--import=${preload}` },
    });
    const hwm = Number(fs.readFileSync(hwmFile, 'utf8'));
    expect(hwm, a.out).toBeGreaterThan(0);
    return { a, hwm };
  };
  const total = (a: { json?: { metrics: { label: string; value: number }[] } }) => a.json?.metrics.find((m) => m.label === 'total')?.value;

  it.each([
    ['postfix', 'postqueue -j', { postqueue: 'postfix' }],
    ['exim', 'exim -bp', { exim: 'exim', exim4: 'exim' }],
    ['sendmail', 'mailq', { mailq: 'sendmail' }],
  ] as const)(
    '%s (%s from a child process): every message counted, peak RSS under 150 MB',
    async (mta, _cmd, programs) => {
      built();
      const count = path.join(open('stream-count-'), 'n');
      const scripts = Object.fromEntries(
        Object.entries(programs).map(([name, kind]) => [name, `case "$1" in -qQ) exit 0;; esac; exec ${process.execPath} ${GEN} ${kind} ${BIG_MB} ${count}`]),
      );
      const { a, hwm } = await run(mta, scripts, ['-t', '3600']);
      expect(total(a), a.out).toBe(Number(fs.readFileSync(count, 'utf8')));
      expect(hwm).toBeLessThan(RSS_LIMIT_KB);
    },
    900_000,
  );

  it('postfix via --listing-file, a pipe (the file is streamed, never read whole): every message counted, peak RSS under 150 MB', async () => {
    built();
    const d = open('stream-fifo-');
    const fifo = path.join(d, 'postqueue-j');
    const count = path.join(d, 'n');
    await new Promise((r) => spawn('mkfifo', [fifo]).on('close', r));
    // The shell's open blocks until the check opens the pipe to read; EOF when the generator is done.
    const writer = spawn('sh', ['-c', `exec '${process.execPath}' '${GEN}' postfix ${BIG_MB} '${count}' > '${fifo}'`], { stdio: 'ignore' });
    try {
      const { a, hwm } = await run('postfix', {}, ['--listing-file', fifo, '-t', '3600']);
      expect(total(a), a.out).toBe(Number(fs.readFileSync(count, 'utf8')));
      expect(hwm).toBeLessThan(RSS_LIMIT_KB);
    } finally {
      writer.kill('SIGKILL');
    }
  }, 900_000);

  it('a listing that never ends: stopped at -t 2 with its process group, memory still bounded', async () => {
    built();
    const pids = path.join(open('stream-big-pids-'), 'pids');
    const { a, hwm } = await run('postfix', { postqueue: `sleep 300 & echo $! >> ${pids}; echo $$ >> ${pids}; exec ${process.execPath} ${GEN} postfix forever` }, ['-t', '2']);
    expect(a.out).toMatch(/'postqueue -j' did not finish before the deadline/);
    expect(hwm).toBeLessThan(RSS_LIMIT_KB);
    const started = fs.readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    expect(started).toHaveLength(2);
    expect(await allGone(started)).toEqual([]);
  }, 120_000);
});
