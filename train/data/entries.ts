// Loading and splitting Alpaca-style instruction data ({instruction, input?, output}).
// Validation is strict and names the file / entry / field so a user with a hand-edited JSON file
// can find the problem without a stack trace.

export interface Entry {
  instruction: string;
  /** Optional context; missing and '' mean the same thing (no "### Input:" section). */
  input?: string;
  output: string;
  /** Task name for generated data (synthetic.ts), used for per-task accuracy. */
  task?: string;
  /** A model's answer, filled in after generation (scoring / judging). */
  model_response?: string;
}

export interface Splits {
  train: Entry[];
  test: Entry[];
  val: Entry[];
}

/** Checks one parsed value is a list of valid entries; throws `entry N: "field" must be ...`. */
export function validateEntries(data: unknown, source = 'data'): Entry[] {
  if (!Array.isArray(data)) throw new Error(`${source}: expected a JSON array of entries, got ${describe(data)}`);
  data.forEach((e: unknown, i: number) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) {
      throw new Error(`${source}: entry ${i}: must be an object with "instruction" and "output", got ${describe(e)}`);
    }
    const rec = e as Record<string, unknown>;
    for (const field of ['instruction', 'output'] as const) {
      if (typeof rec[field] !== 'string') {
        throw new Error(`${source}: entry ${i}: "${field}" must be a string, got ${describe(rec[field])}`);
      }
    }
    // input may be absent or null (some exports write null); anything else must be text.
    if (rec.input !== undefined && rec.input !== null && typeof rec.input !== 'string') {
      throw new Error(`${source}: entry ${i}: "input" must be a string when present, got ${describe(rec.input)}`);
    }
    if (rec.task !== undefined && typeof rec.task !== 'string') {
      throw new Error(`${source}: entry ${i}: "task" must be a string when present, got ${describe(rec.task)}`);
    }
  });
  return (data as Record<string, unknown>[]).map((rec) => {
    const entry: Entry = { instruction: rec.instruction as string, input: (rec.input as string | null) ?? '',
      output: rec.output as string };
    if (typeof rec.task === 'string') entry.task = rec.task;
    if (typeof rec.model_response === 'string') entry.model_response = rec.model_response;
    return entry;
  });
}

/** Parses JSON text; the error is one line naming the source (no multi-line parser dump). */
export function parseEntries(text: string, source = 'data'): Entry[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    throw new Error(`${source}: malformed JSON (${msg})`);
  }
  return validateEntries(data, source);
}

/** Chapter 7 split, in file order: first 85% train, next 10% test, the rest validation
 *  (1100 entries → 935 / 110 / 55). Floors are applied to train and test so val takes the remainder. */
export function splitData(entries: readonly Entry[]): Splits {
  const n = entries.length;
  const trainN = Math.floor(n * 0.85);
  const testN = Math.floor(n * 0.1);
  return {
    train: entries.slice(0, trainN),
    test: entries.slice(trainN, trainN + testN),
    val: entries.slice(trainN + testN),
  };
}

/** Small datasets can leave a split empty (fewer than 10 entries → empty test split). Only the caller knows whether it
 *  needs that split, so it asks here and gets a message that says how to fix it. */
export function requireNonEmpty(entries: readonly Entry[], splitName: string): readonly Entry[] {
  if (entries.length === 0) {
    throw new Error(
      `the ${splitName} split is empty: the dataset is too small for the 85/10/5 train/test/val split ` +
        `(train needs at least 2 entries, test at least 10, val at least 1)`,
    );
  }
  return entries;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`.slice(0, 60);
}
