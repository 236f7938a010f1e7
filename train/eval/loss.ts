// The loss of a model over batches, as the chapter's calc_loss_loader measures it: the mean of the
// per-batch means. train's and pretrain's evaluation rows, wgpt eval, the studies' comparable
// losses, and (meanOver) dpo's measurements over pairs.
import { keep, tidy } from '../../engine/index.ts';
import type { GPT } from '../../model/gpt.ts';
import { collate } from '../data/collate.ts';
import type { EncodedEntry } from '../data/encode.ts';
import { evalLoader } from '../run/loader.ts';
import { batchLoss, type Batch } from '../run/step.ts';

/** The mean of each measurement over `count` batches, measured in order (null without a batch). */
export async function meanOver<R extends Record<string, number>>(count: number, measure: (i: number) => Promise<R>): Promise<R | null> {
  let sums: Record<string, number> | null = null;
  for (let i = 0; i < count; i++) {
    const m = await measure(i);
    sums ??= Object.fromEntries(Object.keys(m).map((k) => [k, 0]));
    for (const k of Object.keys(m)) sums[k] += m[k];
  }
  return sums && (Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / count])) as R);
}

/** The mean of the losses of `count` batches (`batchAt(i)`, made in order; NaN without a batch). */
export async function meanLoss(model: GPT, count: number, batchAt: (i: number) => Batch): Promise<number> {
  const mean = await meanOver(count, async (i) => {
    const loss = tidy(() => keep(batchLoss(model, batchAt(i))));
    try {
      return { loss: await loss.item() };
    } finally {
      loss.dispose();
    }
  });
  return mean?.loss ?? NaN;
}

/** Mean of the per-batch mean losses over the first `maxBatches` batches (the chapter's calc_loss_loader),
 *  each under `mask` (and the prompt-loss weight, when given: the run's own objective). */
export function evaluateLoss(model: GPT, items: readonly EncodedEntry[], batchSize: number, maxBatches: number,
  mask: string, allowedMaxLength: number, promptLossWeight: number | null = null): Promise<number> {
  const loader = evalLoader(items, batchSize);
  return meanLoss(model, Math.min(maxBatches, loader.length),
    () => collate(loader.nextBatch()!, { mask, allowedMaxLength, promptLossWeight }));
}
