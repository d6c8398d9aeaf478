// Reading what was appended to a log since the last run, with one reused buffer, a byte budget, a
// deadline, and block sampling for very large reads.
//
// Budget (--max-bytes): one run reads at most this many bytes; the rest is skipped forward (the
// cursor moves to the end) and counted as skipped, never silently dropped.
// Sampling (--exact-limit): the first `exactLimit` bytes of a run are analysed line by line; past
// that, every line is still counted but only the first 64 KiB of each 1 MiB block is analysed
// (templates and mail flow), and the counts are scaled by lines seen / lines analysed. A flood big
// enough to get there is measured in lines exactly and described by a 1/16 sample.

import fs from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import zlib from 'node:zlib';
import { UnknownError } from '../plugin/errors.js';
import type { FloodAnalyser } from './flood.js';
import { DEFAULT_MAX_LINE, LineSplitter } from './lines.js';

export const CHUNK = 1 << 20;
export const SAMPLE_BLOCK = 64 * 1024;

export interface ReaderOptions {
  /** Bytes one run may read (all files together). */
  maxBytes: number;
  /** Bytes analysed line by line before sampling starts. */
  exactLimit: number;
  maxLine?: number;
  /** Epoch ms; reading stops there (partial result). */
  deadline: number;
  now: () => number;
  signal?: AbortSignal;
  /** Test hook: called after each chunk is read, with the file and the offset reached. */
  onChunk?: (file: string, offset: number) => void;
}

export interface RangeResult {
  /** Offset to resume from next time (after the last complete line, or the end for finished files). */
  resume: number;
  /** Bytes consumed from `from`. */
  read: number;
  /** Bytes between `resume` and the range end that were skipped for the budget. */
  skipped: number;
  /** The tail is an overlong line already counted: skip to its end next time. */
  midLine: boolean;
  /** Stopped at the deadline. */
  stopped: boolean;
}

export class LogReader {
  /** Every line seen (analysed or only counted). */
  lines = 0;
  /** Bytes read (consumed) by this run. */
  bytes = 0;
  /** Bytes skipped for the budget. */
  skipped = 0;
  /** Bytes read while sampling. */
  sampledBytes = 0;
  stopped = false;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private analysing = true;
  private chunks = 0;

  constructor(
    private readonly analyser: FloodAnalyser,
    private readonly o: ReaderOptions,
  ) {}

  /** Lines seen per line analysed (1 unless sampling). */
  get scale(): number {
    return this.analyser.lines > 0 ? this.lines / this.analyser.lines : 1;
  }

  get sampling(): boolean {
    return this.sampledBytes > 0;
  }

  get budgetLeft(): number {
    return Math.max(0, this.o.maxBytes - this.bytes);
  }

  private splitter(skipFirst: boolean): LineSplitter {
    const a = this.analyser;
    return new LineSplitter(
      (b, s, e, t) => {
        this.lines++;
        if (this.analysing) a.line(b, s, e, t);
      },
      this.o.maxLine ?? DEFAULT_MAX_LINE,
      skipFirst,
    );
  }

  /** Feed one chunk, sampling past the exact limit. */
  private feed(sp: LineSplitter, chunk: Buffer): void {
    if (this.bytes + sp.pushed < this.o.exactLimit) {
      this.analysing = true;
      sp.push(chunk);
    } else {
      this.sampledBytes += chunk.length;
      const head = Math.min(SAMPLE_BLOCK, chunk.length);
      this.analysing = true;
      sp.push(chunk.subarray(0, head));
      this.analysing = false;
      if (head < chunk.length) sp.push(chunk.subarray(head));
      this.analysing = true;
    }
    this.analyser.endChunk();
  }

  private overdue(): boolean {
    return this.o.signal?.aborted === true || this.o.now() >= this.o.deadline;
  }

  private async breathe(): Promise<void> {
    // The runner's hard deadline is a timer: let it run now and then.
    if (++this.chunks % 16 === 0) await yieldToLoop();
  }

