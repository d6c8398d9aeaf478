// The runner's contracts, run in-process with an injected argv, clock, output and exit.
import { describe, expect, it } from 'vitest';
import { runCheck, metric, valueArguments, type CheckSpec, type CommonOptions, type ExitHow, type ProcessHandlers, type RunContext } from '../../lib/plugin/check.js';
import { UnknownError } from '../../lib/plugin/errors.js';
import { State, thresholdState } from '../../lib/plugin/result.js';

interface Data {
  value: number;
  partial?: string;
}

function spec(collect: CheckSpec<{ n: number }, Data>['collect']): CheckSpec<{ n: number }, Data> {
  return {
    name: 'check-test',
    service: 'TEST',
    id: 'test_check',
    version: '1.2.3',
    description: 'a check for testing the runner',
    options: (y) => y.option('n', { type: 'string', default: '1' }),
    validate: (a) => {
      const n = Number(a.n);
      if (!Number.isFinite(n)) throw new UnknownError(`invalid --n '${String(a.n)}'`, 'give a number');
      return { n };
    },
    collect,
    evaluate: (d, _o, _now) => ({
      state: State.OK,
      summary: `value ${d.value}`,
      metrics: [metric('value', d.value)],
      details: ['detail | with a pipe'],
    }),
  };
}

/** A spec whose evaluation uses the common -w/-c ranges. */
function thresholdSpec(value: number): CheckSpec<{ n: number }, Data> {
  let common: CommonOptions | undefined;
  return {
    ...spec(async () => ({ value })),
    validate: (_a: Record<string, unknown>, c: CommonOptions) => ((common = c), { n: 0 }),
    evaluate: (d: Data) => {
      const st = thresholdState(d.value, common?.warning, common?.critical);
      return { state: st, summary: `value ${d.value}`, metrics: [metric('value', d.value)], details: [] };
    },
  };
}

async function run(
  s: CheckSpec<never, Data> | CheckSpec<{ n: number }, Data>,
  argv: string[],
  now = () => Date.now(),
  events?: (h: ProcessHandlers) => void,
) {
  let out = '';
  let err = '';
  let code: number | undefined;
  let how: ExitHow | undefined;
  let exits = 0;
  const ctx: RunContext = {
    argv,
    env: {},
    now,
    hostname: 'mx1.lab.example',
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    exit: (c, h) => {
      exits++;
      if (code === undefined) (code = c), (how = h);
    },
    processEvents: events,
  };
  const returned = await runCheck(s as CheckSpec<unknown, Data>, ctx);
  return { out, err, code, returned, how, exits };
}

const ok = spec(async () => ({ value: 42 }));

