// The built-in default dataset: instruction tasks the project generates itself, with answers a
// program can check by exact match. They are chosen to be learnable by a tiny GPT trained from
// scratch in minutes: every answer is a few GPT-2 tokens, and the tasks are either small lookups
// (capital, antonym, plural, uppercase, next number, sum) or token-level copies/reorderings
// (repeat, first word, sort) rather than anything that needs characters inside a BPE token.
// Lookup tables are small (12-25 facts) on purpose: a few hundred steps see each fact ~10 times,
// which a from-scratch model needs (with 100 facts a task stayed at 0% after 200 steps).
//
// Held-out data never repeats a training (instruction, input) pair. How it is held out depends on
// the task, because a lookup cannot be generalised to a key never seen:
//  - 'template' tasks (lookups): each input is asked with three phrasings; one phrasing per input
//    is held out, so the held-out question is new but its fact was taught with the other two (with
//    a single training phrasing per fact, a from-scratch model ties the fact to that phrasing and
//    held-out accuracy stayed near 0% in ten minutes).
//  - 'input' tasks (first word, sort): ~15% of inputs are held out entirely (every phrasing), so
//    the held-out set measures whether the skill generalises to inputs never seen. 'repeat' is a
//    'template' task: copying a word never seen as an answer is out of reach of a from-scratch
//    model in minutes (its output row was never trained).
import type { Entry } from './entries.ts';
import { Rng, shuffledIndices } from '../run/loader.ts';

export interface SyntheticEntry extends Entry {
  input: string;
  task: string;
}

interface TaskDef {
  /** Phrasings of the instruction (three). */
  templates: string[];
  split: 'template' | 'input';
  /** All (input, output) pairs of the task, in a fixed order. */
  pairs: () => Array<[string, string]>;
}

const WORDS = ['apple', 'house', 'river', 'green', 'table', 'music', 'water', 'light', 'stone', 'bread', 'chair', 'cloud'];
const REPEAT_WORDS = [
  ...WORDS, 'dream', 'grass', 'heart', 'money', 'night', 'paper', 'plant', 'sound', 'train', 'world', 'happy', 'smile',
  'cat', 'dog', 'sun', 'moon', 'tree', 'fish', 'bird', 'book', 'door', 'road', 'milk', 'rain', 'snow', 'fire', 'wind', 'ship',
];
const ANTONYMS: Array<[string, string]> = [
  ['hot', 'cold'], ['big', 'small'], ['fast', 'slow'], ['up', 'down'], ['happy', 'sad'], ['old', 'new'],
  ['open', 'closed'], ['early', 'late'], ['rich', 'poor'], ['full', 'empty'], ['wet', 'dry'], ['true', 'false'],
];
const PLURALS: Array<[string, string]> = [
  ['cat', 'cats'], ['dog', 'dogs'], ['box', 'boxes'], ['child', 'children'], ['mouse', 'mice'], ['man', 'men'],
  ['foot', 'feet'], ['city', 'cities'], ['leaf', 'leaves'], ['book', 'books'], ['person', 'people'], ['fox', 'foxes'],
];
const CAPITALS: Array<[string, string]> = [
  ['France', 'Paris'], ['Germany', 'Berlin'], ['Italy', 'Rome'], ['Spain', 'Madrid'], ['Japan', 'Tokyo'], ['China', 'Beijing'],
  ['Russia', 'Moscow'], ['Egypt', 'Cairo'], ['Peru', 'Lima'], ['Greece', 'Athens'], ['Norway', 'Oslo'], ['Cuba', 'Havana'],
];
const NAMES = ['Anna', 'Tom', 'Maria', 'David', 'Lucy', 'Peter', 'Sarah', 'John', 'Emma', 'Paul',
  'Birds', 'Dogs', 'Children', 'Farmers', 'Students'];
const VERBS = ['like', 'see', 'want', 'find', 'need', 'paint', 'carry', 'watch'];
const OBJECTS = ['the ball', 'a book', 'the river', 'some bread', 'the moon', 'a red car', 'the old house', 'green apples'];

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

