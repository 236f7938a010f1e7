// crossEntropy (ignore_index, denominator, padding invariance, all-ignored, a GPT-2-size vocabulary
// row), crossEntropyPerToken (forward; its per-row backward by finite differences), dropout (rate,
// determinism, mask reuse, mean), embedding.
import t from 'tap';
import { backward, crossEntropy, crossEntropyPerToken, dropout, embedding, getDevice, matmul, mean, param, Tensor,
  tidy } from '../engine/index.ts';
import { checkOp, randn, worst } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';

await withDevice(t);

// ---- crossEntropy ---------------------------------------------------------------------------
function ceRows(x: Float64Array, targets: ArrayLike<number>, v: number, ignore = -100): Float64Array {
  const out = new Float64Array(targets.length);
  for (let r = 0; r < targets.length; r++) {
    if (targets[r] === ignore) continue;
    let m = -Infinity;
    for (let j = 0; j < v; j++) m = Math.max(m, x[r * v + j]);
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(x[r * v + j] - m);
    out[r] = m + Math.log(s) - x[r * v + targets[r]];
  }
  return out;
}
function ceRef(x: Float64Array, targets: ArrayLike<number>, v: number, ignore = -100, denominator?: number): number {
  const rows = ceRows(x, targets, v, ignore);
  const count = Array.from(targets).filter((tg) => tg !== ignore).length;
  const d = denominator ?? count;
  return d === 0 ? 0 : rows.reduce((a, b) => a + b, 0) / d;
}
/** Analytic gradient of ceRef: (softmax - onehot) / d per counted row. */
function ceGradRef(x: Float64Array, targets: ArrayLike<number>, v: number, ignore = -100, denominator?: number): Float64Array {
  const count = Array.from(targets).filter((tg) => tg !== ignore).length;
  const d = denominator ?? count;
  const out = new Float64Array(x.length);
  for (let r = 0; r < targets.length; r++) {
    if (targets[r] === ignore || d === 0) continue;
    let m = -Infinity;
    for (let j = 0; j < v; j++) m = Math.max(m, x[r * v + j]);
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(x[r * v + j] - m);
    for (let j = 0; j < v; j++) out[r * v + j] = (Math.exp(x[r * v + j] - m) / s - (j === targets[r] ? 1 : 0)) / d;
  }
  return out;
}
const targetsFor = (n: number, v: number, seed: number): number[] => Array.from(randn(n, seed), (z) => Math.floor(Math.abs(z) * 1e4) % v);

for (const [n, v] of [[1, 1], [1, 7], [7, 33], [3, 129], [2, 700]]) {
  const tg = targetsFor(n, v, n * 31 + v);
  t.test(`crossEntropy [${n}, ${v}]`, (t) => checkOp(t, `crossEntropy [${n}, ${v}]`, {
    inputs: [{ shape: [n, v] }, { shape: [n], dtype: 'i32', data: tg }],
    gpu: (x, y) => crossEntropy(x, y),
    cpu: (x) => Float64Array.of(ceRef(x, tg, v)),
  }));
}
{
  const tg = [3, -100, 0, 32, -100, 5, 7];
  t.test('crossEntropy with ignored targets', (t) => checkOp(t, 'crossEntropy with ignored targets', {
    inputs: [{ shape: [7, 33] }, { shape: [7], dtype: 'i32', data: tg }],
    gpu: (x, y) => crossEntropy(x, y), cpu: (x) => Float64Array.of(ceRef(x, tg, 33)),
  }));
  t.test('crossEntropy ignoreIndex=5', (t) => checkOp(t, 'crossEntropy ignoreIndex=5', {
    inputs: [{ shape: [7, 33] }, { shape: [7], dtype: 'i32', data: tg.map((x) => (x < 0 ? 5 : x)) }],
    gpu: (x, y) => crossEntropy(x, y, { ignoreIndex: 5 }), cpu: (x) => Float64Array.of(ceRef(x, tg.map((x) => (x < 0 ? 5 : x)), 33, 5)),
  }));
  t.test('crossEntropy denominator=11 (pad-in-mean)', (t) => checkOp(t, 'crossEntropy denominator=11 (pad-in-mean)', {
    inputs: [{ shape: [7, 33] }, { shape: [7], dtype: 'i32', data: tg }],
    gpu: (x, y) => crossEntropy(x, y, { denominator: 11 }), cpu: (x) => Float64Array.of(ceRef(x, tg, 33, -100, 11)),
  }));
}