describe('runner', () => {
  it('renders nagios by default with exactly one pipe and exits 0', async () => {
    const r = await run(ok, []);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('TEST OK - value 42 | value=42');
    expect(r.out.split('|').length).toBe(2);
    expect(r.err).toBe('');
  });

  it('renders graphite lines with the short hostname scheme', async () => {
    const r = await run(ok, ['--format', 'graphite']);
    expect(r.out).toMatch(/^mx1\.mail\.test_check\.value 42 \d+\n$/);
  });

  it('renders one JSON object', async () => {
    const r = await run(ok, ['--format', 'json']);
    const o = JSON.parse(r.out);
    expect(o).toMatchObject({ status: 'OK', code: 0, summary: 'value 42' });
    expect(o.metrics[0]).toMatchObject({ label: 'value', value: 42 });
  });

  it.each([
    [['-w', '10:5'], "invalid warning range '10:5'"],
    [['-c', 'abc'], "invalid critical range 'abc'"],
    [['--bogus'], 'bogus'],
    [['--format', 'xml'], 'xml'],
    [['-t', '0'], "invalid timeout '0'"],
    [['-t', 'soon'], "invalid timeout 'soon'"],
    [['--n', 'x'], "invalid --n 'x'"],
    [['--scheme', 'a b'], "invalid scheme 'a b'"],
  ])('exits 3 naming the bad text for %j', async (argv, text) => {
    const r = await run(ok, argv);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^TEST UNKNOWN - /);
    expect(r.out).toContain(text);
    expect(r.out.trim().split('\n')).toHaveLength(1);
    expect(r.err).toBe('');
  });

  it('keeps exit 3 for bad options in graphite format too, and says it in a graphite line', async () => {
    const r = await run(ok, ['--format', 'graphite', '-w', 'nope', '--scheme', 'mx9.mail']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^mx9\.mail\.test_check\.state 3 \d+\n$/);
    // Before the parser has read --scheme: the scheme asked for, else the short hostname's.
    expect((await run(ok, ['--format', 'graphite', '--bogus'])).out).toMatch(/^mx1\.mail\.test_check\.state 3 \d+\n$/);
  });

  it('prints help and version and exits 0', async () => {
    const h = await run(ok, ['-h']);
    expect(h.code).toBe(0);
    expect(h.out).toContain('--warning');
    expect(h.out).toContain('--timeout');
    const v = await run(ok, ['-V']);
    expect(v.out).toBe('check-test 1.2.3\n');
  });

  it('turns an exception in collect into UNKNOWN with one line', async () => {
    const r = await run(
      spec(async () => {
        throw new Error('boom');
      }),
      [],
    );
    expect(r.code).toBe(3);
    expect(r.out.split('\n')[0]).toBe('TEST UNKNOWN - internal error: boom | ');
  });

  it('evaluates CRITICAL before WARNING through the command line', async () => {
    expect((await run(thresholdSpec(600), ['-w', '500', '-c', '5000'])).code).toBe(1);
    expect((await run(thresholdSpec(512_340), ['-w', '500', '-c', '5000'])).code).toBe(2);
    expect((await run(thresholdSpec(12), ['-w', '500', '-c', '5000'])).code).toBe(0);
  });

  it('reports a partial result as UNKNOWN when collect stops at the deadline', async () => {
    const s = spec(
      (_o, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => resolve({ value: 7, partial: 'scanned 7 files before the 0.5 s deadline' }));
        }),
    );
    const r = await run(s, ['-t', '0.5']);
    expect(r.code).toBe(3);
    // No numbers from a partial count: they would graph as a sudden drop.
    expect(r.out).toMatch(/^TEST UNKNOWN - incomplete: scanned 7 files before the 0.5 s deadline; value 7 \| \n/);
  });

  it('answers UNKNOWN at the hard deadline when collect ignores the signal, and exits as a cut run', async () => {
    const s = spec(() => new Promise(() => {}));
    const r = await run(s, ['-t', '0.3']);
    expect(r.code).toBe(3);
    expect(r.out).toContain('timed out after 0.3 s while collecting');
    // Something may be stuck in the kernel: the process exit must not wait for it (defaultContext's watchdog).
    expect(r.how).toEqual({ cut: true });
  });

  it('exits a run that finished in time as an ordinary one', async () => {
    const r = await run(ok, []);
    expect(r.how).toEqual({});
    expect(r.exits).toBe(1);
  });

  it('adds timing and collect notes with -v', async () => {
    const s = spec(async (_o, ctx) => {
      ctx.verbose('read 3 spools');
      return { value: 1 };
    });
    const quiet = await run(s, []);
    expect(quiet.out).not.toContain('read 3 spools');
    const loud = await run(s, ['-v']);
    expect(loud.out).toContain('read 3 spools');
    expect(loud.out).toMatch(/took \d+\.\d\d s/);
  });
});

