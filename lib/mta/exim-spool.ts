// Pure parser for Exim's spool header file `<id>-H` (spec chapter "Format of spool files",
// read back by spool_in.c spool_read_header). A real one (Debian 12, Exim 4.96), annotated:
//
//   1xVRrp-00043Q-1t-H                 the file name again (insurance against lost directories)
//   root 0 0                           login uid gid of the process that wrote it
//   <>                                 envelope sender in brackets; <> for a bounce
//   1795431949 0                       arrival epoch, delay warnings sent
//   -received_time_usec .585308        "-" lines: variables, any order, unknown ones ignored
//   -ident root                          ("--" = tainted, "--(quoter)" = quoted; -aclc/-aclm/-acl
//   -received_protocol local             are followed by <length> bytes of data and a newline)
//   -body_linecount 25
//   -frozen 1795431949                 frozen, and since when
//   XX                                 non-recipients tree (delivered addresses): XX = empty,
//   1                                    else "YN addr" lines; then the recipient count
//   m.random@victim.example            all recipients, delivered ones included; a line may end in
//                                        "<errors_to> <len>,<pno>#<bits>" extras (stripped here)
//   146P Received: from root by ...    after a blank line, headers: "<len><flag> <text>", len
//   \tid 1xVRrp-00043Q-1t                bytes each, continuation lines included; flag * = not sent
//
// Parsed as latin1 (one character per byte: the <length> fields count bytes); the sender and the
// recipients then decoded as UTF-8 when their bytes are valid UTF-8 (lib/plugin/text.ts). Never throws.

import { fromBytes } from '../plugin/text.js';

/** What one -H file says about a message. */
export interface EximHeaderRecord {
  /** Message ID from line 1 (the file name without -H). */
  id?: string;
  /** Envelope sender without brackets; '' = null sender (bounce). */
  sender?: string;
  /** Arrival, epoch seconds (line 4). */
  arrival?: number;
  /** Delay warnings already sent (line 4). */
  warnings?: number;
  frozen: boolean;
  /** When it was frozen (`-frozen <epoch>`). */
  frozenAt?: number;
  /** `-localerror`: a bounce generated here. */
  localError: boolean;
  /** `-host_address` without the port: the SMTP client that sent it. */
  client?: string;
  /** `-body_linecount`. */
  bodyLinecount?: number;
  /** Recipients not yet delivered (the recipient list minus the non-recipients tree). */
  recipients: string[];
  /** Recipients in the list that are already delivered (shown with D by exim -bp). */
  delivered: number;
  /** Bytes of the live (transmitted) headers: what exim -bp adds to the -D size. Undefined if not all read. */
  headerBytes?: number;
  /** Everything up to the end of the recipient list was read. */
  envelopeComplete: boolean;
  /** A part did not have the format Exim writes (spool_read_header would report a format error). */
  malformed: boolean;
}

const LF = 10;
const MAX_RECIPIENTS = 16384; // spool_in.c refuses larger counts too

