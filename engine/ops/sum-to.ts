// Sums over axes off the tape, in windows past one binding: the reduction under sum and mean
// (engine/ops/reduce.ts) and sumTo, which undoes broadcasting in the backward of element-wise ops.
import { ShapeError } from '../errors.ts';
import { getDevice, sameShape, shapeStr, Tensor } from '../tensor.ts';
import { REDUCE } from '../../kernels/reduce.ts';
import { assertF32, launch1d } from './util.ts';

/** At most this many additions per invocation: llvmpipe ends an invocation's loops after 65535
 *  iterations in all, nested loops' iterations counted too (Mesa's loop limiter), which cut a sum
 *  of 262000 ones to 65535 and a bias gradient over 30000 rows to 21845, silently. The kernel's
 *  four nested loops cost up to ~8 iterations per addition (measured: 8192 failed there). */
const MAX_LOOP = 4096;

/** Sums x over the axes where `keepShape` (same rank as x) has extent 1, times `factor`. An input
 *  past one binding (a bias gradient over 1024 x 50257) is reduced in windows, as matmul binds its
 *  operands: along the outermost axis whose slices fit, for each index of the axes before it.
 *  Windows over a reduced axis add into the same outputs (partial sums in a fixed order); long
 *  reductions are windowed the same way (MAX_LOOP). */
export function reduceRaw(x: Tensor, keepShape: number[], factor: number, label: string): Tensor {
  assertF32(x, label);
  if (x.ndim > 4) throw new ShapeError(`${label}: at most 4 axes are supported, got ${shapeStr(x.shape)}`);
  const pad = 4 - x.ndim;
  const in4 = [...Array(pad).fill(1), ...x.shape];
  const out4 = [...Array(pad).fill(1), ...keepShape];
  const st = [0, 0, 0, 0];
  const ost = [0, 0, 0, 0];
  for (let i = 3, acc = 1, oacc = 1; i >= 0; i--) {
    st[i] = acc;
    acc *= in4[i];
    ost[i] = oacc;
    oacc *= out4[i];
  }
  const kept = out4.map((d, i) => d !== 1 || in4[i] === 1);
  const out = Tensor.empty(keepShape, 'f32', label);
  if (out.size === 0) return out;
  const { maxStorageBufferBindingSize: maxBytes, minStorageBufferOffsetAlignment: alignBytes } = getDevice().limits;
  const maxE = Math.floor(maxBytes / 4);
  const align = alignBytes / 4;
  // One dispatch over [prefix fixed, axis a in [j0, j0 + jc), the rest whole].
  const dispatch = (prefix: number[], a: number, j0: number, jc: number, accum: boolean): void => {
    const ext = in4.map((d, i) => (i < a ? 1 : i === a ? jc : d));
    const oext = ext.map((d, i) => (kept[i] ? d : 1));
    const red = ext.map((d, i) => (kept[i] ? 1 : d));
    const idx = [...prefix, j0, 0, 0, 0].slice(0, 4);
    const x0 = idx.reduce((s, v, i) => s + v * st[i], 0);
    const y0 = idx.reduce((s, v, i) => s + (kept[i] ? v : 0) * ost[i], 0);
    const xCount = ext.reduce((p, d) => p * d, 1);
    const n = oext.reduce((p, d) => p * d, 1);
    const [xe, ye] = [Math.floor(x0 / align) * align, Math.floor(y0 / align) * align];
    launch1d(REDUCE, n, {
      n, o1: oext[1], o2: oext[2], o3: oext[3], st0: st[0], st1: st[1], st2: st[2], st3: st[3],
      r0: red[0], r1: red[1], r2: red[2], r3: red[3], scale: factor, xshift: x0 - xe, yshift: y0 - ye, accum: accum ? 1 : 0,
    },
      [x.bind(xe, x0 - xe + xCount), out.bind(ye, y0 - ye + n)], label);
  };
  // Additions per output element after axis i (within one of its slices).
  const redAfter = (i: number): number => in4.reduce((p, d, j) => (j > i && !kept[j] ? p * d : p), 1);
  if (x.size <= maxE && redAfter(-1) <= MAX_LOOP) {
    dispatch([], 0, 0, in4[0], false);
    return out;
  }
  // The outermost axis a whose single slice (st[a] elements, plus alignment) fits one binding
  // and needs at most MAX_LOOP additions per output; windows of `per` indices along it.
  const a = st.findIndex((s, i) => s + align - 1 <= maxE && redAfter(i) <= MAX_LOOP);
  const per = Math.min(Math.floor((maxE - (align - 1)) / st[a]), kept[a] ? Infinity : Math.floor(MAX_LOOP / redAfter(a)));
  const prefixes: number[][] = [[]];
  for (let i = 0; i < a; i++) prefixes.splice(0, prefixes.length,
    ...prefixes.flatMap((p) => Array.from({ length: in4[i] }, (_, v) => [...p, v])));
  const started = new Set<number>(); // output windows already written once
  for (const prefix of prefixes) {
    for (let j0 = 0; j0 < in4[a]; j0 += per) {
      // The first window to touch an output writes it; later ones over a reduced axis add.
      const key = prefix.reduce((s, v, i) => s + (kept[i] ? v : 0) * ost[i], 0) + (kept[a] ? j0 * ost[a] : 0);
      dispatch(prefix, a, j0, Math.min(per, in4[a] - j0), started.has(key));
      started.add(key);
    }
  }
  return out;
}

/** Sums g down to `shape` (numpy broadcasting reversed). Returns a view when nothing to sum. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g.view(shape);
  const pad = g.ndim - shape.length;
  if (pad < 0) throw new ShapeError(`sumTo: cannot sum ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  const keep = g.shape.map((_d, i) => (i < pad ? 1 : shape[i - pad]));
  keep.forEach((d, i) => {
    if (d !== 1 && d !== g.shape[i]) throw new ShapeError(`sumTo: cannot sum ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  });
  return reduceRaw(g, keep, 1, 'sum (broadcast backward)').view(shape);
}
