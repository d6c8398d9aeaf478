// A line's template: what stays the same when the same code path logs again. Numbers, queue IDs,
// PIDs, addresses and IPs become placeholders, so a scanner printing one bogus error in a tight loop
// (incident 003) is one template with a huge count:
//   Feb 12 10:21:07 mx3 clamd[2212]: ERROR: accept() failed: Loaded 362916 signatures.
//   -> clamd[<n>]: ERROR: accept() failed: Loaded <n> signatures.
// The line is cut into words at spaces and punctuation ( , ; ( ) [ ] = " ' { } ); each word is
//   with '@' (an address, <app@qa.example>)          -> <addr>   (the null sender <> stays <>)
//   digits and . : / - + only, 3 dots (IPv4)          -> <ip>
//   digits and . : / - + only (counts, times, sizes)  -> <n>
//   hex digits and ':' with 2+ colons (IPv6)          -> <ip>
//   any other word with a digit (IDs, hostnames)      -> <id>
//   10+ hex letters without a digit                   -> <id>
// and the first word of the message, when it is a queue ID ("10295164182:", "1xVRxS-0002CF-23"),
// is <qid>. Control bytes become '?'. A trailing ':' of a replaced word is kept.
//
// Speed matters (every line of a flood goes through here): the template is written as bytes into
// one reused buffer and identified by a 52-bit hash of those bytes; the string is only made the
// first time a template is seen (TemplateCounter).

import { Format, type Header } from './syslog.js';

export const MAX_TEMPLATE = 240;

const DELIM = 1;
const DIGIT = 2;
const AT = 4;
const CTRL = 8;
const NOTNUM = 16; // not a digit nor . : / - +
const NOTHEX = 32; // not a hex digit nor ':'
const ALNUM = 64;
const COLONCH = 128;

const CLASS = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const digit = c >= 48 && c <= 57;
  const hex = digit || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
  const numPunct = c === 46 || c === 58 || c === 47 || c === 45 || c === 43;
  if (c < 32 || c === 127) CLASS[c] |= CTRL;
  if (digit) CLASS[c] |= DIGIT;
  if (!digit && !numPunct) CLASS[c] |= NOTNUM;
  if (!hex && c !== 58) CLASS[c] |= NOTHEX;
  if (digit || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) CLASS[c] |= ALNUM;
}
for (const ch of ' \t,;()[]="\'{}') CLASS[ch.charCodeAt(0)] = DELIM;
CLASS[64] |= AT;
CLASS[58] |= COLONCH;

const bytes = (s: string) => Buffer.from(s, 'latin1');
const ADDR = bytes('<addr>');
const NUM = bytes('<n>');
const IP = bytes('<ip>');
const ID = bytes('<id>');
const QID = bytes('<qid>');
const PID = bytes('[<n>]');

/** The template of the last line given to buildTemplate(): bytes OUT[0, length), and its hash. */
export const OUT = Buffer.allocUnsafe(MAX_TEMPLATE + 64);
/** length -1: hashTemplate() set the hash, OUT does not hold the template. */
export const last = { length: 0, h1: 0, h2: 0 };

function putBytes(src: Buffer, o: number): number {
  for (let i = 0; i < src.length && o < MAX_TEMPLATE; i++) OUT[o++] = src[i];
  return o;
}

/**
 * Length of a queue ID at i followed by ':' or ' ' (Postfix 10295164182 / 4jY3D06MmczBynC,
 * Sendmail 6ANBC1gu011657, Exim 1xVRxS-0002CF-23 and 4.97's longer form), else 0.
 */
export function queueIdLength(b: Buffer, i: number, end: number): number {
  let j = i;
  let digit = false;
  const stop = Math.min(end, i + 32);
  while (j < stop) {
    const k = CLASS[b[j]];
    if (k & ALNUM) {
      if (k & DIGIT) digit = true;
    } else if (b[j] !== 45) break;
    j++;
  }
  const n = j - i;
  if (n < 6 || !digit || j >= end) return 0;
  if (b[j] === 58) return n;
  if (b[j] === 32 && b[i + 6] === 45) return n; // only Exim IDs stand before a space
  return 0;
}

