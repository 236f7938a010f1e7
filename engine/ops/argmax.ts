// Argmax over the last axis on the GPU: i32 indices of each row's first maximum (as torch.argmax).
// Greedy decoding reads back one id per sequence instead of a row of vocabulary-sized logits.
// No backward: the output is an integer index, constant almost everywhere.
import { ShapeError } from '../errors.ts';
import { shapeStr, Tensor } from '../tensor.ts';
import { ARGMAX } from '../../kernels/argmax.ts';
import { assertF32, launchRows, rowWindows, rowWorkgroup } from './util.ts';

/** x [..., V] -> i32 [...]: the index of the first maximum of each row. */
export function argmax(x: Tensor): Tensor {
  assertF32(x, 'argmax');
  if (x.ndim < 1) throw new ShapeError('argmax: needs at least one axis');
  const len = x.shape[x.ndim - 1];
  if (len === 0) throw new ShapeError(`argmax: rows of ${shapeStr(x.shape)} are empty`);
  const rows = x.size / len;
  const out = Tensor.empty(x.shape.slice(0, -1), 'i32', 'argmax');
  // Rows of logits (50257 floats each) past one binding are bound in windows of whole rows.
  for (const w of rowWindows(rows, len)) {
    launchRows(ARGMAX, w.rows, { rows: w.rows, len, shift: w.shift, row0: w.row0 }, [x.bind(w.elem0, w.count), out.bind()],
      `argmax ${shapeStr(x.shape)}`, rowWorkgroup(64));
  }
  return out;
}
