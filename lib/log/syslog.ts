// Where the parts of a mail log line are, found by looking at bytes (no string is made per line).
// The formats seen on mail servers:
//
//   RFC 3164 (syslog, rsyslog's traditional format, Postfix maillog_file):
//     Nov 23 11:11:03 mx1 postfix/qmgr[5594]: 10295164182: from=<app@qa.example>, size=1297, nrcpt=1 (queue active)
//     <22>Nov  3 01:02:03 mx1 clamd[812]: ERROR: accept() failed: Loaded 362916 signatures.
//   ISO 8601 (rsyslog high precision, journalctl -o short-iso):
//     2026-11-23T11:11:59.419102+00:00 vm sm-mta[11629]: starting daemon (8.17.1.9): SMTP+queueing@00:10:00
//     2026-11-23T11:11:59+0000 vm postfix/smtpd[812]: connect from unknown[192.0.2.7]
//   RFC 5424 (rsyslog RSYSLOG_SyslogProtocol23Format, syslog-ng):
//     <22>1 2026-11-23T11:11:59.419Z mx1 postfix/smtp 5622 - - 10295164182: to=<qanotify@lab.example>, ...
//   Exim mainlog (optional .mmm, +zone and [pid] from log_selector / log_timezone):
//     2026-11-23 11:11:38 1xVRxS-0002CF-23 <= app@qa.example U=root P=local S=1337 id=...
//     2026-11-23 11:11:38.123 +0100 [8430] 1xVRxS-0002CF-23 => bob@partner.example R=dnslookup T=remote_smtp ...

export const enum Format {
  Unknown = 0,
  Rfc3164 = 1,
  Iso = 2,
  Rfc5424 = 3,
  Exim = 4,
}

export const FORMAT_NAMES = ['unrecognised', 'syslog (RFC 3164)', 'ISO 8601 syslog', 'RFC 5424', 'Exim mainlog'] as const;

/** Positions in the line (absolute offsets in the buffer). Reused: parseHeader overwrites it. */
export interface Header {
  format: Format;
  tsStart: number;
  tsEnd: number;
  /** Program (tag) without [pid]; progStart === progEnd when there is none. */
  progStart: number;
  progEnd: number;
  hasPid: boolean;
  /** Start of the message proper (after "tag[pid]: "). */
  msgStart: number;
}

export function newHeader(): Header {
  return { format: Format.Unknown, tsStart: 0, tsEnd: 0, progStart: 0, progEnd: 0, hasPid: false, msgStart: 0 };
}

const SP = 32;
const COLON = 58;
const LBRACK = 91;
const RBRACK = 93;

const isDigit = (c: number) => c >= 48 && c <= 57;

function digits(b: Buffer, i: number, n: number, end: number): boolean {
  if (i + n > end) return false;
  for (let k = 0; k < n; k++) if (!isDigit(b[i + k])) return false;
  return true;
}

/** "YYYY-MM-DD" at i. */
function isoDate(b: Buffer, i: number, end: number): boolean {
  return digits(b, i, 4, end) && b[i + 4] === 45 && digits(b, i + 5, 2, end) && b[i + 7] === 45 && digits(b, i + 8, 2, end);
}

/** "HH:MM:SS" at i. */
function clock(b: Buffer, i: number, end: number): boolean {
  return digits(b, i, 2, end) && b[i + 2] === COLON && digits(b, i + 3, 2, end) && b[i + 5] === COLON && digits(b, i + 6, 2, end);
}

