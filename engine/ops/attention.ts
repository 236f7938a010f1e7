// Causal self-attention as flash attention: softmax(q·kᵀ/√Dh, causal)·v for q, k, v [B, H, T, Dh],
// computed block by block with an online softmax (kernels/attention.ts), never holding the T x T
// scores. The forward saves O (the output itself) and the log-sum-exp L per row when the tape is
// recording; the backward recomputes the probabilities from q, k and L: D = rowsum(dO * O) first,
// then one pass over query blocks for dQ and one over key blocks for dK and dV (deterministic).
// Tensors larger than one binding are bound in windows of whole batch·heads. Beside it the same
// attention composed from ops (matmul, scale, causal softmax, matmul): the reference and the
// benchmark's baseline.
import { ShapeError } from '../errors.ts';
import { setting } from '../settings.ts';
import { getDevice, record, shapeStr, Tensor } from '../tensor.ts';
import { grid1d } from '../../kernels/kernel.ts';
import { ATTENTION_TILES, attentionKernel, ROWDOT, type AttentionEntry, type AttentionTile } from '../../kernels/attention.ts';
import { scale } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { softmax } from './softmax.ts';
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

/** A window of whole batch·heads: bh [bh0, bh0+nbh), with the element shifts of the aligned-down
 *  binding starts of the [.., T, Dh] tensors and of the [.., T] row statistics. */
interface HeadWindow {
  bh0: number;
  nbh: number;
  elem0: number;
  shift: number;
  count: number;
  lelem0: number;
  lshift: number;
  lcount: number;
}

function headWindows(bhTotal: number, T: number, dh: number): HeadWindow[] {
  const device = getDevice();
  const align = device.limits.minStorageBufferOffsetAlignment / 4;
  const maxE = Math.floor(device.limits.maxStorageBufferBindingSize / 4);
  const per = Math.min(bhTotal, Math.floor((maxE - (align - 1)) / (T * dh)));
  if (per < 1) {
    throw new ShapeError(`attention: one head of [${T}, ${dh}] floats (${T * dh * 4} bytes) does not fit one binding of ` +
      `${device.limits.maxStorageBufferBindingSize} bytes`);
  }
  const out: HeadWindow[] = [];
  for (let bh0 = 0; bh0 < bhTotal; bh0 += per) {
    const nbh = Math.min(per, bhTotal - bh0);
    const start = bh0 * T * dh;
    const elem0 = bhTotal * T * dh <= maxE ? 0 : Math.floor(start / align) * align;
    const lstart = bh0 * T;
    const lelem0 = Math.floor(lstart / align) * align;
    out.push({
      bh0, nbh, elem0, shift: start - elem0, count: start - elem0 + nbh * T * dh,
      lelem0, lshift: lstart - lelem0, lcount: lstart - lelem0 + nbh * T,
    });
  }
  return out;
}

function checkShapes(q: Tensor, k: Tensor, v: Tensor): void {
  for (const t of [q, k, v]) assertF32(t, 'attention');
  const ok = q.ndim === 4 && [k, v].every((t) => t.ndim === 4 && t.shape.every((d, i) => d === q.shape[i]));
  if (!ok) {
    throw new ShapeError(`attention: q, k, v must all be [B, H, T, Dh], ` +
      `got ${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)}`);
  }
}

/** Causal self-attention, [B, H, T, Dh] -> [B, H, T, Dh], as flash attention (forward and VJP). */
export function flashAttention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  checkShapes(q, k, v);
  const [B, H, T, dh] = q.shape;
  const bhTotal = B * H;
  const out = Tensor.empty(q.shape, 'f32', 'attention');
  if (out.size === 0) return out;
  const device = getDevice();
  const tile = tileFor(device);
  const vec = dh % 4 === 0;
  const scale = 1 / Math.sqrt(dh);
  const save = recording(q, k, v);
  // L is only kept for the backward: without a tape a one-float placeholder is bound (never written).
  const lse = Tensor.empty([save ? bhTotal * T : 1], 'f32', 'attention L');
  const windows = headWindows(bhTotal, T, dh);
  const params = (w: HeadWindow) => ({ t: T, dh, nbh: w.nbh, scale, shift: w.shift, lshift: w.lshift, save: save ? 1 : 0 });
  const run = (entry: AttentionEntry, w: HeadWindow, perInv: number, bindings: Binding[], label: string): void => {
    device.dispatch({
      kernel: attentionKernel(entry, tile, vec), label, params: params(w), bindings,
      workgroups: grid1d(w.nbh * Math.ceil(T / perInv), tile.wg, device.limits.maxComputeWorkgroupsPerDimension),
    });
  };
  const label = `attention ${shapeStr(q.shape)}`;
  for (const w of windows) {
    const b = (t: Tensor): Binding => t.bind(w.elem0, w.count);
    run('forward', w, tile.r, [b(q), b(k), b(v), b(out), save ? lse.bind(w.lelem0, w.lcount) : lse.bind()], label);
  }
  if (!save) {
    lse.dispose();
    return out;
  }
  return record(out, 'attention (flash)', [q, k, v], (g) => {
    const dd = Tensor.empty([bhTotal * T], 'f32', 'attention D');
    const dq = q.requiresGrad ? Tensor.empty(q.shape, 'f32', 'attention dQ') : null;
    const wantKV = k.requiresGrad || v.requiresGrad;
    const dk = wantKV ? Tensor.empty(k.shape, 'f32', 'attention dK') : null;
    const dv = wantKV ? Tensor.empty(v.shape, 'f32', 'attention dV') : null;
    for (const w of windows) {
      const b = (t: Tensor): Binding => t.bind(w.elem0, w.count);
      const l = (t: Tensor): Binding => t.bind(w.lelem0, w.lcount);
      device.dispatch({
        kernel: ROWDOT, label: 'attention backward D', params: params(w), constants: { WG: 64 },
        bindings: [b(g), b(out), l(dd)],
        workgroups: grid1d(w.nbh * T, 64, device.limits.maxComputeWorkgroupsPerDimension),
      });
      if (dq) run('dq', w, tile.r, [b(q), b(k), b(v), b(g), l(lse), l(dd), b(dq)], 'attention backward dQ');
      if (dk && dv) run('dkdv', w, tile.c, [b(q), b(k), b(v), b(g), l(lse), l(dd), b(dk), b(dv)], 'attention backward dK, dV');
    }
    dd.dispose();
    return [dq, k.requiresGrad ? dk : (dk?.dispose(), null), v.requiresGrad ? dv : (dv?.dispose(), null)];
  });
}

/** Causal self-attention composed from ops: softmax(q·kᵀ/√Dh, causal)·v, q/k/v [B, H, T, Dh]. */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const ok = q.ndim === 4 && [k, v].every((t) => t.ndim === 4 && t.shape.every((d, i) => d === q.shape[i]));
  if (!ok) {
    throw new ShapeError(`attention: q, k, v must all be [B, H, T, Dh], ` +
      `got ${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)}`);
  }
  const dh = q.shape[3];
  const scores = scale(matmul(q, k, { transB: true }), 1 / Math.sqrt(dh));
  return matmul(softmax(scores, { causal: true }), v);
}

/** Causal self-attention, [B, H, T, Dh] -> [B, H, T, Dh]: flash attention (engine/ops/attention.ts);
 *  attentionComposed stays as the reference and the benchmark's baseline. */
export function causalSelfAttention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  return flashAttention(q, k, v);
}
