// Fused AdamW (torch.optim.AdamW semantics): one dispatch per parameter window updates the parameter,
// first moment and second moment in place. Decoupled weight decay is applied first, as torch does:
//   p = p*(1 - lr*wd); m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// On llvmpipe a large parameter's four operands may be read from textures holding copies of their
// windows (the tuner's choice per machine, engine/tune/): the embedding of a small model is most of
// its optimizer step, and on some CPUs its storage loads cost more than the copies plus texture
// reads, on others less (docs/measurements.md, 'The tuner's classes and rounds'). Both compute the same bits.
import { ShapeError } from '../errors.ts';
import { getDevice, keep, noGrad, sameShape, shapeStr, Tensor } from '../tensor.ts';
import { TEXTURE_ROW, type Params } from '../../kernels/kernel.ts';
import { ADAMW1, ADAMW4, ADAMW4_TEXTURE } from '../../kernels/adamw.ts';
import { chooseAdamw, type Candidate } from '../tune/choices.ts';
import type { Binding, OperandTexture } from '../device.ts';
import { zeros } from './elementwise.ts';
import { assertF32, eachWindow, launch1d, maxBindingElems } from './util.ts';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** The step number t, counting from 1 (for the bias corrections). */
  step: number;
}

/** One dispatch of AdamW's vec4 kernel over windows [param, grad, m, v] of n4 vec4s each, reading
 *  them from storage or (`textures`, where each window fits a texture) from copies in textures.
 *  `scalars`: the step's (kernels/adamw.ts). */
export function adamwDispatch(windows: Binding[], n4: number, scalars: Params, textures: boolean, label: string): void {
  const device = getDevice();
  const copies: OperandTexture[] = [];
  if (textures) {
    for (const w of windows) {
      const t = device.operandTexture({ ...w, size: n4 * 16 }, TEXTURE_ROW, label);
      if (!t) break;
      copies.push(t);
    }
  }
  if (copies.length === windows.length) {
    const [p, , m, v] = windows;
    launch1d(ADAMW4_TEXTURE, n4, { n: n4, off: 0, ...scalars }, [...copies.map((c) => c.binding), p, m, v], label);
  } else {
    launch1d(ADAMW4, n4, { n: n4, off: 0, ...scalars }, windows, label);
  }
  // In reverse, as the matmul's: the next step takes each texture for the same operand.
  for (const c of copies.reverse()) c.release();
}

/** One AdamW step on `param` with gradient `grad` and state `m`, `v` (same shape), in place. */
export function adamwStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWOptions, candidate?: Candidate): void {
  const { lr, step } = opts;
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay ?? 0.01;
  for (const [t, what] of [[param, 'param'], [grad, 'grad'], [m, 'm'], [v, 'v']] as const) {
    assertF32(t, `adamwStep ${what}`);
    if (!sameShape(t.shape, param.shape)) throw new ShapeError(`adamwStep: ${what} has shape ${shapeStr(t.shape)}, ` +
      `param ${shapeStr(param.shape)}`);
  }
  if (!Number.isInteger(step) || step < 1) throw new ShapeError(`adamwStep: step must be an integer >= 1, got ${step}`);
  const scalars = {
    decay: 1 - lr * wd, step: lr / (1 - beta1 ** step),
    b1: beta1, omb1: 1 - beta1, b2: beta2, omb2: 1 - beta2,
    eps, rbc2: 1 / Math.sqrt(1 - beta2 ** step),
  };
  const n = param.size;
  const label = `adamwStep ${shapeStr(param.shape)}`;
  const choice = candidate ?? chooseAdamw(getDevice(), n);
  const textures = 'adamwTextures' in choice && choice.adamwTextures;
  // Windows of whole vec4s (one binding's elements are a multiple of the 256-byte offset alignment).
  noGrad(() => eachWindow(n, (e0, count) => {
    const bindings = [param.bind(e0, count), grad.bind(e0, count), m.bind(e0, count), v.bind(e0, count)];
    const n4 = Math.floor(count / 4);
    if (n4 > 0) adamwDispatch(bindings, n4, scalars, textures, label);
    const tail = count - 4 * n4;
    if (tail > 0) launch1d(ADAMW1, tail, { n: tail, off: 4 * n4, ...scalars }, bindings, label);
  }));
}

