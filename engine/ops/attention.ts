// Causal self-attention as flash attention: softmax(q·kᵀ/√Dh, causal)·v, computed block by block
// with an online softmax (kernels/attention.ts), never holding the T x T scores. It reads q, k, v
// where the model's qkv projection wrote them, [B, T, 3·D], and writes [B, T, D], the input of the
// output projection: no dispatch splits or merges heads. The forward saves O (the output itself)
// and the log-sum-exp L per row when the tape is recording; the backward recomputes the
// probabilities from q, k and L: one pass over query blocks for D = rowsum(dO * O) and dQ, then
// one over key blocks for dK and dV (deterministic), both into one dqkv. Tensors larger than one
// binding are bound in windows of whole batches. Beside it the same attention composed from ops
// (matmul, scale, causal softmax, matmul): the reference and the benchmark's baseline.
import { ShapeError } from '../errors.ts';
import { setting } from '../settings.ts';
import { getDevice, record, shapeStr, Tensor } from '../tensor.ts';
import { grid1d } from '../../kernels/kernel.ts';
import { ATTENTION_TILES, attentionKernel, type AttentionEntry, type AttentionTile } from '../../kernels/attention.ts';
import { scale, zeros } from './elementwise.ts';
import { concat, permute, reshape } from './layout.ts';
import { matmul } from './matmul.ts';
import { softmax } from './softmax.ts';
import { sumTo } from './sum-to.ts';
import { assertF32, perDevice, recording } from './util.ts';
import type { Binding, Device } from '../device.ts';

const tileOverrides = perDevice<AttentionTile>();

/** Overrides the device's per-backend tile (for tuning and tests; null: clears); returns the
 *  previous override. */
export function setAttentionTile(tile: AttentionTile | null, device = getDevice()): AttentionTile | null {
  return tileOverrides.set(tile, device);
}

/** The device's override, else WGPT_ATTENTION_TILE=RxCxWG (for tuning), else the backend's tile. */
function tileFor(device: Device): AttentionTile {
  return tileOverrides.get(device) ?? setting('WGPT_ATTENTION_TILE') ?? ATTENTION_TILES[device.kernelProfile];
}

/** A binding window of `per` floats per batch over batches [b0, b0+nb): its aligned-down start and
 *  the element shift of batch b0 in it. */
interface Window {
  elem0: number;
  shift: number;
  count: number;
}

/** Windows of whole batches: batch b of each tensor is `per[i]` floats (qkv, O, the row statistics). */
function batchWindows(B: number, per: number[], what: string): { b0: number; nb: number; w: Window[] }[] {
  const device = getDevice();
  const align = device.limits.minStorageBufferOffsetAlignment / 4;
  const maxE = Math.floor(device.limits.maxStorageBufferBindingSize / 4);
  const fit = Math.min(B, ...per.map((p) => Math.floor((maxE - (align - 1)) / p)));
  if (fit < 1) {
    throw new ShapeError(`attention: one batch of ${what} (${per[0] * 4} bytes) does not fit one binding of ` +
      `${device.limits.maxStorageBufferBindingSize} bytes; use a shorter context`);
  }
  const out = [];
  for (let b0 = 0; b0 < B; b0 += fit) {
    const nb = Math.min(fit, B - b0);
    out.push({ b0, nb, w: per.map((p) => {
      const start = b0 * p;
      const elem0 = B * p <= maxE ? 0 : Math.floor(start / align) * align;
      return { elem0, shift: start - elem0, count: start - elem0 + nb * p };
    }) });
  }
  return out;
}

/** Causal self-attention over qkv + bias (qkv [B, T, 3·D]: q, k, v its thirds, D = heads·Dh; bias
 *  [3·D], the projection's, added as q, k, v are loaded: no dispatch of its own) -> [B, T, D], as
 *  flash attention (forward and VJP). */
