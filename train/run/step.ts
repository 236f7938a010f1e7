// One optimizer step on one batch, and the batch loss it differentiates: the step of train and
// pretrain in the shared loop (loop.ts), and the loss of evaluation and the studies.
import { backward, keep, Tensor, tidy } from '../../engine/index.ts';
import type { GPT } from '../../model/gpt.ts';
import type { StepResult } from './loop.ts';
import type { AdamW } from './optim.ts';

/** A batch as the loss takes it: instruction data (data/collate.ts) and packed text (pretrain/blocks.ts)
 *  both come as this. */
export interface Batch {
  inputs: Int32Array; // batch × seqLen, row-major
  targets: Int32Array; // batch × seqLen, row-major, -100 (IGNORE_INDEX) where ignored
  batch: number;
  seqLen: number;
  /** Divide the summed cross-entropy of the non-ignored targets by this (with `weights`: the
   *  weighted sum, and this is the sum of the counted targets' weights). */
  lossDenominator: number;
  /** Per target (batch × seqLen, row-major), with a prompt-loss weight: W in the prompt, 1 elsewhere. */
  weights?: Float32Array;
  /** How many targets are -100 because they are padding (not prompt masking). */
  padTargets: number;
}

/** The loss of one collated batch (dropout on when `train`, seeded by `seed`; weighted when the
 *  batch carries a prompt-loss weight's per-target weights). */
export function batchLoss(model: GPT, batch: Batch, train = false, seed = 0): Tensor {
  const ids = Tensor.fromData(batch.inputs, [batch.batch, batch.seqLen], 'i32');
  const targets = Tensor.fromData(batch.targets, [batch.batch, batch.seqLen], 'i32');
  return model.loss(ids, targets, { train, dropoutSeed: seed, denominator: batch.lossDenominator, weights: batch.weights });
}

/** One optimizer step on one batch, resolving once it is recorded and its loss's readback
 *  submitted; the loss comes in `value`, so the loop can record the next step before it waits for
 *  it (loop.ts). A batch with no counted target has a zero gradient: the update is skipped so that
 *  weight decay and momentum do not move any weight either. */
async function recordStep(model: GPT, opt: AdamW, batch: Batch, seed: number): Promise<{ value: Promise<number> }> {
  const loss = tidy(() => {
    const l = batchLoss(model, batch, true, seed);
    backward(l);
    return keep(l);
  });
  if (batch.lossDenominator > 0) opt.update();
  else opt.zeroGrad();
  try {
    return await loss.itemLater();
  } finally {
    loss.dispose();
  }
}

/** The loop's step for batches the loss takes as they are (instruction data, packed text): the
 *  loader's items made into a batch, one optimizer step, every position of it a token read. Its
 *  loss comes back while the loop records the next step. `seed` (default: the step) seeds dropout. */
export function lossStep<T>(model: GPT, opt: AdamW, makeBatch: (items: T[]) => Batch,
  seed: (step: number) => number = (step) => step): (items: T[], step: number) => Promise<StepResult> {
  return async (items, step) => {
    const batch = makeBatch(items);
    return { loss: (await recordStep(model, opt, batch, seed(step))).value, tokens: batch.batch * batch.seqLen };
  };
}