/** Parameter offsets in a pack are multiples of this many floats: 256 bytes, the largest storage
 *  offset alignment WebGPU allows, so every window an op binds of a packed parameter is aligned. */
const PACK_ALIGN = 64;

interface PackGroup {
  /** The group's shared buffer, as one flat tensor. */
  flat: Tensor;
  /** Indices into the pack's parameters and where each starts in `flat`. */
  members: { index: number; start: number }[];
}

/** Parameters moved into a few shared buffers (each at most one binding, unless one parameter is
 *  larger), so that AdamW updates a whole group in one dispatch instead of one per tensor. Each
 *  parameter keeps its tensor object (the model still holds it); only its storage moves. The
 *  optimizer's state is laid out the same way (`zeros`). */
export class ParamPack {
  private readonly groups: PackGroup[] = [];

  constructor(readonly params: readonly Tensor[]) {
    const cap = maxBindingElems(getDevice());
    let members: { index: number; start: number }[] = [];
    let end = 0;
    const close = (): void => {
      if (members.length === 0) return;
      const flat = keep(zeros([end]));
      for (const { index, start } of members) {
        const into = flat.window(start, params[index].shape);
        params[index].relocate(into);
        into.dispose();
      }
      this.groups.push({ flat, members });
      members = [];
      end = 0;
    };
    params.forEach((p, index) => {
      assertF32(p, 'ParamPack');
      if (members.length > 0 && Math.ceil(end / PACK_ALIGN) * PACK_ALIGN + p.size > cap) close();
      const start = Math.ceil(end / PACK_ALIGN) * PACK_ALIGN;
      members.push({ index, start });
      end = start + p.size;
    });
    close();
  }

  /** Zeros laid out as the parameters: per group a flat tensor, and per parameter its window. */
  zeros(): { flat: Tensor[]; views: Tensor[] } {
    const flat = this.groups.map((g) => keep(zeros(g.flat.shape)));
    const views: Tensor[] = new Array(this.params.length);
    this.groups.forEach((g, i) => {
      for (const { index, start } of g.members) views[index] = keep(flat[i].window(start, this.params[index].shape));
    });
    return { flat, views };
  }

  /** One AdamW step over every parameter with a gradient (grads[i] for params[i], null: none):
   *  a group whose every parameter has one is updated in one pass over its flat buffer (the
   *  gradients copied into a flat buffer laid out as it), the others parameter by parameter, as
   *  torch leaves a parameter without a gradient alone. The same arithmetic per element either
   *  way, so the same bits. `m` and `v`: this pack's zeros(). */
  adamw(grads: readonly (Tensor | null)[], m: { flat: Tensor[]; views: Tensor[] }, v: { flat: Tensor[]; views: Tensor[] },
    opts: AdamWOptions): void {
    const device = getDevice();
    noGrad(() => this.groups.forEach((g, i) => {
      if (g.members.some(({ index }) => !grads[index])) {
        for (const { index } of g.members) {
          const grad = grads[index];
          if (grad) adamwStep(this.params[index], grad, m.views[index], v.views[index], opts);
        }
        return;
      }
      const flat = Tensor.empty(g.flat.shape, 'f32', 'AdamW gradients');
      for (const { index, start } of g.members) {
        const n = this.params[index].size;
        const from = grads[index]!.bind();
        const to = flat.bind(start, n);
        if (n > 0) device.copy(from.buffer, from.offset, to.buffer, to.offset, n * 4, 'AdamW gradients');
      }
      adamwStep(g.flat, flat, m.flat[i], v.flat[i], opts);
      flat.dispose();
    }));
  }

  dispose(): void {
    for (const g of this.groups) g.flat.dispose();
  }
}
