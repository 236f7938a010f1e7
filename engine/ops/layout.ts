// Shape ops: reshape (a view), permute/transpose, slice/split, concat; forward and VJP side by side.
import { ShapeError, WgptError } from '../errors.ts';
import { numel, record, shapeStr, Tensor } from '../tensor.ts';
import { AXIS_COPY, PERMUTE, SPLIT_HEADS } from '../../kernels/layout.ts';
import { zeros } from './elementwise.ts';
import { axisOf, launch1d, recording } from './util.ts';

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const inferred = shape.length - known.length;
  if (inferred > 1) throw new ShapeError(`reshape: at most one -1 in ${shapeStr(shape)}`);
  const full = inferred ? shape.map((d) => (d === -1 ? x.size / Math.max(numel(known), 1) : d)) : [...shape];
  if (numel(full) !== x.size || full.some((d) => !Number.isInteger(d))) {
    throw new ShapeError(`reshape: cannot reshape ${shapeStr(x.shape)} to ${shapeStr(shape)}`);
  }
  return record(x.view(full), 'reshape', [x], (g) => [g.view(x.shape)]);
}

function permuteRaw(x: Tensor, perm: number[]): Tensor {
  const outShape = perm.map((p) => x.shape[p]);
  const out = Tensor.empty(outShape, x.dtype, 'permute');
  if (out.size === 0) return out;
  const inStrides: number[] = [];
  for (let i = x.ndim - 1, acc = 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= x.shape[i];
  }
  const pad = 4 - x.ndim;
  const o4 = [...Array(pad).fill(1), ...outShape];
  const st4 = [...Array(pad).fill(0), ...perm.map((p) => inStrides[p])];
  const [st0, st1, st2, st3] = st4;
  const params = { n: out.size, o1: o4[1], o2: o4[2], o3: o4[3], st0, st1, st2, st3 };
  launch1d(PERMUTE, out.size, params, [x.bind(), out.bind()], `permute ${shapeStr(x.shape)}`);
  return out;
}

/** Reorders axes (up to 4): out.shape[i] = x.shape[perm[i]]. */
export function permute(x: Tensor, perm: number[]): Tensor {
  if (perm.length !== x.ndim || [...perm].sort().some((p, i) => p !== i) || x.ndim > 4) {
    throw new ShapeError(`permute: [${perm}] is not a permutation of the ${x.ndim} axes of ${shapeStr(x.shape)} (at most 4)`);
  }
  const inverse: number[] = [];
  perm.forEach((p, i) => (inverse[p] = i));
  return record(permuteRaw(x, perm), 'permute', [x], (g) => [permuteRaw(g, inverse)]);
}

/** Swaps two axes. */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const perm = x.shape.map((_, i) => i);
  const i = axisOf(a, x.ndim, 'transpose');
  const j = axisOf(b, x.ndim, 'transpose');
  [perm[i], perm[j]] = [perm[j], perm[i]];
  return permute(x, perm);
}

/** Copies `count` positions along `axis` of src (from srcStart) into dst (at dstStart). */
function axisCopy(src: Tensor, dst: Tensor, axis: number, srcStart: number, dstStart: number, count: number): void {
  const outer = numel(src.shape.slice(0, axis));
  const inner = numel(src.shape.slice(axis + 1));
  const n = outer * count * inner;
  if (n === 0) return;
  launch1d(AXIS_COPY, n, { n, inner, count, src_len: src.shape[axis], src_start: srcStart, dst_len: dst.shape[axis], dst_start: dstStart },
    [src.bind(), dst.bind()], `copy along axis ${axis}`);
}

/** x[..., start:start+length, ...] along `axis`. */
export function slice(x: Tensor, axis: number, start: number, length: number): Tensor {
  const ax = axisOf(axis, x.ndim, 'slice');
  if (start < 0 || length < 0 || start + length > x.shape[ax]) {
    throw new ShapeError(`slice: [${start}, ${start + length}) is outside axis ${ax} of ${shapeStr(x.shape)}`);
  }
  const shape = x.shape.map((d, i) => (i === ax ? length : d));
  const out = Tensor.empty(shape, x.dtype, 'slice');
  axisCopy(x, out, ax, start, 0, length);
  return record(out, 'slice', [x], (g) => {
    const gx = zeros(x.shape);
    axisCopy(g, gx, ax, 0, start, length);
    return [gx];
  });
}