  /**
   * Read the plain file range [from, to). `final`: the file will not grow (a rotated file): its last
   * line counts even without '\n'. Otherwise an unfinished last line is left for the next run.
   */
  async readPlain(file: string, from: number, to: number, opts: { final: boolean; skipFirst?: boolean }): Promise<RangeResult> {
    const sp = this.splitter(opts.skipFirst ?? false);
    const budget = this.budgetLeft;
    const stop = Math.min(to, from + budget);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      throw new UnknownError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'run the check as a user that can read the mail log (group adm on Debian)');
    }
    let pos = from;
    try {
      while (pos < stop) {
        if (this.overdue()) {
          this.stopped = true;
          break;
        }
        const n = fs.readSync(fd, this.buf, 0, Math.min(CHUNK, stop - pos), pos);
        if (n <= 0) break; // shorter than it said: truncated under us
        pos += n;
        this.feed(sp, this.buf.subarray(0, n));
        this.o.onChunk?.(file, pos);
        await this.breathe();
      }
    } finally {
      fs.closeSync(fd);
    }
    const cut = stop < to && !this.stopped;
    let resume: number;
    let midLine = false;
    if (opts.final && pos >= to) {
      sp.finish();
      resume = pos;
    } else if (sp.inOverlong) {
      // Inside a line longer than the limit (already counted): move past what we read.
      resume = pos;
      midLine = true;
    } else {
      resume = from + sp.consumed;
    }
    if (cut) {
      // Over budget: count what was left as skipped and move the cursor to the end.
      const skipped = to - resume;
      this.skipped += skipped;
      this.bytes += resume - from;
      return { resume: to, read: resume - from, skipped, midLine: false, stopped: false };
    }
    this.bytes += resume - from;
    return { resume, read: resume - from, skipped: 0, midLine, stopped: this.stopped };
  }

  /** Read bytes already in memory (a finished text: its last line counts without '\n'). */
  readBuffer(text: Buffer): RangeResult {
    const sp = this.splitter(false);
    const take = Math.min(text.length, this.budgetLeft);
    for (let pos = 0; pos < take; pos += CHUNK) this.feed(sp, text.subarray(pos, Math.min(take, pos + CHUNK)));
    if (take === text.length) {
      sp.finish();
      this.bytes += text.length;
      return { resume: text.length, read: text.length, skipped: 0, midLine: false, stopped: false };
    }
    const skipped = text.length - sp.consumed;
    this.bytes += sp.consumed;
    this.skipped += skipped;
    return { resume: text.length, read: sp.consumed, skipped, midLine: false, stopped: false };
  }

  /** Read a gzip-compressed rotated file from the decompressed offset `from` to its end. */
  async readGzip(file: string, from: number): Promise<RangeResult> {
    const sp = this.splitter(false);
    const budget = this.budgetLeft;
    const total = gzipSize(file);
    let pos = 0;
    let used = 0;
    let cut = false;
    const stream = fs.createReadStream(file, { highWaterMark: 256 * 1024 }).pipe(zlib.createGunzip({ chunkSize: 256 * 1024 }));
    try {
      for await (const raw of stream as AsyncIterable<Buffer>) {
        let chunk = raw;
        if (pos + chunk.length <= from) {
          pos += chunk.length;
          continue;
        }
        if (pos < from) {
          chunk = chunk.subarray(from - pos);
          pos = from;
        }
        if (used + chunk.length > budget) {
          chunk = chunk.subarray(0, budget - used);
          cut = true;
        }
        if (chunk.length) this.feed(sp, chunk);
        pos += chunk.length;
        used += chunk.length;
        this.o.onChunk?.(file, pos);
        if (cut) break;
        if (this.overdue()) {
          this.stopped = true;
          break;
        }
      }
    } catch (err) {
      throw new UnknownError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'a damaged rotated log: remove or repair it');
    } finally {
      stream.destroy();
    }
    if (cut) {
      const consumed = sp.consumed;
      const rest = Math.max(0, (total ?? pos) - (from + consumed));
      this.skipped += rest;
      this.bytes += consumed;
      return { resume: from + consumed + rest, read: consumed, skipped: rest, midLine: false, stopped: false };
    }
    if (!this.stopped) sp.finish();
    this.bytes += sp.consumed;
    return { resume: from + sp.consumed, read: sp.consumed, skipped: 0, midLine: false, stopped: this.stopped };
  }
}


/** gzip's ISIZE trailer: the uncompressed size modulo 4 GiB (an estimate for files larger than that). */
export function gzipSize(file: string): number | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size < 18) return undefined;
      const b = Buffer.alloc(4);
      fs.readSync(fd, b, 0, 4, size - 4);
      return b.readUInt32LE(0);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}
