// wgpt train's option sets: the base every run starts from and the named presets. Here rather than
// in bin/ so that `wgpt dpo` can train the built-in SFT model with exactly `wgpt train`'s default.
import type { PretrainOptions } from '../pretrain/trainer.ts';
import type { TrainOptions } from './trainer.ts';

export const TRAIN_PRESETS: Record<string, Partial<TrainOptions>> = {
  // The built-in default: instruction finetuning of the built-in base model (train/pretrain/builtin.ts;
  // its directory is filled in at run time) on questions about half of the fact world's people
  // (train/facts.ts), the test split asking about the other half. The model keeps the base's
  // output vocabulary (outputVocab 'all' keeps what a loaded model has). Prompt masking: the loss
  // goes to the short answers. 1800 entries: the test split is the 180 held-out questions, once each.
  default: {
    data: 'facts', model: '', fromScratch: false, epochs: 3, maxSteps: 200, lr: 1e-3, lrSchedule: 'cosine', warmupSteps: 10,
    mask: 'prompt', style: 'phi3', outputVocab: 'all', evalEvery: 25, evalBatches: 3, scoreBefore: true, maxNewTokens: 20, testLimit: null,
    syntheticCount: 1800,
  },
  ch07: { data: 'ch07', model: 'gpt2-medium', untie: true, epochs: 2, lr: 5e-5, weightDecay: 0.1, batchSize: 8, evalEvery: 5, evalBatches: 5, seed: 123 },
};

export const TRAIN_BASE: TrainOptions = {
  data: null, model: 'tiny', fromScratch: false, untie: false, out: '', epochs: 2, maxSteps: null, batchSize: 8, lr: 5e-5,
  lrSchedule: 'constant', warmupSteps: 0, outputVocab: 'all', weightDecay: 0.1, mask: 'none', style: 'alpaca', evalEvery: 5, evalBatches: 5, seed: 123, maxNewTokens: 256,
  scoreBefore: false, syntheticCount: 2000,
};

/** The options of `wgpt train` with no arguments: the built-in base model in `baseDir`. */
export function defaultTrainOptions(out: string, baseDir: string): TrainOptions {
  return { ...TRAIN_BASE, ...TRAIN_PRESETS.default, model: baseDir, out };
}

/** The control of the built-in run: the same finetuning of a model that was never pretrained
 *  (over the tokens of its data, as the from-scratch default before it, see outputVocabOf). */
export function controlTrainOptions(out: string): TrainOptions {
  return { ...TRAIN_BASE, ...TRAIN_PRESETS.default, model: 'tiny', fromScratch: true, outputVocab: 'data', scoreBefore: false, out };
}

/** `wgpt pretrain`'s defaults (its --data given): nanoGPT's habits at the tiny size. */
export const PRETRAIN_BASE: PretrainOptions = {
  data: null, model: 'tiny', config: null, fromScratch: false, out: '', blockSize: 128, batchSize: 16, epochs: 1, maxSteps: null,
  lr: 1e-3, weightDecay: 0.1, lrSchedule: 'cosine', warmupSteps: 20, evalEvery: 50, evalBatches: 5, sampleEvery: 0, prompts: ['The'],
  sampleTokens: 40, seed: 123, outputVocab: 'all',
};

/** The built-in base model's pretraining (`wgpt pretrain` with no options; train/pretrain/builtin.ts). */
export const BUILTIN_PRETRAIN: PretrainOptions = {
  ...PRETRAIN_BASE, data: null, blockSize: 128, batchSize: 8, epochs: 100, maxSteps: 400, lr: 3e-3, warmupSteps: 20, evalEvery: 50,
  evalBatches: 2, outputVocab: 'data', prompts: [], sampleTokens: 12,
};