/** Loss and logits gradient on the GPU. */
async function ceGpu(x: ArrayLike<number>, tg: number[], v: number, opts = {}): Promise<{ loss: number; grad: Float32Array }> {
  const logits = param(Tensor.fromData(x, [tg.length, v]));
  const targets = Tensor.fromData(tg, [tg.length], 'i32');
  const loss = tidy(() => {
    const l = crossEntropy(logits, targets, opts);
    backward(l);
    return l;
  });
  const out = { loss: await loss.item(), grad: (await logits.grad!.toArray()) as Float32Array };
  for (const tt of [loss, logits.grad!, logits, targets]) tt.dispose();
  return out;
}

t.test('crossEntropy: rows padded with target -100 change neither the loss nor any gradient', async (t) => {
  const v = 129;
  const tg = [4, 100, -100, 7, 128];
  const x = randn(5 * v, 77);
  const pad = randn(4 * v, 78, 10);
  const a = await ceGpu(x, tg, v);
  const b = await ceGpu([...x, ...pad], [...tg, -100, -100, -100, -100], v);
  t.ok(Math.abs(a.loss - b.loss) <= 1e-7, `loss ${a.loss} vs ${b.loss}`);
  let worst = 0;
  for (let i = 0; i < a.grad.length; i++) worst = Math.max(worst, Math.abs(a.grad[i] - b.grad[i]));
  t.ok(worst <= 1e-7, `real rows' gradients differ by at most ${worst}`);
  t.ok(b.grad.subarray(5 * v).every((g) => g === 0), 'padding rows get exactly zero gradient');
  t.ok(Math.abs(a.loss - ceRef(x, tg, v)) < 1e-5, 'loss matches the reference');
});

t.test('crossEntropy: an all-ignored batch gives loss 0 and zero gradients (PyTorch: NaN)', async (t) => {
  const r = await ceGpu(randn(3 * 7, 5), [-100, -100, -100], 7);
  t.equal(r.loss, 0);
  t.ok(r.grad.every((g) => g === 0), 'all gradients are 0');
});

t.test('crossEntropy: a GPT-2 vocabulary row (V = 50257)', async (t) => {
  const v = 50257;
  const tg = [50256, 0, 12345];
  const x = randn(3 * v, 9, 3);
  const r = await ceGpu(x, tg, v);
  const want = ceRef(x, tg, v);
  t.ok(Math.abs(r.loss - want) < 1e-4 * Math.abs(want), `loss ${r.loss} vs ${want}`);
  const wantGrad = ceGradRef(x, tg, v);
  let worst = 0;
  for (let i = 0; i < wantGrad.length; i++) worst = Math.max(worst, Math.abs(r.grad[i] - wantGrad[i]));
  t.ok(worst < 1e-6, `max gradient error ${worst}`);
});

t.test('crossEntropy: confident rows of large logits, gradient element-wise to a relative 1e-5', async (t) => {
  // A trained model's rows: logits far from 0 (GPT-2's are near -60) and a target that takes
  // nearly all the probability, so its gradient p - 1 is small. Computing p as exp(x - lse) with
  // lse = max + log(sum) rounded in f32 loses ulp(max) of x - lse and with it most digits of p - 1.
  const v = 1000;
  const offsets = [-60, -60, 40, 0, -300];
  const margins = [6, 9, 12, 8, 10];
  const tg = [17, 999, 0, 500, 3];
  const z = randn(offsets.length * v, 31);
  const x = Float32Array.from(z, (zz, i) => offsets[Math.floor(i / v)] + 0.5 * zz);
  tg.forEach((c, r) => { x[r * v + c] = offsets[r] + margins[r]; });
  const r = await ceGpu(x, tg, v);
  const x64 = Float64Array.from(x);
  const want = ceGradRef(x64, tg, v);
  // Relative to each element (atol 1e-30: the smallest probabilities are checked too).
  const { ratio, at } = worst(r.grad, want, 1e-30, 1e-5);
  t.ok(ratio <= 1, `worst relative gradient error ${(ratio * 1e-5).toExponential(2)} at row ${Math.floor(at / v)} column ${at % v} ` +
    `(${r.grad[at]} vs ${want[at]})`);
  const loss = ceRef(x64, tg, v);
  t.ok(Math.abs(r.loss - loss) <= 1e-6 * Math.abs(loss), `loss ${r.loss} vs ${loss}`);
});

