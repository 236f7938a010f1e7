// On llvmpipe a large matmul whose operand or result rows are not 16-byte aligned (the LM head's
// 50257 columns) runs on rows copied out to a multiple of 4 (engine/ops/matmul.ts dispatchAligned,
// kernels/restride.wgsl). Exact against an f64 product in every transpose, batched, accumulating
// and in binding windows (a 1 MiB cap here), and the copies really happen.
import t from 'tap';
import { matmul, Tensor } from '../engine/index.ts';
import { matmulInto } from '../engine/ops/matmul.ts';
import { assertClose, randn } from './helpers/opcheck.ts';
import { kernelsDispatched, withDevice } from './helpers/device.ts';
import { matmulRef } from './helpers/ref.ts';

const device = await withDevice(t, { kernels: 'software', maxStorageBufferBindingSize: 1 << 20 });

/** How many restride copies `fn` dispatched. */
const copiesIn = (fn: () => void): number => kernelsDispatched(device, fn).filter((k) => k.startsWith('restride.')).length;

t.test('misaligned rows are copied aligned, and the product is exact', async (t) => {
  // [m, n, k]: every row length odd (A, B and C misaligned); 300x33x1003 binds A in windows.
  for (const [m, n, k] of [[67, 131, 1003], [130, 201, 161], [300, 33, 1003]]) {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
      const as = ta ? [k, m] : [m, k];
      const bs = tb ? [n, k] : [k, n];
      const a = randn(m * k, m + k);
      const b = randn(k * n, n + 3 * k);
      const A = Tensor.fromData(a, as);
      const B = Tensor.fromData(b, bs);
      let C: Tensor | null = null;
      const copies = copiesIn(() => void (C = matmul(A, B, { transA: ta, transB: tb })));
      t.ok(copies >= 2, `${m}x${n}x${k} ta=${ta} tb=${tb}: ${copies} aligned copies`);
      assertClose(t, await C!.toArray(), matmulRef(a, b, 1, as[0], as[1], bs[0], bs[1], ta, tb, true), 1e-4, 1e-4,
        `${m}x${n}x${k} ta=${ta} tb=${tb}`);
      for (const x of [A, B, C!]) x.dispose();
    }
  }
});

t.test('batched, and accumulating into C', async (t) => {
  const [bt, m, n, k] = [3, 45, 99, 1001];
  const a = randn(bt * m * k, 1);
  const b = randn(bt * k * n, 2);
  const A = Tensor.fromData(a, [bt, m, k]);
  const B = Tensor.fromData(b, [bt, k, n]);
  const C = matmul(A, B);
  assertClose(t, await C.toArray(), matmulRef(a, b, bt, m, k, k, n, false, false, false), 1e-4, 1e-4, 'batched [3,45,1001]·[3,1001,99]');
  const c0 = randn(m * n, 3);
  const X = Tensor.fromData(a.subarray(0, m * k), [m, k]);
  const Y = Tensor.fromData(b.subarray(0, k * n), [k, n]);
  const Z = Tensor.fromData(c0, [m, n]);
  matmulInto({ t: X, rows: m, cols: k, batch: 1 }, { t: Y, rows: k, cols: n, batch: 1 }, Z, m, n, k, false, false, true, 'test accumulate');
  const want = matmulRef(a.subarray(0, m * k), b.subarray(0, k * n), 1, m, k, k, n, false, false, true).map((v, i) => v + c0[i]);
  assertClose(t, await Z.toArray(), want, 1e-4, 1e-4, 'C += A·B through an aligned result');
  for (const x of [A, B, C, X, Y, Z]) x.dispose();
});
