// The windowed paths: a device whose bindings are capped at 1 MiB, so every operand below is bound
// in several windows of rows (with aligned-down offsets where a row length is odd). Forward and
// gradients are checked against f64 CPU references (analytic gradients: these inputs are too big
// for finite differences).
import t from 'tap';
import {
  add, backward, biasGelu, crossEntropy, dropout, embedding, layerNorm, matmul, mean, param, softmax, sum, sumTo, Tensor, tidy,
} from '../engine/index.ts';
import { randn } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';
import { matmulRef } from './helpers/ref.ts';

const device = await withDevice(t, { maxStorageBufferBindingSize: 1 << 20 });
const MAX = (1 << 20) / 4; // floats per binding

function maxErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  return got.length === want.length ? worst : Infinity;
}

/** Runs f on fresh f32 params and an i32 tensor, back-propagates `seed`, returns output and grads. */
async function run(inputs: { data: ArrayLike<number>; shape: number[] }[], f: (...xs: Tensor[]) => Tensor, seed?: ArrayLike<number>) {
  const xs = inputs.map((i) => param(Tensor.fromData(i.data, i.shape)));
  const out = tidy(() => {
    const y = f(...xs);
    backward(y, seed ? Tensor.fromData(seed, y.shape) : undefined);
    return y;
  });
  const res = { out: await out.toArray(), grads: [] as Float32Array[] };
  for (const x of xs) res.grads.push((await x.grad!.toArray()) as Float32Array);
  for (const x of xs) {
    x.grad!.dispose();
    x.dispose();
  }
  out.dispose();
  return res;
}

t.test('embedding: weight, output and gradient each past one binding', async (t) => {
  for (const [v, d, n] of [[600, 512, 3 * 200], [1500, 257, 1100]]) {
    t.ok(v * d > MAX && n * d > MAX, `[${v}, ${d}] weight and [${n}, ${d}] output exceed 1 MiB`);
    const w = randn(v * d, v);
    const ids = Array.from(randn(n, n), (z) => Math.floor(Math.abs(z) * 1e5) % v);
    ids[0] = v - 1;
    ids[1] = 0;
    const g = randn(n * d, 3);
    const idsT = Tensor.fromData(ids, [n], 'i32');
    const r = await run([{ data: w, shape: [v, d] }], (wt) => embedding(wt, idsT), g);
    idsT.dispose();
    const wantOut = new Float64Array(n * d);
    const wantGrad = new Float64Array(v * d);
    ids.forEach((id, p) => {
      for (let c = 0; c < d; c++) {
        wantOut[p * d + c] = Math.fround(w[id * d + c]);
        wantGrad[id * d + c] += g[p * d + c];
      }
    });
    t.ok(maxErr(r.out, wantOut) === 0, `[${v}, ${d}] forward is an exact gather`);
    t.ok(maxErr(r.grads[0], wantGrad) < 1e-5, `[${v}, ${d}] backward error ${maxErr(r.grads[0], wantGrad)}`);
  }
});

t.test('crossEntropy: logits past one binding (V = 30000 and V = 50257)', async (t) => {
  for (const [n, v] of [[10, 30000], [6, 50257]]) {
    t.ok(n * v > MAX, `[${n}, ${v}] logits exceed 1 MiB`);
    const x = randn(n * v, v, 2);
    const tg = Array.from({ length: n }, (_, i) => (i === 2 ? -100 : (i * 7919) % v));
    const tgT = Tensor.fromData(tg, [n], 'i32');
    const r = await run([{ data: x, shape: [n, v] }], (l) => crossEntropy(l, tgT), [0.5]);
    tgT.dispose();
    let loss = 0;
    let count = 0;
    const grad = new Float64Array(n * v);
    const lses: number[] = [];
    for (let i = 0; i < n; i++) {
      let m = -Infinity;
      for (let j = 0; j < v; j++) m = Math.max(m, x[i * v + j]);
      let s = 0;
      for (let j = 0; j < v; j++) s += Math.exp(x[i * v + j] - m);
      lses.push(m + Math.log(s));
      if (tg[i] === -100) continue;
      loss += lses[i] - x[i * v + tg[i]];
      count++;
    }
    for (let i = 0; i < n; i++) {
      if (tg[i] === -100) continue;
      for (let j = 0; j < v; j++) grad[i * v + j] = 0.5 * (Math.exp(x[i * v + j] - lses[i]) - (j === tg[i] ? 1 : 0)) / count;
    }
    t.ok(Math.abs(r.out[0] - loss / count) < 1e-5 * (loss / count), `[${n}, ${v}] loss ${r.out[0]} vs ${loss / count}`);
    t.ok(maxErr(r.grads[0], grad) < 1e-7, `[${n}, ${v}] gradient error ${maxErr(r.grads[0], grad)}`);
  }
});

