// Reading what was appended to a log since the last run, with one reused buffer, a byte budget, a
// deadline, and block sampling for very large reads.
//
// Budget (--max-bytes): one run reads at most this many bytes; the rest is skipped forward (the
// cursor moves to the end) and counted as skipped, never silently dropped.
// Sampling (--exact-limit): the first `exactLimit` bytes of a run are analysed line by line (the
// exact stratum); past that, every line is still counted, and the bytes are cut into 1 MiB blocks of
// which 64 KiB are analysed (templates and mail flow): a 4 KiB window in each 64 KiB, at a place that
// varies. (A fixed first 64 KiB per block aliased with periodic logs, +63% deferrals on a generated
// one, and one 64 KiB piece missed bursts: -28%.) The analyser counts the exact
// stratum as it is and scales only the sampled one, by its own lines seen / lines analysed, with a
// 95% interval from the spread between blocks (lib/log/flood.ts).
// NUL runs of HOLE_MIN bytes or more are no log text: the hole a copytruncate leaves when the writer
// has no O_APPEND (it goes on writing at its old offset, and the file reads as zeros up to there).
// They are skipped, not counted against the budget, and reported.

import fs from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import zlib from 'node:zlib';
import { UnknownError } from '../plugin/errors.js';
import type { FloodAnalyser } from './flood.js';
import { DEFAULT_MAX_LINE, LineSplitter } from './lines.js';

export const CHUNK = 1 << 20;
export const SAMPLE_BLOCK = 64 * 1024;
/** A NUL run this long is a hole, not text (a log line with a few NUL bytes in it stays a line). */
export const HOLE_MIN = 4096;
const ZEROS = Buffer.alloc(HOLE_MIN);

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
  /** Bytes consumed from `from` (holes not included). */
  read: number;
  /** Bytes between `resume` and the range end that were skipped for the budget. */
  skipped: number;
  /** The tail is an overlong line already counted: skip to its end next time. */
  midLine: boolean;
  /** Stopped at the deadline. */
  stopped: boolean;
  /** NUL-filled holes skipped in this range (bytes). */
  holes: number;
  /** gzip only: stopped at the deadline before even reaching `from` (decompressing up to it takes longer than a run). */
  stalled?: boolean;
}

/** A NUL-filled hole that was skipped. */
export interface Hole {
  file: string;
  at: number;
  bytes: number;
}

/** Analysed windows: one of WINDOW bytes in each SUB bytes of a block (SAMPLE_BLOCK per block in all). */
const SUB = CHUNK / (SAMPLE_BLOCK / (4 * 1024));
const WINDOW = 4 * 1024;

/** Offset of window `k` of block `b` inside its SUB: a fixed hash (the same bytes give the same sample: tests can repeat it). */
export function windowOf(b: number, k: number): number {
  let x = Math.imul(b + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x7feb352d);
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  x = (x ^ (x >>> 16)) >>> 0;
  return (x % (SUB / WINDOW)) * WINDOW;
}

/** End of the NUL run starting at i (first non-NUL index, or the chunk's length). memcmp in 4 KiB steps. */
function nulEnd(b: Buffer, i: number): number {
  let j = i;
  while (j + HOLE_MIN <= b.length && b.subarray(j, j + HOLE_MIN).equals(ZEROS)) j += HOLE_MIN;
  while (j < b.length && b[j] === 0) j++;
  return j;
}

/** A NUL run being followed across chunks of one range. */
interface RunState {
  /** File offset of the chunk being pumped. */
  base: number;
  at: number;
  len: number;
  /** Hole bytes skipped in this range. */
  holes: number;
}

export class LogReader {
  /** Every line seen (analysed or only counted). */
  lines = 0;
  /** Bytes read (consumed) by this run, holes not included. */
  bytes = 0;
  /** Bytes skipped for the budget. */
  skipped = 0;
  /** Bytes read while sampling. */
  sampledBytes = 0;
  /** NUL-filled holes skipped (the first few; holeBytes has them all). */
  readonly holes: Hole[] = [];
  holeBytes = 0;
  stopped = false;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private analysing = true;
  private chunks = 0;
  /** Bytes fed to the exact stratum so far. */
  private exactFed = 0;
  private sampling_ = false;
  /** Position inside the current 1 MiB sampling block, and the line count at its start. */
  private blockPos = 0;
  private blockLines = 0;
  private block = 0;

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