// What a word that is replaced becomes: a placeholder and the byte kept after it (a sentence's '.' or
// ':'), packed as placeholder * 256 + byte; COPY_MASKED: the word stays, its control bytes as '?'.
const PLACEHOLDERS = [ADDR, NUM, IP, ID];
const P_ADDR = 0;
const P_NUM = 1;
const P_IP = 2;
const P_ID = 3;
const COPY_MASKED = -1;

/** The rule for a word b[s, e) that has a digit, an '@', a control byte or 10+ hex letters. */
function wordCode(b: Buffer, s: number, e: number, flags: number): number {
  const last = b[e - 1];
  if (flags & AT) return P_ADDR * 256 + (last === 58 ? 58 : 0);
  if (flags & DIGIT) {
    if (!(flags & NOTNUM)) {
      // A number, time, size, version or IPv4; keep a sentence's trailing '.' or ':'.
      let dots = 0;
      for (let j = s; j < e; j++) if (b[j] === 46) dots++;
      const trail = (last === 46 || last === 58) && e - s > 1 ? last : 0;
      return (dots === 3 || (dots === 4 && trail === 46) ? P_IP : P_NUM) * 256 + trail;
    }
    if (!(flags & NOTHEX) && flags & COLONCH) {
      let colons = 0;
      for (let j = s; j < e; j++) if (b[j] === 58) colons++;
      if (colons >= 2) return P_IP * 256;
    }
    return P_ID * 256 + (last === 58 ? 58 : 0);
  }
  if (!(flags & CTRL)) return P_ID * 256; // 10+ hex letters
  return COPY_MASKED;
}

/** Does the word b[ws, i) with these flags get a placeholder (or its control bytes masked)? */
const replaced = (flags: number, len: number) => (flags & (DIGIT | AT | CTRL)) !== 0 || (len >= 10 && !(flags & NOTHEX));

/** The word b[s, e) (its copy starts at OUT[wo]) gets a placeholder; returns the new output length. */
function replaceWord(b: Buffer, s: number, e: number, wo: number, flags: number): number {
  let o = wo;
  const code = wordCode(b, s, e, flags);
  if (code === COPY_MASKED) {
    for (let j = s; j < e && o < MAX_TEMPLATE; j++) OUT[o++] = CLASS[b[j]] & CTRL ? 63 : b[j];
    return o;
  }
  o = putBytes(PLACEHOLDERS[code >> 8], o);
  if (code & 255) OUT[o++] = code & 255;
  return o;
}

/**
 * Write the template of the line whose header is h into OUT ("prog[<n>]: normalised message" for
 * syslog, the normalised message for Exim's mainlog and unrecognised lines) and hash it.
 */
export function buildTemplate(b: Buffer, end: number, h: Header): void {
  let o = 0;
  if (h.progEnd > h.progStart) {
    for (let i = h.progStart; i < h.progEnd && o < 64; i++) OUT[o++] = CLASS[b[i]] & CTRL ? 63 : b[i];
    if (h.hasPid) o = putBytes(PID, o);
    OUT[o++] = 58;
    OUT[o++] = 32;
  } else if (h.format === Format.Exim && h.hasPid) {
    o = putBytes(PID, o);
    OUT[o++] = 32;
  }
  let i = h.msgStart;
  const q = queueIdLength(b, i, end);
  if (q) {
    o = putBytes(QID, o);
    i += q;
  }
  // Words are copied as they are scanned; a word that must be replaced is rewound (o = wo).
  let ws = -1;
  let wo = 0;
  let flags = 0;
  for (; i < end && o < MAX_TEMPLATE; i++) {
    const c = b[i];
    const k = CLASS[c];
    if (k & DELIM) {
      if (ws >= 0) {
        if (replaced(flags, i - ws)) o = replaceWord(b, ws, i, wo, flags);
        ws = -1;
      }
      OUT[o++] = c === 9 ? 32 : c;
    } else {
      if (ws < 0) {
        ws = i;
        wo = o;
        flags = 0;
      }
      flags |= k;
      OUT[o++] = c;
    }
  }
  if (ws >= 0 && replaced(flags, i - ws)) o = replaceWord(b, ws, i, wo, flags);
  if (i < end && o >= MAX_TEMPLATE) {
    // Cut: mark it with "…", without splitting a UTF-8 sequence.
    o = MAX_TEMPLATE - 3;
    while (o > 0 && (OUT[o] & 0xc0) === 0x80) o--;
    OUT[o++] = 0xe2;
    OUT[o++] = 0x80;
    OUT[o++] = 0xa6;
  }
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let j = 0; j < o; j++) {
    const c = OUT[j];
    h1 = Math.imul(h1 ^ c, FNV_PRIME);
    h2 = (Math.imul(h2, 31) + c) | 0;
  }
  last.length = o;
  last.h1 = h1 >>> 2; // a small integer: cheap Map key
  last.h2 = h2;
}

