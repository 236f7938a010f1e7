// Flash attention (causalSelfAttention): forward and the three gradients against an f64 CPU
// reference at awkward shapes (T not a multiple of the tile, Dh not a multiple of 4), agreement with
// the composed form (matmul, causal softmax, matmul), and causality under huge future values.
import t from 'tap';
import {
  attentionComposed, backward, causalSelfAttention, noGrad, param, qkvAttention, setAttentionTile, Tensor, tidy,
} from '../engine/index.ts';
import { checkOp, randn } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';
import { attentionRef, qkvAttentionRef } from './helpers/ref.ts';

await withDevice(t);

/** softmax(q·kᵀ/√Dh, causal)·v in f64, q/k/v [bh, T, Dh]. */

// Dh = 64 (GPT-2's) is checked analytically below, against the composed form at [2, 4, 100, 64]: by finite
// differences it took about half of this file's time.
const SHAPES = [[1, 1, 1, 1], [1, 2, 7, 5], [2, 3, 33, 8], [1, 1, 129, 16], [1, 2, 19, 6]];
for (const shape of SHAPES) {
  const [B, H, T, dh] = shape;
  t.test(`flash attention ${JSON.stringify(shape)}`, (t) => checkOp(t, `flash attention ${JSON.stringify(shape)}`, {
    inputs: [{ shape }, { shape }, { shape }],
    gpu: (q, k, v) => causalSelfAttention(q, k, v),
    cpu: (q, k, v) => attentionRef(q, k, v, B * H, T, dh),
  }));
}

// The model's own layout: q, k, v the thirds of qkv [B, T, 3·H·Dh] plus the projection's bias
// [3·H·Dh] (both gradients checked), the output [B, T, H·Dh].
for (const [B, T, H, dh] of [[2, 21, 3, 8], [1, 9, 2, 6]]) {
  const name = `qkvAttention [${B}, ${T}, ${3 * H * dh}] + bias, ${H} heads`;
  const d3 = 3 * H * dh;
  t.test(name, (t) => checkOp(t, name, {
    inputs: [{ shape: [B, T, d3] }, { shape: [d3] }],
    gpu: (qkv, bias) => qkvAttention(qkv, H, bias),
    cpu: (qkv, bias) => qkvAttentionRef(qkv.map((x, i) => x + bias[i % d3]), B, T, H, dh),
  }));
}

// The small tile (a real GPU's) and a lopsided one run the same code paths with other masks. The
// tile is set inside the subtest: subtests run after the file's top level has finished.
for (const tile of [{ r: 4, c: 4, wg: 64 }, { r: 8, c: 4, wg: 8 }]) {
  t.test(`flash attention, tile ${tile.r}x${tile.c}x${tile.wg}`, async (t) => {
    const prev = setAttentionTile(tile);
    t.teardown(() => void setAttentionTile(prev));
    for (const shape of [[2, 3, 33, 8], [1, 2, 19, 6]]) {
      const [B, H, T, dh] = shape;
      await checkOp(t, `flash attention ${JSON.stringify(shape)} tile ${tile.r}x${tile.c}x${tile.wg}`, {
        inputs: [{ shape }, { shape }, { shape }],
        gpu: (q, k, v) => causalSelfAttention(q, k, v),
        cpu: (q, k, v) => attentionRef(q, k, v, B * H, T, dh),
      });
    }
  });
}

/** Forward output and the three gradients of sum(G * attn(q, k, v)). */
async function runWithGrads(fn: typeof causalSelfAttention, data: Float64Array[], shape: number[],
  g: Float64Array): Promise<Float32Array[]> {
  const [q, k, v] = data.map((d) => param(Tensor.fromData(d, shape)));
  const out = tidy(() => {
    const o = fn(q, k, v);
    backward(o, Tensor.fromData(g, shape));
    return o;
  });
  const res = [await out.toArray(), await q.grad!.toArray(), await k.grad!.toArray(), await v.grad!.toArray()] as Float32Array[];
  for (const x of [out, q, k, v, q.grad!, k.grad!, v.grad!]) x.dispose();
  return res;
}

t.test('flash equals attentionComposed at [2, 4, 100, 64], forward and backward', async (t) => {
  const shape = [2, 4, 100, 64];
  const n = 2 * 4 * 100 * 64;
  const data = [11, 12, 13].map((s) => randn(n, s));
  const g = randn(n, 14);
  const flash = await runWithGrads(causalSelfAttention, data, shape, g);
  const composed = await runWithGrads(attentionComposed, data, shape, g);
  ['O', 'dQ', 'dK', 'dV'].forEach((name, i) => {
    let worst = 0;
    for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(flash[i][j] - composed[i][j]) / (1 + Math.abs(composed[i][j])));
    t.ok(worst < 1e-5, `${name}: max |flash - composed| / (1 + |composed|) = ${worst.toExponential(2)}`);
  });
});

t.test('without a tape (noGrad) the forward is the same', async (t) => {
  const shape = [1, 3, 45, 12];
  const n = 3 * 45 * 12;
  const [q, k, v] = [21, 22, 23].map((s) => param(Tensor.fromData(randn(n, s), shape)));
  const a = await tidy(() => causalSelfAttention(q, k, v)).toArray();
  const b = await tidy(() => noGrad(() => causalSelfAttention(q, k, v))).toArray();
  t.same(Array.from(a), Array.from(b));
  for (const x of [q, k, v]) x.dispose();
});

t.test('causality: huge values in future keys and values do not leak into earlier rows', async (t) => {
  const [B, H, T, dh] = [1, 2, 50, 8];
  const shape = [B, H, T, dh];
  const n = B * H * T * dh;
  const cut = 25;
  const base = [31, 32, 33].map((s) => randn(n, s));
  const huge = base.map((d, i) => d.map((x, j) => (i > 0 && Math.floor(j / dh) % T >= cut ? x * 1e4 + 1e4 : x)));
  const g = randn(n, 34);
  const a = await runWithGrads(causalSelfAttention, base, shape, g);
  const b = await runWithGrads(causalSelfAttention, huge, shape, g);
  t.ok(b.every((arr) => arr.every(Number.isFinite)), 'every output and gradient is finite');
  let same = true;
  let dqSame = true;
  for (let j = 0; j < n; j++) {
    if (Math.floor(j / dh) % T >= cut) continue;
    if (a[0][j] !== b[0][j]) same = false;
    if (Math.abs(a[1][j] - b[1][j]) > 1e-6) dqSame = false;
  }
  t.ok(same, `rows before ${cut}: outputs identical`);
  t.ok(dqSame, `rows before ${cut}: dQ unchanged`);
  // Rows at or after the cut do see the huge values (the mask is not over-eager).
  let moved = false;
  for (let j = 0; j < n; j++) if (Math.floor(j / dh) % T >= cut && Math.abs(a[0][j] - b[0][j]) > 1) moved = true;
  t.ok(moved, 'later rows do attend to them');
});
