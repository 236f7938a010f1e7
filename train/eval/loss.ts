// The loss of a model over instruction entries, as the chapter's calc_loss_loader measures it:
// train's evaluation rows, wgpt eval, and the studies' comparable losses.
import { keep, tidy } from '../../engine/index.ts';
import type { GPT } from '../../model/gpt.ts';
import { collate, type EncodedEntry } from '../data/collate.ts';
import { DataLoader } from '../run/loader.ts';
import { batchLoss } from '../run/step.ts';

/** Mean of the per-batch mean losses over the first `maxBatches` batches (the chapter's calc_loss_loader),
 *  each under `mask` (and the prompt-loss weight, when given: the run's own objective). */
export async function evaluateLoss(model: GPT, items: readonly EncodedEntry[], batchSize: number, maxBatches: number,
  mask: string, allowedMaxLength: number, promptLossWeight: number | null = null): Promise<number> {
  const loader = new DataLoader(items, { batchSize });
  const n = Math.min(maxBatches, loader.length);
  if (n === 0) return NaN;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const batch = collate(loader.nextBatch()!, { mask, allowedMaxLength, promptLossWeight });
    const loss = tidy(() => keep(batchLoss(model, batch)));
    total += await loss.item();
    loss.dispose();
  }
  return total / n;
}
