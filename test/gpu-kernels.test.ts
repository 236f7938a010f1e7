// The kernel variants a real GPU runs (DeviceOptions.kernels = 'gpu'), checked here at small shapes
// on whatever adapter runs the tests, so CI on the software GPU checks their numbers: the
// workgroup-memory matmul (kernels/matmul-gpu.ts) in every transpose, batched, accumulating and in
// binding windows; the GPU attention tile; the wide row workgroups of layerNorm, softmax and the
// fused cross-entropy.
import t from 'tap';
import {
  causalSelfAttention, crossEntropy, getDevice, layerNorm, matmul, softmax, Tensor,
} from '../engine/index.ts';
import { GPU_MATMUL_CANDIDATES, GPU_MATMUL_TILE, gpuTileName } from '../kernels/matmul-gpu.ts';
import { overrideMatmul } from '../engine/tune/matmul-pick.ts';
import { assertClose, checkOp, randn } from './helpers/opcheck.ts';
import { checkAccumulate, checkBatched, checkTransposes } from './helpers/matmul.ts';
import { kernelsDispatched, withDevice } from './helpers/device.ts';
import { attentionRef, crossEntropyRef, layerNormRef, matmulRef, softmaxRef } from './helpers/ref.ts';

// A 64 KiB binding cap drives the windowed matmul path at these small shapes too.
const device = await withDevice(t, { kernels: 'gpu', maxStorageBufferBindingSize: 1 << 16 });

t.test('the device runs the GPU kernel set', async (t) => {
  t.equal(getDevice().kernelProfile, 'gpu');
  const x = Tensor.fromData(randn(12, 1), [3, 4]);
  const names = kernelsDispatched(device, () => matmul(x, x, { transB: true }).dispose());
  const { bm, bn, bk, tm, tn } = GPU_MATMUL_TILE;
  t.same(names, [`matmul_gpu_${bm}x${bn}x${bk}_${tm}x${tn}_01`]);
  x.dispose();
});

t.test('workgroup-memory matmul at ragged shapes, every transpose', async (t) => {
  // Past one 64x64 block in each dimension, K past several 16-deep steps and ragged; 200x70x90
  // binds A (72 KB) in windows under the 64 KiB cap.
  await checkTransposes(t, [[1, 1, 1], [65, 129, 33], [33, 7, 130], [130, 66, 17], [200, 70, 90]]);
});

t.test('every GPU tile the tuner may choose: the f64 product in every transpose, and the default\'s bits', async (t) => {
  t.teardown(() => overrideMatmul(null));
  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
    const [m, n, k] = [70, 131, 37];
    const as = ta ? [k, m] : [m, k];
    const bs = tb ? [n, k] : [k, n];
    const a = randn(m * k, 1);
    const b = randn(k * n, 2);
    const A = Tensor.fromData(a, as);
    const B = Tensor.fromData(b, bs);
    const want = matmulRef(a, b, 1, as[0], as[1], bs[0], bs[1], ta, tb, true);
    let first: Uint32Array | null = null;
    for (const tile of GPU_MATMUL_CANDIDATES) {
      overrideMatmul({ candidate: { name: gpuTileName(tile), gpu: tile } });
      const C = matmul(A, B, { transA: ta, transB: tb });
      const got = (await C.toArray()) as Float32Array;
      C.dispose();
      const label = `${gpuTileName(tile)} ${m}x${n}x${k} ta=${ta} tb=${tb}`;
      assertClose(t, got, want, 1e-5, 1e-4, label);
      const bits = new Uint32Array(got.buffer);
      if (first) t.same(bits, first, `${label}: the same bits as ${gpuTileName(GPU_MATMUL_TILE)}`);
      first ??= bits;
    }
    overrideMatmul(null);
    A.dispose();
    B.dispose();
  }
});

t.test('workgroup-memory matmul, batched and accumulating', async (t) => {
  await checkBatched(t, 3, 37, 20, 36, true, true);
  await checkAccumulate(t, 37, 21, 45);
});

t.test('matmul [3,37,36]·[36,20] forward and VJP (a linear layer)', (t) => checkOp(t, 'matmul VJP, GPU kernels', {
  inputs: [{ shape: [3, 37, 36] }, { shape: [36, 20] }],
  gpu: (a, b) => matmul(a, b),
  cpu: (a, b) => matmulRef(a, b, 3, 37, 36, 36, 20, false, false, true),
  gradAtol: 1e-3,
}));

t.test('flash attention with the GPU tile', (t) => checkOp(t, 'attention [2,3,33,8], GPU tile', {
  inputs: [{ shape: [2, 3, 33, 8] }, { shape: [2, 3, 33, 8] }, { shape: [2, 3, 33, 8] }],
  gpu: (q, k, v) => causalSelfAttention(q, k, v),
  cpu: (q, k, v) => attentionRef(q, k, v, 6, 33, 8),
}));

t.test('layerNorm with the GPU row workgroup', (t) => checkOp(t, 'layerNorm [5, 300], GPU workgroup', {
  inputs: [{ shape: [5, 300] }, { shape: [300] }, { shape: [300] }],
  gpu: (x, w, b) => layerNorm(x, w, b),
  cpu: (x, w, b) => layerNormRef(x, w, b, 300, 1e-5),
}));

t.test('causal softmax with the GPU row workgroup', (t) => checkOp(t, 'softmax [2, 70, 70] causal, GPU workgroup', {
  inputs: [{ shape: [2, 70, 70] }],
  gpu: (x) => softmax(x, { causal: true }),
  cpu: (x) => softmaxRef(x, 70, true),
}));

t.test('fused cross-entropy with the GPU row workgroup', (t) => {
  const [n, v] = [6, 700];
  const tg = [3, -100, 699, 0, 512, 17];
  return checkOp(t, 'crossEntropy [6, 700], GPU workgroup', {
    inputs: [{ shape: [n, v] }, { shape: [n], dtype: 'i32', data: tg }],
    gpu: (x, y) => crossEntropy(x, y),
    cpu: (x) => crossEntropyRef(x, v, tg),
  });
});
