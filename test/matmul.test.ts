// The register-tiled matmul kernel (kernels/matmul-tiled.ts) at awkward shapes: bigger than a tile
// and ragged in every dimension, all four transpose combinations, aligned (vec4 loads) and not
// (scalar loads), batched, shared weights with gradients, and accumulate. Forward against a float64
// CPU product. Run with this adapter's kernel and tile (kernels/matmul-llvmpipe.ts on llvmpipe) and
// with a small tile (many workgroups at small shapes).
// A real GPU's kernel (kernels/matmul-gpu.ts) is checked in gpu-kernels.test.ts.
import t from 'tap';
import { getDevice, matmul } from '../engine/index.ts';
import { overrideMatmul } from '../engine/tune/matmul-pick.ts';
import { checkOp } from './helpers/opcheck.ts';
import { checkAccumulate, checkBatched, checkTransposes } from './helpers/matmul.ts';
import { withDevice } from './helpers/device.ts';
import { matmulRef } from './helpers/ref.ts';

await withDevice(t);
const tiles = [
  { name: `${getDevice().backend} kernel and tile`, tile: undefined },
  { name: 'small tile 8x8, 2x2 workgroups, vec4 loads', tile: { tm: 8, tn: 8, wgx: 2, wgy: 2 }, vec4: true },
];

for (const { name, tile, vec4 } of tiles) {
  t.test(name, async (t) => {
    overrideMatmul(tile ? { tile, vec4 } : null);
    t.teardown(() => overrideMatmul(null));
    // [m, n, k]: 65x129x33 and 33x7x129 have no dimension a multiple of 4 (scalar loads);
    // 520x64x100 has aligned rows in every layout (vec4 loads) and M just past 512.
    await checkTransposes(t, [[65, 129, 33], [33, 7, 129], [520, 64, 100]]);
    // Batched, every batch its own operands, both transposed (batch strides 37*36, 20*36).
    await checkBatched(t, 3, 37, 20, 36, true, true);
    await checkAccumulate(t, 37, 21, 45);
  });
}

// Gradients through the tiled kernel: a batched input times a shared weight (the linear layer).
t.test('matmul [3,37,36]·[36,20] forward and VJP', (t) => checkOp(t, 'matmul [3,37,36]·[36,20] forward and VJP', {
  inputs: [{ shape: [3, 37, 36] }, { shape: [36, 20] }],
  gpu: (a, b) => matmul(a, b),
  cpu: (a, b) => matmulRef(a, b, 3, 37, 36, 36, 20, false, false, true),
  gradAtol: 1e-3,
}));
