// Preference data for DPO: Alpaca entries with a `chosen` and a `rejected` answer (the DPO
// notebook's instruction-data-with-preference.json). Validation is strict and names the entry and
// field, one line each, like train/data/entries.ts.
import { readFileSync } from 'node:fs';
import { WgptError } from '../../engine/errors.ts';
import type { Entry } from '../data/entries.ts';
import { fetchDataset, isDatasetName } from '../data/datasets.ts';

export interface PreferenceEntry extends Entry {
  chosen: string;
  rejected: string;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`.slice(0, 60);
}

/** Checks parsed JSON is a list of preference entries. `output` is optional (the notebook does not
 *  use it); where absent, the chosen answer stands in as the reference for test responses. */
export function validatePreferences(data: unknown, source = 'data'): PreferenceEntry[] {
  if (!Array.isArray(data)) throw new WgptError(`${source}: expected a JSON array of preference entries, got ${describe(data)}`);
  return data.map((e: unknown, i: number) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) {
      throw new WgptError(`${source}: entry ${i}: must be an object with "instruction", "chosen" and "rejected", got ${describe(e)}`);
    }
    const rec = e as Record<string, unknown>;
    for (const field of ['instruction', 'chosen', 'rejected'] as const) {
      if (typeof rec[field] !== 'string') {
        const hint = rec[field] === undefined && field !== 'instruction'
          ? ' (DPO needs preference pairs: an entry with "chosen" and "rejected" answers)'
          : '';
        throw new WgptError(`${source}: entry ${i}: "${field}" must be a string, got ${describe(rec[field])}${hint}`);
      }
    }
    for (const field of ['input', 'output', 'task'] as const) {
      if (rec[field] !== undefined && rec[field] !== null && typeof rec[field] !== 'string') {
        throw new WgptError(`${source}: entry ${i}: "${field}" must be a string when present, got ${describe(rec[field])}`);
      }
    }
    const entry: PreferenceEntry = {
      instruction: rec.instruction as string, input: (rec.input as string | null) ?? '',
      output: (rec.output as string | undefined) ?? (rec.chosen as string), chosen: rec.chosen as string, rejected: rec.rejected as string,
    };
    if (typeof rec.task === 'string') entry.task = rec.task;
    return entry;
  });
}

/** Reads a preference file, or fetches a named data set (ch07-dpo). */
export async function loadPreferences(data: string): Promise<PreferenceEntry[]> {
  const file = isDatasetName(data) ? await fetchDataset(data) : data;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WgptError(`${file}: cannot read preference data (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new WgptError(`${file}: malformed JSON (${(err as Error).message.split('\n')[0]})`);
  }
  return validatePreferences(parsed, file);
}
