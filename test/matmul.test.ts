// The register-tiled matmul kernel (kernels/matmul-tiled.ts) at awkward shapes: bigger than a tile
// and ragged in every dimension, all four transpose combinations, aligned (vec4 loads) and not
// (scalar loads), batched, shared weights with gradients, and accumulate. Forward against a float64
// CPU product. Run with this adapter's kernel and tile (kernels/matmul-llvmpipe.ts on llvmpipe) and
// with a small tile (many workgroups at small shapes).
// A real GPU's kernel (kernels/matmul-gpu.ts) is checked in gpu-kernels.test.ts.
import t from 'tap';
import { getDevice, matmul, Tensor } from '../engine/index.ts';
import { matmulInto, setMatmulKernel } from '../engine/ops/matmul.ts';
import { assertClose, checkOp, randn } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';
import { matmulRef } from './helpers/ref.ts';

await withDevice(t);
const tiles = [
  { name: `${getDevice().backend} kernel and tile`, tile: null },
  { name: 'small tile 8x8, 2x2 workgroups, vec4 loads', tile: { tm: 8, tn: 8, wgx: 2, wgy: 2 }, vec4: true },
];

for (const { name, tile, vec4 } of tiles) {
  t.test(name, async (t) => {
    setMatmulKernel('tiled', tile, vec4 ?? null);
    t.teardown(() => setMatmulKernel('tiled'));
    // [m, n, k]: 65x129x33 and 33x7x129 have no dimension a multiple of 4 (scalar loads);
    // 520x64x100 has aligned rows in every layout (vec4 loads) and M just past 512.
    for (const [m, n, k] of [[65, 129, 33], [33, 7, 129], [520, 64, 100]]) {
      for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
        const as = ta ? [k, m] : [m, k];
        const bs = tb ? [n, k] : [k, n];
        const a = randn(m * k, m + 7 * n + k);
        const b = randn(k * n, 3 * m + n + 11 * k);
        const A = Tensor.fromData(a, as);
        const B = Tensor.fromData(b, bs);
        const C = matmul(A, B, { transA: ta, transB: tb });
        t.same(C.shape, [m, n]);
        assertClose(t, await C.toArray(), matmulRef(a, b, 1, as[0], as[1], bs[0], bs[1], ta, tb, true), 1e-5, 1e-4,
          `${m}x${n}x${k} ta=${ta} tb=${tb}`);
        for (const x of [A, B, C]) x.dispose();
      }
    }
    // Batched, every batch its own operands, both transposed (batch strides 37*36, 20*36).
    {
      const a = randn(3 * 36 * 37, 5);
      const b = randn(3 * 20 * 36, 6);
      const A = Tensor.fromData(a, [3, 36, 37]);
      const B = Tensor.fromData(b, [3, 20, 36]);
      const C = matmul(A, B, { transA: true, transB: true });
      assertClose(t, await C.toArray(), matmulRef(a, b, 3, 36, 37, 20, 36, true, true, false), 1e-5, 1e-4, 'batched [3,36,37]ᵀ·[3,20,36]ᵀ');
      for (const x of [A, B, C]) x.dispose();
    }
    // accumulate: C += A·B on top of existing values.
    {
      const [m, n, k] = [37, 21, 45];
      const a = randn(m * k, 8);
      const b = randn(k * n, 9);
      const c0 = randn(m * n, 10);
      const A = Tensor.fromData(a, [m, k]);
      const B = Tensor.fromData(b, [k, n]);
      const C = Tensor.fromData(c0, [m, n]);
      matmulInto({ t: A, rows: m, cols: k, batch: 1 }, { t: B, rows: k, cols: n, batch: 1 }, C, m, n, k, false, false, true, 'test accumulate');
      const want = matmulRef(a, b, 1, m, k, k, n, false, false, true).map((x, i) => x + c0[i]);
      assertClose(t, await C.toArray(), want, 1e-5, 1e-4, 'accumulate');
      for (const x of [A, B, C]) x.dispose();
    }
  });
}

// Gradients through the tiled kernel: a batched input times a shared weight (the linear layer).
t.test('matmul [3,37,36]·[36,20] forward and VJP', (t) => checkOp(t, 'matmul [3,37,36]·[36,20] forward and VJP', {
  inputs: [{ shape: [3, 37, 36] }, { shape: [36, 20] }],
  gpu: (a, b) => matmul(a, b),
  cpu: (a, b) => matmulRef(a, b, 3, 37, 36, 36, 20, false, false, true),
  gradAtol: 1e-3,
}));
