// Splitting a byte stream into lines with bounded memory: chunks come from one reused buffer,
// lines are found by scanning for '\n' (Buffer.indexOf, i.e. memchr), and a line is handed on as
// (buffer, start, end) without copying. Only a line that straddles two chunks is copied, into a
// carry buffer of at most `maxLine` bytes: a 100 MB line (or a megabyte of binary garbage with no
// newline) is counted once, analysed by its first `maxLine` bytes, and the rest is skipped.

export const DEFAULT_MAX_LINE = 16 * 1024;

/** Called for every line, without its '\n'. `truncated`: only the first maxLine bytes are given. */
export type LineHandler = (buf: Buffer, start: number, end: number, truncated: boolean) => void;

export class LineSplitter {
  /** Lines handed on (a truncated line counts once). */
  lines = 0;
  /** Lines longer than maxLine. */
  truncated = 0;
  /** Bytes up to and including the last '\n' seen: where a reader may resume. */
  consumed = 0;
  /** Bytes pushed so far. */
  pushed = 0;
  private readonly carry: Buffer;
  private carryLen = 0;
  /** Inside an overlong line that was already handed on: skip to its '\n'. */
  private skipping = false;

  constructor(
    private readonly onLine: LineHandler,
    readonly maxLine = DEFAULT_MAX_LINE,
    /** Start by skipping to the first '\n' without handing anything on (resuming inside an overlong line). */
    skipFirst = false,
  ) {
    this.carry = Buffer.allocUnsafe(maxLine);
    this.skipping = skipFirst;
  }

  /** True when the bytes pushed so far end inside a line. */
  get midLine(): boolean {
    return this.carryLen > 0 || this.skipping;
  }

  /** True when the unfinished tail is an overlong line already counted (a reader should move past it). */
  get inOverlong(): boolean {
    return this.skipping;
  }

  /** Feed one chunk (its whole length is data). */
  push(chunk: Buffer): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) {
        this.tail(chunk, pos, end);
        break;
      }
      if (this.skipping) {
        this.skipping = false;
      } else if (this.carryLen > 0) {
        this.append(chunk, pos, nl);
        if (!this.skipping) this.emit(this.carry, 0, this.carryLen, false);
        this.skipping = false;
        this.carryLen = 0;
      } else if (nl - pos > this.maxLine) {
        this.emit(chunk, pos, pos + this.maxLine, true);
      } else {
        this.emit(chunk, pos, nl, false);
      }
      this.consumed = this.pushed + nl + 1;
      pos = nl + 1;
    }
    this.pushed += end;
  }

  /** End of a finished file: a last line without '\n' is a line too. */
  finish(): void {
    if (this.carryLen > 0 && !this.skipping) this.emit(this.carry, 0, this.carryLen, false);
    this.carryLen = 0;
    this.skipping = false;
    this.consumed = this.pushed;
  }

  /**
   * `n` bytes at the current position that are not log text (a NUL-filled hole left by copytruncate
   * under a writer without O_APPEND): they end the line before them and are not handed on.
   */
  gap(n: number): void {
    if (this.carryLen > 0 && !this.skipping) this.emit(this.carry, 0, this.carryLen, false);
    this.carryLen = 0;
    this.skipping = false;
    this.pushed += n;
    this.consumed = this.pushed;
  }

  private tail(chunk: Buffer, pos: number, end: number): void {
    if (this.skipping) return;
    this.append(chunk, pos, end);
  }

  /** Add bytes to the carried partial line; past maxLine, hand it on truncated and skip the rest. */
  private append(chunk: Buffer, from: number, to: number): void {
    if (this.skipping) return;
    const room = this.maxLine - this.carryLen;
    const n = to - from;
    if (n <= room) {
      chunk.copy(this.carry, this.carryLen, from, to);
      this.carryLen += n;
      return;
    }
    chunk.copy(this.carry, this.carryLen, from, from + room);
    this.carryLen = 0;
    this.skipping = true;
    this.emit(this.carry, 0, this.maxLine, true);
  }

  private emit(buf: Buffer, start: number, end: number, truncated: boolean): void {
    this.lines++;
    if (truncated) this.truncated++;
    this.onLine(buf, start, end, truncated);
  }
}
