// The world an incident scenario changes between two check runs: a real-format queue that grows and
// drains message by message (the bench/gen writers, one message at a time), and a mail log appended
// to with lines written the way the MTA writes them (bench/gen/maillog.ts). Both stop, as the real
// MTA and syslog would, when their filesystem is full (ENOSPC): the message is not accepted, the
// log line is cut off.

import fs from 'node:fs';
import path from 'node:path';
import { WRITERS } from '../../bench/gen-spool.js';
import { rng, type GenMessage, type MessageKind, type SpoolWriter } from '../../bench/gen/model.js';
import type { MaillogGenerator } from '../../bench/gen/maillog.js';

export type Mta = 'postfix' | 'sendmail' | 'exim';

/** What a scenario asks for; everything else (id, queue, body) follows the MTA's writer. */
export interface MessageSpec {
  /** The generator's kind decides the queue: held -> hold/quarantine/frozen, fresh -> active (Postfix), else deferred/mqueue/input. */
  kind: MessageKind;
  sender: string;
  recipients: string[];
  /** "name[addr]" as Postfix logs it. */
  client?: string;
  subject?: string;
  /** Body lines of lorem ipsum (sizes the data file). */
  lines?: number;
}

const LOREM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.';

function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Files one message occupies, mirroring the writers' layouts (bench/gen/postfix.ts, sendmail.ts, exim.ts). */
function filesOf(mta: Mta, root: string, m: GenMessage): string[] {
  if (mta === 'postfix') return [path.join(root, m.queue === 'deferred' ? path.join('deferred', m.id[0]) : m.queue, m.id)];
  if (mta === 'sendmail') return [path.join(root, 'mqueue', `df${m.id}`), path.join(root, 'mqueue', `${m.kind === 'held' ? 'hf' : 'qf'}${m.id}`)];
  return [path.join(root, 'input', `${m.id}-D`), path.join(root, 'input', `${m.id}-H`)];
}

interface Queued {
  files: string[];
  arrival: number;
  tag: string;
}

/** A queue that grows and drains between runs. `root` is what the writer prepares (a Postfix queue_directory, Sendmail's /var/spool, Exim's spool). */
export class Spool {
  readonly writer: SpoolWriter;
  private seq = 0;
  private readonly random: () => number;
  /** Messages in the queue by tag, oldest first. */
  private readonly queued = new Map<string, Queued[]>();
  /** Set when a message could not be written: the filesystem is full. */
  fullAt?: number;

  constructor(
    readonly mta: Mta,
    readonly root: string,
    seed = 1,
  ) {
    this.writer = WRITERS[mta];
    this.random = rng(seed);
    fs.mkdirSync(root, { recursive: true });
    this.writer.prepare(root);
  }

  /** The directory to give the checks as --spool. */
  get spoolDir(): string {
    return this.mta === 'sendmail' ? path.join(this.root, 'mqueue') : this.root;
  }

  /** Messages queued under a tag (all tags when none given). */
  count(tag?: string): number {
    if (tag !== undefined) return this.queued.get(tag)?.length ?? 0;
    let n = 0;
    for (const q of this.queued.values()) n += q.length;
    return n;
  }

  /** Oldest arrival under a tag (all tags when none given). */
  oldest(tag?: string): number | undefined {
    const lists = tag !== undefined ? [this.queued.get(tag) ?? []] : [...this.queued.values()];
    let o: number | undefined;
    for (const l of lists) if (l.length && (o === undefined || l[0].arrival < o)) o = l[0].arrival;
    return o;
  }

  /**
   * Queue `n` messages arriving evenly over (from, to]. Returns how many were written: fewer when the
   * filesystem filled (then `fullAt` is set and the half-written message is removed, as an MTA that
   * answers "452 insufficient disk space" keeps nothing of it).
   */
  add(n: number, from: number, to: number, spec: (i: number) => MessageSpec, tag = 'mail'): number {
    const list = this.queued.get(tag) ?? [];
    this.queued.set(tag, list);
    for (let i = 0; i < n; i++) {
      const arrival = Math.floor(from + ((i + 1) * (to - from)) / n);
      const s = spec(i);
      const m = this.message(s, arrival);
      const files = filesOf(this.mta, this.root, m);
      try {
        this.writer.write(this.root, m);
      } catch (err) {
        if (!isNoSpace(err)) throw err;
        for (const f of files) fs.rmSync(f, { force: true });
        this.fullAt ??= to;
        return i;
      }
      list.push({ files, arrival, tag });
    }
    return n;
  }

