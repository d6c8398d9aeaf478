// The shared model every MTA driver produces. A driver knows where its MTA keeps
// mail and how to read one queue file; everything else (counting, ranking,
// thresholds) is MTA-agnostic and lives in lib/queue and lib/plugin.

import type { EntryBatch } from './batches.js';
import type { SkippedPath } from './skipped.js';

/** One message waiting in a queue, as read from its queue file or a listing. */
export interface QueuedMessage {
  /** Queue ID as the MTA prints it (Postfix `4F1C21A0B2`, Sendmail `5ANA1b2c003456`, Exim `1xVK3h-0005LL-1a`). */
  id: string;
  /** Queue name in the admin's words: deferred, active, incoming, hold, maildrop, corrupt (Postfix);
   *  mqueue, clientmqueue, quarantine (Sendmail); input, frozen (Exim). */
  queue: string;
  /** Arrival time, epoch seconds (Postfix T record, Sendmail T line, Exim -H line 4). Undefined if unknown. */
  arrival?: number;
  /** Seconds: the arrival is known only this closely (a listing's whole-minute age or time column,
   *  60; exim -bp's hours or days, 3600 or 86400). Undefined: exact to the second. */
  arrivalPrecision?: number;
  /** Envelope sender without angle brackets. '' is the null sender (a bounce; mailq shows MAILER-DAEMON).
   *  Undefined when it could not be read. */
  sender?: string;
  /** Envelope recipients still to be delivered, without angle brackets. */
  recipients: string[];
  /** The client that handed the message over (Postfix `client_address`/`client_name` attributes,
   *  Exim `-host_address`, Sendmail `$_` macro), when the queue file records it. */
  client?: string;
  /** Message size in bytes when known. */
  size?: number;
  /** MTA-specific flags, e.g. 'frozen', 'held', 'quarantined', 'incomplete'. */
  flags?: string[];
  /** Last delivery status/reason if the queue file records it (Sendmail M line, Postfix defer log not read). */
  reason?: string;
}

/** A queue file found by walking the spool, before it is opened. */
export interface QueueEntry {
  id: string;
  queue: string;
  path: string;
  /** The directory it was listed in: one string object for every entry of a directory, so a
   *  consumer can tell "same directory as the last one" without comparing paths. */
  dir?: string;
}

export type MtaName = 'postfix' | 'sendmail' | 'exim' | 'nullmailer' | 'opensmtpd';

/** What the MTA's own listing command is, and how to read its output. */
export interface ListingCommand {
  /** Program name or path, e.g. 'postqueue'. Looked up in PATH and then the sbin directories,
   *  which monitoring users often lack on PATH. */
  file: string;
  /** Other names for the same program, tried in order when `file` is not found (exim -> exim4). */
  alternatives?: string[];
  args: string[];
  /** Queue name to tag messages with when the listing does not say (e.g. Sendmail `mailq -qQ` -> quarantine). */
  label?: string;
}

/** What a reader needs beyond the envelope. Sendmail and Exim keep the message size only in the
 *  data file's inode: a second path lookup per message, as costly as opening the queue file. */
export interface ReadWants {
  /** Message sizes (default true). */
  sizes?: boolean;
}

export interface SpoolScanContext {
  /** Aborted when the deadline passes; readers stop promptly and return what they have. */
  signal: AbortSignal;
  /** Called for every file that vanished mid-scan (ENOENT); counted, never an error. */
  onVanished?: (path: string) => void;
  /** Called for what the walk leaves out: a directory the MTA does not scan, a symlink not followed
   *  (lib/mta/skipped.ts). Without it the walker does not count what such a directory holds. */
  onSkipped?: (s: SkippedPath) => void;
  /** Called for each queue found at run time (Exim's named queues), empty ones included, so it is
   *  counted as 0 rather than left out. */
  onQueue?: (queue: string) => void;
}

/** Which installation's spools: --config (a configuration file or directory, per MTA) and --instance
 *  (a named instance: Postfix's postmulti). Neither: the default installation. */
export interface SpoolWhere {
  config?: string;
  instance?: string;
}

/** Spool directories found from the MTA's configuration, and what the long output should say about
 *  them (e.g. other Postfix instances on this host that are not counted). */
export interface SpoolLocation {
  spools: string[];
  notes: string[];
}