t.test('matmul with operands past one binding', async (t) => {
  const cases: [string, number[], number[], boolean, boolean][] = [
    ['[4,300]·[2000,300]ᵀ', [4, 300], [2000, 300], false, true],
    ['[1000,300]·[300,8]', [1000, 300], [300, 8], false, false],
    ['[300,1000]ᵀ·[300,5]', [300, 1000], [300, 5], true, false],
  ];
  for (const [name, as, bs, ta, tb] of cases) {
    const a = randn(as[0] * as[1], 1);
    const b = randn(bs[0] * bs[1], 2);
    const [m, k] = ta ? [as[1], as[0]] : as;
    const n = tb ? bs[0] : bs[1];
    const g = randn(m * n, 3);
    const r = await run([{ data: a, shape: as }, { data: b, shape: bs }], (x, y) => matmul(x, y, { transA: ta, transB: tb }), g);
    const want = matmulRef(a, b, 1, as[0], as[1], bs[0], bs[1], ta, tb, true);
    // dA = g·op(B)ᵀ, stored as A is; dB likewise.
    const dA = ta ? matmulRef(b, g, 1, bs[0], bs[1], m, n, tb, true, true) : matmulRef(g, b, 1, m, n, bs[0], bs[1], false, !tb, true);
    const dB = tb ? matmulRef(g, a, 1, m, n, as[0], as[1], true, ta, true) : matmulRef(a, g, 1, as[0], as[1], m, n, !ta, false, true);
    void k;
    t.ok(maxErr(r.out, want) < 1e-4, `${name} forward ${maxErr(r.out, want)}`);
    t.ok(maxErr(r.grads[0], dA) < 1e-4, `${name} dA ${maxErr(r.grads[0], dA)}`);
    t.ok(maxErr(r.grads[1], dB) < 1e-4, `${name} dB ${maxErr(r.grads[1], dB)}`);
  }
});

t.test('batched matmul past one binding, odd row length (unaligned batch strides)', async (t) => {
  const a = randn(3 * 100 * 1001, 11);
  const b = randn(1001 * 5, 12);
  const g = randn(3 * 100 * 5, 13);
  const r = await run([{ data: a, shape: [3, 100, 1001] }, { data: b, shape: [1001, 5] }], (x, y) => matmul(x, y), g);
  // Batches of a shared weight are one [300, 1001] product.
  const want = matmulRef(a, b, 1, 300, 1001, 1001, 5, false, false, true);
  const dA = matmulRef(g, b, 1, 300, 5, 1001, 5, false, true, true);
  const dB = matmulRef(a, g, 1, 300, 1001, 300, 5, true, false, true);
  t.ok(maxErr(r.out, want) < 1e-4, `forward ${maxErr(r.out, want)}`);
  t.ok(maxErr(r.grads[0], dA) < 1e-4, `dA ${maxErr(r.grads[0], dA)}`);
  t.ok(maxErr(r.grads[1], dB) < 1e-4, `dB ${maxErr(r.grads[1], dB)}`);
});