const FNV_PRIME = 0x01000193;

/**
 * The hash buildTemplate() would give this line's template, without writing the template: one pass
 * over the line, each byte fed to the hash as it would be written, a replaced word rewound to the
 * hash it started from. A line costs no stores this way; the template is written (buildTemplate) only
 * when it is new. False (nothing set) when the template would reach MAX_TEMPLATE and be cut, or the
 * tag is long: buildTemplate() decides those.
 */
export function hashTemplate(b: Buffer, end: number, h: Header): boolean {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  let o = 0;
  if (h.progEnd > h.progStart) {
    if (h.progEnd - h.progStart > 48) return false;
    for (let i = h.progStart; i < h.progEnd; i++) {
      const c = CLASS[b[i]] & CTRL ? 63 : b[i];
      h1 = Math.imul(h1 ^ c, FNV_PRIME);
      h2 = (Math.imul(h2, 31) + c) | 0;
    }
    o = h.progEnd - h.progStart;
    if (h.hasPid) {
      for (let j = 0; j < PID.length; j++) {
        h1 = Math.imul(h1 ^ PID[j], FNV_PRIME);
        h2 = (Math.imul(h2, 31) + PID[j]) | 0;
      }
      o += PID.length;
    }
    h1 = Math.imul(Math.imul(h1 ^ 58, FNV_PRIME) ^ 32, FNV_PRIME);
    h2 = (Math.imul((Math.imul(h2, 31) + 58) | 0, 31) + 32) | 0;
    o += 2;
  } else if (h.format === Format.Exim && h.hasPid) {
    for (let j = 0; j < PID.length; j++) {
      h1 = Math.imul(h1 ^ PID[j], FNV_PRIME);
      h2 = (Math.imul(h2, 31) + PID[j]) | 0;
    }
    h1 = Math.imul(h1 ^ 32, FNV_PRIME);
    h2 = (Math.imul(h2, 31) + 32) | 0;
    o += PID.length + 1;
  }
  let i = h.msgStart;
  const q = queueIdLength(b, i, end);
  if (q) {
    for (let j = 0; j < QID.length; j++) {
      h1 = Math.imul(h1 ^ QID[j], FNV_PRIME);
      h2 = (Math.imul(h2, 31) + QID[j]) | 0;
    }
    o += QID.length;
    i += q;
  }
  // The hash and length where the current word started, to rewind to when it is replaced.
  let ws = -1;
  let w1 = 0;
  let w2 = 0;
  let wo = 0;
  let flags = 0;
  const stop = MAX_TEMPLATE - 8;
  for (; ; i++) {
    const atEnd = i >= end;
    const c = atEnd ? 32 : b[i];
    const k = atEnd ? DELIM : CLASS[c];
    if (k & DELIM) {
      if (ws >= 0) {
        if (replaced(flags, i - ws)) {
          const code = wordCode(b, ws, i, flags);
          // COPY_MASKED: the word's bytes were fed masked already.
          if (code !== COPY_MASKED) {
            h1 = w1;
            h2 = w2;
            o = wo;
            const ph = PLACEHOLDERS[code >> 8];
            for (let j = 0; j < ph.length; j++) {
              h1 = Math.imul(h1 ^ ph[j], FNV_PRIME);
              h2 = (Math.imul(h2, 31) + ph[j]) | 0;
            }
            o += ph.length;
            const trail = code & 255;
            if (trail) {
              h1 = Math.imul(h1 ^ trail, FNV_PRIME);
              h2 = (Math.imul(h2, 31) + trail) | 0;
              o++;
            }
          }
        }
        ws = -1;
      }
      if (atEnd) break;
      const d = c === 9 ? 32 : c;
      h1 = Math.imul(h1 ^ d, FNV_PRIME);
      h2 = (Math.imul(h2, 31) + d) | 0;
    } else {
      if (ws < 0) {
        ws = i;
        w1 = h1;
        w2 = h2;
        wo = o;
        flags = 0;
      }
      flags |= k;
      const d = k & CTRL ? 63 : c;
      h1 = Math.imul(h1 ^ d, FNV_PRIME);
      h2 = (Math.imul(h2, 31) + d) | 0;
    }
    if (++o >= stop) return false;
  }
  last.length = -1;
  last.h1 = h1 >>> 2;
  last.h2 = h2;
  return true;
}

