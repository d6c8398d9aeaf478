// Pure parsers for OpenSMTPD's queue files (6.8.0p2, the version Debian 12 ships; read in
// usr.sbin/smtpd/envelope.c envelope_dump_buffer/envelope_load_buffer, queue_fs.c, enqueue.c).
//
// An envelope file, queue/<msgid>>24 as %02x>/<msgid %08x>/<evpid %016x>, one per recipient
// (captured from Debian 12, test/fixtures/mta/opensmtpd):
//
//   version: 3                      SMTPD_ENVELOPE_VERSION; smtpd refuses any other value
//   dispatcher: relay               the smtpd.conf action
//   type: mta                       mta (relay), mda (local delivery), bounce (a DSN is due for it)
//   smtpname: lab.example
//   helo: localhost                 the client's HELO
//   hostname: lab.example           the client's name
//   errorline: Network error on destination MXs    last delivery error (absent before the first try)
//   sockaddr: local                 the client: "local", an IPv4 address, or "[IPv6]"
//   sender: alice@corp.example      "@" is the null sender (user and domain both empty)
//   rcpt: bob@partner.example       the recipient as given in RCPT TO
//   dest: bob@partner.example       where it goes after alias/forward expansion
//   ctime: 1796130527               creation: the arrival, epoch seconds
//   last-try: 0                     last-bounce: 0    ttl: 0    retry: 1 (attempts so far)
//   flags: authenticated            "authenticated", "bounce" (EF_BOUNCE), "internal"; the DSN smtpd
//                                   queued for a refused message in the capture had only "authenticated"
//   dsn-notify: 0   esc-class: 4   esc-code: 0   (bounce envelopes add bounce-type, -ttl, -delay)
//
// Each line is `key: value`, the key [A-Za-z0-9-]+; smtpd loads an envelope only when every line
// has that form, every key is known and the version is 3. Pauses (`smtpctl pause envelope`,
// "suspend") and the scheduler's "hold" live in the scheduler's memory only: no file shows them.
// With `queue compression` the file is gzip; with `queue encryption` it starts with byte 0x01
// (crypto.c API_VERSION): neither is readable here, and smtpctl's offline listing refuses them too.
//
// An offline file, offline/<epoch>.<mkstemp suffix>, written by sendmail/smtpctl enqueue while
// smtpd is not running: its first line is sendmail's argv (without argv[0]) joined by '|', then the
// message as submitted:
//
//   -i|-f|app@qa.example|--|qanotify@lab.example
//
// `-f '<>'` is saved as "-f|<": build_from() cuts the '>' off argv in place before the line is
// written (6.8.0p2 enqueue.c), so "<" is the null sender here.

import { fromBytes } from '../plugin/text.js';

export const OPENSMTPD_ENVELOPE_VERSION = 3;

/** What one envelope file says. Never thrown: problems show as `malformed`/`format`. */
export interface OpensmtpdEnvelope {
  version?: number;
  /** mta, mda or bounce. */
  type?: string;
  dispatcher?: string;
  /** '' = null sender ("sender: @"). */
  sender?: string;
  rcpt?: string;
  dest?: string;
  /** Creation = arrival (epoch seconds). */
  ctime?: number;
  lastTry?: number;
  lastBounce?: number;
  ttl?: number;
  retry?: number;
  flags: string[];
  errorline?: string;
  /** "local", an IPv4 address or "[IPv6]". */
  sockaddr?: string;
  hostname?: string;
  helo?: string;
  username?: string;
  bounceType?: string;
  /** 'ascii' (readable), 'gzip' (queue compression), 'encrypted' (queue encryption). */
  format: 'ascii' | 'gzip' | 'encrypted';
  /** A line without `key:`, an unknown key, a bad number, or no version: smtpd would not load it. */
  malformed: boolean;
  /** A version other than 3. */
  unknownVersion: boolean;
  /** The file ends inside a line (smtpd ends every line with a newline): cut short. */
  cut: boolean;
}

const KNOWN_KEYS = new Set([
  'version', 'dispatcher', 'tag', 'type', 'smtpname', 'helo', 'hostname', 'username', 'errorline', 'sockaddr',
  'sender', 'rcpt', 'dest', 'ctime', 'last-try', 'last-bounce', 'ttl', 'retry', 'flags', 'dsn-notify', 'dsn-ret',
  'dsn-envid', 'dsn-orcpt', 'esc-class', 'esc-code', 'mda-exec', 'mda-subaddress', 'mda-user', 'bounce-ttl',
  'bounce-delay', 'bounce-type',
]);

function isKeyChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45;
}

/** "user@domain" as smtpd writes a mailaddr; "@" (both parts empty) is the null sender. */
export function opensmtpdAddress(v: string): string {
  return v === '@' ? '' : fromBytes(v);
}

/** An address field: undefined (and the envelope malformed) when empty, which text_to_mailaddr refuses. */
function addressField(e: OpensmtpdEnvelope, v: string): string | undefined {
  if (v === '') {
    e.malformed = true;
    return undefined;
  }
  return opensmtpdAddress(v);
}

function num(v: string): number | undefined {
  return /^\d{1,15}$/.test(v) ? Number.parseInt(v, 10) : undefined;
}

/**
 * Parse an envelope held in buf[0..end). `whole` is false when the read was cut at its cap: the
 * last, partial line is then ignored.
 */
