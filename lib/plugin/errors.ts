// Every failure a check can have ends as UNKNOWN (exit 3) with one line: what failed, and how to fix it.

export class UnknownError extends Error {
  /** How to fix it, appended to the one-line message. */
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'UnknownError';
    this.hint = hint;
  }
  /** The single line shown to the admin. */
  line(): string {
    return this.hint ? `${this.message}: ${this.hint}` : this.message;
  }
}

/** Node system errors carry a code (ENOENT, EACCES, ...). */
export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** A program the check needs (postqueue, mailq, exim) is not installed. */
export class ProgramMissing extends UnknownError {
  constructor(readonly program: string, hint?: string) {
    super(`${program} not found`, hint);
  }
}