/** The template of a line as a string (tests, one-off use). */
export function templateOf(b: Buffer, end: number, h: Header): string {
  buildTemplate(b, end, h);
  return displayTemplate(OUT.toString('latin1', 0, last.length));
}

/** Templates are built from bytes; show them as UTF-8. */
export function displayTemplate(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

export interface TemplateEntry {
  template: string;
  count: number;
}

/**
 * Heavy-hitter counting of templates by hash, with the same lossy-counting bound as
 * lib/queue/topk.ts's TopCounter (which this mirrors for numeric keys, so that a line costs no
 * string): exact below `capacity` distinct templates; past that, rare ones are pruned in batches and
 * `error` bounds how much any reported count may be missing. Binary garbage or lines unique by
 * design (every one a new template) cost at most 2 x capacity entries.
 */
export class TemplateCounter {
  // Keyed by 30 bits of one hash; the entry holds a second hash to tell a collision, and colliding
  // templates go to `spill`, keyed by their text.
  private readonly entries = new Map<number, Entry>();
  private readonly spill = new Map<string, Entry>();
  error = 0;
  constructor(private readonly capacity = 2_000) {}

  /** Count the template of a line: hashed only, and written when it is new (or would be cut). */
  add(b: Buffer, end: number, h: Header): void {
    if (hashTemplate(b, end, h)) {
      const e = this.entries.get(last.h1);
      if (e !== undefined && e.check === last.h2) {
        e.count++;
        return;
      }
    }
    buildTemplate(b, end, h);
    this.addLast();
  }

  /** Count the template last built by buildTemplate(). */
  addLast(): void {
    const e = this.entries.get(last.h1);
    if (e !== undefined && e.check === last.h2) {
      e.count++;
      return;
    }
    if (e === undefined) {
      this.entries.set(last.h1, { count: 1, check: last.h2, name: OUT.toString('latin1', 0, last.length) });
    } else {
      const name = OUT.toString('latin1', 0, last.length);
      const s = this.spill.get(name);
      if (s) s.count++;
      else this.spill.set(name, { count: 1, check: last.h2, name });
    }
    if (this.entries.size + this.spill.size > this.capacity * 2) this.prune();
  }

  private prune(): void {
    const sorted = [...this.entries.values(), ...this.spill.values()].map((e) => e.count).sort((a, b) => b - a);
    const floor = sorted[this.capacity - 1];
    let kept = 0;
    for (const map of [this.entries, this.spill] as Map<unknown, Entry>[])
      for (const [k, e] of map) {
        if (e.count < floor || (e.count === floor && kept >= this.capacity)) {
          map.delete(k);
          if (e.count > this.error) this.error = e.count;
        } else kept++;
      }
  }

  get approximate(): boolean {
    return this.error > 0;
  }

  get distinct(): number {
    return this.entries.size + this.spill.size;
  }

  top(n: number): TemplateEntry[] {
    return [...this.entries.values(), ...this.spill.values()]
      .map((e) => ({ template: displayTemplate(e.name), count: e.count }))
      .sort((a, b) => b.count - a.count || (a.template < b.template ? -1 : 1))
      .slice(0, n);
  }
}

interface Entry {
  count: number;
  check: number;
  name: string;
}