export function qkvAttention(qkv: Tensor, heads: number, bias: Tensor = zeros([qkv.shape[2] ?? 0])): Tensor {
  for (const t of [qkv, bias]) assertF32(t, 'attention');
  const [B, T, d3] = qkv.shape;
  const dh = d3 / 3 / heads;
  if (qkv.ndim !== 3 || !Number.isInteger(dh) || dh === 0 || bias.ndim !== 1 || bias.shape[0] !== d3) {
    throw new ShapeError(`attention: qkv must be [B, T, 3·D] with D a multiple of ${heads} heads and the bias [3·D], ` +
      `got ${shapeStr(qkv.shape)} and ${shapeStr(bias.shape)}`);
  }
  const D = heads * dh;
  const out = Tensor.empty([B, T, D], 'f32', 'attention');
  if (out.size === 0) return out;
  const device = getDevice();
  const tile = tileFor(device);
  const vec = dh % 4 === 0;
  const scale = 1 / Math.sqrt(dh);
  const save = recording(qkv, bias);
  // L is only kept for the backward: without a tape a one-float placeholder is bound (never written).
  const lse = Tensor.empty([save ? B * heads * T : 1], 'f32', 'attention L');
  const windows = batchWindows(B, [T * d3, T * D, heads * T], `[${T}, ${d3}] floats`);
  const run = (entry: AttentionEntry, nb: number, w: Window[], perInv: number, bindings: Binding[], label: string): void => {
    const nbh = nb * heads;
    device.dispatch({
      kernel: attentionKernel(entry, tile, vec), label, bindings,
      params: { t: T, dh, nh: heads, nbh, scale, shift: w[0].shift, oshift: w[1].shift, lshift: w[2].shift, save: save ? 1 : 0 },
      workgroups: grid1d(nbh * Math.ceil(T / perInv), tile.wg, device.limits.maxComputeWorkgroupsPerDimension),
    });
  };
  // Bindings of the window: qkv-shaped, O-shaped and row-statistics tensors.
  const bind = (w: Window[], x: Tensor, i: 0 | 1 | 2): Binding => x.bind(w[i].elem0, w[i].count);
  const label = `attention ${shapeStr(qkv.shape)}`;
  for (const { nb, w } of windows) {
    run('forward', nb, w, tile.r, [bind(w, qkv, 0), bias.bind(), bind(w, out, 1), save ? bind(w, lse, 2) : lse.bind()], label);
  }
  if (!save) {
    lse.dispose();
    return out;
  }
  return record(out, 'attention (flash)', [qkv, bias], (g) => {
    const dd = Tensor.empty([B * heads * T], 'f32', 'attention D');
    const dqkv = Tensor.empty(qkv.shape, 'f32', 'attention dqkv');
    for (const { nb, w } of windows) {
      const [x, o, l] = [(t: Tensor) => bind(w, t, 0), (t: Tensor) => bind(w, t, 1), (t: Tensor) => bind(w, t, 2)];
      run('dq', nb, w, tile.r, [x(qkv), bias.bind(), o(out), o(g), l(lse), l(dd), x(dqkv)], 'attention backward D, dQ');
      run('dkdv', nb, w, tile.c, [x(qkv), bias.bind(), o(g), l(lse), l(dd), x(dqkv)], 'attention backward dK, dV');
    }
    dd.dispose();
    return [dqkv, bias.requiresGrad ? sumTo(dqkv, bias.shape) : null];
  });
}

function checkHeads(q: Tensor, k: Tensor, v: Tensor): void {
  const ok = q.ndim === 4 && [k, v].every((t) => t.ndim === 4 && t.shape.every((d, i) => d === q.shape[i]));
  if (!ok) {
    throw new ShapeError(`attention: q, k, v must all be [B, H, T, Dh], ` +
      `got ${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)}`);
  }
}

/** Causal self-attention, q, k, v [B, H, T, Dh] -> [B, H, T, Dh]: the heads put side by side in
 *  qkv's layout, qkvAttention, and the output's heads taken apart again (for callers that hold
 *  heads apart; the model calls qkvAttention on its projection's output). */
export function causalSelfAttention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  checkHeads(q, k, v);
  const [B, H, T, dh] = q.shape;
  const qkv = reshape(permute(concat([q, k, v], 1), [0, 2, 1, 3]), [B, T, 3 * H * dh]);
  return permute(reshape(qkvAttention(qkv, H), [B, T, H, dh]), [0, 2, 1, 3]);
}

/** Causal self-attention composed from ops: softmax(q·kᵀ/√Dh, causal)·v, q/k/v [B, H, T, Dh]. */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor): Tensor {
  checkHeads(q, k, v);
  const dh = q.shape[3];
  const scores = scale(matmul(q, k, { transB: true }), 1 / Math.sqrt(dh));
  return matmul(softmax(scores, { causal: true }), v);
}