/** Splits along `axis` into pieces of the given sizes. */
export function split(x: Tensor, sizes: number[], axis = -1): Tensor[] {
  const ax = axisOf(axis, x.ndim, 'split');
  if (sizes.reduce((s, d) => s + d, 0) !== x.shape[ax]) {
    throw new ShapeError(`split: sizes [${sizes}] do not add up to axis ${ax} of ${shapeStr(x.shape)}`);
  }
  let start = 0;
  return sizes.map((len) => {
    const piece = slice(x, ax, start, len);
    start += len;
    return piece;
  });
}

/** Joins tensors along `axis` (all other extents equal). */
export function concat(xs: Tensor[], axis = -1): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: no tensors');
  const ax = axisOf(axis, xs[0].ndim, 'concat');
  for (const t of xs) {
    if (t.ndim !== xs[0].ndim || t.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])) {
      throw new ShapeError(`concat: ${shapeStr(t.shape)} does not match ${shapeStr(xs[0].shape)} off axis ${ax}`);
    }
  }
  const total = xs.reduce((s, t) => s + t.shape[ax], 0);
  const out = Tensor.empty(xs[0].shape.map((d, i) => (i === ax ? total : d)), xs[0].dtype, 'concat');
  const starts: number[] = [];
  let at = 0;
  for (const t of xs) {
    starts.push(at);
    axisCopy(t, out, ax, 0, at, t.shape[ax]);
    at += t.shape[ax];
  }
  return record(out, 'concat', xs, (g) => xs.map((t, i) => {
    if (!t.requiresGrad) return null;
    const gi = Tensor.empty(t.shape, 'f32', 'concat backward');
    axisCopy(g, gi, ax, starts[i], 0, t.shape[ax]);
    return gi;
  }));
}

/** Attention's queries, keys and values [B, H, T, Dh] from qkv [B, T, 3·D] (D = H·Dh) for
 *  generation's attention over a KV cache: what split + reshape + permute computes, in one dispatch
 *  (windows of one [3, B, H, T, Dh] tensor). Forward only: training attends on qkv itself
 *  (qkvAttention). Where a third is not a whole number of 256-byte blocks (so its window could not
 *  be bound), it is split + reshape + permute. */
export function splitHeads(qkv: Tensor, heads: number): [Tensor, Tensor, Tensor] {
  const [b, t, d3] = qkv.shape;
  const d = d3 / 3;
  const dh = d / heads;
  if (qkv.ndim !== 3 || !Number.isInteger(dh) || dh === 0) {
    throw new ShapeError(`splitHeads: qkv must be [B, T, 3·D] with D a multiple of ${heads} heads, got ${shapeStr(qkv.shape)}`);
  }
  if (recording(qkv)) throw new WgptError('splitHeads is forward only (generation): to train, attend on qkv with qkvAttention');
  const third = b * t * d;
  if (third % 64 !== 0) {
    return split(qkv, [d, d, d], 2).map((z) => permute(reshape(z, [b, t, heads, dh]), [0, 2, 1, 3])) as [Tensor, Tensor, Tensor];
  }
  const all = Tensor.empty([3 * b, heads, t, dh], 'f32', 'split heads');
  if (third > 0) {
    launch1d(SPLIT_HEADS, 3 * third, { n: 3 * third, b, heads, t, dh }, [qkv.bind(), all.bind()], `split heads ${shapeStr(qkv.shape)}`);
  }
  const pieces = [0, 1, 2].map((s) => all.window(s * third, [b, heads, t, dh])) as [Tensor, Tensor, Tensor];
  all.dispose();
  return pieces;
}
