// Why a delivery was deferred or bounced, and where it went, normalised so that one cause at one
// destination is one group whatever its queue IDs, recipients and wording: what the on-call needs
// from a deferral storm (incident 004: the culprit was a relay and a reason, not a recipient).
// Texts as the MTAs log them (captured: test/fixtures/logs/flow/, test/fixtures/mta/*/log):
//   Postfix  status=deferred (connect to 127.0.0.2[127.0.0.2]:2: Connection refused)
//            status=bounced (host 127.0.0.3[127.0.0.3] said: 550 5.1.1 <gone1@gone.example>: Recipient
//              address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))
//   Exim     == ops1@partner.example R=remote T=remote_smtp defer (111): Connection refused DT=0s
//            == grey1@slow.example R=slow T=remote_smtp defer (-44) H=127.0.0.4 [127.0.0.4] DT=0s: SMTP
//              error from remote mail server after RCPT TO:<grey1@slow.example>: 451 4.7.1 <...>: ...
//   Sendmail stat=Deferred: Connection refused by [127.0.0.2]; reply=451 4.7.1 <grey1@slow.example>: ...
//   OpenSMTPD stat="Network error on destination MXs"; stat="550 5.1.1 <accounts@gone.example>: ..."
//   nullmailer Sending failed: Connection refused
// A remote reply wins over the local classes (a "451 Timeout" is a reply, not a timeout of ours).

/** What a grammar knows about one delivery attempt besides its recipient and status. */
export interface AttemptDetail {
  /** Where the attempt went, as the MTA names it: "mx.partner.example[203.0.113.5]:25" (Postfix),
   *  "127.0.0.4 [127.0.0.4]" (Exim H=), "[127.0.0.2]" (Sendmail relay=). */
  relay?: string;
  /** The MTA's or the remote's text on why (deferred, bounced). */
  text?: string;
  /** The DSN status as logged (Postfix/Sendmail dsn=): "4.4.1". */
  dsn?: string;
  /** Seconds from arrival to this attempt's end (Postfix delay=, Exim QT=, Sendmail delay=). */
  delay?: number;
  /** The message was given up after its queue lifetime (Postfix status=expired, Exim retry timeout). */
  expired?: boolean;
}

const MAX_REASON = 100;

