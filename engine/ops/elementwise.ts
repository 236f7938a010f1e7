// Element-wise arithmetic with numpy broadcasting (up to 4 axes), forward and VJP side by side.
import { ShapeError } from '../errors.ts';
import { getDevice, numel, record, shapeStr, Tensor } from '../tensor.ts';
import { AFFINE, BINARY, BINARY_OPS, BINARY4, FILL } from '../../kernels/elementwise.ts';
import { sumTo } from './sum-to.ts';
import { assertF32, eachWindow, launch1d, maxBindingElems } from './util.ts';

type BinaryOp = keyof typeof BINARY_OPS;

export function broadcastShape(a: readonly number[], b: readonly number[], op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new ShapeError(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  if (n > 4) throw new ShapeError(`${op}: at most 4 axes are supported, got ${shapeStr(out)}`);
  return out;
}

/** Strides of `shape` seen through the 4-axis output `out4` (0 on broadcast axes). */
function strides4(shape: readonly number[], out4: number[]): number[] {
  const s4 = [...Array(4 - shape.length).fill(1), ...shape];
  const st = [0, 0, 0, 0];
  let acc = 1;
  for (let i = 3; i >= 0; i--) {
    st[i] = s4[i] === 1 && out4[i] !== 1 ? 0 : acc;
    acc *= s4[i];
  }
  return st;
}

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  assertF32(a, op);
  assertF32(b, op);
  const shape = broadcastShape(a.shape, b.shape, op);
  const out = Tensor.empty(shape, 'f32', op);
  const n = out.size;
  if (n === 0) return out;
  if (binaryVec4(op, a, b, out)) return out;
  const out4 = [...Array(4 - shape.length).fill(1), ...shape];
  const as = strides4(a.shape, out4);
  const bs = strides4(b.shape, out4);
  // An operand of the output's full size is bound as the same window; a broadcast one whole.
  const aFull = a.size === n;
  const bFull = b.size === n;
  eachWindow(n, (e0, count) => {
    launch1d(BINARY, count, {
      n: count, base: e0, s1: out4[1], s2: out4[2], s3: out4[3], a_base: aFull ? e0 : 0, b_base: bFull ? e0 : 0,
      as0: as[0], as1: as[1], as2: as[2], as3: as[3], bs0: bs[0], bs1: bs[1], bs2: bs[2], bs3: bs[3],
    }, [
      aFull ? a.bind(e0, count) : a.bind(),
      bFull ? b.bind(e0, count) : b.bind(),
      out.bind(e0, count),
    ], `${op} ${shapeStr(a.shape)} ${shapeStr(b.shape)}`, { OP: BINARY_OPS[op] });
  });
  return out;
}

/** How an operand repeats over the output: the trailing axes it spans (its size), or null when it
 *  is broadcast along an inner axis. A same-shape operand's period is the output size. */
function period(x: readonly number[], out: readonly number[]): number | null {
  let k = 0;
  while (k < x.length && x[k] === 1) k++;
  const tail = x.slice(k);
  const outTail = out.slice(out.length - tail.length);
  return tail.every((d, i) => d === outTail[i]) ? numel(tail) : null;
}

/** The vec4 fast path (no per-axis index arithmetic, 4 floats per invocation), where both operands
 *  repeat with a period that is a multiple of 4 and fits one binding. Returns false otherwise. */
function binaryVec4(op: BinaryOp, a: Tensor, b: Tensor, out: Tensor): boolean {
  const n = out.size;
  const step = maxBindingElems(getDevice());
  const pa = period(a.shape, out.shape);
  const pb = period(b.shape, out.shape);
  const fits = (p: number | null): p is number => p !== null && p % 4 === 0 && (p === n || p <= step);
  if (n % 4 !== 0 || step % 4 !== 0 || !fits(pa) || !fits(pb)) return false;
  // A full-size operand is bound as the output's window; a repeating one whole.
  const aFull = pa === n;
  const bFull = pb === n;
  eachWindow(n, (e0, count) => {
    const params = { n4: count / 4, base: e0, a_period: pa, a_base: aFull ? e0 : 0, b_period: pb, b_base: bFull ? e0 : 0 };
    launch1d(BINARY4, count / 4, params, [
      aFull ? a.bind(e0, count) : a.bind(),
      bFull ? b.bind(e0, count) : b.bind(),
      out.bind(e0, count),
    ], `${op} ${shapeStr(a.shape)} ${shapeStr(b.shape)}`, { OP: BINARY_OPS[op] });
  }, step);
  return true;
}

