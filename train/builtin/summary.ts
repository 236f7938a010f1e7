// The built-in run's summary (summary.json), with no files: the CLI (run.ts) and the browser page
// (web/tab-run.ts) make the same one from their models' results.
import { generateBatch } from '../../model/generate-batch.ts';
import type { GPT } from '../../model/gpt.ts';
import { decode, encode } from '../../model/tokenizer.ts';
import type { Entry } from '../data/entries.ts';
import { factWorld, FACT_TASKS, nearestAnswer, sharedFacts, statementPrompt } from '../data/facts.ts';
import { formatPrompt } from '../data/prompts.ts';
import { scoreResponses, type ScoreGroup, type ScoreReport } from '../eval/score.ts';
import type { TrainResult } from '../sft/trainer.ts';

export interface ExactMatch extends ScoreGroup {
  per_task: Record<string, ScoreGroup>;
}

export interface BaseExample {
  task: string;
  question: string;
  answer: string;
  /** The base model's greedy continuation of the question's prompt: text, not an answer. */
  base_continuation: string;
  /** The base model's continuation of the fact's statement ("X was born in"): it knows the fact. */
  base_statement: string;
  base_statement_continuation: string;
  finetuned_answer: string;
  control_answer: string;
}

/** Held-out questions answered with the answer of the asker's nearest finetuning person (the one
 *  sharing most of the asker's other facts; facts.ts nearestFinetuned), as a share (`accuracy`). */
export interface NearestAnswerShare {
  /** The finetuned model's responses. High: it hands on finetuning people's answers. */
  finetuned: ExactMatch;
  control: ExactMatch;
  /** The right answers themselves: 0 in this world, where no held-out person shares a value of the
   *  asked relation with the finetuning person nearest in the other two; 1 were held-out people
   *  copies of finetuning people. */
  correct_answers: ExactMatch;
  /** The share a model answering with one of the relation's values at random would reach. */
  chance: number;
}

export interface BuiltinSummary {
  heldout_exact_match: ExactMatch;
  control_exact_match: ExactMatch;
  nearest_answer_share: NearestAnswerShare;
  /** The fact world: its people, and the most facts a held-out person shares with any finetuning person. */
  fact_world: { people: number; held_out: number; max_shared_facts: number };
  /** The base model itself on the held-out questions, before finetuning. */
  base_exact_match: ExactMatch | null;
  base_examples: BaseExample[];
  seconds: { base_pretraining: number; finetuning: number; control: number; total: number };
  base_model: string;
}

const exact = (r: ScoreReport | undefined): ExactMatch => ({
  n: r?.n ?? 0, correct: r?.correct ?? 0, accuracy: r?.accuracy ?? 0, rougeL: r?.rougeL ?? 0, per_task: r?.perTask ?? {},
});

/** The share of held-out questions whose response is the nearest finetuning person's answer. */
export function nearestAnswerShare(finetuned: readonly Entry[], control: readonly Entry[]): NearestAnswerShare {
  const world = factWorld();
  const asNearest = (entries: readonly Entry[], response: (e: Entry) => string | undefined): ExactMatch =>
    exact(scoreResponses(entries.map((e) => ({ ...e, model_response: response(e), output: nearestAnswer(e, world) }))));
  const values = new Set(world.map((p) => p.facts[FACT_TASKS[0]])).size;
  return {
    finetuned: asNearest(finetuned, (e) => e.model_response),
    control: asNearest(control, (e) => e.model_response),
    correct_answers: asNearest(finetuned, (e) => e.output),
    chance: 1 / values,
  };
}

/** The most facts any held-out person shares with any finetuning person. */
function maxSharedFacts(): number {
  const world = factWorld();
  let most = 0;
  for (const h of world.filter((p) => p.heldOut)) for (const f of world.filter((p) => !p.heldOut)) most = Math.max(most, sharedFacts(h, f));
  return most;
}

/** The first held-out question of each task, continued by the base model: the question's prompt
 *  (as the finetuned model sees it) and the fact's statement. */
export async function baseExamples(base: GPT, finetuned: Entry[], control: Entry[], style: string): Promise<BaseExample[]> {
  const picks = [...new Set(finetuned.map((e) => e.task!))].map((task) => finetuned.findIndex((e) => e.task === task));
  const statements = picks.map((i) => statementPrompt(finetuned[i]));
  const prompts = [...picks.map((i) => formatPrompt(finetuned[i], style)), ...statements];
  const outs = await generateBatch(base, prompts.map((p) => encode(p, false)), { maxNewTokens: 16 });
  return picks.map((i, k) => ({
    task: finetuned[i].task!, question: finetuned[i].instruction, answer: finetuned[i].output,
    base_continuation: decode(outs[k]), base_statement: statements[k], base_statement_continuation: decode(outs[picks.length + k]),
    finetuned_answer: finetuned[i].model_response ?? '', control_answer: control[i]?.model_response ?? '',
  }));
}

/** The summary of a built-in run from its three models' results and the held-out responses. */
export function summarize(r: { finetuned: TrainResult; control: TrainResult; finetunedResponses: Entry[]; controlResponses: Entry[];
  baseExamples: BaseExample[]; seconds: BuiltinSummary['seconds']; baseModel: string }): BuiltinSummary {
  const world = factWorld();
  return {
    heldout_exact_match: exact(r.finetuned.after),
    control_exact_match: exact(r.control.after),
    nearest_answer_share: nearestAnswerShare(r.finetunedResponses, r.controlResponses),
    fact_world: { people: world.length, held_out: world.filter((p) => p.heldOut).length, max_shared_facts: maxSharedFacts() },
    base_exact_match: r.finetuned.before ? exact(r.finetuned.before) : null,
    base_examples: r.baseExamples,
    seconds: r.seconds,
    base_model: r.baseModel,
  };
}