t.test('layerNorm and softmax over rows past one binding', async (t) => {
  const rows = 300;
  const d = 1001;
  const x = randn(rows * d, 4);
  const w = randn(d, 5);
  const b = randn(d, 6);
  const g = randn(rows * d, 7);
  const inputs = [{ data: x, shape: [rows, d] }, { data: w, shape: [d] }, { data: b, shape: [d] }];
  const r = await run(inputs, (a, ww, bb) => layerNorm(a, ww, bb), g);
  // x + layerNorm(x): the layer norm's dx kernel adds the residual's gradient (sumsFirst).
  const res = await run(inputs, (a, ww, bb) => add(a, layerNorm(a, ww, bb)), g);
  const y = new Float64Array(rows * d);
  const dx = new Float64Array(rows * d);
  const dw = new Float64Array(d);
  const db = new Float64Array(d);
  for (let i = 0; i < rows; i++) {
    const row = x.subarray(i * d, (i + 1) * d);
    const mu = row.reduce((s, v) => s + v, 0) / d;
    const rstd = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / d + 1e-5);
    let sa = 0;
    let sax = 0;
    for (let j = 0; j < d; j++) {
      const xh = (row[j] - mu) * rstd;
      const gi = g[i * d + j];
      y[i * d + j] = xh * w[j] + b[j];
      dw[j] += gi * xh;
      db[j] += gi;
      sa += gi * w[j];
      sax += gi * w[j] * xh;
    }
    for (let j = 0; j < d; j++) {
      const xh = (row[j] - mu) * rstd;
      dx[i * d + j] = rstd * (g[i * d + j] * w[j] - sa / d - xh * sax / d);
    }
  }
  t.ok(maxErr(r.out, y) < 1e-5, `layerNorm forward ${maxErr(r.out, y)}`);
  t.ok(maxErr(r.grads[0], dx) < 1e-4, `layerNorm dx ${maxErr(r.grads[0], dx)}`);
  t.ok(maxErr(r.grads[1], dw) < 1e-4, `layerNorm dweight (accumulated over windows) ${maxErr(r.grads[1], dw)}`);
  t.ok(maxErr(r.grads[2], db) < 1e-4, `layerNorm dbias ${maxErr(r.grads[2], db)}`);
  t.ok(maxErr(res.out, y.map((v, i) => v + x[i])) < 1e-5, 'x + layerNorm(x) forward');
  const dxSum = dx.map((v, i) => v + g[i]);
  t.ok(maxErr(res.grads[0], dxSum) < 1e-4, `x + layerNorm(x): dx with the residual's gradient ${maxErr(res.grads[0], dxSum)}`);
  t.ok(maxErr(res.grads[1], dw) < 1e-4 && maxErr(res.grads[2], db) < 1e-4, 'and the same dweight, dbias');

  const s = await run([{ data: x, shape: [rows, d] }], (a) => softmax(a), g);
  const sy = new Float64Array(rows * d);
  const sdx = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let j = 0; j < d; j++) m = Math.max(m, x[i * d + j]);
    let z = 0;
    for (let j = 0; j < d; j++) z += Math.exp(x[i * d + j] - m);
    let dot = 0;
    for (let j = 0; j < d; j++) {
      sy[i * d + j] = Math.exp(x[i * d + j] - m) / z;
      dot += sy[i * d + j] * g[i * d + j];
    }
    for (let j = 0; j < d; j++) sdx[i * d + j] = sy[i * d + j] * (g[i * d + j] - dot);
  }
  t.ok(maxErr(s.out, sy) < 1e-6, `softmax forward ${maxErr(s.out, sy)}`);
  t.ok(maxErr(s.grads[0], sdx) < 1e-6, `softmax backward ${maxErr(s.grads[0], sdx)}`);
});

t.test('biasGelu and dropout past one binding (bias index and RNG counter continue across windows)', async (t) => {
  const rows = 300;
  const d = 1000;
  const x = randn(rows * d, 8);
  const bias = randn(d, 9);
  const K = Math.sqrt(2 / Math.PI);
  const g = randn(rows * d, 10);
  const r = await run([{ data: x, shape: [rows, d] }, { data: bias, shape: [d] }], (a, b) => biasGelu(a, b), g);
  const want = x.map((v, i) => {
    const z = v + bias[i % d];
    return 0.5 * z * (1 + Math.tanh(K * (z + 0.044715 * z ** 3)));
  });
  t.ok(maxErr(r.out, want) < 1e-5, `biasGelu forward ${maxErr(r.out, want)}`);
  const dx = x.map((v, i) => {
    const z = v + bias[i % d];
    const th = Math.tanh(K * (z + 0.044715 * z ** 3));
    return g[i] * (0.5 * (1 + th) + 0.5 * z * (1 - th * th) * K * (1 + 3 * 0.044715 * z * z));
  });
  const db = new Float64Array(d);
  dx.forEach((v, i) => (db[i % d] += v));
  t.ok(maxErr(r.grads[0], dx) < 1e-5, `biasGelu dx ${maxErr(r.grads[0], dx)}`);
  t.ok(maxErr(r.grads[1], db) < 1e-4, `biasGelu dbias (summed down columns, over windows) ${maxErr(r.grads[1], db)}`);

  // The dropout mask recomputed on the host from the same hash.
  const pcg = (v: number): number => {
    const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
    const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
    return ((word >>> 22) ^ word) >>> 0;
  };
  const seed = 4242;
  const p = 0.25;
  const threshold = Math.round(p * 2 ** 32);
  const y = await tidy(() => dropout(Tensor.fromData(new Float32Array(rows * d).fill(1), [rows, d]), p, seed)).toArray();
  let mismatches = 0;
  for (let i = 0; i < y.length; i++) {
    const keep = pcg((pcg((i ^ pcg(seed)) >>> 0) + seed) >>> 0) >= threshold;
    if (keep !== (y[i] !== 0)) mismatches++;
  }
  t.equal(mismatches, 0, 'every window draws the mask of its global indices');
});

