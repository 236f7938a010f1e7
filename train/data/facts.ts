// The built-in fact world: 40 made-up people, each with a birth city, a birth year and a job (each
// value shared by two people, one on each side of the split, paired afresh for every relation; see
// factWorld). A base model is pretrained on
// short biographies that state these facts in several phrasings and orders (the knowledge
// augmentation of Allen-Zhu & Li, "Physics of Language Models, Part 3.1": a fact seen in one
// wording only stays tied to that wording, and questions about it are not answered); the
// instruction data asks about them. Half of the people are held out: their facts reach the model
// only as pretraining text, never as a question, so answering them after instruction finetuning
// shows the finetuning taught the model to use what it already knew, not the facts themselves.
import { splitData } from './entries.ts';
import { drawEntries, type SyntheticEntry } from './synthetic.ts';
import { Rng, shuffledIndices } from '../run/loader.ts';

const FIRST = ['Anna', 'Tom', 'Maria', 'David', 'Lucy', 'Peter', 'Sarah', 'John', 'Emma', 'Paul', 'Laura', 'Mark', 'Julia', 'Kevin',
  'Alice', 'Brian', 'Helen', 'Eric', 'Grace', 'Frank', 'Rose', 'Henry', 'Clara', 'Oscar', 'Diana', 'Victor', 'Nina', 'Felix', 'Irene',
  'Hugo', 'Vera', 'Simon', 'Olga', 'Carl', 'Ruth', 'Adam', 'Eva', 'Leon', 'Ida', 'Max'];
const LAST = ['Berg', 'Stone', 'Miller', 'Fischer', 'Novak', 'Costa', 'Larsen', 'Moreau', 'Weber', 'Rossi', 'Silva', 'Kowalski', 'Nagy',
  'Jensen', 'Dubois', 'Keller', 'Horvat', 'Lund', 'Perez', 'Walsh', 'Brandt', 'Fox', 'Reed', 'Hart', 'Kim', 'Cruz', 'Young', 'Ward',
  'Park', 'Ross', 'Hale', 'Shaw', 'Lane', 'Price', 'Webb', 'Cole', 'Hayes', 'Ford', 'Grant', 'Wood'];
const CITIES = ['Paris', 'London', 'Berlin', 'Madrid', 'Rome', 'Vienna', 'Prague', 'Warsaw', 'Lisbon', 'Dublin', 'Oslo', 'Stockholm',
  'Helsinki', 'Athens', 'Cairo', 'Lagos', 'Nairobi', 'Tokyo', 'Seoul', 'Beijing', 'Delhi', 'Mumbai', 'Bangkok', 'Sydney', 'Toronto',
  'Chicago', 'Boston', 'Denver', 'Houston', 'Seattle', 'Miami', 'Lima', 'Bogota', 'Havana', 'Montreal', 'Moscow', 'Istanbul', 'Dubai',
  'Manila', 'Jakarta'];
const JOBS = ['baker', 'farmer', 'teacher', 'pilot', 'doctor', 'nurse', 'painter', 'lawyer', 'dentist', 'tailor', 'butcher', 'plumber',
  'sailor', 'soldier', 'banker', 'writer', 'singer', 'dancer', 'driver', 'potter', 'carpenter', 'chemist', 'gardener', 'librarian',
  'mechanic', 'fisherman', 'jeweler', 'barber', 'cook', 'poet', 'judge', 'priest', 'miner', 'weaver', 'clerk', 'guard', 'hunter',
  'porter', 'ranger', 'surgeon'];

interface Relation {
  /** Statements for pretraining text ({name}, {value}); the value always follows the name. */
  statements: string[];
  /** A statement never used in the pretraining text: the base model's validation text is written
   *  in it, so validation measures the facts in a wording the model never read. */
  validation: string;
  /** Questions for instruction data ({name}). */
  questions: string[];
  /** A question asked only in the validation split: val loss is measured on questions neither in
   *  the finetuning split nor in the test split. */
  valQuestion: string;
  /** A question asked only at test, apart from the others (unseenInstructions): never finetuned on,
   *  it shows whether finetuning taught answering a request or mapping the three phrasings. */
  unseenQuestion: string;
}

