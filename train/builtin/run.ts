// `wgpt train` with no options: what instruction finetuning does, in one run. The built-in base
// model (pretrained on biographies of the fact world, cached) is finetuned on questions about half
// of its people; the test split asks about the other half, whose facts the model saw only as text.
// The control is the same finetuning of a model that was never pretrained. summary.json holds
// held-out exact match per task for both and a few prompts the base model continues as text
// beside the finetuned model's answers.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import { generateBatch } from '../../model/generate-batch.ts';
import { decode, encode } from '../../model/tokenizer.ts';
import type { Entry } from '../data/entries.ts';
import { factWorld, sharedFacts, statementPrompt, unseenInstructions } from '../data/facts.ts';
import { generateResponses } from '../eval/responses.ts';
import {
  byBaseKnowledge, type ByBaseKnowledge, clozeAccuracy, type ClozeAccuracy, copiedAnswerShare, type CopiedAnswerShare,
  unseenScore, type UnseenScore,
} from './evidence.ts';
import { ensureBuiltinBase } from './base.ts';
import { controlTrainOptions, defaultTrainOptions } from './recipes.ts';
import { formatPrompt } from '../data/prompts.ts';
import type { ScoreGroup, ScoreReport } from '../eval/score.ts';
import { train, type TrainResult } from '../sft/trainer.ts';

export const SUMMARY_FILE = 'summary.json';

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

export interface BuiltinRunResult {
  finetuned: TrainResult;
  control: TrainResult | null;
  summary: BuiltinSummary | null;
}

const exact = (r: ScoreReport | undefined): ExactMatch => ({
  n: r?.n ?? 0, correct: r?.correct ?? 0, accuracy: r?.accuracy ?? 0, rougeL: r?.rougeL ?? 0, per_task: r?.perTask ?? {},
});

/** The most facts any held-out person shares with any finetuning person. */
function maxSharedFacts(): number {
  const world = factWorld();
  let most = 0;
  for (const h of world.filter((p) => p.heldOut)) for (const f of world.filter((p) => !p.heldOut)) most = Math.max(most, sharedFacts(h, f));
  return most;
}

const responsesOf = (dir: string): Entry[] => JSON.parse(readFileSync(path.join(dir, 'test-responses.json'), 'utf8')) as Entry[];

/** The first held-out question of each task, continued by the base model: the question's prompt
 *  (as the finetuned model sees it) and the fact's statement. */
async function baseExamples(baseDir: string, finetuned: Entry[], control: Entry[], style: string): Promise<BaseExample[]> {
  const picks = [...new Set(finetuned.map((e) => e.task!))].map((task) => finetuned.findIndex((e) => e.task === task));
  const base = await loadGPT(baseDir);
  try {
    const statements = picks.map((i) => statementPrompt(finetuned[i]));
    const prompts = [...picks.map((i) => formatPrompt(finetuned[i], style)), ...statements];
    const outs = await generateBatch(base, prompts.map((p) => encode(p, false)), { maxNewTokens: 16 });
    return picks.map((i, k) => ({
      task: finetuned[i].task!, question: finetuned[i].instruction, answer: finetuned[i].output,
      base_continuation: decode(outs[k]), base_statement: statements[k], base_statement_continuation: decode(outs[picks.length + k]),
      finetuned_answer: finetuned[i].model_response ?? '', control_answer: control[i]?.model_response ?? '',
    }));
  } finally {
    base.dispose();
  }
}

/** The base model's cloze accuracy, and its answers to the unseen instructions. */
async function baseEvidence(baseDir: string, style: string, maxNewTokens: number, genBatch?: number):
Promise<{ cloze: ClozeAccuracy; unseen: UnseenScore }> {
  const base = await loadGPT(baseDir);
  try {
    const cloze = await clozeAccuracy(async (prompts) =>
      (await generateBatch(base, prompts.map((p) => encode(p, false)), { maxNewTokens: CLOZE_TOKENS })).map((ids) => decode(ids)));
    return { cloze, unseen: await unseenAnswers(base, style, maxNewTokens, genBatch) };
  } finally {
    base.dispose();
  }
}

/** Enough new tokens for any value and what follows it (" 1921."). */
const CLOZE_TOKENS = 6;

async function unseenAnswers(model: GPT, style: string, maxNewTokens: number, genBatch?: number): Promise<UnseenScore> {
  const unseen = unseenInstructions();
  const answered = await generateResponses(model, unseen, style, maxNewTokens, { batchSize: genBatch });
  return unseenScore(answered.map((e, i) => ({ ...e, form: unseen[i].form })));
}

async function unseenOf(dir: string, style: string, maxNewTokens: number, genBatch?: number): Promise<UnseenScore> {
  const model = await loadGPT(dir);
  try {
    return await unseenAnswers(model, style, maxNewTokens, genBatch);
  } finally {
    model.dispose();
  }
}

export async function builtinRun(out: string, log: (line: string) => void = console.error, genBatch?: number,
  seed?: number): Promise<BuiltinRunResult> {
  const started = performance.now();
  const seconds = (since: number): number => (performance.now() - since) / 1000;
  const baseDir = await ensureBuiltinBase(log);
  const baseSeconds = seconds(started);
  log(`\n== instruction finetuning of the built-in base model (${baseDir}) on questions about half of its people ==`);
  const t1 = performance.now();
  const recipe = defaultTrainOptions(out, baseDir);
  const opts = { ...recipe, seed: seed ?? recipe.seed, ...(genBatch ? { genBatch } : {}) };
  const finetuned = await train(opts);
  const finetuneSeconds = seconds(t1);
  if (finetuned.interrupted) return { finetuned, control: null, summary: null };
  log('\n== control: the same finetuning of a model that was never pretrained ==');
  const t2 = performance.now();
  const controlOut = path.join(out, 'control');
  const control = await train({ ...controlTrainOptions(controlOut), seed: opts.seed, ...(genBatch ? { genBatch } : {}) });
  const controlSeconds = seconds(t2);
  if (control.interrupted) return { finetuned, control, summary: null };
  const finetunedResponses = responsesOf(out);
  const controlResponses = responsesOf(controlOut);
  const world = factWorld();
  log('\n== the base model\'s knowledge as text, and instructions never used in finetuning ==');
  const baseKnows = await baseEvidence(baseDir, opts.style, opts.maxNewTokens, genBatch);
  const summary: BuiltinSummary = {
    heldout_exact_match: exact(finetuned.after),
    control_exact_match: exact(control.after),
    copied_answer_share: copiedAnswerShare(finetunedResponses, controlResponses),
    base_cloze_accuracy: baseKnows.cloze,
    heldout_by_base_knowledge: byBaseKnowledge(finetunedResponses, baseKnows.cloze),
    heldout_unseen_instruction: {
      finetuned: await unseenOf(out, opts.style, opts.maxNewTokens, genBatch),
      control: await unseenOf(controlOut, opts.style, opts.maxNewTokens, genBatch),
      base: baseKnows.unseen,
    },
    seed: opts.seed,
    fact_world: { people: world.length, held_out: world.filter((p) => p.heldOut).length, max_shared_facts: maxSharedFacts() },
    base_exact_match: finetuned.before ? exact(finetuned.before) : null,
    base_examples: await baseExamples(baseDir, finetunedResponses, controlResponses, opts.style),
    seconds: { base_pretraining: baseSeconds, finetuning: finetuneSeconds, control: controlSeconds, total: seconds(started) },
    base_model: baseDir,
  };
  writeFileSync(path.join(out, SUMMARY_FILE), JSON.stringify(summary, null, 2));
  return { finetuned, control, summary };
}
