// The recipes of the built-in models and runs: the base model's pretraining, the default
// finetuning (`wgpt train` with no options, and the SFT model `wgpt dpo` starts from), its
// control, and the built-in DPO run. Each is a command's base options with a few changed. The cached
// models' recipe.json (the base's and the SFT model's) is their JSON, so the order of their keys is
// part of the recipe (change it and every cached built-in model is made again).
import type { DpoOptions } from '../dpo/trainer.ts';
import type { PretrainOptions } from '../pretrain/trainer.ts';
import { PRETRAIN_BASE } from '../pretrain/presets.ts';
import { TRAIN_BASE } from '../sft/presets.ts';
import type { TrainOptions } from '../sft/trainer.ts';

/** The built-in default: instruction finetuning of the built-in base model (base.ts; its
 *  directory is filled in at run time) on questions about half of the fact world's people
 *  (train/data/facts.ts), the test split asking about the other half. The model keeps the base's
 *  output vocabulary (outputVocab 'all' keeps what a loaded model has). Prompt masking: the loss
 *  goes to the short answers. 1800 entries: the test split is the 180 held-out questions, once each. */
const DEFAULT_FINETUNING: Partial<TrainOptions> = {
  data: 'facts', model: '', fromScratch: false, epochs: 3, maxSteps: 200, lr: 1e-3, lrSchedule: 'cosine', warmupSteps: 10,
  mask: 'prompt', style: 'phi3', outputVocab: 'all', evalEvery: 25, evalBatches: 3, scoreBefore: true, maxNewTokens: 20, testLimit: null,
  syntheticCount: 1800,
};

/** The options of `wgpt train` with no arguments: the built-in base model in `baseDir`. */
export function defaultTrainOptions(out: string, baseDir: string): TrainOptions {
  return { ...TRAIN_BASE, ...DEFAULT_FINETUNING, model: baseDir, out };
}

/** The control of the built-in run: the same finetuning of a model that was never pretrained
 *  (over the tokens of its data, as the from-scratch default before it, see outputVocabOf). */
export function controlTrainOptions(out: string): TrainOptions {
  return { ...TRAIN_BASE, ...DEFAULT_FINETUNING, model: 'tiny', fromScratch: true, outputVocab: 'data', scoreBefore: false, out };
}

/** The built-in base model's pretraining (`wgpt pretrain` with no options; base.ts). */
export const BUILTIN_PRETRAIN: PretrainOptions = {
  ...PRETRAIN_BASE, data: null, blockSize: 128, batchSize: 8, epochs: 100, maxSteps: 400, lr: 3e-3, warmupSteps: 20, evalEvery: 50,
  evalBatches: 2, outputVocab: 'data', prompts: [], sampleTokens: 12,
};

/** `wgpt dpo` with no --model and --data (over DPO_BASE; README): held-out preference accuracy
 *  89% -> 100% and exact match 89% -> 100% with --sft-weight 1; without it 96% and 0.6%, both
 *  answers made unlikely. */
export const BUILTIN_DPO: Partial<DpoOptions> = {
  data: null, rejected: 'model', beta: 0.5, sftWeight: 1, lr: 1e-4, epochs: 2, maxSteps: 400, batchSize: 8, evalEvery: 50, evalBatches: 3,
  scoreBefore: true, style: 'phi3', maxNewTokens: 20, testLimit: null, syntheticCount: 1800,
};