  /** Deliver (remove) the `n` oldest messages of a tag. */
  remove(n: number, tag = 'mail'): number {
    const list = this.queued.get(tag) ?? [];
    const gone = list.splice(0, Math.min(n, list.length));
    for (const q of gone) for (const f of q.files) fs.rmSync(f); // not force: a missing file is a harness bug
    return gone.length;
  }

  /** Deliver (remove) every message of a tag that arrived at or before `t`. */
  removeArrivedBy(t: number, tag = 'mail'): number {
    const list = this.queued.get(tag) ?? [];
    let n = 0;
    while (n < list.length && list[n].arrival <= t) n++;
    return this.remove(n, tag);
  }

  private message(s: MessageSpec, arrival: number): GenMessage {
    const seq = this.seq++;
    const lines = [`From: <${s.sender || 'MAILER-DAEMON@mx1.lab.example'}>`, `To: <${s.recipients[0]}>`, `Subject: ${s.subject ?? 'queued message'}`, 'MIME-Version: 1.0', ''];
    for (let i = 0; i < (s.lines ?? 6); i++) lines.push(LOREM);
    return {
      id: this.writer.makeId(seq, arrival),
      kind: s.kind,
      queue: this.writer.queueFor(s.kind),
      arrival,
      usec: Math.floor(this.random() * 1e6),
      sender: s.sender,
      recipients: s.recipients,
      body: lines.join('\n'),
      client: s.client,
    };
  }
}

/** A mail log on disk fed from a MaillogGenerator; appends stop at ENOSPC (the last line cut short). */
export class MailLog {
  /** Set at the first append that hit a full filesystem. */
  fullAt?: number;
  written = 0;
  dropped = 0;

  constructor(
    readonly file: string,
    readonly gen: MaillogGenerator,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '');
  }

  /** Append what the generator produced since the last flush; `t` is the scenario time (for fullAt). */
  flush(t: number): void {
    this.append(Buffer.from(this.gen.take()), t);
  }

  append(buf: Buffer, t: number): void {
    const fd = fs.openSync(this.file, 'a');
    let off = 0;
    try {
      while (off < buf.length) off += fs.writeSync(fd, buf, off, Math.min(1 << 20, buf.length - off));
    } catch (err) {
      if (!isNoSpace(err)) throw err;
      this.fullAt ??= t;
    } finally {
      fs.closeSync(fd);
    }
    this.written += off;
    this.dropped += buf.length - off;
  }

  /** logrotate without copytruncate: mail.log -> mail.log.1, a new empty mail.log (syslog reopens it). */
  rotate(): void {
    fs.renameSync(this.file, `${this.file}.1`);
    fs.writeFileSync(this.file, '');
  }
}

/** Fill a filesystem with a file of `bytes` (older logs, other data): what was there before the incident. */
export function ballast(file: string, bytes: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.alloc(bytes, 0x61));
}

/** One message through the MTA as the log shows it, spread over `seconds` from the generator's clock. */
export interface LoggedMessage {
  sender: string;
  recipients: string[];
  client?: [string, string];
  status: 'sent' | 'deferred' | 'bounced';
  kind?: string;
}

export function logMessages(g: MaillogGenerator, n: number, seconds: number, each: (i: number) => LoggedMessage): void {
  const dt = n > 0 ? seconds / n : 0;
  for (let i = 0; i < n; i++) {
    const m = each(i);
    g.message({ ...m, kind: m.kind ?? 'scenario' });
    g.t += dt;
  }
}

export const ORDINARY_SENDERS = ['billing@shop.example', 'alerts@monitor.lab.example', 'jenkins@ci.example', 'hr@corp.example', 'support@help.example'];
export const ORDINARY_DOMAINS = ['example.net', 'example.org', 'customer.example', 'partner.example', 'corp.example'];

/** Ordinary mail: one of a few senders to 1-3 people at ordinary domains. */
export function ordinary(random: () => number, kind: MessageKind = 'normal'): MessageSpec {
  const pick = <T>(a: readonly T[]) => a[Math.floor(random() * a.length)];
  const k = 1 + Math.floor(random() * 3);
  return {
    kind,
    sender: pick(ORDINARY_SENDERS),
    recipients: Array.from({ length: k }, (_, i) => `user${Math.floor(random() * 5000)}.${i}@${pick(ORDINARY_DOMAINS)}`),
    client: 'app1.corp.example[10.0.0.12]',
    subject: 'Weekly report',
    lines: 8 + Math.floor(random() * 30),
  };
}
