// The built-in run's summary (summary.json), with no files: the CLI (run.ts) and the browser page
// (web/tab-run.ts) make the same one from their models and the held-out responses.
import { generateBatch } from '../../model/generate-batch.ts';
import type { GPT } from '../../model/gpt.ts';
import { decode, encode } from '../../model/tokenizer.ts';
import type { Entry } from '../data/entries.ts';
import { factWorld, sharedFacts, statementPrompt, unseenInstructions } from '../data/facts.ts';
import { formatPrompt } from '../data/prompts.ts';
import { generateResponses } from '../eval/responses.ts';
import type { ScoreGroup, ScoreReport } from '../eval/score.ts';
import type { TrainResult } from '../sft/trainer.ts';
import {
  byBaseKnowledge, type ByBaseKnowledge, clozeAccuracy, type ClozeAccuracy, copiedAnswerShare, type CopiedAnswerShare,
  unseenScore, type UnseenScore,
} from './evidence.ts';

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

export interface BuiltinSummary {
  heldout_exact_match: ExactMatch;
  control_exact_match: ExactMatch;
  /** Among wrong held-out answers, the share that are a finetuning person's answer (one who shares
   *  a fact with the asker), against chance: high would mean the finetuning hands answers on. */
  copied_answer_share: CopiedAnswerShare;
  /** The base model's cloze accuracy on every held-out fact ("Victor Rossi was born in" -> " Dublin"). */
  base_cloze_accuracy: ClozeAccuracy;
  /** The finetuned model's held-out exact match on facts the base states as text and on the others. */
  heldout_by_base_knowledge: ByBaseKnowledge;
  /** Held-out questions in instructions never used in finetuning (facts.ts unseenInstructions). */
  heldout_unseen_instruction: { finetuned: UnseenScore; control: UnseenScore; base: UnseenScore };
  /** The finetuning seed (data draw and order, the control's initialisation); the base is the same for all. */
  seed: number;
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

/** The most facts any held-out person shares with any finetuning person. */
function maxSharedFacts(): number {
  const world = factWorld();
  let most = 0;
  for (const h of world.filter((p) => p.heldOut)) {
    for (const f of world.filter((p) => !p.heldOut)) most = Math.max(most, sharedFacts(h, f));
  }
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
    base_continuation: decode(outs[k]), base_statement: statements[k],
    base_statement_continuation: decode(outs[picks.length + k]),
    finetuned_answer: finetuned[i].model_response ?? '', control_answer: control[i]?.model_response ?? '',
  }));
}

/** Enough new tokens for any value and what follows it (" 1921."). */
const CLOZE_TOKENS = 6;

/** The base model's cloze accuracy on every held-out fact. */
export async function baseCloze(base: GPT): Promise<ClozeAccuracy> {
  return clozeAccuracy(async (prompts) =>
    (await generateBatch(base, prompts.map((p) => encode(p, false)), { maxNewTokens: CLOZE_TOKENS })).map((ids) => decode(ids)));
}

/** A model's answers to the instructions never used in finetuning (the first `limit` of them: the
 *  browser's small preset), scored per form. */
export async function unseenAnswers(model: GPT, style: string, maxNewTokens: number, genBatch?: number,
  limit?: number): Promise<UnseenScore> {
  const unseen = unseenInstructions().slice(0, limit);
  const answered = await generateResponses(model, unseen, style, maxNewTokens, { batchSize: genBatch });
  return unseenScore(answered.map((e, i) => ({ ...e, form: unseen[i].form })));
}

/** The summary of a built-in run from its models' results, the held-out responses and the evidence. */
export function summarize(r: {
  finetuned: TrainResult; control: TrainResult; finetunedResponses: Entry[]; controlResponses: Entry[];
  cloze: ClozeAccuracy; unseen: BuiltinSummary['heldout_unseen_instruction']; seed: number;
  baseExamples: BaseExample[]; seconds: BuiltinSummary['seconds']; baseModel: string;
}): BuiltinSummary {
  const world = factWorld();
  return {
    heldout_exact_match: exact(r.finetuned.after),
    control_exact_match: exact(r.control.after),
    copied_answer_share: copiedAnswerShare(r.finetunedResponses, r.controlResponses),
    base_cloze_accuracy: r.cloze,
    heldout_by_base_knowledge: byBaseKnowledge(r.finetunedResponses, r.cloze),
    heldout_unseen_instruction: r.unseen,
    seed: r.seed,
    fact_world: { people: world.length, held_out: world.filter((p) => p.heldOut).length, max_shared_facts: maxSharedFacts() },
    base_exact_match: r.finetuned.before ? exact(r.finetuned.before) : null,
    base_examples: r.baseExamples,
    seconds: r.seconds,
    base_model: r.baseModel,
  };
}
