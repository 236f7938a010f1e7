// wgpt train's option sets: the base every run starts from and the named presets. Here rather than
// in bin/ so that `wgpt dpo` can train the built-in SFT model with exactly `wgpt train`'s default.
import type { TrainOptions } from './trainer.ts';

export const TRAIN_PRESETS: Record<string, Partial<TrainOptions>> = {
  // The built-in default: small and fast, with a learning rate for training from scratch.
  // Prompt masking: the loss (and the LM head's work) goes to the short answers, not the preamble.
  // The output vocabulary of the data: a few hundred columns instead of 50257 (see outputVocabOf).
  default: {
    data: null, model: 'tiny', fromScratch: true, epochs: 3, maxSteps: 500, lr: 3e-3, lrSchedule: 'cosine', warmupSteps: 20,
    mask: 'prompt', outputVocab: 'data', evalEvery: 25, evalBatches: 3, scoreBefore: true, maxNewTokens: 8, testLimit: 54,
  },
  ch07: { data: 'ch07', model: 'gpt2-medium', untie: true, epochs: 2, lr: 5e-5, weightDecay: 0.1, batchSize: 8, evalEvery: 5, evalBatches: 5, seed: 123 },
};

export const TRAIN_BASE: TrainOptions = {
  data: null, model: 'tiny', fromScratch: false, untie: false, out: '', epochs: 2, maxSteps: null, batchSize: 8, lr: 5e-5,
  lrSchedule: 'constant', warmupSteps: 0, outputVocab: 'all', weightDecay: 0.1, mask: 'none', style: 'alpaca', evalEvery: 5, evalBatches: 5, seed: 123, maxNewTokens: 256,
  scoreBefore: false, syntheticCount: 2000,
};

/** The options of `wgpt train` with no arguments (its out directory left to the caller). */
export function defaultTrainOptions(out: string): TrainOptions {
  return { ...TRAIN_BASE, ...TRAIN_PRESETS.default, out };
}
