// Where --sticky keeps its record between runs: a small JSON file beside the check's state file
// (<state>.sticky), written atomically after each run's verdict. A damaged or foreign file is not
// trusted: the run says so and starts without held alerts (the file is rewritten by this run).

import { errorCode } from './errors.js';
import { readRegularFile, writeAtomic } from './state.js';
import { isStickyDoc, type StickyDoc } from './sticky.js';

export function stickyFileOf(stateFile: string): string {
  return stateFile.replace(/\.json$/, '') + '.sticky';
}

export async function loadSticky(file: string): Promise<{ doc?: StickyDoc; notes: string[] }> {
  let text: string;
  try {
    text = (await readRegularFile(file)).toString('utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { notes: [] };
    return { notes: [`sticky record ${file} unreadable (${errorCode(err) ?? (err as Error).message}): no alert is held this run`] };
  }
  try {
    const doc: unknown = JSON.parse(text);
    if (isStickyDoc(doc)) return { doc, notes: [] };
  } catch {
    /* said below */
  }
  return { notes: [`sticky record ${file} is damaged: no alert is held this run (rewritten now)`] };
}

/** Save the record; resolves with a note for the long output when it cannot. */
export async function saveSticky(file: string | undefined, doc: StickyDoc): Promise<string | undefined> {
  if (!file) return 'sticky record not saved: the state dir is not writable this run (alerts seen now are not held next run)';
  try {
    await writeAtomic(file, JSON.stringify(doc) + '\n');
    return undefined;
  } catch (err) {
    return `sticky record not saved to ${file} (${errorCode(err) ?? (err as Error).message}): alerts seen now are not held next run`;
  }
}
