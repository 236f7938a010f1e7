// An instruction-data file read from disk (Node); entries.ts holds the format, so a browser page
// checks a dropped file with the same rules.
import { readFileSync } from 'node:fs';
import { parseEntries, type Entry } from './entries.ts';

/** Reads and validates an instruction-data file from any path. */
export function loadInstructionData(path: string): Entry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read instruction data (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseEntries(text, path);
}
