// The f16-operand emulation (numerics only; no product path runs it): kernels/f16-round.wgsl rounds
// f32 values to f16 exactly as IEEE 754 does (round to nearest, ties to even, subnormals, overflow
// to infinity), checked against an f64 reference on every f16 value, every midpoint between two and
// the floats beside it, and random values over the whole range; and a product under
// MatmulOverride.f16Operands is the f32 product of the rounded operands.
import t from 'tap';
import { matmul, Tensor } from '../engine/index.ts';
import { launch1d } from '../engine/ops/util.ts';
import { checkMatmulPrecision, overrideMatmul } from '../engine/tune/matmul-pick.ts';
import { ROUND_F16 } from '../kernels/f16-round.ts';
import { withDevice } from './helpers/device.ts';
import { matmulRef } from './helpers/ref.ts';
import { randn } from './helpers/opcheck.ts';

const device = await withDevice(t);

/** x rounded to f16 in f64 arithmetic: the nearest multiple of the f16 spacing at x's binade
 *  (2^-24 below 2^-14), ties to the even multiple; past 65504, infinity. */
function f16Ref(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const ax = Math.abs(x);
  let e = Math.floor(Math.log2(ax));
  if (2 ** e > ax) e--;
  if (2 ** (e + 1) <= ax) e++;
  const q = 2 ** (Math.max(e, -14) - 10);
  let f = Math.floor(ax / q);
  const d = ax / q - f;
  if (d > 0.5 || (d === 0.5 && f % 2 === 1)) f += 1;
  const v = f * q;
  return Math.sign(x) * (v > 65504 ? Infinity : v);
}

/** The f16 value with these bits. */
function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}

const nextUp = (x: number): number => {
  const b = new Float32Array([x]);
  const u = new Uint32Array(b.buffer);
  u[0] += x >= 0 ? 1 : -1;
  return b[0];
};
const nextDown = (x: number): number => -nextUp(-x);

async function rounded(xs: Float32Array): Promise<Float32Array> {
  const x = Tensor.fromData(xs, [xs.length]);
  const y = Tensor.empty([xs.length], 'f32', 'test f16');
  launch1d(ROUND_F16, xs.length, { n: xs.length }, [x.bind(), y.bind()], 'test f16');
  const out = (await y.toArray()) as Float32Array;
  x.dispose();
  y.dispose();
  return out;
}

t.test('round to nearest f16, ties to even, subnormals and overflow, bit for bit against f64', async (t) => {
  const values: number[] = [];
  const finite: number[] = [];
  for (let h = 0; h < 0x7c00; h++) finite.push(f16Value(h));
  for (let i = 0; i < finite.length; i++) {
    values.push(finite[i], -finite[i]);
    if (i + 1 < finite.length) {
      const mid = (finite[i] + finite[i + 1]) / 2; // exact in f32: 12 significant bits
      values.push(mid, -mid, nextUp(mid), nextDown(mid));
    }
  }
  // Random values from 2^-30 to 2^17, both signs; and the edges by name.
  let seed = 12345;
  for (let i = 0; i < 20000; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    values.push((seed & 1 ? -1 : 1) * 2 ** (-30 + (47 * seed) / 2 ** 32));
  }
  const edges = [65504, 65519.99, 65520, 65536, 1e30, 2 ** -25, nextUp(2 ** -25), 3 * 2 ** -25, 2 ** -24, 2 ** -14, 1e-40, 0, -0,
    Infinity, -Infinity, 1 + 2 ** -11, 1 + 3 * 2 ** -11];
  values.push(...edges);
  const xs = new Float32Array(values);
  const got = await rounded(xs);
  const want = new Float32Array(Array.from(xs, f16Ref));
  const gb = new Uint32Array(got.buffer);
  const wb = new Uint32Array(want.buffer);
  const bad: string[] = [];
  for (let i = 0; i < xs.length && bad.length < 5; i++) if (gb[i] !== wb[i]) bad.push(`${xs[i]}: got ${got[i]}, want ${want[i]}`);
  t.same(bad, [], `${xs.length} values rounded as f64 says`);
  // What the reference says at the edges (so the reference itself is checked).
  t.same(Array.from(want.slice(-edges.length)),
    [65504, 65504, Infinity, Infinity, Infinity, 0, 2 ** -24, 2 ** -23, 2 ** -24, 2 ** -14, 0, 0, -0, Infinity, -Infinity, 1, 1 + 2 ** -9]);
  const nan = await rounded(new Float32Array([NaN]));
  t.ok(Number.isNaN(nan[0]), 'NaN stays NaN');
});

t.test('a product with f16 operands is the f32 product of the rounded operands', async (t) => {
  t.teardown(() => overrideMatmul(null));
  const [m, n, k] = [9, 13, 70];
  const a = randn(m * k, 21);
  const b = randn(k * n, 22);
  const A = Tensor.fromData(a, [m, k]);
  const B = Tensor.fromData(b, [k, n]);
  overrideMatmul({ f16Operands: true });
  const C = matmul(A, B);
  const got = (await C.toArray()) as Float32Array;
  const round = (x: Float64Array): Float64Array => new Float64Array(Array.from(x, (v) => f16Ref(Math.fround(v))));
  const want = matmulRef(round(a), round(b), 1, m, k, k, n, false, false, true);
  const plain = matmulRef(a, b, 1, m, k, k, n, false, false, true);
  let err16 = 0;
  let err32 = 0;
  for (let i = 0; i < got.length; i++) {
    err16 = Math.max(err16, Math.abs(got[i] - want[i]));
    err32 = Math.max(err32, Math.abs(got[i] - plain[i]));
  }
  t.ok(err16 < 1e-4, `against the rounded operands' f64 product: ${err16.toExponential(2)}`);
  t.ok(err32 > 1e-3, `and visibly off the unrounded one: ${err32.toExponential(2)}`);
  [A, B, C].forEach((x) => x.dispose());
});

t.test('--matmul-precision f16 is refused in one line that says what to do (no subgroup-matrix kernel ships)', async (t) => {
  checkMatmulPrecision(device, 'f32');
  t.throws(() => checkMatmulPrecision(device, 'f16'),
    /^--matmul-precision f16: .*(lists no f16 subgroup-matrix config|ships no subgroup-matrix kernel).*run with --matmul-precision f32/);
});