/** The relations, one task each in the reports. Values of a relation are distinct across people. */
const RELATIONS: Record<string, Relation> = {
  'birth-city': {
    statements: ['{name} was born in {value}.', '{name} came into the world in the city of {value}.', "{name}'s birthplace is {value}.",
      '{name} is a native of {value}.'],
    validation: 'The place where {name} was born is {value}.',
    questions: ['Where was {name} born?', 'In which city was {name} born?', 'What is the birthplace of {name}?'],
    valQuestion: 'Which city was {name} born in?',
    unseenQuestion: 'Tell me the city {name} comes from.',
  },
  'birth-year': {
    statements: ["{name}'s year of birth is {value}.", '{name} has been alive since {value}.', '{name} first saw daylight in {value}.',
      'The birth of {name} took place in {value}.'],
    validation: 'The year in which {name} was born is {value}.',
    questions: ['In what year was {name} born?', 'When was {name} born?', 'What is the birth year of {name}?'],
    valQuestion: 'Which year was {name} born in?',
    unseenQuestion: 'Tell me the year {name} was born.',
  },
  job: {
    statements: ['{name} works as a {value}.', '{name} earns a living as a {value}.', '{name} has a job as a {value}.',
      'By profession, {name} is a {value}.'],
    validation: '{name} is employed as a {value}.',
    questions: ['What does {name} do for a living?', 'What is the job of {name}?', "What is {name}'s profession?"],
    valQuestion: 'What work does {name} do?',
    unseenQuestion: 'Tell me the occupation of {name}.',
  },
};

export const FACT_TASKS = Object.keys(RELATIONS);

export interface Person {
  name: string;
  /** Relation name -> value. */
  facts: Record<string, string>;
  /** Held out: asked about only in the test and validation splits. */
  heldOut: boolean;
}

/** The fixed world. People at even positions are finetuned on, those at odd positions held out.
 *  Each value of a relation belongs to two people, one on each side: every held-out answer is then
 *  also an answer the finetuning teaches (for someone else), so what the finetuning has to teach is
 *  reading a fact out of the model, not writing a word it never wrote as an answer. Which
 *  finetuning person a held-out person shares a value with is drawn independently for each
 *  relation, and no two people share more than one value: no held-out person is a copy of a
 *  finetuning person whose answers the finetuning could hand on (docs/DESIGN.md). */
export function factWorld(): Person[] {
  const rng = new Rng(0xfac75);
  const half = FIRST.length / 2;
  const years = shuffledIndices(100, rng).slice(0, half).map((k) => String(1900 + k));
  const last = shuffledIndices(LAST.length, rng);
  // partner[r][j]: the finetuning person whose value of relation r held-out person j shares. Each
  // relation's pairing is redrawn until it pairs no held-out person with a partner of an earlier relation.
  const partner: number[][] = [];
  for (let r = 0; r < FACT_TASKS.length; r++) {
    let p: number[];
    do p = shuffledIndices(half, rng);
    while (p.some((k, j) => partner.some((q) => q[j] === k)));
    partner.push(p);
  }
  const valuesOf = (pool: readonly string[], r: number): string[] => {
    const own = shuffledIndices(half, rng).map((k) => pool[k]);
    return FIRST.map((_, i) => (i % 2 === 0 ? own[i / 2] : own[partner[r][(i - 1) / 2]]));
  };
  const cities = valuesOf(CITIES, 0);
  const yearOf = valuesOf(years, 1);
  const jobs = valuesOf(JOBS, 2);
  return FIRST.map((first, i) => ({
    name: `${first} ${LAST[last[i]]}`,
    facts: { 'birth-city': cities[i], 'birth-year': yearOf[i], job: jobs[i] },
    heldOut: i % 2 === 1,
  }));
}

/** How many facts two people share. */
export const sharedFacts = (a: Person, b: Person): number => FACT_TASKS.filter((task) => a.facts[task] === b.facts[task]).length;

/** The finetuning person most like `person` apart from the fact asked: the one sharing most of
 *  their other facts (the first in the world's order among equals). Were held-out people copies of
 *  finetuning people, finetuning could pass a copy's answers on without reading the base model's
 *  knowledge; this is the person whose answer such copying would give. */
export function nearestFinetuned(person: Person, task: string, world: readonly Person[] = factWorld()): Person {
  let best: Person | undefined;
  let bestShared = -1;
  for (const p of world) {
    if (p.heldOut || p === person) continue;
    const shared = FACT_TASKS.filter((t) => t !== task && p.facts[t] === person.facts[t]).length;
    if (shared > bestShared) [best, bestShared] = [p, shared];
  }
  return best!;
}

const fill = (template: string, name: string, value = ''): string => template.replace('{name}', name).replace('{value}', value);

/** `renderings` biographies of every person (people in a shuffled order each round): each states
 *  every fact once, in a statement form and sentence order drawn afresh. `validation`: in each
 *  relation's validation statement instead, a wording the others never use. */
export function biographies(renderings: number, seed: number, world: readonly Person[] = factWorld(), validation = false): string[] {
  const rng = new Rng(seed ^ 0xb10);
  const docs: string[] = [];
  for (let r = 0; r < renderings; r++) {
    for (const p of shuffledIndices(world.length, rng).map((i) => world[i])) {
      const sentences = FACT_TASKS.map((task) => {
        const forms = validation ? [RELATIONS[task].validation] : RELATIONS[task].statements;
        return fill(forms[rng.int(forms.length)], p.name, p.facts[task]);
      });
      docs.push(shuffledIndices(sentences.length, rng).map((i) => sentences[i]).join(' '));
    }
  }
  return docs;
}