export function parseOpensmtpdEnvelope(buf: Buffer, end: number = buf.length, whole = true): OpensmtpdEnvelope {
  const e: OpensmtpdEnvelope = { flags: [], format: 'ascii', malformed: false, unknownVersion: false, cut: false };
  if (end >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    e.format = 'gzip';
    return e;
  }
  if (end >= 1 && buf[0] === 0x01) {
    e.format = 'encrypted';
    return e;
  }
  let pos = 0;
  while (pos < end) {
    let nl = buf.indexOf(10, pos);
    if (nl < 0 || nl >= end) {
      if (!whole) break;
      nl = end;
      e.cut = true;
    }
    const lineEnd = nl;
    let k = pos;
    while (k < lineEnd && isKeyChar(buf[k])) k++;
    const key = buf.toString('latin1', pos, k).toLowerCase();
    let v = k;
    while (v < lineEnd && (buf[v] === 32 || buf[v] === 9)) v++;
    if (key === '' || v >= lineEnd || buf[v] !== 58 /* : */) {
      // envelope_buffer_to_dict refuses the whole envelope for any such line, an empty one too.
      e.malformed = true;
      pos = nl + 1;
      continue;
    }
    v++;
    while (v < lineEnd && (buf[v] === 32 || buf[v] === 9)) v++;
    const value = buf.toString('latin1', v, lineEnd);
    pos = nl + 1;
    if (!KNOWN_KEYS.has(key)) {
      e.malformed = true;
      continue;
    }
    switch (key) {
      case 'version':
        e.version = num(value);
        if (e.version === undefined) e.malformed = true;
        break;
      case 'type':
        e.type = value.toLowerCase();
        break;
      case 'dispatcher':
        e.dispatcher = fromBytes(value);
        break;
      case 'sender':
        e.sender = addressField(e, value);
        break;
      case 'rcpt':
        e.rcpt = addressField(e, value);
        break;
      case 'dest':
        e.dest = addressField(e, value);
        break;
      case 'ctime':
        e.ctime = num(value);
        if (e.ctime === undefined) e.malformed = true;
        break;
      case 'last-try':
        e.lastTry = num(value);
        break;
      case 'last-bounce':
        e.lastBounce = num(value);
        break;
      case 'ttl':
        e.ttl = num(value);
        break;
      case 'retry':
        e.retry = num(value);
        break;
      case 'flags':
        for (const f of value.split(/[ ,|]+/)) if (f) e.flags.push(f.toLowerCase());
        break;
      case 'errorline':
        e.errorline = fromBytes(value);
        break;
      case 'sockaddr':
        e.sockaddr = value;
        break;
      case 'hostname':
        e.hostname = fromBytes(value);
        break;
      case 'helo':
        e.helo = fromBytes(value);
        break;
      case 'username':
        e.username = fromBytes(value);
        break;
      case 'bounce-type':
        e.bounceType = value.toLowerCase();
        break;
      default:
        break;
    }
  }
  if (e.version === undefined) e.malformed = true;
  else if (e.version !== OPENSMTPD_ENVELOPE_VERSION) e.unknownVersion = true;
  return e;
}

/** The client an envelope records, in the form the other drivers use ("name [address]"); none for local submissions. */
export function opensmtpdClient(e: OpensmtpdEnvelope): string | undefined {
  const a = e.sockaddr;
  if (!a || a === 'local') return undefined;
  const addr = a.startsWith('[') ? a : `[${a}]`;
  return e.hostname ? `${e.hostname} ${addr}` : addr;
}

/** What an offline file's first line says. */
export interface OpensmtpdOfflineRecord {
  /** '' = null sender; undefined when no -f/-r was given (smtpd then uses the submitting user). */
  sender?: string;
  recipients: string[];
  /** -t: the recipients are in the message headers, not on the line. */
  fromHeaders: boolean;
  /** The first line ended (a '\n' was found within the read). */
  complete: boolean;
}

// enqueue.c getopt string "A:B:b:E::e:F:f:iJ::L:mN:o:p:qr:R:StvV:x": options that take a value.
const OPT_WITH_ARG = new Set(['A', 'B', 'b', 'e', 'F', 'f', 'L', 'N', 'o', 'p', 'r', 'R', 'V']);
// E and J take an optional value, only when attached (-Efoo).

function offlineSender(v: string): string {
  if (v === '' || v === '<' || v === '<>') return '';
  if (v.startsWith('<') && v.endsWith('>')) return fromBytes(v.slice(1, -1));
  if (v.startsWith('<')) return fromBytes(v.slice(1)); // the '>' cut off by build_from()
  return fromBytes(v);
}

/** Parse the first line of an offline file (buf[0..end)). */
export function parseOpensmtpdOffline(buf: Buffer, end: number = buf.length): OpensmtpdOfflineRecord {
  const nl = buf.indexOf(10, 0);
  const complete = nl >= 0 && nl < end;
  const line = buf.toString('latin1', 0, complete ? nl : end);
  const args = line.split('|');
  const rec: OpensmtpdOfflineRecord = { recipients: [], fromHeaders: false, complete };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a.length < 2 || a[0] !== '-') break; // first operand: the recipients start here
    // Bundled flags (-ti) and attached values (-fuser@x) as getopt reads them.
    for (let j = 1; j < a.length; j++) {
      const o = a[j];
      if (OPT_WITH_ARG.has(o)) {
        const value = j + 1 < a.length ? a.slice(j + 1) : args[++i] ?? '';
        if (o === 'f' || o === 'r') rec.sender = offlineSender(value);
        break;
      }
      if (o === 'E' || o === 'J') break; // optional value, attached only
      if (o === 't') rec.fromHeaders = true;
    }
  }
  // A cut line's last argument may be cut too: only whole ones count.
  const last = complete ? args.length : args.length - 1;
  for (; i < last; i++) if (args[i] !== '') rec.recipients.push(fromBytes(args[i]));
  return rec;
}
