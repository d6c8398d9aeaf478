// Mail flow read from MTA log lines: messages by envelope sender, delivery attempts by recipient,
// messages by client, bounces (null sender), deferrals, failures and rejects. One small parser per
// MTA, each fed the message part of a line (after "prog[pid]: ", or after a mainlog's timestamp).
//
// Counting each message once is each MTA's own business: its log-line grammar (lib/log/<mta>-lines.ts,
// declared in its row of lib/mta/index.ts) reads its lines and reports new messages, delivery attempts
// and rejects through MailFlowSink (lib/log/flow.ts); this file counts them and names no MTA.
// Recipients are counted per delivery attempt (a retried recipient counts again): what the relay
// is spending its time on. Content-filter hand-offs to loopback ("queued as") are not attempts.
// Lines are parsed as latin1 (byte offsets stay right); each sender, recipient and client is then
// decoded as UTF-8 when its bytes are valid UTF-8 (lib/plugin/text.ts fromBytes), where it is counted.

import { fromBytes } from '../plugin/text.js';
import { MTA_NAMES, MTAS } from '../mta/index.js';
import type { MtaName } from '../mta/types.js';
import { TopCounter } from '../queue/topk.js';
import { Interner, PairInterner, Recent, RecentMap } from './recent.js';
import { NULL_SENDER, type AttemptStatus, type FlowParser, type LogGrammar, type MailFlowSink } from './flow.js';
import { DelayHistogram, groupKey, normaliseReject, type AttemptDetail } from './reason.js';

export { NULL_SENDER };

/** The registry's log grammars, in its order: an MTA is its index here (mtaOfTag), NO_MTA none. */
const GRAMMARS: readonly LogGrammar[] = MTA_NAMES.map((n) => MTAS[n].log);
export const NO_MTA = -1;
/** The MTA whose own log has no syslog tags (syslog.ts Format.Exim lines): the grammar that says so. */
export const MAINLOG_MTA = GRAMMARS.findIndex((g) => g.mainlog);
/** Per MTA: does its parser want each line's time. */
export const TIMED: readonly boolean[] = GRAMMARS.map((g) => g.timed === true);
/** Per MTA: are its tags "<instance>/<program>" (LogGrammar.instanceTags). */
export const INSTANCE_TAGS: readonly boolean[] = GRAMMARS.map((g) => g.instanceTags === true);

/** Key of a (sender, recipient) or (sender, client) pair in the pair counters. */
export const PAIR_SEP = '\n';

export interface FlowCounts {
  messages: number;
  bounces: number;
  deliveries: number;
  deferrals: number;
  failures: number;
  rejects: number;
  /** Delivery attempts that succeeded. (Optional: stats from before these counts have none.) */
  sent?: number;
  /** Messages given up after their queue lifetime (a bounce goes back). */
  expired?: number;
  /** Failed SMTP AUTH (SASL) attempts. */
  authFailures?: number;
}

export class MailFlow implements FlowCounts {
  messages = 0;
  /** Messages with the null sender (<>): bounces and other DSNs. */
  bounces = 0;
  /** Delivery attempts (per recipient), any status. */
  deliveries = 0;
  deferrals = 0;
  /** Permanent failures (a bounce will be sent back). */
  failures = 0;
  rejects = 0;
  sent = 0;
  expired = 0;
  authFailures = 0;
  readonly senders: TopCounter;
  readonly recipients: TopCounter;
  readonly clients: TopCounter;
  /** Where bounces come from and go to (backscatter, incident 002: random forged addresses in our domain). */
  readonly bounceClients: TopCounter;
  readonly bounceDomains: TopCounter;
  /** Distinct bounce recipients (bounded: a lower bound past its capacity). */
  readonly bounceRecipients: TopCounter;
  /** Delivery attempts by sender and recipient, messages by sender and client: each culprit's own
   *  top recipient and client (the whole log's top recipient may have got none of its mail). */
  readonly senderRecipients: TopCounter;
  readonly senderClients: TopCounter;
  /** Deferred attempts by recipient (the deferral alert names the top one of these). */
  readonly deferredRecipients: TopCounter;
  /** Deferred and failed attempts by destination, DSN class and normalised reason (lib/log/reason.ts groupKey). */
  readonly deferralGroups: TopCounter;
  readonly failureGroups: TopCounter;
  /** SMTP-time rejects by their reply, templated. */
  readonly rejectReasons: TopCounter;
  /** Failed AUTH attempts by client, and the user names they tried. */
  readonly authClients: TopCounter;
  readonly authUsers: TopCounter;
  /** Messages by the SASL account that submitted them (a compromised account is named as the account). */
  readonly accounts: TopCounter;
  /** Messages by account and envelope sender: each account's own top sender. */
  readonly accountSenders: TopCounter;
  /** Delivery delays (bounded memory, 4.9% error: lib/log/reason.ts DelayHistogram). */
  readonly delays = new DelayHistogram();
  /** SASL account of each queue ID, from its smtpd line until its message is counted. */
  private readonly accountOf = new RecentMap<string>(100_000);
  /** Envelope sender of each queue ID, to pair delivery attempts with it. */
  private readonly senderOf = new RecentMap<string>(200_000);
  /** Queue IDs of bounces not yet delivered, to attribute their recipients. */
  private readonly bounceIds = new Recent(100_000);
  /** Canonical senders, clients and (lower-cased) recipients, decoded once per distinct value. */
  private readonly names = new Interner(fromBytes);
  private readonly rcpts = new Interner((raw) => fromBytes(raw).toLowerCase());
  private readonly pairs = new PairInterner(PAIR_SEP);
  /** One parser per MTA of the registry, by index. */
  private readonly parsers: FlowParser[];

