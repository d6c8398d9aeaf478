// Text from the outside world (queue files, listings, logs) on its way in and on its way out.
//
// In: bytes are decoded as UTF-8 when they are valid UTF-8 (SMTPUTF8 addresses: jörg@example.de),
// as latin1 otherwise (one character per byte: any byte sequence decodes, nothing is lost, and the
// parsers' byte offsets stay right). Every reader follows this one rule.
//
// Out: every string a renderer writes goes through outputText():
// - C0 controls (but tab) and DEL, C1 controls (U+0080-U+009F: 8-bit CSI, NEL), the bidi controls
//   (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, U+200E/U+200F/U+061C marks) and
//   lone surrogates become '?', and so do the invisible ones (soft hyphen, U+180E, zero-width space,
//   non-joiner and joiner U+200B-U+200D, word joiner and invisible operators U+2060-U+2064, BOM U+FEFF,
//   interlinear annotation U+FFF9-U+FFFB, tag characters U+E0000-U+E007F that can smuggle ASCII).
//   Shown, not deleted: deleting would let "ad\u202Emin" or "ad\u200Bmin" pass for "admin".
// - CR, LF, U+2028 and U+2029 become a space: an output line is one line for every reader.
// - A name (a run of characters without white space: an address, a host, a path) longer than
//   MAX_NAME characters is cut to its first characters plus "…(N chars)": a 100 KB sender costs
//   200 characters of line one, not 100 KB.
// - A whole line (a summary, one long-output line) longer than MAX_LINE characters is cut the same
//   way, for names with spaces in them.

import { isUtf8 } from 'node:buffer';

/** Longest name shown whole, in characters (code points). */
export const MAX_NAME = 200;
/** Longest summary or long-output line, in characters (code points). */
export const MAX_LINE = 2000;

/** buf[start, end) as text: UTF-8 when valid, else latin1. */
export function decodeBytes(buf: Buffer, start = 0, end = buf.length): string {
  const sub = buf.subarray(start, end);
  return isUtf8(sub) ? sub.toString('utf8') : sub.toString('latin1');
}

// eslint-disable-next-line no-control-regex
const HIGH_BYTE = /[\x80-\xff]/;
const NOT_A_BYTE = /[^\x00-\xff]/;

/**
 * A field a parser cut out of latin1-decoded bytes (one character per byte), as the text those bytes
 * are: decoded as UTF-8 when they are valid UTF-8, else left as latin1. ASCII comes back as it is.
 */
export function fromBytes(latin1: string): string {
  if (!HIGH_BYTE.test(latin1) || NOT_A_BYTE.test(latin1)) return latin1;
  const b = Buffer.from(latin1, 'latin1');
  return isUtf8(b) ? b.toString('utf8') : latin1;
}

const UNSAFE =
  // eslint-disable-next-line no-control-regex
  /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\xad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// NEL (U+0085) is a C1 control that some readers take for a line end: it is a break like the others.
const BREAKS = /[\r\n\x85\u2028\u2029]+/g;

/** Controls and bidi characters replaced, line breaks made spaces (no cutting). */
export function cleanText(s: string): string {
  return s.replace(BREAKS, ' ').replace(UNSAFE, '?');
}

/** s cut to `max` code points: the first ones, then "…(N chars)"; as it is when it fits. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s; // UTF-16 units >= code points
  const cps = Array.from(s);
  if (cps.length <= max) return s;
  const tail = `…(${cps.length} chars)`;
  return cps.slice(0, max - tail.length).join('') + tail;
}

const LONG_NAME = new RegExp(`\\S{${MAX_NAME + 1},}`, 'gu');

/** Closing punctuation after a name ("'…':", "…),"): kept after the cut, not counted in it. */
const CLOSING = /[)\]}>'",;:.!?]{1,8}$/u;

/** Every name (run without white space) longer than MAX_NAME cut; the rest unchanged. */
export function capNames(s: string): string {
  if (s.length <= MAX_NAME) return s;
  return s.replace(LONG_NAME, (w) => {
    const tail = CLOSING.exec(w)?.[0] ?? '';
    return clip(w.slice(0, w.length - tail.length), MAX_NAME - tail.length) + tail;
  });
}

/** What every renderer writes for a piece of text: cleaned, long names cut, the line capped. */
export function outputText(s: string): string {
  return clip(capNames(cleanText(s)), MAX_LINE);
}

/** JSON.stringify replacer: every string, keys included, through outputText (after toJSON). */
export function outputReplacer(_key: string, v: unknown): unknown {
  if (typeof v === 'string') return outputText(v);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const keys = Object.keys(v);
  if (keys.every((k) => outputText(k) === k)) return v;
  const out: Record<string, unknown> = {};
  for (const k of keys) out[outputText(k)] = (v as Record<string, unknown>)[k];
  return out;
}

/**
 * What an error line says about input it could not parse, instead of quoting it (the input may be
 * a file the caller could not read itself): how big it is and whether it looks like text.
 */
export function describeUnparsed(o: { bytes: number; lines: number; binary: boolean }): string {
  // Grouped by hand: Intl (toLocaleString) costs more to start than many a whole run.
  const plural = (n: number, w: string) => `${String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')} ${w}${n === 1 ? '' : 's'}`;
  return `${plural(o.bytes, 'byte')} in ${plural(o.lines, 'line')}, ${o.binary ? 'looks binary' : 'text'}; not quoted`;
}

/** A line for a binary/text guess: NUL or most characters outside printable text. */
export function looksBinary(line: string): boolean {
  if (line.includes('\0')) return true;
  let odd = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if ((c < 32 && c !== 9) || (c >= 0x7f && c < 0xa0) || c === 0xfffd) odd++;
  }
  return odd * 10 > line.length;
}