t.test('crossEntropy: out-of-range targets and mismatched shapes are rejected', async (t) => {
  tidy(() => {
    const x = Tensor.fromData(randn(14, 1), [2, 7]);
    t.throws(() => crossEntropy(x, Tensor.fromData([1, 7], [2], 'i32')), /target 7 at row 1 is outside \[0, 7\)/);
    t.throws(() => crossEntropy(x, Tensor.fromData([1, -1], [2], 'i32')), /outside/);
    t.throws(() => crossEntropy(x, Tensor.fromData([1, 2, 3], [3], 'i32')), /targets/);
  });
});

t.test('crossEntropyPerToken: per-row losses, 0 at ignored rows', async (t) => {
  const v = 33;
  const tg = [1, -100, 32, 0, -100, 9, 4];
  const x = randn(7 * v, 12);
  const got = await tidy(() => crossEntropyPerToken(Tensor.fromData(x, [7, v]), Tensor.fromData(tg, [7], 'i32'))).toArray();
  const want = ceRows(x, tg, v);
  t.equal(got.length, 7);
  t.ok(want.every((w, i) => Math.abs(w - got[i]) < 1e-5), `${Array.from(got)} vs ${Array.from(want)}`);
  t.equal(got[1], 0);
  t.equal(got[4], 0);
});

for (const [n, v] of [[1, 7], [7, 33], [3, 129]]) {
  // Ignored rows included: their gradient must be exactly 0 whatever their upstream gradient.
  const tg = targetsFor(n, v, n * 17 + v).map((x, i) => (i % 3 === 1 ? -100 : x));
  t.test(`crossEntropyPerToken [${n}, ${v}] gradient (per-row upstream)`, (t) => checkOp(t, `crossEntropyPerToken [${n}, ${v}]`, {
    inputs: [{ shape: [n, v] }, { shape: [n], dtype: 'i32', data: tg }],
    gpu: (x, y) => crossEntropyPerToken(x, y),
    cpu: (x) => ceRows(x, tg, v),
  }));
}

// ---- dropout --------------------------------------------------------------------------------
t.test('dropout: rate, determinism, backward mask, mean', async (t) => {
  const n = 200_000;
  const p = 0.3;
  const x = param(Tensor.fromData(new Float32Array(n).fill(1), [n]));
  const y1 = tidy(() => {
    const y = dropout(x, p, 1234);
    backward(mean(y));
    return y;
  });
  const a = await y1.toArray();
  const grad = await x.grad!.toArray();
  const b = await tidy(() => dropout(x, p, 1234)).toArray();
  const c = await tidy(() => dropout(x, p, 1235)).toArray();
  let dropped = 0;
  let sum = 0;
  let diff = 0;
  let maskMismatch = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] === 0) dropped++;
    sum += a[i];
    if ((a[i] === 0) !== (c[i] === 0)) diff++;
    if ((a[i] === 0) !== (grad[i] === 0)) maskMismatch++;
  }
  t.ok(Math.abs(dropped / n - p) < 0.005, `dropped fraction ${dropped / n}`);
  t.ok(Math.abs(sum / n - 1) < 0.01, `mean ${sum / n} (preserved)`);
  t.ok(a.every((v) => v === 0 || Math.abs(v - 1 / (1 - p)) < 1e-6), 'kept elements are scaled by 1/(1-p)');
  t.same(Array.from(a), Array.from(b), 'same seed, same mask');
  t.ok(diff > n * 0.3, `another seed gives another mask (${diff} differ)`);
  t.equal(maskMismatch, 0, 'the backward drops exactly what the forward dropped');
  t.ok(grad.every((g, i) => g === 0 || Math.abs(g - a[i] / n) < 1e-9), 'kept gradients are scaled by 1/(1-p)');
  const y0 = dropout(x, 0, 1);
  t.equal(y0.buffer, x.buffer, 'p = 0 returns a view of x');
  t.throws(() => dropout(x, 1, 1), /p must be/);
  for (const tt of [y0, y1, x.grad!, x]) tt.dispose();
});

t.test('dropout [7, 33] p=0.5 (gradient by finite differences)', async (t) => {
  // The gradient against finite differences, with the mask read back from the GPU.
  const mask = await tidy(() => dropout(Tensor.fromData(new Float32Array(231).fill(1), [7, 33]), 0.5, 99)).toArray();
  await checkOp(t, 'dropout [7, 33] p=0.5 (gradient by finite differences)', {
    inputs: [{ shape: [7, 33] }],
    gpu: (x) => dropout(x, 0.5, 99),
    cpu: (x) => x.map((v, i) => v * mask[i]),
  });
});

