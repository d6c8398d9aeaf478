// The option table: every option a check takes is one row (name -> kind and its few settings),
// declared to the parser and read back through the one parser of its kind, with one error line per
// kind. A check declares its options; it never validates an option's text by hand. What is left
// to a check's validate() is the rules between options (--exact and --sample contradict each other).
//
// Kinds (a new kind is one entry in KINDS):
//   range     Nagios range (10, 10:, ~:10, 10:20, @10:20)                      -> Range
//   duration  90, 90s, 15m, 12h, 2d, 1w (decimals allowed)                       -> seconds
//   size      4096, 500M, 2G, 1.5T (powers of 1024)                              -> bytes
//   count     a whole number from min to max                                     -> number
//   number    a decimal number from min to max (a rate)                          -> number
//   percent   a number from 0 to 100                                             -> number
//   enum      one of `choices`                                                   -> string
//   path      a file or directory name (not checked for existence here)          -> string
//   text      any text                                                           -> string
//   flag      a switch, with --no-NAME when its default is true                  -> boolean
// `list: true` makes an option repeatable (and, for enum/text, comma-separated values split): the
// value is then an array. Without it, an option given twice is an error (yargs would make an array
// that a check would silently read as NaN or as its first element).
// `threshold: 'above' | 'below'` turns a duration, size, count or percent into the Range that alerts
// above (an age: `--age-warning 30m`) or below (free space: `--free-warning 2G`) the value.
//
// Default thresholds (issue 18): a threshold row names its `family` (the WARNING/CRITICAL pair of one
// figure: depth's -w/-c, its --age-*; flood's --sender-*, ...) and may carry a `thresholdDefault`,
// typed as a user would type it and parsed by the same kind, with the incident it comes from. A
// family's defaults apply when no option of that family is on the command line (so `-w 1000` alone
// never meets a default -c 500), and none apply with --no-default-thresholds (withThresholdDefaults).

import type { Argv } from 'yargs';
import { compactDuration, parseDuration } from './duration.js';
import { UnknownError } from './errors.js';
import { parseRange, type Range } from './range.js';
import { formatBytes, parseSize } from './size.js';

export type OptionKind = 'range' | 'duration' | 'size' | 'count' | 'number' | 'percent' | 'enum' | 'path' | 'text' | 'flag';

export interface OptionSpec {
  kind: OptionKind;
  describe: string;
  alias?: string;
  /** As typed on a command line ('5', '15m'), or a boolean for a flag. */
  default?: string | boolean;
  hidden?: boolean;
  /** enum: the values allowed. */
  choices?: readonly string[];
  /** count, number, percent, duration (seconds) and size (bytes): the bounds (inclusive). count and
   *  number default to 0 .. Number.MAX_SAFE_INTEGER. */
  min?: number;
  max?: number;
  /** text: what each value must match, and the fix said when it does not. */
  pattern?: RegExp;
  hint?: string;
  /** Repeatable; the value is an array. */
  list?: boolean;
  /** A scalar kind read as a threshold: the Range that alerts above (or below) the value. */
  threshold?: 'above' | 'below';
  /** The value when the option is given bare (`--shape` = `--shape recipient`): the next argument is
   *  its value only when it does not look like an option. */
  implicit?: string;
  /** A threshold row: the family it belongs to (its WARNING and CRITICAL rows share one). */
  family?: string;
  /** The value used when no option of the family is given (see withThresholdDefaults). */
  thresholdDefault?: ThresholdDefault;
}

