// Sums and means over axes; sumTo undoes broadcasting in the backward of element-wise ops.
import { ShapeError } from '../errors.ts';
import { getDevice, record, sameShape, shapeStr, Tensor } from '../tensor.ts';
import { wgsl } from '../../kernels/kernel.ts';
import { full, mulRaw } from './elementwise.ts';
import { assertF32, axisOf, f32bits, launch1d } from './util.ts';

const REDUCE = wgsl('reduce');

/** Sums x over the axes where `keepShape` (same rank as x) has extent 1, times `factor`. */
function reduceRaw(x: Tensor, keepShape: number[], factor: number, label: string): Tensor {
  assertF32(x, label);
  if (x.ndim > 4) throw new ShapeError(`${label}: at most 4 axes are supported, got ${shapeStr(x.shape)}`);
  const pad = 4 - x.ndim;
  const in4 = [...Array(pad).fill(1), ...x.shape];
  const out4 = [...Array(pad).fill(1), ...keepShape];
  const st = [0, 0, 0, 0];
  for (let i = 3, acc = 1; i >= 0; i--) {
    st[i] = acc;
    acc *= in4[i];
  }
  const red = in4.map((d, i) => (out4[i] === 1 ? d : 1));
  const out = Tensor.empty(keepShape, 'f32', label);
  if (out.size === 0) return out;
  if (x.size * 4 > getDevice().limits.maxStorageBufferBindingSize) {
    throw new ShapeError(`${label}: input ${shapeStr(x.shape)} is larger than one binding; reduce it in parts`);
  }
  launch1d(REDUCE, out.size, [out.size, out4[1], out4[2], out4[3], ...st, ...red, f32bits(factor), 0, 0, 0],
    [x.bind(), out.bind()], label);
  return out;
}

/** Sums g down to `shape` (numpy broadcasting reversed). Returns a view when nothing to sum. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g.view(shape);
  const pad = g.ndim - shape.length;
  if (pad < 0) throw new ShapeError(`sumTo: cannot sum ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  const keep = g.shape.map((d, i) => (i < pad ? 1 : shape[i - pad]));
  keep.forEach((d, i) => {
    if (d !== 1 && d !== g.shape[i]) throw new ShapeError(`sumTo: cannot sum ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  });
  return reduceRaw(g, keep, 1, 'sum (broadcast backward)').view(shape);
}

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
