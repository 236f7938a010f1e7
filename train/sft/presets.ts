// wgpt train's option sets: the base every run starts from and the named presets (--preset). The
// built-in run's recipe builds on the same base (train/builtin/recipes.ts).
import type { TrainOptions } from './trainer.ts';

export const TRAIN_PRESETS: Record<string, Partial<TrainOptions>> = {
  ch07: { data: 'ch07', model: 'gpt2-medium', untie: true, epochs: 2, lr: 5e-5, weightDecay: 0.1, batchSize: 8, evalEvery: 5,
    evalBatches: 5, seed: 123 },
};

export const TRAIN_BASE: TrainOptions = {
  data: null, model: 'tiny', fromScratch: false, untie: false, out: '', epochs: 2, maxSteps: null, batchSize: 8, lr: 5e-5,
  lrSchedule: 'constant', warmupSteps: 0, outputVocab: 'all', weightDecay: 0.1, mask: 'none', style: 'alpaca',
  evalEvery: 5, evalBatches: 5, seed: 123, maxNewTokens: 256,
  scoreBefore: false, syntheticCount: 2000,
};
