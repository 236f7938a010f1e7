// Attention for a left-padded batch (batched generation): Tq new queries over Tk keys, sequence b's
// keys before keyStart[b] being padding. Forward only: generation runs without a tape, and the
// training path (causalSelfAttention: flash attention, with its backward) never pads on the left.
// Composed as q·kᵀ/√Dh (matmul), a masked softmax (kernels/softmax.wgsl, padded), then ·v (matmul):
// the masked probabilities are exactly 0 and the matmul sums over keys in order, so the padded keys
// change nothing and a sequence gets the same numbers in a padded batch as alone.
import { ShapeError, WgptError } from '../errors.ts';
import { shapeStr, Tensor } from '../tensor.ts';
import { PADDED_SOFTMAX } from '../../kernels/softmax.ts';
import { scale } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { launchRows, recording, rowWindows, rowWorkgroup } from './util.ts';

/** Softmax over the last axis of scores [B, H, Tq, Tk], keeping for query i the keys
 *  [keyStart[b], Tk - Tq + i]; keyStart is i32 [B]. Forward only. */
export function paddedSoftmax(scores: Tensor, keyStart: Tensor): Tensor {
  if (scores.ndim !== 4 || scores.dtype !== 'f32') throw new ShapeError(`paddedSoftmax: scores must be f32 [B, H, Tq, Tk], ` +
    `got ${scores.dtype} ${shapeStr(scores.shape)}`);
  const [b, h, tq, tk] = scores.shape;
  if (keyStart.dtype !== 'i32' || keyStart.ndim !== 1 || keyStart.shape[0] !== b) {
    throw new ShapeError(`paddedSoftmax: keyStart must be i32 [${b}], got ${keyStart.dtype} ${shapeStr(keyStart.shape)}`);
  }
  if (tq > tk) throw new ShapeError(`paddedSoftmax: ${tq} queries over ${tk} keys (queries are the last Tq key positions)`);
  if (recording(scores)) throw new WgptError('paddedSoftmax has no backward: use it under noGrad (generation)');
  const out = Tensor.empty(scores.shape, 'f32', 'padded softmax');
  const rows = b * h * tq;
  if (rows === 0 || tk === 0) return out;
  for (const w of rowWindows(rows, tk)) {
    launchRows(PADDED_SOFTMAX, w.rows, { rows: w.rows, len: tk, shift: w.shift, row0: w.row0, tq, rows_per_seq: h * tq },
      [scores.bind(w.elem0, w.count), out.bind(w.elem0, w.count), keyStart.bind()], `padded softmax ${shapeStr(scores.shape)}`,
      rowWorkgroup(64));
  }
  return out;
}

/** softmax(q·kᵀ/√Dh, causal, past keyStart)·v for q [B, H, Tq, Dh] over k, v [B, H, Tk, Dh]. */
export function paddedAttention(q: Tensor, k: Tensor, v: Tensor, keyStart: Tensor): Tensor {
  const ok = q.ndim === 4 && k.ndim === 4 && v.ndim === 4 && k.shape.every((d, i) => d === v.shape[i])
    && [0, 1, 3].every((i) => q.shape[i] === k.shape[i]);
  if (!ok) throw new ShapeError(`paddedAttention: q [B, H, Tq, Dh], k and v [B, H, Tk, Dh], ` +
    `got ${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)}`);
  const scores = scale(matmul(q, k, { transB: true }), 1 / Math.sqrt(q.shape[3]));
  const p = paddedSoftmax(scores, keyStart);
  scores.dispose();
  const out = matmul(p, v);
  p.dispose();
  return out;
}
