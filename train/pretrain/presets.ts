// `wgpt pretrain`'s defaults (its --data given): nanoGPT's habits at the tiny size. The built-in
// base model's recipe builds on them (train/builtin/recipes.ts).
import type { PretrainOptions } from './trainer.ts';

export const PRETRAIN_BASE: PretrainOptions = {
  data: null, model: 'tiny', config: null, fromScratch: false, out: '', blockSize: 128, batchSize: 16, epochs: 1, maxSteps: null,
  lr: 1e-3, weightDecay: 0.1, lrSchedule: 'cosine', warmupSteps: 20, evalEvery: 50, evalBatches: 5, sampleEvery: 0, prompts: ['The'],
  sampleTokens: 40, seed: 123, outputVocab: 'all',
};
