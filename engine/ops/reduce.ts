// Sums and means over axes, on the tape (the windowed reduction itself is engine/ops/sum-to.ts).
import { record, type Tensor } from '../tensor.ts';
import { full, mulRaw } from './elementwise.ts';
import { reduceRaw } from './sum-to.ts';
import { axisOf } from './util.ts';

/** Broadcasts g (kept axes of extent 1) back to `shape`, times factor. */
function expand(g: Tensor, shape: readonly number[], factor: number): Tensor {
  const f = full(shape, factor);
  const out = mulRaw(f, g);
  f.dispose();
  return out;
}

function reduceOp(x: Tensor, axis: number | null, keepdim: boolean, mean: boolean): Tensor {
  const op = mean ? 'mean' : 'sum';
  const axes = axis === null ? x.shape.map((_, i) => i) : [axisOf(axis, x.ndim, op)];
  const keepShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const count = axes.reduce((n, a) => n * x.shape[a], 1);
  const factor = mean ? 1 / count : 1;
  const raw = reduceRaw(x, keepShape, factor, op);
  const outShape = keepdim ? keepShape : x.shape.filter((_, i) => !axes.includes(i));
  const out = raw.view(outShape);
  raw.dispose();
  return record(out, op, [x], (g) => [expand(g.view(keepShape), x.shape, factor)]);
}

/** Sum over one axis (or all axes with axis = null). */
export function sum(x: Tensor, axis: number | null = null, keepdim = false): Tensor {
  return reduceOp(x, axis, keepdim, false);
}

/** Mean over one axis (or all axes with axis = null). */
export function mean(x: Tensor, axis: number | null = null, keepdim = false): Tensor {
  return reduceOp(x, axis, keepdim, true);
}