/** Skip ".123456" then "Z", "+01:00" or "+0100"; returns the index after it. */
function fractionAndZone(b: Buffer, i: number, end: number): number {
  if (i < end && b[i] === 46) {
    i++;
    while (i < end && isDigit(b[i])) i++;
  }
  if (i < end && b[i] === 90) return i + 1; // Z
  if (i < end && (b[i] === 43 || b[i] === 45) && digits(b, i + 1, 2, end)) {
    i += 3;
    if (b[i] === COLON) i++;
    if (digits(b, i, 2, end)) i += 2;
  }
  return i;
}

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';
function monthIndex(b: Buffer, i: number): number {
  for (let m = 0; m < 12; m++)
    if (b[i] === MONTHS.charCodeAt(m * 3) && b[i + 1] === MONTHS.charCodeAt(m * 3 + 1) && b[i + 2] === MONTHS.charCodeAt(m * 3 + 2)) return m;
  return -1;
}

/** Index after the next run of spaces at or after i (i itself when no space there). */
function skipSpaces(b: Buffer, i: number, end: number): number {
  while (i < end && b[i] === SP) i++;
  return i;
}

function nextSpace(b: Buffer, i: number, end: number): number {
  while (i < end && b[i] !== SP) i++;
  return i;
}

/**
 * After the host: "tag[pid]: msg", "tag: msg". Sets prog and msg positions; with no tag the
 * whole rest is the message.
 */
function tag(b: Buffer, i: number, end: number, h: Header): void {
  const limit = Math.min(end, i + 96);
  let j = i;
  while (j < limit) {
    const c = b[j];
    if (c === LBRACK || c === COLON || c === SP) break;
    j++;
  }
  if (j < limit && j > i && b[j] === LBRACK) {
    let k = j + 1;
    while (k < limit && b[k] !== RBRACK) k++;
    if (k < limit && b[k + 1] === COLON) {
      h.progStart = i;
      h.progEnd = j;
      h.hasPid = true;
      h.msgStart = skipSpaces(b, k + 2, end);
      return;
    }
  } else if (j < limit && j > i && b[j] === COLON && (j + 1 >= end || b[j + 1] === SP)) {
    h.progStart = i;
    h.progEnd = j;
    h.hasPid = false;
    h.msgStart = skipSpaces(b, j + 1, end);
    return;
  }
  h.progStart = h.progEnd = i;
  h.hasPid = false;
  h.msgStart = i;
}

/** Find the header of the line [start, end). Always fills h; format Unknown means "the whole line is the message". */
export function parseHeader(b: Buffer, start: number, end: number, h: Header): Header {
  let i = start;
  // Optional <PRI>.
  if (b[i] === 60) {
    let k = i + 1;
    while (k < end && k < i + 5 && isDigit(b[k])) k++;
    if (k > i + 1 && b[k] === 62) i = k + 1;
  }
  h.hasPid = false;
  const c = b[i];
  if (c >= 48 && c <= 57) {
    // RFC 5424: "1 " version then an ISO timestamp.
    if (b[i + 1] === SP && b[i] === 49 && isoDate(b, i + 2, end) && b[i + 12] === 84) return rfc5424(b, i + 2, end, h);
    if (isoDate(b, i, end)) {
      const sep = b[i + 10];
      if (sep === 84 && clock(b, i + 11, end)) {
        // ISO syslog: timestamp, host, tag.
        const tsEnd = fractionAndZone(b, i + 19, end);
        if (b[tsEnd] === SP) {
          h.format = Format.Iso;
          h.tsStart = i;
          h.tsEnd = tsEnd;
          const hostStart = skipSpaces(b, tsEnd, end);
          const hostEnd = nextSpace(b, hostStart, end);
          tag(b, skipSpaces(b, hostEnd, end), end, h);
          return h;
        }
      } else if (sep === SP && clock(b, i + 11, end)) {
        // Exim mainlog: date time[.mmm][ +zone][ [pid]] message
        let j = i + 19;
        if (b[j] === 46) {
          j++;
          while (j < end && isDigit(b[j])) j++;
        }
        h.tsStart = i;
        h.tsEnd = j;
        if (b[j] === SP && (b[j + 1] === 43 || b[j + 1] === 45) && digits(b, j + 2, 4, end) && (j + 6 >= end || b[j + 6] === SP)) j += 6;
        j = skipSpaces(b, j, end);
        if (b[j] === LBRACK) {
          let k = j + 1;
          while (k < end && isDigit(b[k])) k++;
          if (k > j + 1 && b[k] === RBRACK) {
            h.hasPid = true;
            j = skipSpaces(b, k + 1, end);
          }
        }
        h.format = Format.Exim;
        h.progStart = h.progEnd = j;
        h.msgStart = j;
        return h;
      }
    }
  } else if (c >= 65 && c <= 83 && monthIndex(b, i) >= 0 && b[i + 3] === SP) {
    // RFC 3164: "Nov 23 11:11:03" or "Nov  3 11:11:03".
    let j = i + 4;
    if (b[j] === SP) j++;
    if (isDigit(b[j])) {
      j++;
      if (isDigit(b[j])) j++;
      if (b[j] === SP && clock(b, j + 1, end)) {
        let tsEnd = j + 9;
        if (b[tsEnd] === 46) {
          tsEnd++;
          while (tsEnd < end && isDigit(b[tsEnd])) tsEnd++;
        }
        h.format = Format.Rfc3164;
        h.tsStart = i;
        h.tsEnd = tsEnd;
        const hostStart = skipSpaces(b, tsEnd, end);
        const hostEnd = nextSpace(b, hostStart, end);
        tag(b, skipSpaces(b, hostEnd, end), end, h);
        return h;
      }
    }
  }
  h.format = Format.Unknown;
  h.tsStart = h.tsEnd = start;
  h.progStart = h.progEnd = start;
  h.msgStart = start;
  return h;
}

