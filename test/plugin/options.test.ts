// The option table (lib/plugin/options.ts): one parser and one error line per kind, read from the rows.
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { UnknownError } from '../../lib/plugin/errors.js';
import { declareOptions, readOptions, type OptionTable } from '../../lib/plugin/options.js';

const TABLE: OptionTable = {
  top: { kind: 'count', min: 0, max: 100, default: '5', describe: 'rows' },
  'age-warning': { kind: 'duration', threshold: 'above', describe: 'age' },
  'free-warning': { kind: 'size', threshold: 'below', describe: 'free' },
  window: { kind: 'duration', min: 120, default: '15m', describe: 'window' },
  share: { kind: 'percent', describe: 'share' },
  queue: { kind: 'enum', list: true, choices: ['active', 'deferred', 'hold'], describe: 'queues' },
  format2: { kind: 'enum', choices: ['a', 'b'], default: 'a', describe: 'enum' },
  spool: { kind: 'path', list: true, describe: 'spools' },
  'inode-warning': { kind: 'range', describe: 'range' },
  cache: { kind: 'flag', default: true, describe: 'flag' },
};

async function parse(argv: string[]): Promise<Record<string, unknown>> {
  const y = declareOptions(yargs(argv).exitProcess(false).strict().fail((m, e) => { throw e ?? new Error(m); }), TABLE);
  return readOptions(TABLE, (await y.parseAsync()) as Record<string, unknown>);
}

async function error(argv: string[]): Promise<string> {
  try {
    await parse(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UnknownError);
    return (err as UnknownError).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('option table', () => {
  it('defaults, as typed in the rows, come back parsed', async () => {
    const o = await parse([]);
    expect(o).toMatchObject({ top: 5, window: 900, queue: [], spool: [], cache: true, format2: 'a' });
    expect(o.ageWarning).toBeUndefined();
    expect(o.inodeWarning).toBeUndefined();
  });

  it('each kind parses its text', async () => {
    const o = await parse(['--top', '0', '--age-warning', '30m', '--free-warning', '2G', '--share', '12.5', '--queue', 'deferred,hold', '--queue', 'active', '--spool', '/a', '--spool', '/b', '--inode-warning', '~:80', '--no-cache', '--format2', 'b']);
    expect(o.top).toBe(0);
    expect(o.ageWarning).toEqual({ text: '1800', start: 0, end: 1800, inside: false });
    expect(o.freeWarning).toEqual({ text: '2147483648:', start: 2147483648, end: Infinity, inside: false });
    expect(o.share).toBe(12.5);
    expect(o.queue).toEqual(['deferred', 'hold', 'active']);
    expect(o.spool).toEqual(['/a', '/b']);
    expect(o.inodeWarning).toEqual({ text: '~:80', start: -Infinity, end: 80, inside: false });
    expect(o.cache).toBe(false);
    expect(o.format2).toBe('b');
  });

  // One error line per kind, naming the option and the text as given.
  it.each([
    [['--top', '0x2'], "invalid --top '0x2'"],
    [['--top', '101'], "invalid --top '101'"],
    [['--top', '1.5'], "invalid --top '1.5'"],
    [['--top', '-1'], "invalid --top '-1'"],
    [['--age-warning', 'soon'], "invalid --age-warning 'soon'"],
    [['--free-warning', '5X'], "invalid --free-warning '5X'"],
    [['--window', '1m'], "invalid --window '1m'"],
    [['--share', '101'], "invalid --share '101'"],
    [['--share', 'NaN'], "invalid --share 'NaN'"],
    [['--queue', 'bulk'], "invalid --queue 'bulk'"],
    [['--format2', 'c'], "invalid --format2 'c'"],
    [['--inode-warning', '90:80'], "invalid --inode-warning range '90:80'"],
    [['--top', '5', '--top', '6'], '--top given more than once (5, 6)'],
    [['--spool', 'a\0b'], 'invalid --spool: the path contains a NUL byte'],
  ])('%j: %s', async (argv, message) => {
    expect(await error(argv)).toBe(message);
  });

  it.each([
    [['--top', '0x2'], 'give a whole number from 0 to 100'],
    [['--window', '1m'], 'give at least 2m'],
    [['--queue', 'bulk'], 'use one of: active, deferred, hold'],
    [['--share', '101'], 'give a percentage from 0 to 100'],
  ])('%j: the fix is said with the error', async (argv, hint) => {
    await expect(parse(argv)).rejects.toMatchObject({ hint });
  });
});