  /**
   * Feed bytes: the exact stratum first, then 1 MiB blocks of which the first 64 KiB are analysed.
   * The grid runs on across pieces and files, so cutting the input anywhere samples the same bytes.
   */
  private feed(sp: LineSplitter, piece: Buffer): void {
    let off = 0;
    const n = piece.length;
    while (off < n) {
      if (!this.sampling_) {
        const left = this.o.exactLimit - this.exactFed;
        if (left > 0) {
          const k = Math.min(left, n - off);
          this.analysing = true;
          sp.push(piece.subarray(off, off + k));
          this.exactFed += k;
          off += k;
          continue;
        }
        this.sampling_ = true;
        this.analyser.startSampling();
        this.blockPos = 0;
        this.blockLines = this.lines;
      }
      // 64 KiB of each 1 MiB block are analysed: one 4 KiB window in each 64 KiB of it, at a place
      // that varies (windowOf). Spread out, the sample sees clustered events (a burst of deferrals)
      // in proportion; one 64 KiB piece a block mostly missed them or hit them whole.
      const sub = Math.floor(this.blockPos / SUB) * SUB;
      const w = sub + windowOf(this.block, sub / SUB);
      const inWindow = this.blockPos >= w && this.blockPos < w + WINDOW;
      const next = this.blockPos < w ? w : inWindow ? w + WINDOW : sub + SUB;
      const k = Math.min(next - this.blockPos, n - off);
      this.analysing = inWindow;
      sp.push(piece.subarray(off, off + k));
      this.analysing = true;
      this.sampledBytes += k;
      this.blockPos += k;
      off += k;
      if (this.blockPos === CHUNK) this.closeBlock();
    }
    this.analyser.endChunk();
  }

  private closeBlock(): void {
    this.analyser.endBlock(this.lines - this.blockLines);
    this.blockLines = this.lines;
    this.blockPos = 0;
    this.block++;
  }

  /** Close the last, partial sampling block: call once reading is over, before the analyser's stats. */
  finish(): void {
    if (this.sampling_ && this.blockPos > 0) this.closeBlock();
  }

  /** Feed one chunk read at file offset `base`, taking NUL runs of HOLE_MIN or more out as holes. */
  private pump(sp: LineSplitter, chunk: Buffer, st: RunState, file: string): void {
    let s = 0;
    const n = chunk.length;
    while (s < n) {
      if (st.len > 0) {
        const e = nulEnd(chunk, s);
        st.len += e - s;
        s = e;
        if (s === n) break;
        this.closeRun(sp, st, file);
        continue;
      }
      const z = chunk.indexOf(0, s);
      if (z < 0) {
        this.feed(sp, s ? chunk.subarray(s) : chunk);
        break;
      }
      if (z > s) this.feed(sp, chunk.subarray(s, z));
      const e = nulEnd(chunk, z);
      st.at = st.base + z;
      st.len = e - z;
      s = e;
      if (s < n) this.closeRun(sp, st, file);
    }
  }

