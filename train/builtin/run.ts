// `wgpt train` with no options: what instruction finetuning does, in one run. The built-in base
// model (pretrained on biographies of the fact world, cached) is finetuned on questions about half
// of its people; the test split asks about the other half, whose facts the model saw only as text.
// The control is the same finetuning of a model that was never pretrained. summary.json holds
// held-out exact match per task for both and a few prompts the base model continues as text
// beside the finetuned model's answers.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadGPT } from '../../model/build.ts';
import type { Entry } from '../data/entries.ts';
import { ensureBuiltinBase } from './base.ts';
import { controlTrainOptions, defaultTrainOptions } from './recipes.ts';
import { train, type TrainResult } from '../sft/trainer.ts';
import { baseExamples, summarize, type BaseExample, type BuiltinSummary } from './summary.ts';

export { nearestAnswerShare, type BaseExample, type BuiltinSummary, type ExactMatch, type NearestAnswerShare } from './summary.ts';

export const SUMMARY_FILE = 'summary.json';

export interface BuiltinRunResult {
  finetuned: TrainResult;
  control: TrainResult | null;
  summary: BuiltinSummary | null;
}

const responsesOf = (dir: string): Entry[] => JSON.parse(readFileSync(path.join(dir, 'test-responses.json'), 'utf8')) as Entry[];

export async function builtinRun(out: string, log: (line: string) => void = console.error, genBatch?: number): Promise<BuiltinRunResult> {
  const started = performance.now();
  const seconds = (since: number): number => (performance.now() - since) / 1000;
  const baseDir = await ensureBuiltinBase(log);
  const baseSeconds = seconds(started);
  log(`\n== instruction finetuning of the built-in base model (${baseDir}) on questions about half of its people ==`);
  const t1 = performance.now();
  const opts = { ...defaultTrainOptions(out, baseDir), ...(genBatch ? { genBatch } : {}) };
  const finetuned = await train(opts);
  const finetuneSeconds = seconds(t1);
  if (finetuned.interrupted) return { finetuned, control: null, summary: null };
  log('\n== control: the same finetuning of a model that was never pretrained ==');
  const t2 = performance.now();
  const controlOut = path.join(out, 'control');
  const control = await train({ ...controlTrainOptions(controlOut), ...(genBatch ? { genBatch } : {}) });
  const controlSeconds = seconds(t2);
  if (control.interrupted) return { finetuned, control, summary: null };
  const finetunedResponses = responsesOf(out);
  const controlResponses = responsesOf(controlOut);
  const base = await loadGPT(baseDir);
  let examples: BaseExample[];
  try {
    examples = await baseExamples(base, finetunedResponses, controlResponses, opts.style);
  } finally {
    base.dispose();
  }
  const summary = summarize({
    finetuned, control, finetunedResponses, controlResponses, baseExamples: examples,
    seconds: { base_pretraining: baseSeconds, finetuning: finetuneSeconds, control: controlSeconds, total: seconds(started) },
    baseModel: baseDir,
  });
  writeFileSync(path.join(out, SUMMARY_FILE), JSON.stringify(summary, null, 2));
  return { finetuned, control, summary };
}
