// On llvmpipe a large matmul whose operand or result rows are not 16-byte aligned (the LM head's
// 50257 columns) runs on rows copied out to a multiple of 4 (engine/ops/matmul-lower.ts dispatchAligned,
// kernels/restride.wgsl). Exact against an f64 product in every transpose, batched, accumulating
// and in binding windows (a 1 MiB cap here), and the copies really happen. A long K is computed in
// slices accumulated into C (K_CHUNK), also exact.
import t from 'tap';
import { matmul, type Tensor } from '../engine/index.ts';
import { checkAccumulate, checkBatched, checkTransposes } from './helpers/matmul.ts';
import { kernelsDispatched, withDevice } from './helpers/device.ts';

const device = await withDevice(t, { kernels: 'software', maxStorageBufferBindingSize: 1 << 20 });

/** How many restride copies `fn` dispatched. */
const copiesIn = (fn: () => void): number => kernelsDispatched(device, fn).filter((k) => k.startsWith('restride.')).length;

t.test('misaligned rows are copied aligned, and the product is exact', async (t) => {
  // [m, n, k]: every row length odd (A, B and C misaligned); 300x33x1003 binds A in windows.
  await checkTransposes(t, [[67, 131, 1003], [130, 201, 161], [300, 33, 1003]], 1e-4, (A, B, o, label) => {
    let C: Tensor | null = null;
    const copies = copiesIn(() => void (C = matmul(A, B, o)));
    t.ok(copies >= 2, `${label}: ${copies} aligned copies`);
    return C!;
  });
});

t.test('batched, and accumulating into C', async (t) => {
  await checkBatched(t, 3, 45, 99, 1001, false, false, 1e-4);
  // C += A·B through an aligned result (99 columns: C is copied out and added back).
  await checkAccumulate(t, 45, 99, 1001, 1e-4);
});

t.test('a long K (the LM head backward) runs in accumulated slices and stays exact', async (t) => {
  // K = 9001 > 2·K_CHUNK: five slices of 1804 (the last shorter), aligned and misaligned rows alike;
  // K = 5001: three.
  // Sums of ~9000 N(0,1) products are ~95 in size, so f32 rounding alone is ~5e-4: atol 2e-3.
  // [40, 45, 5001]: three slices whose misaligned A and B fit one binding whole, so are copied once.
  await checkTransposes(t, [[36, 29, 9001], [40, 64, 8196], [40, 45, 5001]], 2e-3, (A, B, o, label) => {
    let C: Tensor | null = null;
    const names = kernelsDispatched(device, () => void (C = matmul(A, B, o)));
    const products = names.filter((k) => k.startsWith('matmul')).length;
    t.ok(products >= 3, `${label}: ${products} matmul dispatches (K sliced)`);
    // A misaligned operand is copied to aligned rows once for all its slices, not once a slice
    // (A and B each at most once, and C's copy back once a slice when it is misaligned).
    const pads = names.filter((k) => k === 'restride.pad').length;
    t.ok(pads <= 2, `${label}: ${pads} aligned operand copies for ${products} slices`);
    return C!;
  });
});