/** Exim message IDs: 6-6-2 (up to 4.96) or 6-11-4 (4.97+), base-62 characters. */
export function isEximId(s: string): boolean {
  return /^[0-9A-Za-z]{6}-(?:[0-9A-Za-z]{6}-[0-9A-Za-z]{2}|[0-9A-Za-z]{11}-[0-9A-Za-z]{4})$/.test(s);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Strip the extra fields Exim may append to a recipient line (spool_in.c, read right to left):
 *   "addr <digits>,<digits>,<digits>"                        Exim 3
 *   "addr <digits>"                                          early Exim 4 (one_time parent)
 *   "addr [<orcpt> <len>,<dsn>] [<errors_to> <len>,<pno>]#<bits>"   current (bits 1 and 2)
 */
export function stripEximRecipientExtras(line: string): string {
  let p = line.length - 1;
  while (p >= 0 && isDigit(line.charCodeAt(p))) p--;
  if (p < 0 || p === line.length - 1) {
    // no trailing digits: plain address (or the digits are all there is)
    return line;
  }
  const c = line[p];
  if (c === ',') {
    p--;
    while (p >= 0 && (isDigit(line.charCodeAt(p)) || line[p] === ',')) p--;
    return p > 0 && line[p] === ' ' ? line.slice(0, p) : line;
  }
  if (c === ' ') return p > 0 ? line.slice(0, p) : line;
  if (c !== '#') return line;
  const bits = Number.parseInt(line.slice(p + 1), 10);
  // Walk back over "<len>,<n>" to the space before it; the field of <len> bytes precedes that space.
  const field = (from: number): number | undefined => {
    let q = from - 1;
    while (q >= 0 && (isDigit(line.charCodeAt(q)) || line[q] === ',' || line[q] === '-')) q--;
    if (q < 0 || line[q] !== ' ') return undefined;
    const len = Number.parseInt(line.slice(q + 1), 10);
    if (!Number.isFinite(len) || len < 0 || len > q) return undefined;
    const fieldStart = q - len;
    // Exim writes one space before each field.
    if (fieldStart < 1 || line[fieldStart - 1] !== ' ') return undefined;
    return fieldStart - 1;
  };
  let end: number | undefined = p;
  if (bits & 1) end = field(end);
  if (end !== undefined && bits & 2) end = field(end);
  return end === undefined || end <= 0 ? line : line.slice(0, end);
}

function stripBrackets(s: string): string | undefined {
  if (s.length >= 2 && s[0] === '<' && s[s.length - 1] === '>') return s.slice(1, -1);
  return undefined;
}

/**
 * `-host_address` without the port. spool_out.c writes "%s.%d" (address, dot, port): 192.0.2.7.41242,
 * ::1.57259, ::ffff:192.0.2.7.41242; Exim 4.96 as seen in the field also "[127.0.0.1]:50284" and
 * "[::1]:50284". An address without a port is kept as it is (127.0.0.1 must not become 127.0.0).
 */
export function hostWithoutPort(value: string): string {
  const v = value.trim();
  if (v.startsWith('[')) {
    const close = v.indexOf(']');
    if (close > 1) return v.slice(1, close).replace(/^IPv6:/i, '');
  }
  const dots = v.split('.').length - 1;
  const dot = v.lastIndexOf('.');
  const portAfterDot = dot > 0 && /^\d{1,5}$/.test(v.slice(dot + 1));
  if (v.includes(':')) {
    const colons = v.split(':').length - 1;
    // "192.0.2.7:41242": an IPv4 address and a port
    if (colons === 1 && dots === 3 && /:\d{1,5}$/.test(v)) return v.slice(0, v.lastIndexOf(':'));
    // IPv6: one dot before the port, or four with an embedded IPv4 address (::ffff:192.0.2.7.41242)
    return portAfterDot && (dots === 1 || dots === 4) ? v.slice(0, dot) : v;
  }
  return portAfterDot && dots === 4 ? v.slice(0, dot) : v;
}

/**
 * Parse an -H file held in `buf[0..end)`. `whole` says whether `end` is the end of the file
 * (false when the read was cut short): header sizes are only summed for a whole file.
 */
export function parseEximHeaderFile(buf: Buffer, end: number = buf.length, whole = true): EximHeaderRecord {
  const rec: EximHeaderRecord = {
    frozen: false,
    localError: false,
    recipients: [],
    delivered: 0,
    envelopeComplete: false,
    malformed: false,
  };
  let pos = 0;
  // Next line as a latin1 string without its newline; undefined at end of data (or a cut line).
  const nextLine = (): string | undefined => {
    if (pos >= end) return undefined;
    const nl = buf.indexOf(LF, pos);
    if (nl < 0 || nl >= end) {
      if (!whole) return undefined; // partial line of a cut read
      const s = buf.toString('latin1', pos, end);
      pos = end;
      return s;
    }
    const s = buf.toString('latin1', pos, nl);
    pos = nl + 1;
    return s;
  };
  const fail = (): EximHeaderRecord => {
    rec.malformed = true;
    return rec;
  };

  const first = nextLine();
  if (first === undefined || !first.endsWith('-H')) return fail();
  rec.id = first.slice(0, -2);
  if (!isEximId(rec.id)) return fail();

  const owner = nextLine();
  if (owner === undefined || !/ -?\d+ -?\d+\s*$/.test(owner)) return fail();

  const from = nextLine();
  const sender = from === undefined ? undefined : stripBrackets(from);
  if (sender === undefined) return fail();
  rec.sender = fromBytes(sender);

  const times = nextLine();
  const t = times === undefined ? null : /^(-?\d+) (\d+)/.exec(times);
  if (!t) return fail();
  rec.arrival = Number.parseInt(t[1], 10);
  rec.warnings = Number.parseInt(t[2], 10);

  // "-" variables, until the non-recipients tree.
  let line = nextLine();
  while (line !== undefined && line.charCodeAt(0) === 45 /* - */) {
    let v = line.slice(line.charCodeAt(1) === 45 ? 2 : 1);
    if (v.charCodeAt(0) === 40 /* ( */) {
      const close = v.indexOf(')');
      v = close < 0 ? '' : v.slice(close + 1);
    }
    const sp = v.indexOf(' ');
    const name = sp < 0 ? v : v.slice(0, sp);
    const value = sp < 0 ? '' : v.slice(sp + 1);
    switch (name) {
      case 'frozen':
        rec.frozen = true;
        rec.frozenAt = Number.parseInt(value, 10) || undefined;
        break;
      case 'localerror':
        rec.localError = true;
        break;
      case 'host_address':
        rec.client = hostWithoutPort(value);
        break;
      case 'body_linecount':
        rec.bodyLinecount = Number.parseInt(value, 10);
        break;
      case 'aclc':
      case 'aclm':
      case 'acl': {
        // "-aclc <name> <length>" / "-acl <n> <length>": the value follows as <length> bytes + newline.
        const len = Number.parseInt(value.slice(value.lastIndexOf(' ') + 1), 10);
        if (!Number.isFinite(len) || len < 0) return fail();
        pos += len + 1;
        break;
      }
      default:
        break;
    }
    line = nextLine();
  }
  if (line === undefined) return rec;

  // Non-recipients tree: "XX", or nodes "YY addr" / "NN addr" ... in pre-order.
  const delivered = new Set<string>();
  if (line === 'XX') {
    line = nextLine();
  } else {
    while (line !== undefined && line.length >= 4 && /^[YN][YN] /.test(line)) {
      delivered.add(line.slice(3));
      line = nextLine();
    }
  }
  if (line === undefined) return rec;

  if (!/^\d+\s*$/.test(line)) return fail();
  const count = Number.parseInt(line, 10);
  if (count > MAX_RECIPIENTS) return fail();
  for (let i = 0; i < count; i++) {
    const r = nextLine();
    if (r === undefined) return rec; // cut short: keep what we have
    if (r === '') return fail();
    const addr = stripEximRecipientExtras(r);
    if (delivered.has(addr)) rec.delivered++;
    else rec.recipients.push(fromBytes(addr));
  }
  rec.envelopeComplete = true;

  // Blank line, then the headers: sum the sizes of those that will be transmitted ('*' = replaced/deleted).
  const blank = nextLine();
  if (blank === undefined) return rec;
  if (blank !== '') return fail();
  if (!whole) return rec;
  let bytes = 0;
  while (pos < end) {
    let q = pos;
    while (q < end && isDigit(buf[q])) q++;
    if (q === pos || q + 1 >= end) return fail();
    const n = Number.parseInt(buf.toString('latin1', pos, q), 10);
    const flag = buf[q];
    q++; // flag character
    if (buf[q] === 32) q++; // the space after it
    if (flag !== 0x2a /* * */) bytes += n;
    pos = q + n;
  }
  if (pos > end) return fail();
  rec.headerBytes = bytes;
  return rec;
}
