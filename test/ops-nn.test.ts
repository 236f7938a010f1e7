// layerNorm, gelu, biasGelu, softmax (plain and causal), causal attention (flash and composed): forward against
// an f64 CPU reference, backward against central finite differences.
import t from 'tap';
import { attentionComposed, biasGelu, causalSelfAttention, gelu, layerNorm, softmax, Tensor, tidy } from '../engine/index.ts';
import { checkOp, randn } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';
import { attentionRef, layerNormRef, softmaxRef } from './helpers/ref.ts';

await withDevice(t);

// ---- layerNorm --------------------------------------------------------------------------------
for (const shape of [[1, 1], [7, 33], [3, 5, 7], [2, 129], [1, 1000]]) {
  const d = shape[shape.length - 1];
  t.test(`layerNorm ${JSON.stringify(shape)}`, (t) => checkOp(t, `layerNorm ${JSON.stringify(shape)}`, {
    inputs: [{ shape }, { shape: [d] }, { shape: [d] }],
    gpu: (x, w, b) => layerNorm(x, w, b),
    cpu: (x, w, b) => layerNormRef(x, w, b, d, 1e-5),
    // d = 1: the output is the bias, and d(out)/dx is 0 up to rounding of (x - mean).
    gradAtol: d === 1 ? 1e-3 : 1e-4,
  }));
}
t.test('layerNorm eps=0.1, offset rows', (t) => checkOp(t, 'layerNorm eps=0.1, offset rows', {
  inputs: [{ shape: [4, 33], data: Array.from(randn(132, 5), (v, i) => v + 10 * (i % 3)) }, { shape: [33] }, { shape: [33] }],
  gpu: (x, w, b) => layerNorm(x, w, b, 0.1),
  cpu: (x, w, b) => layerNormRef(x, w, b, 33, 0.1),
}));
t.test('layerNorm: many wide rows (8192 x 1600) match the reference', async (t) => {
  const rows = 8192;
  const d = 1600;
  const x = randn(rows * d, 17);
  const w = randn(d, 18);
  const b = randn(d, 19);
  const got = await tidy(() => layerNorm(Tensor.fromData(x, [rows, d]), Tensor.fromData(w, [d]), Tensor.fromData(b, [d]))).toArray();
  const want = layerNormRef(x, w, b, d, 1e-5);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  t.ok(worst < 1e-4, `max abs error ${worst}`);
});

// ---- gelu -------------------------------------------------------------------------------------
const K = Math.sqrt(2 / Math.PI);
const geluRef = (x: number): number => 0.5 * x * (1 + Math.tanh(K * (x + 0.044715 * x ** 3)));
for (const shape of [[1], [7], [33, 7], [129]]) {
  t.test(`gelu ${JSON.stringify(shape)}`, (t) => checkOp(t, `gelu ${JSON.stringify(shape)}`,
    { inputs: [{ shape }], gpu: (x) => gelu(x), cpu: (x) => x.map(geluRef) }));
}
t.test('gelu at large |x| (no overflow)', (t) => checkOp(t, 'gelu at large |x| (no overflow)', {
  inputs: [{ shape: [8], data: [-100, -20, -9, -0.5, 0, 0.5, 9, 100] }],
  gpu: (x) => gelu(x), cpu: (x) => x.map(geluRef),
}));
for (const shape of [[1, 1], [7, 33], [3, 2, 7], [2, 129]]) {
  const d = shape[shape.length - 1];
  t.test(`biasGelu ${JSON.stringify(shape)}`, (t) => checkOp(t, `biasGelu ${JSON.stringify(shape)}`, {
    inputs: [{ shape }, { shape: [d] }],
    gpu: (x, b) => biasGelu(x, b),
    cpu: (x, b) => x.map((v, i) => geluRef(v + b[i % d])),
  }));
}

// ---- softmax ----------------------------------------------------------------------------------
for (const shape of [[1, 1], [7, 33], [3, 129], [2, 3, 65]]) {
  t.test(`softmax ${JSON.stringify(shape)}`, (t) => checkOp(t, `softmax ${JSON.stringify(shape)}`, {
    inputs: [{ shape }], gpu: (x) => softmax(x), cpu: (x) => softmaxRef(x, shape[shape.length - 1], false),
  }));
}
for (const shape of [[1, 1], [7, 7], [2, 3, 9, 9], [33, 33]]) {
  t.test(`softmax causal ${JSON.stringify(shape)}`, (t) => checkOp(t, `softmax causal ${JSON.stringify(shape)}`, {
    inputs: [{ shape }], gpu: (x) => softmax(x, { causal: true }), cpu: (x) => softmaxRef(x, shape[shape.length - 1], true),
  }));
}
t.test('softmax of large logits (shift invariance, no overflow)', (t) => checkOp(t,
  'softmax of large logits (shift invariance, no overflow)', {
  inputs: [{ shape: [2, 5], data: [1000, 1001, 999, 1000.5, 998, -1000, -1001, -999, -1000.5, -998] }],
  gpu: (x) => softmax(x), cpu: (x) => softmaxRef(x, 5, false),
}));
t.test('softmax: causal rows are exactly 0 above the diagonal and sum to 1', async (t) => {
  const T = 9;
  const got = await tidy(() => softmax(Tensor.fromData(randn(T * T, 3, 5), [T, T]), { causal: true })).toArray();
  for (let i = 0; i < T; i++) {
    let s = 0;
    for (let j = 0; j < T; j++) {
      s += got[i * T + j];
      if (j > i && got[i * T + j] !== 0) t.fail(`row ${i} col ${j} = ${got[i * T + j]}`);
    }
    t.ok(Math.abs(s - 1) < 1e-6, `row ${i} sums to ${s}`);
  }
});

// ---- attention ------------------------------------------------------------------------------
for (const [B, H, T, dh] of [[1, 1, 1, 1], [1, 2, 7, 5], [2, 1, 9, 4]]) {
  const shape = [B, H, T, dh];
  t.test(`causalSelfAttention ${JSON.stringify(shape)}`, (t) => checkOp(t, `causalSelfAttention ${JSON.stringify(shape)}`, {
    inputs: [{ shape }, { shape }, { shape }],
    gpu: (q, k, v) => causalSelfAttention(q, k, v),
    cpu: (q, k, v) => attentionRef(q, k, v, B * H, T, dh),
  }));
  // The composed form is the benchmark's baseline and the reference for flash attention.
  t.test(`attentionComposed ${JSON.stringify(shape)}`, (t) => checkOp(t, `attentionComposed ${JSON.stringify(shape)}`, {
    inputs: [{ shape }, { shape }, { shape }],
    gpu: (q, k, v) => attentionComposed(q, k, v),
    cpu: (q, k, v) => attentionRef(q, k, v, B * H, T, dh),
  }));
}
t.test('attentionComposed agrees with causalSelfAttention (flash attention)', async (t) => {
  const shape = [1, 2, 33, 8];
  const [q, k, v] = [1, 2, 3].map((s) => Tensor.fromData(randn(528, s), shape));
  const a = await tidy(() => attentionComposed(q, k, v)).toArray();
  const b = await tidy(() => causalSelfAttention(q, k, v)).toArray();
  t.ok(a.every((x, i) => Math.abs(x - b[i]) < 1e-5), 'same to 1e-5 (different summation order)');
  const want = attentionRef(...[1, 2, 3].map((s) => randn(528, s)) as [Float64Array, Float64Array, Float64Array], 2, 33, 8);
  t.ok(want.every((w, i) => Math.abs(w - a[i]) < 1e-5), 'matches the reference');
});