function rfc5424(b: Buffer, i: number, end: number, h: Header): Header {
  // TIMESTAMP HOST APP-NAME PROCID MSGID STRUCTURED-DATA MSG
  h.format = Format.Rfc5424;
  h.tsStart = i;
  h.tsEnd = nextSpace(b, i, end);
  const hostStart = skipSpaces(b, h.tsEnd, end);
  const appStart = skipSpaces(b, nextSpace(b, hostStart, end), end);
  const appEnd = nextSpace(b, appStart, end);
  const pidStart = skipSpaces(b, appEnd, end);
  const pidEnd = nextSpace(b, pidStart, end);
  const msgIdEnd = nextSpace(b, skipSpaces(b, pidEnd, end), end);
  let j = skipSpaces(b, msgIdEnd, end);
  if (b[j] === LBRACK) {
    // Structured data: one or more [id k="v" ...] with \] escapes inside values.
    while (j < end && b[j] === LBRACK) {
      j++;
      while (j < end && b[j] !== RBRACK) j += b[j] === 92 ? 2 : 1;
      j++;
    }
  } else {
    j = nextSpace(b, j, end);
  }
  j = skipSpaces(b, j, end);
  if (b[j] === 0xef && b[j + 1] === 0xbb && b[j + 2] === 0xbf) j += 3; // BOM
  const nil = appEnd - appStart === 1 && b[appStart] === 45;
  h.progStart = nil ? appStart : appStart;
  h.progEnd = nil ? appStart : appEnd;
  h.hasPid = !(pidEnd - pidStart === 1 && b[pidStart] === 45);
  h.msgStart = j;
  return h;
}

const MONTH_BY_NAME: Record<string, number> = Object.fromEntries(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((m, i) => [m, i]));

/**
 * The time of a line in epoch seconds, or undefined. RFC 3164 has no year and no zone: the local
 * zone is assumed, and the year that puts the line no more than a day after `nowSec`.
 * Exim without +zone is local time too.
 */