const TASKS: Record<string, TaskDef> = {
  uppercase: {
    templates: ['Write the word in capital letters.', 'Convert the word to uppercase.', 'Spell the word in upper case.'],
    split: 'template',
    pairs: () => WORDS.map((w) => [w, w.toUpperCase()]),
  },
  antonym: {
    templates: ['Give the opposite of the word.', 'What is the antonym of the word?', 'Name the word with the opposite meaning.'],
    split: 'template',
    pairs: () => ANTONYMS.flatMap(([a, b]): Array<[string, string]> => [[a, b], [b, a]]),
  },
  plural: {
    templates: ['Give the plural of the noun.', 'Write the noun in the plural form.', 'What is the plural of this noun?'],
    split: 'template',
    pairs: () => PLURALS,
  },
  capital: {
    templates: ['What is the capital of the country?', 'Name the capital city of the country.',
      'Which city is the capital of this country?'],
    split: 'template',
    pairs: () => CAPITALS,
  },
  'next-number': {
    templates: ['What number comes after this one?', 'Give the next number.', 'Add one to the number.'],
    split: 'template',
    pairs: () => range(20).map((n) => [String(n), String(n + 1)]),
  },
  add: {
    templates: ['Add the two numbers.', 'What is the sum of the numbers?', 'Compute the sum.'],
    split: 'template',
    pairs: () => range(25).map((k) => [`${Math.floor(k / 5)} + ${k % 5}`, String(Math.floor(k / 5) + (k % 5))]),
  },
  sort: {
    templates: ['Sort the numbers from smallest to largest.', 'Put the numbers in increasing order.',
      'Arrange the numbers in ascending order.'],
    split: 'input',
    pairs: () =>
      range(125).map((k) => {
        const d = [1 + Math.floor(k / 25), 1 + (Math.floor(k / 5) % 5), 1 + (k % 5)];
        return [d.join(' '), [...d].sort((a, b) => a - b).join(' ')];
      }),
  },
  repeat: {
    templates: ['Repeat the word twice.', 'Say the word two times.', 'Write the word two times.'],
    split: 'template',
    pairs: () => REPEAT_WORDS.map((w) => [w, `${w} ${w}`]),
  },
  'first-word': {
    templates: ['What is the first word of the sentence?', 'Write only the first word of the sentence.',
      'Give the first word of the sentence.'],
    split: 'input',
    pairs: () =>
      NAMES.flatMap((n) => VERBS.flatMap((v) => OBJECTS.map((o): [string, string] => [`${n} ${v} ${o}.`, n]))),
  },
};

export const SYNTHETIC_TASKS = Object.keys(TASKS);
/** Share of the output that is held out; matches splitData's test+val share (1 - 0.85). */
const TRAIN_SHARE = 0.85;

export interface SyntheticOptions {
  seed?: number;
  /** Total entries (train + held-out). */
  count?: number;
  /** Subset of SYNTHETIC_TASKS; default all. */
  tasks?: string[];
}

/** Train and held-out pools of every task, fixed for a given seed. */
export function syntheticPools(seed: number,
  tasks: readonly string[] = SYNTHETIC_TASKS): { train: SyntheticEntry[][]; heldOut: SyntheticEntry[][] } {
  const rng = new Rng(seed ^ 0x5eed);
  const train: SyntheticEntry[][] = [];
  const heldOut: SyntheticEntry[][] = [];
  for (const name of tasks) {
    const def = TASKS[name];
    if (!def) throw new Error(`unknown synthetic task "${name}": expected some of ${SYNTHETIC_TASKS.join(', ')}`);
    const pairs = def.pairs();
    const tr: SyntheticEntry[] = [];
    const ho: SyntheticEntry[] = [];
    const make = (t: number, [input, output]: [string, string]): SyntheticEntry =>
      ({ instruction: def.templates[t], input, output, task: name });
    const phrasings = def.templates.map((_, t) => t);
    if (def.split === 'template') {
      for (const p of pairs) {
        const held = rng.int(phrasings.length);
        for (const t of phrasings) (t === held ? ho : tr).push(make(t, p));
      }
    } else {
      const order = shuffledIndices(pairs.length, rng);
      const nHeld = Math.max(1, Math.round(pairs.length * (1 - TRAIN_SHARE)));
      order.forEach((k, i) => (i < nHeld ? ho : tr).push(...phrasings.map((t) => make(t, pairs[k]))));
    }
    train.push(tr);
    heldOut.push(ho);
  }
  return { train, heldOut };
}

/**
 * Seeded, deterministic synthetic instruction data. The first floor(0.85·count) entries come from
 * the training pools and the rest from the held-out pools, so `splitData(entries)` gives a train
 * split that shares no (instruction, input) pair with its test and val splits. Tasks alternate
 * evenly (in shuffled rounds); training entries are drawn with replacement, held-out entries
 * without replacement until a pool is exhausted.
 */
export function generateSyntheticData(options: SyntheticOptions = {}): SyntheticEntry[] {
  const seed = options.seed ?? 123;
  return drawEntries(syntheticPools(seed, options.tasks ?? SYNTHETIC_TASKS), seed, options.count ?? 2000);
}

/** The layout of generateSyntheticData over any per-task train and held-out pools (the fact
 *  questions of facts.ts use it too). */
export function drawEntries(pools: { train: SyntheticEntry[][]; heldOut: SyntheticEntry[][] }, seed: number,
  count: number): SyntheticEntry[] {
  if (!Number.isInteger(count) || count < 1) throw new Error(`synthetic data count must be a positive integer, got ${count}`);
  const rng = new Rng(seed);
  const nTasks = pools.train.length;
  const trainN = Math.floor(count * TRAIN_SHARE);
  // Held-out pools are consumed in a shuffled order, without repeats while they last.
  const heldOrders = pools.heldOut.map((p) => shuffledIndices(p.length, rng));
  const heldUsed = new Array<number>(nTasks).fill(0);
  const out: SyntheticEntry[] = [];
  let round: number[] = [];
  for (let i = 0; i < count; i++) {
    if (round.length === 0) round = shuffledIndices(nTasks, rng);
    const t = round.pop()!;
    if (i < trainN) {
      const pool = pools.train[t];
      out.push({ ...pool[rng.int(pool.length)] });
    } else {
      const pool = pools.heldOut[t];
      const k = heldOrders[t][heldUsed[t]++ % pool.length];
      out.push({ ...pool[k] });
    }
  }
  return out;
}