t.test('vec4 add past one binding: same shapes, and a bias repeated over rows', async (t) => {
  const rows = 300;
  const d = 1000;
  const x = randn(rows * d, 10);
  const y = randn(rows * d, 11);
  const bias = randn(d, 12);
  const ones = new Float32Array(rows * d).fill(1);
  const same = await run([{ data: x, shape: [rows, d] }, { data: y, shape: [rows, d] }], (a, b) => add(a, b), ones);
  t.ok(maxErr(same.out, x.map((v, i) => v + y[i])) < 1e-6, 'same-shape sum');
  // Forward only: sumTo (the bias gradient) reduces within one binding.
  const biased = await tidy(() => add(Tensor.fromData(x, [rows, d]), Tensor.fromData(bias, [d]))).toArray();
  t.ok(maxErr(biased, x.map((v, i) => v + bias[i % d])) < 1e-6, 'bias sum');
  t.ok(maxErr(same.grads[1], ones) < 1e-6, 'same-shape gradient');
});

t.test('the cap is in force', async (t) => {
  t.equal(device.limits.maxStorageBufferBindingSize, 1 << 20);
  t.comment(`minStorageBufferOffsetAlignment ${device.limits.minStorageBufferOffsetAlignment}`);
});

t.test('reductions past one binding run in windows: sum, mean, sumTo, a bias gradient', async (t) => {
  /** f64 sum of x [..shape] over the axes where keep has extent 1. */
  const ref = (x: ArrayLike<number>, shape: number[], keep: number[]): Float64Array => {
    const out = new Float64Array(keep.reduce((a, b) => a * b, 1));
    const idx = new Array(shape.length).fill(0);
    for (let i = 0; i < x.length; i++) {
      let o = 0;
      for (let d = 0; d < shape.length; d++) o = o * keep[d] + (keep[d] === 1 ? 0 : idx[d]);
      out[o] += x[i];
      for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
    }
    return out;
  };
  const cases: [string, number[], number[], (x: Tensor) => Tensor][] = [
    ['sumTo [300, 1001] -> [1001] (a bias gradient)', [300, 1001], [1, 1001], (x) => sumTo(x, [1001])],
    ['sum axis 1 of [300, 1001]', [300, 1001], [300, 1], (x) => sum(x, 1)],
    ['sum of all [300001]', [300_001], [1], (x) => sum(x)],
    ['sumTo [3, 5, 70, 1001] -> [70, 1]', [3, 5, 70, 1001], [1, 1, 70, 1], (x) => sumTo(x, [70, 1])],
    ['sumTo [3, 400, 300] -> [3, 1, 300]', [3, 400, 300], [3, 1, 300], (x) => sumTo(x, [3, 1, 300])],
  ];
  for (const [name, shape, keep, f] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    t.ok(n > MAX, `${name}: ${n} floats, past one binding of ${MAX}`);
    const data = Float32Array.from(randn(n, n % 997), (v) => v + 0.5);
    const got = await tidy(() => f(Tensor.fromData(data, shape))).toArray();
    const want = ref(data, shape, keep);
    t.ok(maxErr(got, want) < 1e-4, `${name}: max error ${maxErr(got, want).toExponential(2)}`);
  }
  const x = Float32Array.from(randn(300_000, 5));
  const m = await tidy(() => mean(Tensor.fromData(x, [300_000]))).item();
  t.ok(Math.abs(m - x.reduce((a, b) => a + b, 0) / x.length) < 1e-5, `mean ${m}`);
  // The backward of a bias add over many rows sums its gradient down to the bias.
  const r = await run([{ data: randn(300 * 1001, 8), shape: [300, 1001] }, { data: randn(1001, 9), shape: [1001] }], (a, b) => add(a, b),
    new Float32Array(300 * 1001).fill(1));
  t.ok(r.grads[1].every((g) => g === 300), 'bias gradient = number of rows');
});