/** a * b off the tape (for use inside backward functions). */
export const mulRaw = (a: Tensor, b: Tensor): Tensor => binaryRaw('mul', a, b);

export function add(a: Tensor, b: Tensor): Tensor {
  // A frozen operand (a LoRA base model's bias) gets no gradient: no reduction for it.
  return record(binaryRaw('add', a, b), 'add', [a, b], (g) => [
    a.requiresGrad ? sumTo(g, a.shape) : null,
    b.requiresGrad ? sumTo(g, b.shape) : null,
  ]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  return record(binaryRaw('sub', a, b), 'sub', [a, b], (g) => [
    a.requiresGrad ? sumTo(g, a.shape) : null,
    b.requiresGrad ? sumTo(scale(g, -1), b.shape) : null,
  ]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  return record(binaryRaw('mul', a, b), 'mul', [a, b], (g) => [
    a.requiresGrad ? sumTo(binaryRaw('mul', g, b), a.shape) : null,
    b.requiresGrad ? sumTo(binaryRaw('mul', g, a), b.shape) : null,
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const out = binaryRaw('div', a, b);
  return record(out, 'div', [a, b], (g) => {
    const ga = binaryRaw('div', g, b);
    // d(a/b)/db = -(a/b)/b, so the gradient of b is -(g/b)·out.
    const gb = b.requiresGrad ? affineRaw(binaryRaw('mul', ga, out), -1, 0, 'div backward') : null;
    return [sumTo(ga, a.shape), gb && sumTo(gb, b.shape)];
  });
}

function affineRaw(x: Tensor, alpha: number, beta: number, label: string): Tensor {
  assertF32(x, label);
  const out = Tensor.empty(x.shape, 'f32', label);
  eachWindow(x.size, (e0, count) => launch1d(AFFINE, count, { n: count, alpha, beta }, [x.bind(e0, count), out.bind(e0, count)], label));
  return out;
}

/** alpha * x */
export function scale(x: Tensor, alpha: number): Tensor {
  return record(affineRaw(x, alpha, 0, 'scale'), 'scale', [x], (g) => [affineRaw(g, alpha, 0, 'scale backward')]);
}

/** alpha * x + beta */
export function affine(x: Tensor, alpha: number, beta: number): Tensor {
  return record(affineRaw(x, alpha, beta, 'affine'), 'affine', [x], (g) => [affineRaw(g, alpha, 0, 'affine backward')]);
}

export function full(shape: readonly number[], value: number): Tensor {
  const out = Tensor.empty(shape, 'f32', 'full');
  const n = numel(shape);
  // Zeros (gradients, optimizer state) are a clear of the buffer, not a kernel.
  if (value === 0 && !Object.is(value, -0)) {
    if (n > 0) getDevice().clear(out.buffer, 0, n * 4, 'zeros'); // a new tensor: its data starts the buffer
    return out;
  }
  eachWindow(n, (e0, count) => launch1d(FILL, count, { n: count, value }, [out.bind(e0, count)], 'fill'));
  return out;
}

export const zeros = (shape: readonly number[]): Tensor => full(shape, 0);
export const ones = (shape: readonly number[]): Tensor => full(shape, 1);

/** A copy with its own storage (off the tape). */
export function copy(x: Tensor): Tensor {
  return affineRaw(x, 1, 0, 'copy');
}

/** Overwrites dst's data with src's (same size), in order with recorded work; off the tape. */
export function assign(dst: Tensor, src: Tensor): void {
  if (dst.size !== src.size || dst.dtype !== src.dtype) {
    throw new ShapeError(`assign: cannot copy ${src.dtype} ${shapeStr(src.shape)} into ${dst.dtype} ${shapeStr(dst.shape)}`);
  }
  const from = src.bind();
  const to = dst.bind();
  if (dst.size > 0) getDevice().copy(from.buffer, from.offset, to.buffer, to.offset, dst.size * 4, 'assign');
}
