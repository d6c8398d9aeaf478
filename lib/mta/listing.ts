// Line-at-a-time parsing of the MTAs' own queue listings (postqueue -j/-p, mailq, exim -bp), so a
// listing of any size is read with the memory of one message: each parser keeps only the entry it
// is reading and hands every finished message to `emit`.

import { createEximBpParser } from './exim-bp.js';
import { createPostfixListingParser } from './postqueue.js';
import { createNullmailerMailqParser } from './nullmailer-mailq.js';
import { createMailqParser } from './sendmail-mailq.js';
import type { ListingCommand, MtaDriver, QueuedMessage } from './types.js';

export type MessageSink = (m: QueuedMessage) => void;

export interface ListingParser {
  /** One line without its '\n' ('\r' is tolerated). `truncated`: only the line's first bytes were kept. */
  line(s: string, truncated?: boolean): void;
  /** End of the listing: hands on the entry still open. */
  end(): void;
}

/**
 * The incremental form of `driver.parseListing` for this listing command. `now` (epoch ms, the
 * check's clock) dates what the listing gives as ages or year-less dates.
 */
export function createListingParser(driver: MtaDriver, cmd: ListingCommand, now: number, emit: MessageSink): ListingParser {
  switch (driver.name) {
    case 'postfix':
      return createPostfixListingParser({ label: cmd.label, now: new Date(now) }, emit);
    case 'exim':
      return createEximBpParser({ label: cmd.label, now }, emit);
    case 'sendmail':
      return createMailqParser({ label: cmd.label, now }, emit);
    case 'nullmailer':
      return createNullmailerMailqParser({ label: cmd.label }, emit);
  }
}
