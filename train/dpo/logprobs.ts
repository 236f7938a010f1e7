// Each sequence's mean log-probability of its selected tokens, as one differentiable GPU graph:
// only the selected positions go through the LM head (a row gather of the hidden states, as
// GPT.loss does), the per-token cross-entropy gives -log p per row, and a [rows, Nsel] weight
// matrix S (1/count at a sequence's own positions) times that column averages them per sequence,
// so the gradient of each π reaches its tokens through the matmul without a kernel of its own.
import { crossEntropyPerToken, embedding, matmul, reshape, scale, Tensor, WgptError } from '../../engine/index.ts';
import type { GPT } from '../../model/gpt.ts';
import { IGNORE_INDEX } from '../data/collate.ts';
import type { DpoBatch } from './collate.ts';

/** π [rows] for token ids [rows, T] and targets [rows, T] (IGNORE_INDEX where not selected). A
 *  row with no selected target gets 0 (the notebook would divide 0 by 0). Dropout stays off:
 *  the policy and the reference must be compared on the same footing (the notebook's model has
 *  drop_rate 0). Returns null when no row selects anything (nothing to differentiate). */
export function sequenceLogProbs(model: GPT, ids: Tensor, targets: Int32Array): Tensor | null {
  const [rows, t] = ids.shape;
  if (targets.length !== rows * t) throw new WgptError(`sequenceLogProbs: ${targets.length} targets for ids [${ids.shape}]`);
  const keep: number[] = [];
  const counts = new Array<number>(rows).fill(0);
  for (let i = 0; i < targets.length; i++) {
    if (targets[i] === IGNORE_INDEX) continue;
    keep.push(i);
    counts[Math.floor(i / t)]++;
  }
  if (keep.length === 0) return null;
  const weights = new Float32Array(rows * keep.length);
  keep.forEach((i, k) => {
    const r = Math.floor(i / t);
    weights[r * keep.length + k] = 1 / counts[r];
  });
  const h = model.hidden(ids);
  const d = h.shape[2];
  const selected = embedding(reshape(h, [rows * t, d]), Tensor.fromData(keep, [keep.length], 'i32'));
  const columns = model.targetColumns(keep.map((i) => targets[i]));
  const nll = crossEntropyPerToken(model.logits(selected), Tensor.fromData(columns, [keep.length], 'i32'));
  const mean = matmul(Tensor.fromData(weights, [rows, keep.length]), reshape(nll, [keep.length, 1]));
  return scale(reshape(mean, [rows]), -1);
}

/** The batch's ids as a tensor. */
export function batchIds(batch: DpoBatch): Tensor {
  return Tensor.fromData(batch.inputs, [2 * batch.pairs, batch.seqLen], 'i32');
}
