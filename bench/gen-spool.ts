// Generate a realistic spool of N messages for one MTA: `gen-spool --mta postfix --count 500000 --out DIR`.
// Streams (one message in memory at a time), shows progress on stderr, prints a JSON summary of
// what it wrote (the ground truth for tests and benchmarks) on stdout.

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { eximWriter } from './gen/exim.js';
import { makeMessage, rng, DEFAULT_MIX, type SpoolWriter } from './gen/model.js';
import { postfixWriter } from './gen/postfix.js';
import { sendmailWriter } from './gen/sendmail.js';

export const WRITERS: Record<string, SpoolWriter> = { postfix: postfixWriter, sendmail: sendmailWriter, exim: eximWriter };

export interface GenSummary {
  mta: string;
  out: string;
  total: number;
  files: number;
  byQueue: Record<string, number>;
  nullSender: number;
  /** Recipients still to be delivered (what a reader must count). */
  recipients: number;
  /** Messages delivered in part (kind 'partial'), and the recipients they had delivered already. */
  partial: number;
  delivered: number;
  /** Recipients still to be delivered, by domain (lower case). */
  recipientDomains: Record<string, number>;
  oldestArrival: number;
  topSender: string;
  topSenderCount: number;
  now: number;
}

export function generate(opts: {
  mta: string;
  count: number;
  out: string;
  seed?: number;
  now?: number;
  mix?: typeof DEFAULT_MIX;
  split?: boolean;
  progress?: (done: number, total: number) => void;
}): GenSummary {
  const writer = WRITERS[opts.mta];
  if (!writer) throw new Error(`unknown MTA '${opts.mta}'`);
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const random = rng(opts.seed ?? 1);
  fs.mkdirSync(opts.out, { recursive: true });
  writer.prepare(opts.out, { split: opts.split });
  const s: GenSummary = {
    mta: opts.mta,
    out: opts.out,
    total: 0,
    files: 0,
    byQueue: {},
    nullSender: 0,
    recipients: 0,
    partial: 0,
    delivered: 0,
    recipientDomains: {},
    oldestArrival: Infinity,
    topSender: '',
    topSenderCount: 0,
    now,
  };
  const senders = new Map<string, number>();
  for (let i = 0; i < opts.count; i++) {
    const m = makeMessage(i, writer, now, random, opts.mix);
    s.files += writer.write(opts.out, m, { split: opts.split });
    s.total++;
    s.byQueue[m.queue] = (s.byQueue[m.queue] ?? 0) + 1;
    if (m.sender === '') s.nullSender++;
    s.recipients += m.recipients.length;
    for (const r of m.recipients) {
      const d = r.slice(r.lastIndexOf('@') + 1).toLowerCase();
      s.recipientDomains[d] = (s.recipientDomains[d] ?? 0) + 1;
    }
    if (m.delivered?.length) {
      s.partial++;
      s.delivered += m.delivered.length;
    }
    if (m.arrival < s.oldestArrival) s.oldestArrival = m.arrival;
    const key = m.sender === '' ? '<>' : m.sender;
    senders.set(key, (senders.get(key) ?? 0) + 1);
    if (opts.progress && (i + 1) % 5000 === 0) opts.progress(i + 1, opts.count);
  }
  for (const [k, c] of senders)
    if (c > s.topSenderCount) {
      s.topSender = k;
      s.topSenderCount = c;
    }
  return s;
}

function bar(done: number, total: number): void {
  const w = 30;
  const f = Math.round((w * done) / total);
  process.stderr.write(`\r[${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')}`);
  if (done === total) process.stderr.write('\n');
}

if (process.argv[1] && /gen-spool\.(ts|js)$/.test(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      mta: { type: 'string', default: 'postfix' },
      count: { type: 'string', default: '20000' },
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
      split: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!values.out) {
    console.error('usage: gen-spool --mta postfix|sendmail|exim --count N --out DIR [--seed S] [--split]');
    process.exit(2);
  }
  const summary = generate({
    mta: values.mta!,
    count: Number(values.count),
    out: values.out,
    seed: Number(values.seed),
    split: values.split,
    progress: values.quiet ? undefined : bar,
  });
  process.stdout.write(JSON.stringify(summary) + '\n');
}