/** A default threshold, as typed on a command line, and where it comes from. */
export interface ThresholdDefault {
  value: string;
  /** One line for the mail admin: the incident it catches and what a quiet server shows. */
  why: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** `--age-warning` -> ageWarning, as a type. */
type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;
/** What one value of a row is once its kind parsed it. */
type ScalarOf<S extends OptionSpec> = S['kind'] extends 'flag'
  ? boolean
  : S extends { threshold: 'above' | 'below' }
    ? Range
    : S['kind'] extends 'range'
      ? Range
      : S['kind'] extends 'duration' | 'size' | 'count' | 'number' | 'percent'
        ? number
        : S extends { kind: 'enum'; choices: readonly (infer C)[] }
          ? C
          : string;
/** A list is an array (empty when not given), a flag a boolean, a row with a default always set. */
type ValueOf<S extends OptionSpec> = S extends { list: true }
  ? ScalarOf<S>[]
  : S['kind'] extends 'flag'
    ? boolean
    : S extends { default: string }
      ? ScalarOf<S>
      : ScalarOf<S> | undefined;
/** The options readOptions() hands a check for table T, typed: validate() reads them without casts.
 *  A table declared `as const satisfies OptionTable` keeps the literal kinds this needs. */
export type OptionValues<T extends OptionTable> = { -readonly [K in keyof T & string as Camel<K>]: ValueOf<T[K]> };
/** validate()'s argv: typed from a literal table; the bare record for a table typed only as OptionTable. */
export type ArgvOf<T extends OptionTable> = string extends keyof T ? Record<string, unknown> : OptionValues<T> & Record<string, unknown>;

interface Kind {
  /** How yargs is told to keep the value: always as text (the kind parses it), or a boolean. */
  type: 'string' | 'boolean';
  parse(text: string, flag: string, spec: OptionSpec): unknown;
}

const formatCount = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US') : 'any');

const KINDS: Record<OptionKind, Kind> = {
  range: { type: 'string', parse: (t, flag) => parseRange(t, flag) },
  duration: {
    type: 'string',
    parse(t, flag, s) {
      const v = parseDuration(t, flag)!;
      if (s.min !== undefined && v < s.min) throw new UnknownError(`invalid ${flag} '${t}'`, `give at least ${compactDuration(s.min)}`);
      if (s.max !== undefined && v > s.max) throw new UnknownError(`invalid ${flag} '${t}'`, `give at most ${compactDuration(s.max)}`);
      return v;
    },
  },
  size: {
    type: 'string',
    parse(t, flag, s) {
      const v = parseSize(t, flag)!;
      if (s.min !== undefined && v < s.min) throw new UnknownError(`invalid ${flag} '${t}'`, `give at least ${formatBytes(s.min)}`);
      if (s.max !== undefined && v > s.max) throw new UnknownError(`invalid ${flag} '${t}'`, `give at most ${formatBytes(s.max)}`);
      return v;
    },
  },
  count: { type: 'string', parse: (t, flag, s) => parseCount(t, flag, s.min ?? 0, s.max ?? Number.MAX_SAFE_INTEGER) },
  number: {
    type: 'string',
    parse(t, flag, s) {
      const min = s.min ?? 0;
      const max = s.max ?? Number.MAX_SAFE_INTEGER;
      const n = /^(\d+(?:\.\d+)?|\.\d+)$/.test(t) ? Number(t) : NaN;
      if (!Number.isFinite(n) || n < min || n > max) throw new UnknownError(`invalid ${flag} '${t}'`, `give a number from ${formatCount(min)} to ${formatCount(max)}`);
      return n;
    },
  },
  percent: {
    type: 'string',
    parse(t, flag, s) {
      const min = s.min ?? 0;
      const max = s.max ?? 100;
      const m = /^(\d+(?:\.\d+)?|\.\d+)%?$/.exec(t);
      const n = m ? Number(m[1]) : NaN;
      if (!Number.isFinite(n) || n < min || n > max) throw new UnknownError(`invalid ${flag} '${t}'`, `give a percentage from ${min} to ${max}`);
      return n;
    },
  },
  enum: {
    type: 'string',
    parse(t, flag, s) {
      const choices = s.choices ?? [];
      if (!choices.includes(t)) throw new UnknownError(`invalid ${flag} '${t}'`, `use one of: ${choices.join(', ')}`);
      return t;
    },
  },
  path: {
    type: 'string',
    parse(t, flag) {
      if (t.includes('\0')) throw new UnknownError(`invalid ${flag}: the path contains a NUL byte`, 'give a file or directory name');
      return t;
    },
  },
  text: {
    type: 'string',
    parse(t, flag, s) {
      if (s.pattern && !s.pattern.test(t)) throw new UnknownError(`invalid ${flag} '${t}'`, s.hint ?? `give a value matching ${s.pattern.source}`);
      return t;
    },
  },
  flag: { type: 'boolean', parse: (t) => t },
};

/** The count kind's parser, for an option that is a count or a word (`--sample N|auto`). */
export function parseCount(t: string, flag: string, min: number, max: number): number {
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UnknownError(`invalid ${flag} '${t}'`, `give a whole number from ${formatCount(min)} to ${formatCount(max)}`);
  return n;
}

/** Adds the table's options to the parser. */
export function declareOptions(y: Argv, table: OptionTable): Argv {
  for (const [name, s] of Object.entries(table)) {
    const kind = KINDS[s.kind];
    // Only the settings a row has: yargs reads a `default: undefined` key as a default of [undefined].
    y = y.option(name, {
      type: kind.type,
      describe: s.describe + describeTail(s),
      ...(s.alias !== undefined ? { alias: s.alias } : {}),
      ...(s.default !== undefined ? { default: s.default } : {}),
      ...(s.hidden ? { hidden: true } : {}),
      ...(s.list ? { array: true } : {}),
    });
  }
  return y;
}

function describeTail(s: OptionSpec): string {
  if (s.thresholdDefault) return ` [default: ${s.thresholdDefault.value}; ${s.thresholdDefault.why}]`;
  if (s.kind === 'enum' && s.choices) return ` (${s.choices.join('|')})`;
  if (s.list) return ' (repeatable)';
  return '';
}

/** The threshold families of a table: family -> its rows' names. */
export function thresholdFamilies(table: OptionTable): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, s] of Object.entries(table)) if (s.family) out.set(s.family, [...(out.get(s.family) ?? []), name]);
  return out;
}

