// `wgpt train` with no options: what instruction finetuning does, in one run. The built-in base
// model (pretrained on biographies of the fact world, cached) is finetuned on questions about half
// of its people; the test split asks about the other half, whose facts the model saw only as text.
// The control is the same finetuning of a model that was never pretrained. summary.json
// (summary.ts) holds held-out exact match per task for both, what the base knows as text, unseen
// instructions, the copying check and a few prompts the base model continues as text.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import type { Entry } from '../data/entries.ts';
import { train, type TrainResult } from '../sft/trainer.ts';
import { ensureBuiltinBase } from './base.ts';
import { controlTrainOptions, defaultTrainOptions } from './recipes.ts';
import { baseCloze, baseExamples, summarize, unseenAnswers, type BuiltinSummary } from './summary.ts';

export type { BaseExample, BuiltinSummary, ExactMatch } from './summary.ts';

export const SUMMARY_FILE = 'summary.json';

export interface BuiltinRunResult {
  finetuned: TrainResult;
  control: TrainResult | null;
  summary: BuiltinSummary | null;
}

const responsesOf = (dir: string): Entry[] => JSON.parse(readFileSync(path.join(dir, 'test-responses.json'), 'utf8')) as Entry[];

/** Loads a saved model, runs `fn` on it and frees it. */
async function withModel<T>(dir: string, fn: (model: GPT) => Promise<T>): Promise<T> {
  const model = await loadGPT(dir);
  try {
    return await fn(model);
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
  log('\n== the base model\'s knowledge as text, and instructions never used in finetuning ==');
  const unseen = (model: GPT) => unseenAnswers(model, opts.style, opts.maxNewTokens, genBatch);
  const base = await withModel(baseDir, async (m) => ({
    cloze: await baseCloze(m),
    unseen: await unseen(m),
    examples: await baseExamples(m, finetunedResponses, controlResponses, opts.style),
  }));
  const summary = summarize({
    finetuned, control, finetunedResponses, controlResponses, cloze: base.cloze, seed: opts.seed,
    unseen: { finetuned: await withModel(out, unseen), control: await withModel(controlOut, unseen), base: base.unseen },
    baseExamples: base.examples,
    seconds: { base_pretraining: baseSeconds, finetuning: finetuneSeconds, control: controlSeconds, total: seconds(started) },
    baseModel: baseDir,
  });
  writeFileSync(path.join(out, SUMMARY_FILE), JSON.stringify(summary, null, 2));
  return { finetuned, control, summary };
}
