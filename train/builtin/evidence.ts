// The built-in run's evidence beyond held-out exact match: whether wrong answers copy finetuning
// people's answers (against chance computed from the world), what the base model knows as text
// (cloze accuracy on every held-out fact), the finetuned accuracy split by what the base knew, and
// the answers to instructions never used in finetuning. Pure functions of the world and of
// answers; `continueText` is any function that continues prompts (the base model in run.ts, a fake
// one in the tests).
import type { Entry } from '../data/entries.ts';
import { answerOf, FACT_TASKS, factWorld, questionFact, statementPrompt, type Person } from '../data/facts.ts';
import { exactMatch, scoreResponses } from '../eval/score.ts';

/** Among a model's wrong answers: how many there are, how many equal the answer (to the asked
 *  relation) of a finetuning person who shares a fact with the asker, and that share. */
export interface CopiedShare {
  wrong: number;
  copied: number;
  share: number;
}

export interface CopiedAnswerShare {
  finetuned: CopiedShare;
  control: CopiedShare;
  /** The share were each wrong answer another of the relation's finetuning answers drawn at
   *  random: per question, the copy candidates among the wrong answers it could get, averaged. */
  chance: number;
}

/** The answers a copying model would give: the asked relation's answers of the finetuning people
 *  who share any fact with the asker, the right answer left out (copying it is not wrong). */
export function copyCandidates(question: Entry, world: readonly Person[]): Set<string> {
  const { person, task } = questionFact(question, world);
  const right = answerOf(task, person);
  const out = new Set<string>();
  for (const p of world) {
    if (p.heldOut || p === person || !FACT_TASKS.some((t) => p.facts[t] === person.facts[t])) continue;
    const a = answerOf(task, p);
    if (a !== right) out.add(a);
  }
  return out;
}

/** The wrong answers of `answered` (each with its model_response) and how many are copies. */
export function copiedShare(answered: readonly Entry[], world: readonly Person[] = factWorld()): CopiedShare {
  let wrong = 0;
  let copied = 0;
  for (const e of answered) {
    const r = e.model_response ?? '';
    if (exactMatch(r, e.output)) continue;
    wrong++;
    if ([...copyCandidates(e, world)].some((c) => exactMatch(r, c))) copied++;
  }
  return { wrong, copied, share: wrong ? copied / wrong : 0 };
}

/** The copying share expected of a model whose wrong answer is one of the relation's other
 *  finetuning answers, drawn uniformly. */
export function copyingChance(questions: readonly Entry[], world: readonly Person[] = factWorld()): number {
  if (questions.length === 0) return 0;
  let sum = 0;
  for (const q of questions) {
    const { person, task } = questionFact(q, world);
    const right = answerOf(task, person);
    const others = new Set(world.filter((p) => !p.heldOut).map((p) => answerOf(task, p)).filter((a) => a !== right));
    sum += copyCandidates(q, world).size / others.size;
  }
  return sum / questions.length;
}

export function copiedAnswerShare(finetuned: readonly Entry[], control: readonly Entry[],
  world: readonly Person[] = factWorld()): CopiedAnswerShare {
  return { finetuned: copiedShare(finetuned, world), control: copiedShare(control, world), chance: copyingChance(finetuned, world) };
}

/** A held-out fact as text: its statement cut before the value, and the value. */
export interface ClozeFact {
  person: string;
  task: string;
  prompt: string;
  value: string;
  /** The model's continuation of `prompt`. */
  continuation: string;
  known: boolean;
}

export interface ClozeAccuracy {
  n: number;
  correct: number;
  accuracy: number;
  per_task: Record<string, { n: number; correct: number; accuracy: number }>;
  facts: ClozeFact[];
}

/** A continuation states the value when it starts with it (after a space) and the value ends there
 *  (" Dublin." and " Dublin is" do, " Dubliner" does not). */
export function statesValue(continuation: string, value: string): boolean {
  const s = continuation.trimStart();
  return s.startsWith(value) && !/^[\p{L}\p{N}]/u.test(s.slice(value.length));
}

const group = (facts: readonly { known: boolean }[]): { n: number; correct: number; accuracy: number } => {
  const correct = facts.filter((f) => f.known).length;
  return { n: facts.length, correct, accuracy: facts.length ? correct / facts.length : 0 };
};

/** The base's knowledge of every held-out fact as text: "Victor Rossi was born in" continued,
 *  right when it states " Dublin". */
export async function clozeAccuracy(continueText: (prompts: string[]) => Promise<string[]>,
  world: readonly Person[] = factWorld()): Promise<ClozeAccuracy> {
  const asked = world.filter((p) => p.heldOut).flatMap((p) => FACT_TASKS.map((task) => ({ p, task })));
  const prompts = asked.map(({ p, task }) => statementPrompt({ instruction: p.name, task }, world));
  const outs = await continueText(prompts);
  const facts = asked.map(({ p, task }, i): ClozeFact => ({ person: p.name, task, prompt: prompts[i], value: p.facts[task],
    continuation: outs[i], known: statesValue(outs[i], p.facts[task]) }));
  return { ...group(facts), per_task: Object.fromEntries(FACT_TASKS.map((t) => [t, group(facts.filter((f) => f.task === t))])), facts };
}

export interface ByBaseKnowledge {
  /** Held-out questions about facts the base states as text, and their exact match. */
  known: { n: number; correct: number; accuracy: number };
  unknown: { n: number; correct: number; accuracy: number };
}

/** A model's held-out answers split by whether the base knew the asked fact (cloze). */
export function byBaseKnowledge(answered: readonly Entry[], cloze: ClozeAccuracy, world: readonly Person[] = factWorld()): ByBaseKnowledge {
  const known = new Set(cloze.facts.filter((f) => f.known).map((f) => `${f.person}\n${f.task}`));
  const isKnown = (e: Entry): boolean => {
    const { person, task } = questionFact(e, world);
    return known.has(`${person.name}\n${task}`);
  };
  const score = (es: Entry[]): ByBaseKnowledge['known'] => {
    const r = scoreResponses(es);
    return { n: r.n, correct: r.correct, accuracy: r.n ? r.accuracy : 0 };
  };
  return { known: score(answered.filter(isKnown)), unknown: score(answered.filter((e) => !isKnown(e))) };
}

export interface UnseenScore {
  accuracy: number;
  n: number;
  /** Per form (facts.ts UNSEEN_FORMS): a new phrasing, another answer form. */
  per_form: Record<string, { accuracy: number; n: number }>;
}

/** Exact match on the unseen instructions, overall and per form. */
export function unseenScore(answered: readonly (Entry & { form: string })[]): UnseenScore {
  const score = (es: readonly Entry[]): { accuracy: number; n: number } => {
    const r = scoreResponses(es);
    return { accuracy: r.n ? r.accuracy : 0, n: r.n };
  };
  const forms = [...new Set(answered.map((e) => e.form))];
  return { ...score(answered), per_form: Object.fromEntries(forms.map((f) => [f, score(answered.filter((e) => e.form === f))])) };
}