  constructor(capacity = 10_000) {
    this.senders = new TopCounter(capacity);
    this.recipients = new TopCounter(capacity);
    this.clients = new TopCounter(capacity);
    this.bounceClients = new TopCounter(capacity);
    this.bounceDomains = new TopCounter(capacity);
    this.bounceRecipients = new TopCounter(capacity);
    this.senderRecipients = new TopCounter(capacity);
    this.senderClients = new TopCounter(capacity);
    this.deferredRecipients = new TopCounter(capacity);
    this.deferralGroups = new TopCounter(capacity);
    this.failureGroups = new TopCounter(capacity);
    this.rejectReasons = new TopCounter(Math.min(capacity, 2_000));
    this.authClients = new TopCounter(capacity);
    this.authUsers = new TopCounter(capacity);
    this.accounts = new TopCounter(capacity);
    this.accountSenders = new TopCounter(capacity);
    const sink: MailFlowSink = {
      message: (sender, client, qid, bounceClient) => this.message(sender, client, qid, bounceClient),
      attempt: (rcpt, status, qid, detail) => this.attempt(rcpt, status, qid, detail),
      reject: (reason) => {
        this.rejects++;
        if (reason) this.rejectReasons.add(normaliseReject(fromBytes(reason)));
      },
      authFailed: (client, user) => {
        this.authFailures++;
        this.authClients.add(fromBytes(client));
        if (user) this.authUsers.add(fromBytes(user));
      },
      account: (qid, user) => this.accountOf.set(qid, this.names.get(user)),
      expired: () => void this.expired++,
      client: (client) => this.clients.add(this.names.get(client)),
      sender: (qid, sender) => this.senderOf.set(qid, sender === '' || sender === NULL_SENDER ? NULL_SENDER : this.names.get(sender)),
      removed: (qid) => void this.bounceIds.take(qid),
    };
    this.parsers = GRAMMARS.map((g) => g.create(sink));
  }

  /**
   * One line of MTA `mta` (an index from mtaOfTag or MAINLOG_MTA): the tag is b[progStart, progEnd)
   * ("postfix/qmgr", "sm-mta"; empty in a mainlog), the message b[msgStart, end). Each grammar drops
   * the lines that cannot matter by looking at a few bytes, before any string is made.
   */
  line(mta: number, b: Buffer, progStart: number, progEnd: number, msgStart: number, end: number, time?: () => number | undefined): void {
    this.parsers[mta].line(b, progStart, progEnd, msgStart, end, time);
  }

  /** The end of the input: hands on what a parser still holds (nullmailer's last attempt). */
  end(): void {
    for (const p of this.parsers) p.end?.();
  }

  /** Test helper: a line as text, tag and message apart. */
  lineText(mta: MtaName, prog: string, msg: string): void {
    const b = Buffer.from(`${prog}\n${msg}`, 'latin1');
    this.line(MTA_NAMES.indexOf(mta), b, 0, prog.length, prog.length + 1, b.length);
  }

  /** client: counted here; bounceClient: where a bounce came from (already counted as a client). */
  private message(sender: string, rawClient?: string, qid?: string, bounceClient?: string): void {
    this.messages++;
    const s = sender === '' || sender === NULL_SENDER ? NULL_SENDER : this.names.get(sender);
    const client = rawClient === undefined ? undefined : this.names.get(rawClient);
    this.senders.add(s);
    if (client) this.clients.add(client);
    if (qid) this.senderOf.set(qid, s);
    const account = qid === undefined ? undefined : this.accountOf.get(qid);
    if (account !== undefined) {
      this.accountOf.delete(qid!);
      this.accounts.add(account);
      this.accountSenders.add(this.pairs.get(account, s));
    }
    const from = client ?? (bounceClient === undefined ? undefined : this.names.get(bounceClient));
    if (from) this.senderClients.add(this.pairs.get(s, from));
    if (s === NULL_SENDER) {
      this.bounces++;
      if (from) this.bounceClients.add(from);
      if (qid) this.bounceIds.add(qid);
    }
  }

  private attempt(rcpt: string, status: AttemptStatus, qid?: string, detail?: AttemptDetail): void {
    this.deliveries++;
    if (status === 'deferred') this.deferrals++;
    else if (status === 'failed') this.failures++;
    else if (status === 'sent') this.sent++;
    if (detail?.expired) this.expired++;
    if (detail?.delay !== undefined && status !== 'deferred') this.delays.add(detail.delay);
    const r = rcpt ? this.rcpts.get(rcpt) : '';
    if (status === 'deferred' || status === 'failed') {
      const d = detail && { ...detail, relay: detail.relay && fromBytes(detail.relay), text: detail.text && fromBytes(detail.text) };
      (status === 'deferred' ? this.deferralGroups : this.failureGroups).add(groupKey(r, d));
    }
    if (!rcpt) return;
    this.recipients.add(r);
    if (status === 'deferred') this.deferredRecipients.add(r);
    const sender = qid === undefined ? undefined : this.senderOf.get(qid);
    if (sender !== undefined) this.senderRecipients.add(this.pairs.get(sender, r));
    if (qid && this.bounceIds.has(qid)) {
      this.bounceRecipients.add(r);
      this.bounceDomains.add(r.slice(r.lastIndexOf('@') + 1));
      if (status !== 'deferred') this.bounceIds.take(qid);
    }
  }
}

/** Which MTA wrote this line, from its tag (postfix/..., sm-mta, exim4, smtpd, nullmailer-send): the
 *  index of the registry's grammar that claims it, NO_MTA when none does. */
export function mtaOfTag(b: Buffer, s: number, e: number): number {
  for (let i = 0; i < GRAMMARS.length; i++) if (GRAMMARS[i].isTag(b, s, e)) return i;
  return NO_MTA;
}
