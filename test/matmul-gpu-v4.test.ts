// The GPU matmul's v4 tiles (kernels/matmul-gpu-v4.ts: vec4 loads and stores, double-buffered
// workgroup memory) against the f64 product, on whatever adapter runs the tests (lavapipe checks a
// GPU's code path on the CPU): aligned shapes that are no multiple of any tile (vec4 loads with
// lanes past the edges), unaligned ones (float loads into the same blocks), K past many steps and
// bound in slices, batched and accumulating; and the same bits as the scalar default tile.
import t from 'tap';
import type { Test } from 'tap';
import { matmul, Tensor } from '../engine/index.ts';
import { GPU_MATMUL_CANDIDATES, GPU_MATMUL_TILE, gpuMatmulKernel, gpuTileName, type GpuMatmulTile } from '../kernels/matmul-gpu.ts';
import { overrideMatmul } from '../engine/tune/matmul-pick.ts';
import { assertClose, randn } from './helpers/opcheck.ts';
import { checkAccumulate, checkBatched, checkTransposes } from './helpers/matmul.ts';
import { withDevice } from './helpers/device.ts';
import { matmulRef } from './helpers/ref.ts';

// A 64 KiB binding cap: the larger shapes bind their operands in windows (K slices, row windows).
await withDevice(t, { kernels: 'gpu', maxStorageBufferBindingSize: 1 << 16 });
const V4 = GPU_MATMUL_CANDIDATES.filter((c) => c.v4);
const FORMS = [[false, false], [false, true], [true, false], [true, true]] as const;

t.test('the tuner has v4 tiles, and an aligned operand loads as vec4 in them', async (t) => {
  t.ok(V4.length >= 3, V4.map(gpuTileName).join(', '));
  const k = gpuMatmulKernel(V4[0], false, true, { a: true, b: true, c: true });
  t.match(k.code, /var<storage, read> a: array<vec4<f32>>/);
  t.match(k.code, /var<storage, read_write> c: array<vec4<f32>>/);
  t.match(gpuMatmulKernel(V4[0], false, true).code, /var<storage, read> a: array<f32>/, 'float loads where not aligned');
});

/** op(A)·op(B) with `tile` against f64 and, bit for bit, against the scalar default tile. */
async function checkTile(t: Test, tile: GpuMatmulTile, m: number, n: number, k: number, ta: boolean, tb: boolean): Promise<void> {
  const as = ta ? [k, m] : [m, k];
  const bs = tb ? [n, k] : [k, n];
  const a = randn(m * k, 3);
  const b = randn(k * n, 4);
  const A = Tensor.fromData(a, as);
  const B = Tensor.fromData(b, bs);
  const want = matmulRef(a, b, 1, as[0], as[1], bs[0], bs[1], ta, tb, true);
  const run = async (x: GpuMatmulTile): Promise<Float32Array> => {
    overrideMatmul({ candidate: { name: gpuTileName(x), gpu: x } });
    const C = matmul(A, B, { transA: ta, transB: tb });
    const got = (await C.toArray()) as Float32Array;
    C.dispose();
    return got;
  };
  const base = new Uint32Array((await run(GPU_MATMUL_TILE)).buffer);
  const got = await run(tile);
  const label = `${gpuTileName(tile)} ${m}x${n}x${k} ta=${ta} tb=${tb}`;
  assertClose(t, got, want, 1e-5, 1e-4, label);
  t.same(new Uint32Array(got.buffer), base, `${label}: the same bits as ${gpuTileName(GPU_MATMUL_TILE)}`);
  A.dispose();
  B.dispose();
}

// Each variant is a compile of seconds on the software GPU: every tile in one form, every form in
// one tile. Aligned shapes are multiples of 4 and of no tile (K of 7 steps of 16, 13 of 8).
t.test('every v4 tile at an aligned and an unaligned shape: the f64 product, the default\'s bits', async (t) => {
  t.teardown(() => overrideMatmul(null));
  for (const tile of V4) {
    await checkTile(t, tile, 68, 132, 100, false, true);
    await checkTile(t, tile, 70, 131, 37, false, true);
  }
});

t.test('a v4 tile in every transpose, aligned and not', async (t) => {
  t.teardown(() => overrideMatmul(null));
  for (const [ta, tb] of FORMS) {
    await checkTile(t, V4[0], 68, 132, 100, ta, tb);
    await checkTile(t, V4[0], 70, 131, 37, ta, tb);
  }
});

t.test('a v4 tile in binding windows, batched and accumulating', async (t) => {
  t.teardown(() => overrideMatmul(null));
  const tile = V4[0];
  overrideMatmul({ candidate: { name: gpuTileName(tile), gpu: tile } });
  // 200x72x92: A (74 KB) past the 64 KiB cap, bound in row windows.
  await checkTransposes(t, [[200, 72, 92]]);
  await checkBatched(t, 3, 36, 20, 40, false, true);
  await checkBatched(t, 2, 37, 21, 45, true, false);
  await checkAccumulate(t, 36, 24, 44);
  await checkAccumulate(t, 37, 21, 45);
});