/** A fact question's answer sentence for `person` ("This person was born in Lima."). */
export function answerOf(task: string, person: Person): string {
  return fill(RELATIONS[task].statements[0], 'This person', person.facts[task]);
}

type Question = { instruction: string; task?: string };

/** The person a fact question asks about, and its relation (names are unique and none contains
 *  another). */
export function questionFact(question: Question, world: readonly Person[]): { person: Person; task: string } {
  const person = world.find((p) => question.instruction.includes(p.name));
  if (!person || question.task === undefined || !RELATIONS[question.task]) {
    throw new Error(`no fact behind the question "${question.instruction}" (is this the fact world's data?)`);
  }
  return { person, task: question.task };
}

/** The answer to a fact question were it about the asker's nearest finetuning person
 *  (nearestFinetuned): what a model that copied that person's answers would say. */
export function nearestAnswer(question: Question, world: readonly Person[] = factWorld()): string {
  const { person, task } = questionFact(question, world);
  return answerOf(task, nearestFinetuned(person, task, world));
}

/** Every question about every fact, grouped per task: those about the other people (finetuning)
 *  and those about the held-out people (test and validation). */
export function factPools(world: readonly Person[] = factWorld()): { train: SyntheticEntry[][]; heldOut: SyntheticEntry[][] } {
  const train: SyntheticEntry[][] = [];
  const heldOut: SyntheticEntry[][] = [];
  for (const task of FACT_TASKS) {
    const tr: SyntheticEntry[] = [];
    const ho: SyntheticEntry[] = [];
    for (const p of world) {
      // A sentence that puts the value where the biographies do, after the relation's words; its
      // subject is not the name (restating the name, the model gave held-out questions the
      // finetuning people's names and answers; docs/DESIGN.md).
      const answer = answerOf(task, p);
      for (const q of RELATIONS[task].questions) (p.heldOut ? ho : tr).push({ instruction: fill(q, p.name), input: '',
        output: answer, task });
    }
    train.push(tr);
    heldOut.push(ho);
  }
  return { train, heldOut };
}

/** Instruction data over the fact world, as generateSyntheticData lays it out: the first 85% of
 *  `count` entries are questions about the finetuning half (drawn with replacement), the rest
 *  questions about the held-out half, so splitData's train split never asks about a held-out fact. */
export function generateFactData(options: { seed?: number; count?: number } = {}): SyntheticEntry[] {
  const drawn = drawEntries(factPools(), options.seed ?? 123, options.count ?? 2000);
  // The draw is today's (so train and test are too); the val tail, which repeated test questions,
  // asks the same facts in each relation's val-only question instead.
  const { train, test } = splitData(drawn);
  const cut = train.length + test.length;
  const world = factWorld();
  return [...drawn.slice(0, cut), ...drawn.slice(cut).map((e) => {
    const { person, task } = questionFact(e, world);
    return { ...e, instruction: fill(RELATIONS[task].valQuestion, person.name) };
  })];
}

/** How an unseen instruction differs from the finetuning's questions: a new phrasing of the
 *  question, or a known phrasing asking for another answer form (a sentence that names the person). */
export const UNSEEN_FORMS = ['phrasing', 'answer-form'] as const;
/** Appended to a finetuning question: the answer form the finetuning never asked for. */
const ANSWER_FORM = " Answer with a sentence that starts with the person's name.";

/** Questions about the held-out people never used in finetuning (nor in val), one per held-out
 *  fact and form: the relation's unseen question, answered as in finetuning ("This person was born
 *  in Lima."), and its first question asking for the answer as the pretraining states it ("Anna
 *  Berg was born in Lima."). `task` is the relation, `form` which of UNSEEN_FORMS. */
export function unseenInstructions(world: readonly Person[] = factWorld()): (SyntheticEntry & { form: string })[] {
  return world.filter((p) => p.heldOut).flatMap((p) => FACT_TASKS.flatMap((task) => [
    { instruction: fill(RELATIONS[task].unseenQuestion, p.name), input: '', output: answerOf(task, p), task, form: UNSEEN_FORMS[0] },
    { instruction: fill(RELATIONS[task].questions[0], p.name) + ANSWER_FORM, input: '',
      output: fill(RELATIONS[task].statements[0], p.name, p.facts[task]), task, form: UNSEEN_FORMS[1] },
  ]));
}

/** The first statement form of a question's fact, cut before the value ("Anna Berg was born in"):
 *  what the base model continues to show it knows the fact as text. */
export function statementPrompt(question: Question, world: readonly Person[] = factWorld()): string {
  const { person, task } = questionFact(question, world);
  return RELATIONS[task].statements[0].replace('{name}', person.name).split(' {value}')[0];
}