/** What withThresholdDefaults filled in. */
export interface DefaultsApplied {
  /** The parsed argv, with the defaults of every family the user gave no option of. */
  argv: Record<string, unknown>;
  /** The options (kebab-case) whose value is a default. */
  defaulted: string[];
}

/**
 * The one place defaults apply: for each family of the table of which argv (parsed, camelCase keys)
 * holds no option, every row of it with a default gets that default, as text, for readOptions() to
 * parse like a user's value. `off` (--no-default-thresholds): nothing is filled in.
 */
export function withThresholdDefaults(table: OptionTable, argv: Record<string, unknown>, off = false): DefaultsApplied {
  const out = { ...argv };
  const defaulted: string[] = [];
  if (off) return { argv: out, defaulted };
  const given = (name: string) => (argv[camel(name)] ?? argv[name]) !== undefined;
  for (const names of thresholdFamilies(table).values()) {
    if (names.some(given)) continue;
    for (const name of names) {
      const d = table[name].thresholdDefault;
      if (!d) continue;
      out[camel(name)] = d.value;
      defaulted.push(name);
    }
  }
  return { argv: out, defaulted };
}

/** The camelCase key yargs gives `--age-warning`: ageWarning. */
export const camel = (name: string): string => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Every option of the table read from parsed argv, each through its kind's parser. Keys are camelCase. */
export function readOptions(table: OptionTable, argv: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(table)) out[camel(name)] = readOne(name, s, argv[camel(name)] ?? argv[name]);
  return out;
}

function readOne(name: string, s: OptionSpec, raw: unknown): unknown {
  const flag = `--${name}`;
  const kind = KINDS[s.kind];
  if (s.kind === 'flag') {
    if (Array.isArray(raw)) throw new UnknownError(`${flag} given more than once`, `give ${flag} once`);
    return raw === undefined ? Boolean(s.default) : Boolean(raw);
  }
  if (raw === undefined) return s.list ? [] : undefined;
  if (s.list) {
    const texts = (Array.isArray(raw) ? raw : [raw]).map(String);
    const parts = s.kind === 'enum' || s.kind === 'text' ? texts.flatMap((t) => t.split(',')) : texts;
    return parts.map((t) => t.trim()).filter((t) => t !== '').map((t) => asThreshold(kind.parse(t, flag, s), s));
  }
  if (Array.isArray(raw)) throw new UnknownError(`${flag} given more than once (${raw.map(String).join(', ')})`, `give ${flag} once`);
  const text = String(raw).trim();
  if (text === '') return s.implicit !== undefined ? kind.parse(s.implicit, flag, s) : undefined;
  return asThreshold(kind.parse(text, flag, s), s);
}

function asThreshold(v: unknown, s: OptionSpec): unknown {
  if (!s.threshold || typeof v !== 'number') return v;
  return s.threshold === 'above' ? aboveRange(v) : belowRange(v);
}

/** The Range that alerts above `value` (perfdata `value`). */
export function aboveRange(value: number): Range {
  return { text: String(value), start: 0, end: value, inside: false };
}

/** The Range that alerts below `value` (perfdata `value:`). */
export function belowRange(value: number): Range {
  return { text: `${value}:`, start: value, end: Infinity, inside: false };
}

/** The names (kebab-case, aliases, camelCase) of the table's options that take a value (not the
 *  ones whose value may be left out). */
export function valueNames(table: OptionTable): string[] {
  const out: string[] = [];
  for (const [name, s] of Object.entries(table)) {
    if (s.kind === 'flag' || s.implicit !== undefined) continue;
    out.push(name, camel(name));
    if (s.alias) out.push(s.alias);
  }
  return out;
}

/** The names (kebab-case and camelCase) of the table's options whose value may be left out. */
export function implicitNames(table: OptionTable): string[] {
  return Object.entries(table).flatMap(([name, s]) => (s.implicit !== undefined ? [name, camel(name)] : []));
}