describe('--graphite-send', () => {
  it('sends the graphite lines to a TCP listener and says so in the long output', async () => {
    const net = await import('node:net');
    let received = '';
    const server = net.createServer((sock) => sock.on('data', (d) => (received += d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await run(ok, ['--graphite-send', `127.0.0.1:${port}`]);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`graphite: sent 1 metric to 127.0.0.1:${port}`);
      await new Promise((res) => setTimeout(res, 50));
      expect(received).toMatch(/^mx1\.mail\.test_check\.value 42 \d+\n$/);
    } finally {
      server.close();
    }
  });

  it('never changes the state when carbon is down', async () => {
    const net = await import('node:net');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r)); // now nothing listens there
    const r = await run(ok, ['--graphite-send', `127.0.0.1:${port}`]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`graphite: not sent to 127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it.each(['localhost', '127.0.0.1:0', '127.0.0.1:70000', 'a b:1'])('rejects %j with exit 3', async (bad) => {
    const r = await run(ok, ['--graphite-send', bad]);
    expect(r.code).toBe(3);
    expect(r.out).toContain(`invalid --graphite-send '${bad}'`);
  });
});

describe('process events (SIGTERM, an uncaught exception)', () => {
  it.each([
    ['nagios', (o: string) => expect(o).toBe("TEST UNKNOWN - killed by SIGTERM (the scheduler's timeout is shorter than -t?) | \n")],
    ['json', (o: string) => expect(JSON.parse(o)).toMatchObject({ status: 'UNKNOWN', code: 3, summary: "killed by SIGTERM (the scheduler's timeout is shorter than -t?)", metrics: [] })],
    ['graphite', (o: string) => expect(o).toMatch(/^t\.mail\.test_check\.state 3 \d+\n$/)],
  ] as const)('SIGTERM is answered in --format %s, exit 3, as a cut run', async (format, check) => {
    let out = '';
    let code: number | undefined;
    let how: ExitHow | undefined;
    let handlers: ProcessHandlers | undefined;
    let started: () => void = () => undefined;
    const collecting = new Promise<void>((r) => (started = r));
    void runCheck(spec(() => (started(), new Promise(() => {}))) as CheckSpec<unknown, Data>, {
      argv: ['-t', '60', '--format', format, '--scheme', 't.mail'],
      env: {},
      now: () => Date.now(),
      hostname: 'mx1.lab.example',
      stdout: (s) => (out += s),
      stderr: () => undefined,
      exit: (c, h) => ((code = c), (how = h)),
      processEvents: (h) => (handlers = h),
    });
    await collecting;
    handlers!.signal('SIGTERM');
    check(out);
    expect(code).toBe(3);
    expect(how).toEqual({ cut: true });
  });

  it('an uncaught exception while collecting is UNKNOWN in the format asked for', async () => {
    let out = '';
    let handlers: ProcessHandlers | undefined;
    let started: () => void = () => undefined;
    const collecting = new Promise<void>((r) => (started = r));
    void runCheck(spec(() => (started(), new Promise(() => {}))) as CheckSpec<unknown, Data>, {
      argv: ['--format', 'json'],
      env: {},
      now: () => Date.now(),
      hostname: 'mx1.lab.example',
      stdout: (s) => (out += s),
      stderr: () => undefined,
      exit: () => undefined,
      processEvents: (h) => (handlers = h),
    });
    await collecting;
    handlers!.crash(new Error('thrown from a timer'));
    expect(JSON.parse(out)).toMatchObject({ status: 'UNKNOWN', code: 3, summary: 'internal error: thrown from a timer' });
  });

  it('after the answer, SIGTERM and exceptions print nothing more and exit with that answer', async () => {
    let out = '';
    const codes: number[] = [];
    let handlers: ProcessHandlers | undefined;
    let afterStarted: () => void = () => undefined;
    const inAfter = new Promise<void>((r) => (afterStarted = r));
    const s: CheckSpec<{ n: number }, Data & { afterOutput?: () => Promise<void> }> = {
      ...spec(async () => ({ value: 3 })),
      collect: async () => ({ value: 3, afterOutput: () => (afterStarted(), new Promise(() => {})) }),
      evaluate: () => ({ state: State.WARNING, summary: 'three', metrics: [], details: [] }),
    };
    void runCheck(s as CheckSpec<unknown, Data>, {
      argv: ['-t', '60'],
      env: {},
      now: () => Date.now(),
      hostname: 'mx1.lab.example',
      stdout: (x) => (out += x),
      stderr: () => undefined,
      exit: (c) => void codes.push(c),
      processEvents: (h) => (handlers = h),
    });
    await inAfter;
    expect(out).toBe('TEST WARNING - three | \n');
    handlers!.crash(new Error('late'));
    handlers!.signal('SIGTERM');
    expect(out).toBe('TEST WARNING - three | \n');
    expect(codes).toEqual([1]);
  });
});

describe('values that start with - (valueArguments)', () => {
  const takes = (n: string) => ['w', 'warning', 'c', 'critical', 't', 'spool'].includes(n);
  it.each([
    [['-w', '-10:10'], ['-w=-10:10']],
    [['-c', '-5:'], ['-c=-5:']],
    [['--warning', '-1'], ['--warning=-1']],
    [['--warning', '-.5:'], ['--warning=-.5:']],
    [['-w=-3'], ['-w=-3']],
    [['-w', '10', '-c', '-20:-10', '-v'], ['-w', '10', '-c=-20:-10', '-v']],
    [['-w', '~:10'], ['-w', '~:10']],
    [['--spool', '-'], ['--spool', '-']],
    [['-v', '-vv', '--', '-w'], ['-v', '-vv', '--', '-w']],
  ])('%j is read as %j', (argv, want) => {
    expect(valueArguments(argv, takes)).toEqual(want);
  });

  it.each([
    [['-w', '-v'], 'no value given to -w (the next argument, -v, is an option)'],
    [['--spool', '--warning', '5'], 'no value given to --spool (the next argument, --warning, is an option)'],
    [['-c'], 'no value given to -c'],
  ])('%j: says the value is missing', (argv, said) => {
    expect(() => valueArguments(argv, takes)).toThrow(said);
  });

  it('through the runner: -w -10:10 is the warning range (in the perfdata), not flags', async () => {
    const r = await run(thresholdSpec(42), ['-w', '-10:10', '-c', '-5:100']);
    expect(r.out).toMatch(/^TEST WARNING - value 42 \| value=42$/m);
    expect(r.code).toBe(1);
    const missing = await run(thresholdSpec(42), ['-w', '-v']);
    expect(missing.code).toBe(3);
    expect(missing.out).toMatch(/^TEST UNKNOWN - no value given to -w \(the next argument, -v, is an option\): give it one, or -w=VALUE for a value that starts with '-' \| \n$/);
  });
});
