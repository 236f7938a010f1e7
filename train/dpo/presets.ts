// `wgpt dpo`'s defaults (its --model and --data given): the chapter 7 DPO notebook's settings. The
// built-in run's recipe builds on them (train/builtin/recipes.ts).
import type { DpoOptions } from './trainer.ts';

export const DPO_BASE: DpoOptions = {
  data: null, model: '', out: '', beta: 0.1, sftWeight: 0, lr: 5e-6, weightDecay: 0.01, epochs: 1, maxSteps: null, batchSize: 8,
  evalEvery: 5, evalBatches: 5, mask: 'prompt', style: 'alpaca', seed: 123, maxNewTokens: 256, testLimit: null,
  loraRank: null, loraAlpha: null, loraTargets: null, scoreBefore: false, syntheticCount: 2000,
};