// ---- embedding ------------------------------------------------------------------------------
function embRef(w: Float64Array, ids: number[], d: number): Float64Array {
  const out = new Float64Array(ids.length * d);
  ids.forEach((id, r) => out.set(w.subarray(id * d, (id + 1) * d), r * d));
  return out;
}
for (const [v, d, ids] of [[1, 1, [0]], [33, 7, [3, 0, 32, 3, 3, 17, 0, 5, 9, 32]], [5, 129, [4, 4, 1]]] as [number, number, number[]][]) {
  t.test(`embedding [${v}, ${d}] ids ${ids.length}`, (t) => checkOp(t, `embedding [${v}, ${d}] ids ${ids.length}`, {
    inputs: [{ shape: [v, d] }, { shape: [ids.length], dtype: 'i32', data: ids }],
    gpu: (w, i) => embedding(w, i),
    cpu: (w) => embRef(w, ids, d),
  }));
}
{
  const ids = [1, 2, 1, 0, 6, 1];
  t.test('embedding ids [2, 3] -> [2, 3, 7]', (t) => checkOp(t, 'embedding ids [2, 3] -> [2, 3, 7]', {
    inputs: [{ shape: [7, 7] }, { shape: [2, 3], dtype: 'i32', data: ids }],
    gpu: (w, i) => embedding(w, i),
    cpu: (w) => embRef(w, ids, 7),
  }));
}
// A tied weight: rows gathered (an output vocabulary), the same weight as a head (x·Wᵀ) and as the
// token embedding. Its gradient is the head's (a fresh matmul dB), then each embedding's rows
// scatter-added into it in place: no [V, D] zero fill and no [V, D] sum (engine/autograd.ts).
{
  const [v, d] = [9, 8];
  const ids = [3, 0, 3, 8, 1];
  const rows = [2, 3, 5];
  t.test('a weight used as embedding, head and gathered rows: one gradient, added into in place', async (t) => {
    await checkOp(t, 'tied embedding + head + gathered rows', {
      inputs: [{ shape: [v, d] }, { shape: [ids.length], dtype: 'i32', data: ids }, { shape: [rows.length], dtype: 'i32', data: rows }],
      gpu: (w, i, r) => matmul(embedding(w, i), embedding(w, r), { transB: true }),
      cpu: (w) => {
        const x = embRef(w, ids, d);
        const h = embRef(w, rows, d);
        const out = new Float64Array(ids.length * rows.length);
        for (let a = 0; a < ids.length; a++) for (let b = 0; b < rows.length; b++) for (let c = 0; c < d; c++)
          out[a * rows.length + b] += x[a * d + c] * h[b * d + c];
        return out;
      },
    });
    const w = param(Tensor.fromData(randn(v * d, 1), [v, d]));
    const seen: string[] = [];
    const device = getDevice();
    const dispatch = device.dispatch.bind(device);
    tidy(() => {
      const y = matmul(embedding(w, Tensor.fromData(ids, [ids.length], 'i32')), w, { transB: true });
      device.dispatch = (x) => {
        seen.push(`${x.kernel.name} ${x.params[0]}`);
        dispatch(x);
      };
      try {
        backward(mean(y));
      } finally {
        device.dispatch = dispatch;
      }
    });
    t.ok(seen.some((k) => k.startsWith('embedding.scatter')), 'the embedding scattered its rows');
    // A [V, D] fill or sum would have V·D elements, or V·D/4 vec4s.
    t.notOk(seen.some((k) => /^(elementwise\.binary|unary\.fill)/.test(k) && [v * d, (v * d) / 4].includes(Number(k.split(' ')[1]))),
      `no [V, D] fill or sum: ${seen.join(', ')}`);
    w.grad?.dispose();
    w.dispose();
  });
}

t.test('embedding: clear errors for out-of-range ids and ids without a host copy', async (t) => {
  tidy(() => {
    const w = Tensor.fromData(randn(21, 2), [7, 3]);
    t.throws(() => embedding(w, Tensor.fromData([0, 7], [2], 'i32')), /id 7 at position 1 is outside \[0, 7\)/);
    t.throws(() => embedding(w, Tensor.fromData([-1], [1], 'i32')), /outside/);
    const noHost = Tensor.fromData([1, 2], [2], 'i32');
    noHost.host = null;
    t.throws(() => embedding(w, noHost), /no host copy/);
  });
});