export interface MtaDriver {
  name: MtaName;
  /** Every queue name this MTA can report, in display order (metrics are emitted for all, 0 if empty). */
  queues: readonly string[];
  /** Queues found at run time besides those (Exim's named queues): the names --queue may give for
   *  them. A check reports one when the spool walk or the listing found it (SpoolScanContext.onQueue). */
  readonly queueNames?: { pattern: RegExp; describe: string };
  /** The size costs a stat of another file (ReadWants.sizes): Sendmail's df, Exim's -D. */
  readonly sizeNeedsStat?: boolean;
  /** Queues that counting directory entries cannot tell apart (Exim's frozen messages sit in input/
   *  like any other): a check that thresholds them must read the queue files. */
  readonly needsReading?: readonly string[];
  /** The queues the listing command can show, when not all of them (nullmailer's mailq shows queue/
   *  only, not failed/): in command mode the others are unknown, never 0. */
  readonly listingQueues?: readonly string[];
  /** The queues the spool shows, when not all of them (OpenSMTPD keeps pauses in memory only). */
  readonly spoolQueues?: readonly string[];
  /** Queues whose messages share one directory, so a count of directory entries (--count-only) gives
   *  only their sum (Exim: input and frozen). */
  readonly countedTogether?: readonly string[];
  /** Default spool locations, shown in --help and errors. */
  defaultSpools: readonly string[];
  /**
   * The spool directories to scan. `explicit` is --spool (repeatable) when given. Postfix asks
   * `postconf -h queue_directory` and falls back to /var/spool/postfix; Sendmail returns every
   * existing queue dir (MTA mqueue and the MSP client queue); Exim the first that exists.
   * Never throws for a missing default: returns the first candidate so the reader reports it.
   */
  resolveSpools(explicit?: string[]): Promise<string[]>;
  /**
   * resolveSpools with --config/--instance and notes (lib/queue/source.ts locateSpools calls it when
   * --spool is not given). Absent: the MTA reads no configuration here, and --config/--instance are
   * refused for it. Throws UnknownError for an instance or configuration that is not there.
   */
  locateSpools?(where: SpoolWhere): Promise<SpoolLocation>;
  /** What --config means for this MTA, for --help and errors ('sendmail.cf file'); with `instances`,
   *  --instance is accepted too. */
  readonly configOption?: { config: string; instances?: boolean };
  /** Binaries whose presence suggests this MTA is installed (for --mta auto). */
  binaries: readonly string[];
  /**
   * Walk the spool and yield every queue file, streaming (fs.opendirSync + readSync in large batches:
   * three times faster than async iteration), no file reads. Synchronous on purpose: the consumer
   * yields to the event loop every few hundred entries and checks ctx.signal in between.
   * Unreadable top-level spool -> throw (SpoolAccessError). Subdirectories that vanish -> skip.
   */
  listEntries(spool: string, ctx: SpoolScanContext): Iterable<QueueEntry>;
  /** The same walk in batches of IDs per directory (lib/mta/batches.ts), where the driver has it:
   *  no object per file. Consumers use batchesOf(), which groups listEntries for the others. */
  listBatches?(spool: string, ctx: SpoolScanContext): Iterable<EntryBatch>;
  /**
   * Open and parse one queue file. Returns null when the file vanished (ENOENT) or is not a message.
   * Use sync fs calls (openSync/readSync) and read only what is needed (bounded: never the whole body
   * of a large message); the scanner yields to the event loop between batches so deadlines still fire.
   */
  readMessage(entry: QueueEntry, want?: ReadWants): QueuedMessage | null;
  /** Arrival time (epoch seconds) from the queue ID alone, for MTAs whose IDs carry it (Sendmail,
   *  Exim, Postfix long IDs): the oldest message is then known without opening a file. */
  idArrival?(id: string, nowSec: number): number | undefined;
  /** Commands that list the queue when the spool is not readable. Their outputs are concatenated per label.
   *  `selected`: the --queue names, for an MTA that lists each queue with its own command (exim -bp -qGbulk). */
  listingCommands(spool?: string, selected?: readonly string[]): ListingCommand[];
  /** What the listing commands cannot show on this host (Exim named queues when the spool root cannot be
   *  listed): said as the run's partial reason, so the counts are lower bounds, never a silent 0. */
  listingGap?(spool?: string): string | undefined;
  /** The incremental form of parseListing for this listing command (lib/mta/listing.ts). */
  createListingParser(cmd: ListingCommand, now: number, emit: MessageSink): ListingParser;
  /** Pure: parse one listing command's stdout into messages. `now` (epoch ms, the check's clock) turns
   *  listed ages (exim -bp) and year-less dates (mailq) into arrival times. */
  parseListing(stdout: string, cmd: ListingCommand, now?: number): QueuedMessage[];
}

export type MessageSink = (m: QueuedMessage) => void;

/** Line-at-a-time parsing of a listing, with the memory of one message. */
export interface ListingParser {
  /** One line without its '\n' ('\r' is tolerated). `truncated`: only the line's first bytes were kept. */
  line(s: string, truncated?: boolean): void;
  /** End of the listing: hands on the entry still open. */
  end(): void;
}