  /** A NUL run ended: a hole when long enough, else ordinary bytes of a line. */
  private closeRun(sp: LineSplitter, st: RunState, file: string): void {
    if (st.len >= HOLE_MIN) {
      sp.gap(st.len);
      st.holes += st.len;
      this.holeBytes += st.len;
      const last = this.holes[this.holes.length - 1];
      if (last && last.file === file && last.at + last.bytes === st.at) last.bytes += st.len;
      else if (this.holes.length < 10) this.holes.push({ file, at: st.at, bytes: st.len });
    } else {
      for (let left = st.len; left > 0; left -= ZEROS.length) this.feed(sp, ZEROS.subarray(0, Math.min(left, ZEROS.length)));
    }
    st.len = 0;
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
    let stop = Math.min(to, from + budget);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      throw new UnknownError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'run the check as a user that can read the mail log (group adm on Debian)');
    }
    const run: RunState = { base: from, at: 0, len: 0, holes: 0 };
    let pos = from;
    try {
      while (pos < stop) {
        if (this.overdue()) {
          this.stopped = true;
          break;
        }
        const n = fs.readSync(fd, this.buf, 0, Math.min(CHUNK, stop - pos), pos);
        if (n <= 0) break; // shorter than it said: truncated under us
        run.base = pos;
        pos += n;
        this.pump(sp, this.buf.subarray(0, n), run, file);
        // Holes are not text: they do not count against the budget.
        stop = Math.min(to, from + budget + run.holes + run.len);
        this.o.onChunk?.(file, pos);
        await this.breathe();
      }
    } finally {
      fs.closeSync(fd);
    }
    // A NUL run at the end: a hole if long enough; a short one is the start of an unfinished line.
    if (run.len >= HOLE_MIN || (run.len > 0 && opts.final && pos >= to)) this.closeRun(sp, run, file);
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
    const read = resume - from - run.holes;
    this.bytes += read;
    if (cut) {
      // Over budget: count what was left as skipped and move the cursor to the end.
      const skipped = to - resume;
      this.skipped += skipped;
      return { resume: to, read, skipped, midLine: false, stopped: false, holes: run.holes };
    }
    return { resume, read, skipped: 0, midLine, stopped: this.stopped, holes: run.holes };
  }

  /**
   * Bytes arriving from a program (journalctl), fed as they come under the same budget and sampling.
   * push() returns false once the budget is spent: the caller stops the program there.
   */
  stream(): { push: (b: Buffer) => boolean; end: () => void } {
    const sp = this.splitter(false);
    return {
      push: (b: Buffer) => {
        const take = Math.min(b.length, this.budgetLeft);
        if (take > 0) this.feed(sp, take === b.length ? b : b.subarray(0, take));
        this.bytes += take;
        return this.budgetLeft > 0;
      },
      end: () => sp.finish(),
    };
  }

  /**
   * Read a gzip-compressed rotated file from the decompressed offset `from` to its end. The deadline
   * is watched while decompressing, also while getting to `from` (which cannot be seeked to: zlib
   * has to inflate everything before it); stopped there, the result says `stalled`.
   */
  async readGzip(file: string, from: number): Promise<RangeResult> {
    const sp = this.splitter(false);
    const budget = this.budgetLeft;
    const total = gzipSize(file);
    let pos = 0;
    let used = 0;
    let cut = false;
    let stalled = false;
    const run: RunState = { base: 0, at: 0, len: 0, holes: 0 };
    const stream = fs.createReadStream(file, { highWaterMark: 256 * 1024 }).pipe(zlib.createGunzip({ chunkSize: 256 * 1024 }));
    try {
      for await (const raw of stream as AsyncIterable<Buffer>) {
        if (this.overdue()) {
          this.stopped = true;
          stalled = pos < from;
          break;
        }
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
        run.base = pos;
        if (chunk.length) this.pump(sp, chunk, run, file);
        pos += chunk.length;
        used += chunk.length;
        this.o.onChunk?.(file, pos);
        if (cut) break;
      }
    } catch (err) {
      throw new UnknownError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'a damaged rotated log: remove or repair it');
    } finally {
      stream.destroy();
    }
    if (!this.stopped && !cut && run.len > 0) this.closeRun(sp, run, file);
    if (cut) {
      const consumed = sp.consumed;
      const rest = Math.max(0, (total ?? pos) - (from + consumed));
      this.skipped += rest;
      this.bytes += consumed - run.holes;
      return { resume: from + consumed + rest, read: consumed - run.holes, skipped: rest, midLine: false, stopped: false, holes: run.holes };
    }
    if (stalled) return { resume: from, read: 0, skipped: 0, midLine: false, stopped: true, holes: 0, stalled: true };
    if (!this.stopped) sp.finish();
    this.bytes += sp.consumed - run.holes;
    return { resume: from + sp.consumed, read: sp.consumed - run.holes, skipped: 0, midLine: false, stopped: this.stopped, holes: run.holes };
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
