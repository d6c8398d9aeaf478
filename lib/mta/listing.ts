// Line-at-a-time parsing of the MTAs' own queue listings (postqueue -j/-p, mailq, exim -bp, smtpctl
// show queue), so a listing of any size is read with the memory of one message: each parser keeps
// only the entry it is reading and hands every finished message to `emit`. Each driver names its own
// parser (MtaDriver.createListingParser): nothing here knows an MTA.

import type { ListingCommand, ListingParser, MessageSink, MtaDriver, QueuedMessage } from './types.js';

export type { ListingParser, MessageSink } from './types.js';

/**
 * The incremental form of `driver.parseListing` for this listing command. `now` (epoch ms, the
 * check's clock) dates what the listing gives as ages or year-less dates.
 */
export function createListingParser(driver: MtaDriver, cmd: ListingCommand, now: number, emit: MessageSink): ListingParser {
  return driver.createListingParser(cmd, now, emit);
}

/** A whole listing through a line parser: what every driver's parseListing is. */
export function parseAllLines(stdout: string, create: (emit: MessageSink) => ListingParser): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  const p = create((m) => out.push(m));
  for (const line of stdout.split('\n')) p.line(line);
  p.end();
  return out;
}