export function lineTime(b: Buffer, h: Header, nowSec: number): number | undefined {
  if (h.format === Format.Unknown) return undefined;
  const text = b.toString('latin1', h.tsStart, h.tsEnd);
  if (h.format === Format.Rfc3164) {
    const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(\.\d+)?$/.exec(text);
    if (!m) return undefined;
    const now = new Date(nowSec * 1000);
    for (const year of [now.getFullYear() + 1, now.getFullYear(), now.getFullYear() - 1]) {
      const t = new Date(year, MONTH_BY_NAME[m[1]], Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime() / 1000;
      if (t <= nowSec + 86400) return t + (m[6] ? Number(m[6]) : 0);
    }
    return undefined;
  }
  if (h.format === Format.Exim) {
    const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?$/.exec(text);
    if (!m) return undefined;
    // A " +0100" zone after the time (log_timezone) is outside tsEnd: look for it.
    const after = b.toString('latin1', h.tsEnd, Math.min(h.tsEnd + 6, h.msgStart));
    const z = /^ ([+-])(\d\d)(\d\d)$/.exec(after);
    const frac = m[7] ? Number(m[7]) : 0;
    if (z) {
      const utc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
      const off = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 3600 + Number(z[3]) * 60);
      return utc - off + frac;
    }
    return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]).getTime() / 1000 + frac;
  }
  // ISO 8601 (ISO syslog and RFC 5424): Date.parse wants "+01:00", journalctl writes "+0100".
  const iso = text.replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t / 1000 : undefined;
}

// ---------------------------------------------------------------------------------------------
// Postfix tags: "<syslog_name>/<program>". syslog_name is "postfix" by default, the instance name in
// a postmulti instance (postfix-out/smtp, from Debian's 3.7 default
// `${multi_instance_name?{$multi_instance_name}:{postfix}}`), or anything an admin sets (smtp-in/qmgr),
// and master.cf's `-o syslog_name=postfix/submission` adds a part (postfix/submission/smtpd). The
// program is always the last part. Real lines of such instances: test/fixtures/config/postfix-multi/log.

/** Postfix 3.7's daemons and commands, as they name themselves in the log. */
const POSTFIX_PROGRAMS = new Set([
  'anvil', 'bounce', 'cleanup', 'discard', 'dnsblog', 'error', 'flush', 'lmtp', 'local', 'master', 'nqmgr', 'oqmgr',
  'pickup', 'pipe', 'postalias', 'postcat', 'postconf', 'postdrop', 'postfix', 'postfix-script', 'postkick', 'postlock',
  'postlog', 'postlogd', 'postmap', 'postmulti', 'postmulti-script', 'postqueue', 'postscreen', 'postsuper', 'proxymap',
  'qmgr', 'qmqpd', 'relay', 'retry', 'scache', 'sendmail', 'showq', 'smtp', 'smtpd', 'spawn', 'tlsmgr', 'tlsproxy',
  'trivial-rewrite', 'verify', 'virtual',
]);

/** Offset of the last '/' in the tag b[s, e), or -1. */
export function tagSlash(b: Buffer, s: number, e: number): number {
  for (let i = e - 1; i > s; i--) if (b[i] === 47) return i;
  return -1;
}

/** "<anything>/<a Postfix program>": a Postfix line whatever its syslog_name. */
export function isPostfixTag(b: Buffer, s: number, e: number): boolean {
  const slash = tagSlash(b, s, e);
  if (slash < 0 || e - slash - 1 > 16) return false;
  return POSTFIX_PROGRAMS.has(b.toString('latin1', slash + 1, e));
}

/**
 * Does the tag b[s, e) belong to the syslog name `name` (an --instance)? postfix-out/smtp and
 * postfix-out/submission/smtpd do for "postfix-out"; postfix/smtp and postfix-outbound/smtp do not.
 */
export function tagHasPrefix(b: Buffer, s: number, e: number, name: Buffer): boolean {
  const n = name.length;
  if (e - s <= n || b[s + n] !== 47) return false;
  for (let i = 0; i < n; i++) if (b[s + i] !== name[i]) return false;
  return true;
}
