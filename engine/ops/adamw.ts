// Fused AdamW update, in place, one dispatch per parameter (per binding window for big ones).
import { ShapeError } from '../errors.ts';
import { getDevice, shapeStr, type Tensor } from '../tensor.ts';
import { wgsl } from '../../kernels/kernel.ts';
import { f32bits, launch1d, maxBindingElems } from './util.ts';

const KERNEL = wgsl('adamw');

export interface AdamWHyper {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** 1 for the first update (bias correction). */
  step: number;
}

/** p, m, v updated in place from g, exactly as torch.optim.AdamW (decoupled decay applied first). */
export function adamwStep(p: Tensor, g: Tensor, m: Tensor, v: Tensor, h: AdamWHyper): void {
  for (const t of [g, m, v]) {
    if (t.size !== p.size) throw new ShapeError(`adamwStep: ${shapeStr(t.shape)} does not match the parameter ${shapeStr(p.shape)}`);
  }
  if (!(h.step >= 1)) throw new ShapeError(`adamwStep: step must be >= 1, got ${h.step}`);
  const b1 = h.beta1 ?? 0.9;
  const b2 = h.beta2 ?? 0.999;
  const params = (n: number): number[] => [n, f32bits(h.lr), f32bits(b1), f32bits(b2), f32bits(h.eps ?? 1e-8),
    f32bits(1 - h.lr * (h.weightDecay ?? 0.01)), f32bits(1 - b1 ** h.step), f32bits(1 - b2 ** h.step)];
  const step = maxBindingElems(getDevice());
  for (let e0 = 0; e0 < p.size; e0 += step) {
    const n = Math.min(step, p.size - e0);
    launch1d(KERNEL, n, params(n), [p.bind(e0, n), g.bind(e0, n), m.bind(e0, n), v.bind(e0, n)], `adamw ${shapeStr(p.shape)}`);
  }
}
