// A realistic queue, MTA-agnostic: a flood from one application to one alias (incident 000),
// bounces to random addresses (incidents 001, 002), ordinary mail, some held and some fresh.
// Deterministic for a seed, so benchmarks and demos are reproducible.
// A share of the ordinary mail is delivered in part (mix.partial, 5% by default), as on a server whose
// messages go to a local mailbox and to remote domains: the local copy was delivered at once, the
// remote ones wait (the -partial captures in test/fixtures/mta show each MTA's queue file then).

export type MessageKind = 'flood' | 'bounce' | 'normal' | 'held' | 'fresh' | 'partial';

export interface GenMessage {
  id: string;
  kind: MessageKind;
  queue: string;
  arrival: number;
  usec?: number;
  sender: string;
  /** Recipients still to be delivered: what a reader must count. */
  recipients: string[];
  /** Recipients already delivered (kind 'partial'): in the queue file as the MTA marks them done. */
  delivered?: string[];
  body: string;
  client?: string;
}

export interface WriterOptions {
  /** Exim split_spool_directory layout. */
  split?: boolean;
}

export interface SpoolWriter {
  mta: 'postfix' | 'sendmail' | 'exim';
  /** Create the empty queue directories under root. */
  prepare(root: string, opts?: WriterOptions): void;
  /** Write one message; returns the number of files written. */
  write(root: string, m: GenMessage, opts?: WriterOptions): number;
  queueFor(kind: MessageKind): string;
  makeId(seq: number, arrival: number): string;
}

export interface Mix {
  flood: number;
  bounce: number;
  held: number;
  fresh: number;
  /** Ordinary mail with one recipient delivered locally and the others deferred. */
  partial?: number;
}

export const DEFAULT_MIX: Mix = { flood: 0.55, bounce: 0.3, held: 0.01, fresh: 0.01, partial: 0.05 };

/** The local mailbox a partially delivered message was delivered to (the lab host is the MTA's own). */
export const LOCAL_HOST = 'mx1.lab.example';

/** mulberry32: small, fast, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DOMAINS = ['example.net', 'example.org', 'customer.example', 'partner.example', 'corp.example', 'shop.example'];
const SENDERS = ['billing@shop.example', 'alerts@monitor.lab.example', 'jenkins@ci.example', 'hr@corp.example', 'support@help.example'];
const LOREM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.';

function body(subject: string, from: string, to: string, lines: number): string {
  const out = [`From: <${from || 'MAILER-DAEMON@mx1.lab.example'}>`, `To: <${to}>`, `Subject: ${subject}`, 'MIME-Version: 1.0', ''];
  for (let i = 0; i < lines; i++) out.push(LOREM);
  return out.join('\n');
}

/** Every envelope recipient in queue-file order, delivered ones included (where the MTA keeps them),
 *  the delivered one at a place chosen by the queue ID: first, last or between. */
export function envelopeOrder(m: GenMessage): { address: string; done: boolean }[] {
  const out = m.recipients.map((address) => ({ address, done: false }));
  const done = m.delivered ?? [];
  let h = 0;
  for (let i = 0; i < m.id.length; i++) h = (h * 31 + m.id.charCodeAt(i)) >>> 0;
  for (const address of done) out.splice(h % (out.length + 1), 0, { address, done: true });
  return out;
}

/** The n-th message of a generated queue (pure, so generation can stream). */
export function makeMessage(seq: number, writer: SpoolWriter, now: number, random: () => number, mix: Mix = DEFAULT_MIX): GenMessage {
  const x = random();
  const c = [mix.flood, mix.flood + mix.bounce, mix.flood + mix.bounce + mix.held, mix.flood + mix.bounce + mix.held + mix.fresh];
  const kind: MessageKind =
    x < c[0] ? 'flood' : x < c[1] ? 'bounce' : x < c[2] ? 'held' : x < c[3] ? 'fresh' : x < c[3] + (mix.partial ?? 0) ? 'partial' : 'normal';
  // Ages spread over the last 14 hours, the flood mostly recent (it started overnight).
  const age = kind === 'fresh' ? Math.floor(random() * 60) : kind === 'flood' ? Math.floor(random() * 6 * 3600) : Math.floor(random() * 14 * 3600);
  const arrival = now - age;
  let sender: string;
  let recipients: string[];
  let subject: string;
  let client: string | undefined;
  let delivered: string[] | undefined;
  switch (kind) {
    case 'flood':
      sender = 'spocskulker@qa-app-07.qa.example';
      recipients = ['qanotify@lab.example'];
      subject = `ERROR: customer ${100000 + Math.floor(random() * 900000)} has no active services`;
      client = 'qa-app-07.qa.example[10.20.30.47]';
      break;
    case 'bounce':
      sender = '';
      recipients = [`${Math.floor(random() * 1e9).toString(36)}@victim-${random() < 0.7 ? 'a' : 'b'}.example`];
      subject = 'Undelivered Mail Returned to Sender';
      break;
    default: {
      sender = SENDERS[Math.floor(random() * SENDERS.length)];
      const n = 1 + Math.floor(random() * 3);
      recipients = Array.from({ length: n }, (_, i) => `user${Math.floor(random() * 5000)}.${i}@${DOMAINS[Math.floor(random() * DOMAINS.length)]}`);
      subject = 'Weekly report';
      client = 'app1.corp.example[10.0.0.12]';
      // Partial: drawn like ordinary mail (the same random numbers, so a seed's other messages do
      // not change), plus a local mailbox that already has its copy, placed by the sequence number.
      if (kind === 'partial') delivered = [`mbox${seq % 97}@${LOCAL_HOST}`];
    }
  }
  return {
    id: writer.makeId(seq, arrival),
    kind,
    queue: writer.queueFor(kind),
    arrival,
    usec: Math.floor(random() * 1e6),
    sender,
    recipients,
    delivered,
    body: body(subject, sender, recipients[0], kind === 'normal' || kind === 'partial' ? 8 + Math.floor(random() * 40) : 6),
    client,
  };
}
