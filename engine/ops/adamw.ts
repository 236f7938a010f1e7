// Fused AdamW (torch.optim.AdamW semantics): one dispatch per parameter window updates the parameter,
// first moment and second moment in place. Decoupled weight decay is applied first, as torch does:
//   p = p*(1 - lr*wd); m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
import { ShapeError } from '../errors.ts';
import { getDevice, noGrad, sameShape, shapeStr, type Tensor } from '../tensor.ts';
import { wgsl } from '../../kernels/kernel.ts';
import { assertF32, f32bits, launch1d, maxBindingElems } from './util.ts';

const ADAMW4 = wgsl('adamw', 'adamw4');
const ADAMW1 = wgsl('adamw', 'adamw1');

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** The step number t, counting from 1 (for the bias corrections). */
  step: number;
}

/** One AdamW step on `param` with gradient `grad` and state `m`, `v` (same shape), in place. */
export function adamwStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWOptions): void {
  const { lr, step } = opts;
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay ?? 0.01;
  for (const [t, what] of [[param, 'param'], [grad, 'grad'], [m, 'm'], [v, 'v']] as const) {
    assertF32(t, `adamwStep ${what}`);
    if (!sameShape(t.shape, param.shape)) throw new ShapeError(`adamwStep: ${what} has shape ${shapeStr(t.shape)}, param ${shapeStr(param.shape)}`);
  }
  if (!Number.isInteger(step) || step < 1) throw new ShapeError(`adamwStep: step must be an integer >= 1, got ${step}`);
  const scalars = [
    f32bits(1 - lr * wd), f32bits(lr / (1 - beta1 ** step)),
    f32bits(beta1), f32bits(1 - beta1), f32bits(beta2), f32bits(1 - beta2),
    f32bits(eps), f32bits(1 / Math.sqrt(1 - beta2 ** step)), 0, 0,
  ];
  const n = param.size;
  const label = `adamwStep ${shapeStr(param.shape)}`;
  noGrad(() => {
    // Windows of whole vec4s (maxBindingElems is a multiple of the 256-byte offset alignment).
    const chunk = maxBindingElems(getDevice());
    for (let e0 = 0; e0 < n; e0 += chunk) {
      const count = Math.min(chunk, n - e0);
      const bindings = [param.bind(e0, count), grad.bind(e0, count), m.bind(e0, count), v.bind(e0, count)];
      const n4 = Math.floor(count / 4);
      if (n4 > 0) launch1d(ADAMW4, n4, [n4, 0, ...scalars], bindings, label);
      const tail = count - 4 * n4;
      if (tail > 0) launch1d(ADAMW1, tail, [tail, 4 * n4, ...scalars], bindings, label);
    }
  });
}
