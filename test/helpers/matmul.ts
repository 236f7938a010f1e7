// The matmul checks every matmul kernel's test runs (matmul, matmul-llvmpipe, matmul-aligned,
// gpu-kernels): the product against a float64 one in all four transpose forms, batched, and
// accumulating into C.
import type { Test } from 'tap';
import { matmul, Tensor, type MatmulOptions } from '../../engine/index.ts';
import { matmulInto } from '../../engine/ops/matmul-lower.ts';
import { assertClose, randn } from './opcheck.ts';
import { matmulRef } from './ref.ts';

const FORMS = [[false, false], [false, true], [true, false], [true, true]];

/** Each [m, n, k] in the four transpose forms. `multiply` may wrap the call (to count what it
 *  dispatches); `atol` is assertClose's (rtol 1e-4). */
export async function checkTransposes(t: Test, shapes: number[][], atol = 1e-5,
  multiply: (a: Tensor, b: Tensor, o: MatmulOptions, label: string) => Tensor = (a, b, o) => matmul(a, b, o)): Promise<void> {
  for (const [m, n, k] of shapes) {
    for (const [ta, tb] of FORMS) {
      const label = `${m}x${n}x${k} ta=${ta} tb=${tb}`;
      const as = ta ? [k, m] : [m, k];
      const bs = tb ? [n, k] : [k, n];
      const a = randn(m * k, m + 7 * n + k);
      const b = randn(k * n, 3 * m + n + 11 * k);
      const A = Tensor.fromData(a, as);
      const B = Tensor.fromData(b, bs);
      const C = multiply(A, B, { transA: ta, transB: tb }, label);
      t.same(C.shape, [m, n]);
      assertClose(t, await C.toArray(), matmulRef(a, b, 1, as[0], as[1], bs[0], bs[1], ta, tb, true), atol, 1e-4, label);
      for (const x of [A, B, C]) x.dispose();
    }
  }
}

/** z batches, each with its own operands: A [z, m, k] (or [z, k, m]), B [z, k, n] (or [z, n, k]). */
export async function checkBatched(t: Test, z: number, m: number, n: number, k: number, ta: boolean, tb: boolean,
  atol = 1e-5): Promise<void> {
  const as = ta ? [z, k, m] : [z, m, k];
  const bs = tb ? [z, n, k] : [z, k, n];
  const a = randn(z * m * k, 5 + m);
  const b = randn(z * k * n, 6 + n);
  const A = Tensor.fromData(a, as);
  const B = Tensor.fromData(b, bs);
  const C = matmul(A, B, { transA: ta, transB: tb });
  assertClose(t, await C.toArray(), matmulRef(a, b, z, as[1], as[2], bs[1], bs[2], ta, tb, false), atol, 1e-4,
    `batched ${z}x${m}x${n}x${k} ta=${ta} tb=${tb}`);
  for (const x of [A, B, C]) x.dispose();
}

/** C += A·B on top of existing values (matmulInto with accumulate). */
export async function checkAccumulate(t: Test, m: number, n: number, k: number, atol = 1e-5): Promise<void> {
  const a = randn(m * k, 8);
  const b = randn(k * n, 9);
  const c0 = randn(m * n, 10);
  const A = Tensor.fromData(a, [m, k]);
  const B = Tensor.fromData(b, [k, n]);
  const C = Tensor.fromData(c0, [m, n]);
  matmulInto({ t: A, rows: m, cols: k, batch: 1 }, { t: B, rows: k, cols: n, batch: 1 }, C, m, n, k, false, false, true, 'test accumulate');
  const want = matmulRef(a, b, 1, m, k, k, n, false, false, true).map((x, i) => x + c0[i]);
  assertClose(t, await C.toArray(), want, atol, 1e-4, `accumulate ${m}x${n}x${k}`);
  for (const x of [A, B, C]) x.dispose();
}