/** Addresses, IPs, numbers and IDs of a reason text replaced, so that one cause is one text. */
export function templateReason(text: string): string {
  let t = text
    .replace(/<[^<>\s]*>/g, '<addr>')
    .replace(/[^\s<>()[\]'",;:]+@[^\s<>()[\]'",;:]+/g, '<addr>')
    .replace(/\[(?:IPv6:)?[0-9A-Fa-f:.]+\](?::\d+)?/g, '[<ip>]')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g, '<ip>')
    .replace(/\b(?=[0-9A-Za-z-]*\d)[0-9A-Za-z]{8,}(?:-[0-9A-Za-z]+)*\b/g, '<id>')
    .replace(/\b\d+\b/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim();
  if (t.length > MAX_REASON) t = `${t.slice(0, MAX_REASON - 1)}…`;
  return t;
}

// "451 4.7.1 text", "said: 550 5.1.1 text", "...RCPT TO:<x>: 451 text" (Exim), "reply=550 ..." (Sendmail).
const REPLY = /(?:^|said: |: |reply=)([45]\d\d)(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?(?:[ -](.*))?$/s;

const CLASSES: readonly [RegExp, string][] = [
  [/connection refused|connect failed/i, 'Connection refused'],
  [/timed out|timeout/i, 'Connection timed out'],
  [/host or domain name not found|host not found|name service error|unknown host|host unknown|name or service not known|no mx|mx records point to non-existent|unrouteable|gethostbyname/i, 'Host not found'],
  [/\btls\b|ssl|certificate|starttls|handshake/i, 'TLS failure'],
  [/retry time not reached/i, 'retry time not reached'],
  [/network (error|is) unreachable|no route to host/i, 'Network unreachable'],
  [/lost connection|connection reset|connection closed/i, 'Lost connection'],
];

/**
 * The normalised reason of a deferral or bounce: the remote reply with its code ("550 5.1.1 <addr>:
 * Recipient address rejected: User unknown ..."), else a class (Connection refused, Connection timed
 * out, Host not found, TLS failure, ...), else the text templated. "" when nothing was logged.
 */
export function normaliseReason(text: string | undefined): string {
  if (!text) return '';
  let t = text.replace(/\s*\(in reply to ([A-Z]+)(?: [A-Z]+)? command\)\s*$/, ' (after $1)');
  const r = REPLY.exec(t);
  if (r) {
    const rest = r[3] ? templateReason(r[3]) : '';
    return `${r[1]}${r[2] ? ` ${r[2]}` : ''}${rest ? ` ${rest}` : ''}`.slice(0, MAX_REASON + 10);
  }
  for (const [re, name] of CLASSES) if (re.test(t)) return name;
  t = t.replace(/^(delivery temporarily suspended|deferred|deferred: ): ?/i, '');
  return templateReason(t);
}

/** An SMTP-time reject ("RCPT 550 5.1.1 <x>: Recipient address rejected: ...", "RCPT User unknown"):
 *  the stage word and reply code kept, the rest templated; no classes (a reject's "Unrouteable address"
 *  is a refused recipient, not a lookup failure of ours). */
export function normaliseReject(text: string): string {
  const m = /^([A-Z]{3,10}) (.*)$/s.exec(text.trim());
  const stage = m ? `${m[1]} ` : '';
  const rest = m ? m[2] : text.trim();
  const r = /^([45]\d\d)(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?(?:[ -](.*))?$/s.exec(rest);
  if (r) return `${stage}${r[1]}${r[2] ? ` ${r[2]}` : ''}${r[3] ? ` ${templateReason(r[3])}` : ''}`;
  return stage + templateReason(rest);
}

/** The DSN class of a reply or dsn= ("4.4.1" -> "4.4.1"; a bare "451" -> "4"). */
export function dsnOf(dsn: string | undefined, reason: string): string {
  if (dsn && /^[245]\.\d{1,3}\.\d{1,3}$/.test(dsn)) return dsn;
  const m = /^([45])\d\d(?: ([245]\.\d{1,3}\.\d{1,3}))?/.exec(reason);
  return m ? (m[2] ?? m[1]) : '';
}

/** Where a deferral or bounce went: the relay host, else the one named in the text ("connect to
 *  X:", "host X said"), else the recipient's domain. */
export function destinationOf(relay: string | undefined, text: string | undefined, rcpt: string): string {
  if (relay && relay !== 'none' && relay !== '-') return relay;
  if (text) {
    const c = /(?:connect to|host) ([^\s:]+\[[^\]]+\](?::\d+)?)/.exec(text);
    if (c) return c[1];
  }
  const at = rcpt.lastIndexOf('@');
  return at >= 0 ? rcpt.slice(at + 1).toLowerCase() : rcpt || '(unknown)';
}

/** Key of a (destination, DSN class, reason) group in MailFlow's counters. */
export const GROUP_SEP = '\t';

export interface DeliveryGroup {
  destination: string;
  /** DSN class ("4.4.1"), "" when the MTA logged none. */
  dsn: string;
  reason: string;
  count: number;
}

/** Reasons already normalised, by text: a storm repeats a handful of texts (bounded; cleared when full). */
const REASONS = new Map<string, string>();

export function groupKey(rcpt: string, d: AttemptDetail | undefined): string {
  const text = d?.text ?? '';
  let reason = REASONS.get(text);
  if (reason === undefined) {
    reason = normaliseReason(text);
    if (REASONS.size >= 4096) REASONS.clear();
    REASONS.set(text, reason);
  }
  return [destinationOf(d?.relay, d?.text, rcpt), dsnOf(d?.dsn, reason), reason].join(GROUP_SEP);
}

export function parseGroup(key: string, count: number): DeliveryGroup {
  const [destination, dsn, reason] = key.split(GROUP_SEP);
  return { destination, dsn: dsn ?? '', reason: reason ?? '', count };
}

// ----------------------------------------------------------------------------- delays

/** Exim's QT=/DT= durations: "0s", "1m23s", "2h3m", "1d2h", "1w". */
export function eximDuration(s: string): number | undefined {
  let t = 0;
  let any = false;
  const re = /(\d+)([wdhms])/g;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(s)) && m.index === at) {
    any = true;
    at = re.lastIndex;
    t += Number(m[1]) * { w: 604800, d: 86400, h: 3600, m: 60, s: 1 }[m[2] as 'w'];
  }
  return any && at === s.length ? t : undefined;
}

/** Sendmail's delay=: "00:00:08", "2+03:04:05" (days+). */
export function sendmailDuration(s: string): number | undefined {
  const m = /^(?:(\d+)\+)?(\d+):(\d\d):(\d\d)$/.exec(s);
  return m ? Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]) : undefined;
}

/**
 * Delivery delays in bounded memory: a fixed histogram of buckets 10% wide (each bucket's upper
 * bound is 1.1 times its lower), from 10 ms to ~10^7 s, and one bucket for delays under 10 ms. A
 * quantile is the bucket holding its rank (the rank is exact), reported as the bucket's geometric
 * middle: within 4.9% of the delay logged at that rank (sqrt(1.1) - 1), whatever the number of
 * deliveries. Postfix logs delay= to 10 ms, Exim and Sendmail to the second.
 */
export class DelayHistogram {
  static readonly RATIO = 1.1;
  static readonly MIN = 0.01;
  /** Relative error of a reported quantile. */
  static readonly MAX_ERROR = Math.sqrt(DelayHistogram.RATIO) - 1;
  private static readonly BUCKETS = 220;
  private readonly counts = new Float64Array(DelayHistogram.BUCKETS);
  count = 0;

  add(seconds: number, weight = 1): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    let i = 0;
    if (seconds >= DelayHistogram.MIN) i = Math.min(DelayHistogram.BUCKETS - 1, 1 + Math.floor(Math.log(seconds / DelayHistogram.MIN) / Math.log(DelayHistogram.RATIO)));
    this.counts[i] += weight;
    this.count += weight;
  }

  /** The q-quantile (0 < q <= 1), or undefined with no delays. */
  quantile(q: number): number | undefined {
    if (this.count <= 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return i === 0 ? 0 : DelayHistogram.MIN * DelayHistogram.RATIO ** (i - 0.5);
    }
    return undefined;
  }
}
