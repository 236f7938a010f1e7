// One DPO step and the measurements over pairs. Each step runs one forward of the batch's chosen
// and rejected answers together, reads each sequence's mean log-probability back, takes the loss
// and its gradient per sequence on the host (loss.ts) and seeds the backward of that same graph
// with it. The reference is a frozen copy of the SFT model, or with LoRA the policy itself with
// its adapters off.
import { backward, keep, noGrad, Tensor, tidy, tidyAsync } from '../../engine/index.ts';
import type { GPT } from '../../model/gpt.ts';
import { meanOver } from '../eval/loss.ts';
import { evalLoader } from '../run/loader.ts';
import type { AdamW } from '../run/optim.ts';
import { collatePairs, type DpoBatch, type EncodedPair } from './collate.ts';
import { batchIds, sequenceLogProbs } from './logprobs.ts';
import { dpoLoss, type DpoLoss } from './loss.ts';

// ---- the reference --------------------------------------------------------------------------

/** The frozen reference: a second copy of the SFT weights, only ever run under noGrad; or, with
 *  LoRA, `{ baseOf: policy }`: the policy itself with its adapters off (no second copy). */
export type Reference = GPT | { baseOf: GPT };

const referenceModel = (ref: Reference): GPT => ('baseOf' in ref ? ref.baseOf : ref);

export function disposeReference(ref: Reference): void {
  if (!('baseOf' in ref)) ref.dispose();
}

// ---- log-probabilities, loss and evaluation ----------------------------------------------------

/** Mean log-prob per row (chosen rows then rejected) without a graph, of the policy or a reference. */
async function logProbsNoGrad(model: Reference, batch: DpoBatch): Promise<Float32Array> {
  const m = referenceModel(model);
  const forward = (): Tensor | null => noGrad(() => tidy(() => {
    const p = sequenceLogProbs(m, batchIds(batch), batch.targets);
    return p ? keep(p) : null;
  }));
  const pi = 'baseOf' in model ? m.withoutAdapters(forward) : forward();
  if (!pi) return new Float32Array(2 * batch.pairs);
  const values = (await pi.toArray()) as Float32Array;
  pi.dispose();
  return values;
}

const sides = (v: Float32Array, b: number): [Float32Array, Float32Array] => [v.subarray(0, b), v.subarray(b, 2 * b)];

/** The loss of one batch and, where anything is selected, its gradient in every parameter's .grad
 *  (graded). The reference's log-probs come first (no graph); the policy's graph stays open across
 *  the readback of its log-probs, and the host's dL/dπ seeds its backward. */
export async function dpoBackward(model: GPT, ref: Reference, batch: DpoBatch, beta: number,
  sftWeight = 0): Promise<{ loss: DpoLoss; graded: boolean }> {
  const [rc, rr] = sides(await logProbsNoGrad(ref, batch), batch.pairs);
  const loss = await tidyAsync(async () => {
    const pi = sequenceLogProbs(model, batchIds(batch), batch.targets);
    if (!pi) return null;
    const [pc, pr] = sides((await pi.toArray()) as Float32Array, batch.pairs);
    const l = dpoLoss(pc, pr, rc, rr, beta, sftWeight);
    backward(pi, Tensor.fromData([...l.gradChosen, ...l.gradRejected], [2 * batch.pairs]));
    return l;
  });
  if (loss) return { loss, graded: true };
  // Nothing selected in the whole batch (every answer truncated away): π = 0 for every row.
  const zero = new Float32Array(batch.pairs);
  return { loss: dpoLoss(zero, zero, rc, rr, beta, sftWeight), graded: false };
}

/** One optimizer step on one batch; returns its loss and rewards. A batch without a gradient
 *  skips the update, so weight decay and momentum move nothing either (as train does). */
export async function dpoStep(model: GPT, ref: Reference, opt: AdamW, batch: DpoBatch, beta: number, sftWeight: number): Promise<DpoLoss> {
  const { loss, graded } = await dpoBackward(model, ref, batch, beta, sftWeight);
  if (graded) opt.update();
  else opt.zeroGrad();
  return loss;
}

export interface EvalResult { loss: number; chosen: number; rejected: number; margin: number; sft: number }

/** What an evaluation over pairs reads of the run's options. */
export interface EvalOptions { batchSize: number; evalBatches: number; mask: string; beta: number }

/** Mean over the first `evalBatches` batches of the per-batch means (the notebook's
 *  compute_dpo_loss_loader). Reference log-probs of these fixed batches are cached. */
export async function evaluatePairs(model: GPT, ref: Reference, items: readonly EncodedPair[], opts: EvalOptions, allowedMaxLength: number,
  cache: Float32Array[]): Promise<EvalResult> {
  const loader = evalLoader(items, opts.batchSize);
  const mean = await meanOver(Math.min(opts.evalBatches, loader.length), async (i) => {
    const batch = collatePairs(loader.nextBatch()!, { mask: opts.mask, allowedMaxLength });
    cache[i] ??= await logProbsNoGrad(ref, batch);
    const [pc, pr] = sides(await logProbsNoGrad(model, batch), batch.pairs);
    const [rc, rr] = sides(cache[i], batch.pairs);
    const l = dpoLoss(pc, pr, rc, rr, opts.beta);
    return { loss: l.loss, chosen: l.chosenReward, rejected: l.rejectedReward, margin: l.margin, sft: l.sft };
  });
  return mean ?? { loss: NaN, chosen: NaN, rejected: NaN, margin: NaN, sft: NaN };
}

export interface PreferenceAccuracy {
  correct: number;
  n: number;
  accuracy: number;
}

/** Pairs where the model's mean log-prob of the chosen answer exceeds the rejected one's. */
export async function preferenceAccuracy(model: GPT, items: readonly EncodedPair[], batchSize: number, mask: string,
  allowedMaxLength: number): Promise<PreferenceAccuracy> {
  let correct = 0;
  for (let i = 0; i < items.length; i += batchSize) {
    const batch = collatePairs(items.slice(i, i + batchSize), { mask, allowedMaxLength });
    const [pc, pr] = sides(await logProbsNoGrad(model, batch), batch.pairs);
    for (let k = 0; k < batch.pairs; k++) if (pc[k] > pr[k]) correct++;
  }
  return { correct, n: items.length, accuracy: items.length ? correct / items.length : NaN };
}
