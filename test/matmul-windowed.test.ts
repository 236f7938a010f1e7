// Matmuls whose operands exceed one binding (capped at 1 MiB = 262144 floats here) are bound in row
// windows with offsets, and partial K sums accumulate into C (engine/ops/matmul-lower.ts matmulInto).
import t from 'tap';
import { matmul, Tensor } from '../engine/index.ts';
import { assertClose, randn } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';
import { matmulRef } from './helpers/ref.ts';

await withDevice(t, { maxStorageBufferBindingSize: 1 << 20 });

// [m, n, k, transA, transB]: windows along M (A too big), along N (Bᵀ too big), along K (B too big,
// partial sums accumulate), K windows of a transposed A, and a ragged misaligned one.
const cases: [number, number, number, boolean, boolean][] = [
  [600, 40, 520, false, false],
  [24, 700, 400, false, true],
  [8, 130, 2100, false, false],
  [36, 20, 8000, true, false],
  [9, 131, 2101, false, false],
];
for (const [m, n, k, ta, tb] of cases) t.test(`windowed ${m}x${n}x${k} ta=${ta} tb=${tb}`, async (t) => {
  const as = ta ? [k, m] : [m, k];
  const bs = tb ? [n, k] : [k, n];
  const a = randn(m * k, m + n);
  const b = randn(k * n, k);
  const A = Tensor.fromData(a, as);
  const B = Tensor.fromData(b, bs);
  const C = matmul(A, B, { transA: ta, transB: tb });
  assertClose(t, await C.toArray(), matmulRef(a, b, 1, as[0], as[1], bs[0], bs[1], ta, tb, true), 1e-4, 1e-4,
    `windowed ${m}x${n}x${k} ta=${ta} tb=${tb}`);
  for (const x of [A, B, C]) x.dispose();
});
