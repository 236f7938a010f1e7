// The llvmpipe matmul kernel (kernels/matmul-llvmpipe.ts: vec4 loads and stores where aligned,
// K-tail mask only for K % 4 != 0, unrolled guarded stores, ACC an override constant) at the edges
// of its paths: sizes 1, 3, 5, 67, 129 in every dimension, K a multiple of 4 or not, each operand
// aligned (vec4) or not (floats), all four transpose forms, batched, accumulate, and shapes sharing
// one pipeline (sizes and strides are runtime uniforms), with vec4 operands read from textures (the
// default) and from storage. Forward against a float64 CPU product. On a GPU adapter the same
// calls run that backend's kernel, so the file passes there too.
import t from 'tap';
import { getDevice, matmul, Tensor } from '../engine/index.ts';
import { matmulInto } from '../engine/ops/matmul-lower.ts';
import { overrideMatmul } from '../engine/tune/matmul-pick.ts';
import { assertClose, randn } from './helpers/opcheck.ts';
import { checkAccumulate, checkBatched, checkTransposes } from './helpers/matmul.ts';
import { kernelsDispatched, withDevice } from './helpers/device.ts';
import { matmulRef } from './helpers/ref.ts';

await withDevice(t);
t.teardown(() => overrideMatmul(null));

// [m, n, k]: 67x129x5 nothing aligned and a K tail; 129x68x132 aligned rows in every layout but
// ragged tiles in M and N; 3x5x68 N not a multiple of 4 (float stores) with vec4 loads along K;
// 1x1x1 the smallest; 5x132x67 a K tail with an aligned N; 131x68x132 runs 129x68x132's pipelines
// at another M.
const shapes = [[67, 129, 5], [129, 68, 132], [3, 5, 68], [1, 1, 1], [5, 132, 67], [131, 68, 132]];
t.test(`${getDevice().backend} kernel, awkward shapes, all transposes`, async (t) => {
  await checkTransposes(t, shapes);
});

t.test('batched, aligned (vec4 batch strides) and not', async (t) => {
  // [batch, m, n, k, ta, tb]
  for (const [z, m, n, k, ta, tb] of [[3, 36, 20, 44, false, false], [2, 37, 21, 45, true, true], [2, 33, 40, 8, true, false]] as const) {
    await checkBatched(t, z, m, n, k, ta, tb);
  }
});

t.test('accumulate over NaN-free old values, vec4 and float stores', async (t) => {
  for (const [m, n, k] of [[37, 21, 45], [40, 36, 68]]) await checkAccumulate(t, m, n, k);
});

t.test('the same with vec4 operands read from storage (WGPT_MATMUL_TEXTURES=off)', async (t) => {
  process.env.WGPT_MATMUL_TEXTURES = 'off';
  t.teardown(() => {
    delete process.env.WGPT_MATMUL_TEXTURES;
  });
  const x = Tensor.fromData(randn(16 * 8, 1), [16, 8]);
  const names = kernelsDispatched(getDevice(), () => matmul(x, x, { transB: true }).dispose());
  if (getDevice().kernelProfile === 'software') t.notMatch(names[0], /_x\d\d$/, `no texture operand: ${names[0]}`);
  x.dispose();
  await checkTransposes(t, shapes.slice(0, 3));
  await checkBatched(t, 2, 33, 40, 8, true, false);
  await checkAccumulate(t, 40, 36, 68);
});

t.test('WGPT_MATMUL_TEXTURES other than on/off is refused, not read as off', {
  skip: getDevice().kernelProfile === 'software' ? false : 'llvmpipe kernels only',
}, async (t) => {
  process.env.WGPT_MATMUL_TEXTURES = 'yes';
  t.teardown(() => {
    delete process.env.WGPT_MATMUL_TEXTURES;
  });
  const x = Tensor.fromData(randn(16 * 8, 1), [16, 8]);
  t.throws(() => matmul(x, x, { transB: true }), /^unknown WGPT_MATMUL_TEXTURES "yes": use on or off$/);
  x.dispose();
});

t.test('a plain store ignores NaN already in C', async (t) => {
  const [m, n, k] = [36, 20, 12];
  const a = randn(m * k, 1);
  const b = randn(k * n, 2);
  const A = Tensor.fromData(a, [m, k]);
  const B = Tensor.fromData(b, [k, n]);
  const C = Tensor.fromData(new Float32Array(m * n).fill(NaN), [m, n]);
  matmulInto({ t: A, rows: m, cols: k, batch: 1 }, { t: B, rows: k, cols: n, batch: 1 }, C, m, n, k, false, false, false, 'test store');
  assertClose(t, await C.toArray(), matmulRef(a, b, 1, m, k, k, n, false, false, true), 1e-5, 1e-4, 'store over NaN');
  for (const x of [A, B, C]) x.dispose();
});

t.test('the generic tiled kernel (a generic kernel override) still runs here', async (t) => {
  overrideMatmul({ kernel: 'generic' });
  t.teardown(() => overrideMatmul(null));
  const [m, n, k] = [67, 129, 5];
  const a = randn(m * k, 3);
  const b = randn(k * n, 4);
  const A = Tensor.fromData(a, [m, k]);
  const B = Tensor.fromData(b, [n, k]);
  const C = matmul(A, B, { transB: true });
  assertClose(t, await C.toArray(), matmulRef(a, b, 1, m, k, n, k, false, true, true), 1e-5, 1e-4, 'generic 67x129x5 nt');
  for (const x of [A, B, C]) x.dispose();
});
