// Softmax over the last axis (optionally causal-masked), forward and VJP side by side. (The
// attention composed from it is in ops/attention.ts.)
import { ShapeError } from '../errors.ts';
import { record, shapeStr, Tensor } from '../tensor.ts';
import { SOFTMAX, SOFTMAX_BACKWARD } from '../../kernels/softmax.ts';
import { assertF32, launchRows, rowWindows, rowWorkgroup } from './util.ts';

export interface SoftmaxOptions {
  /** x is [.., T, T]: row i attends to j <= i only (the rest get probability 0). */
  causal?: boolean;
}

export function softmax(x: Tensor, opts: SoftmaxOptions = {}): Tensor {
  assertF32(x, 'softmax');
  if (x.ndim < 1) throw new ShapeError('softmax: needs at least one axis');
  const len = x.shape[x.ndim - 1];
  const causal = opts.causal ?? false;
  if (causal && (x.ndim < 2 || x.shape[x.ndim - 2] !== len)) {
    throw new ShapeError(`softmax: causal masking needs a [.., T, T] input, got ${shapeStr(x.shape)}`);
  }
  const rows = len === 0 ? 0 : x.size / len;
  const out = Tensor.empty(x.shape, 'f32', 'softmax');
  for (const w of rowWindows(rows, len)) {
    launchRows(SOFTMAX, w.rows, { rows: w.rows, len, shift: w.shift, row0: w.row0, causal: causal ? 1 : 0 },
      [x.bind(w.elem0, w.count), out.bind(w.elem0, w.count)], `softmax ${shapeStr(x.shape)}`, rowWorkgroup(64));
  }
  return record(out, causal ? 'softmax (causal)' : 'softmax', [x], (g) => {
    const dx = Tensor.empty(x.shape, 'f32', 'softmax backward');
    for (const w of rowWindows(rows, len)) {
      launchRows(SOFTMAX_BACKWARD, w.rows, { rows: w.rows, len, shift: w.shift, row0: w.row0 },
        [out.bind(w.elem0, w.count), g.bind(w.elem0, w.count), dx.bind(w.elem0, w.count)], 'softmax backward', rowWorkgroup(64));
    }
    return [dx];
  });
}
