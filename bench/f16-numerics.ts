// The f16-operand numerics (issue 32): what rounding every product's operands to f16 (f32
// accumulation, as a tensor core computes; MatmulOverride.f16Operands emulates it bit-exactly on any
// adapter) does to a small GPT's gradients and to a short training run. Prints, per parameter, the
// relative error of its gradient (L2 norm of the difference over the norm; and the largest element's
// error over the largest element) against the same gradient with f32 operands, which is within
// ~1e-6 of f64 and so stands in for it here; how many gradient values are below f16's smallest
// normal (2^-14: subnormal in f16) and below half its smallest subnormal (2^-25: zero in f16),
// with no loss scale; and the loss of STEPS AdamW steps with and without.
//   npx tsx bench/f16-numerics.ts [CONFIG=tiny] [STEPS=20]
import { adamwStep, closeDevice, openDevice, Tensor } from '../engine/index.ts';
import { overrideMatmul } from '../engine/tune/matmul-pick.ts';
import { randomGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';
import { loadEntries } from '../train/data/load.ts';
import { batchOf, gradientsOf } from '../train/eval/grads.ts';

const [config = 'tiny', steps = '20'] = process.argv.slice(2);
const device = await openDevice();
const entries = await loadEntries(null, 123, 2000);
const cfg = getConfig(config, { dropout: 0 });
const batch = batchOf(entries.slice(0, 8), 'alpaca', 'none', cfg.contextLength);

async function grads(f16: boolean): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const model = randomGPT(cfg, 1);
  overrideMatmul(f16 ? { f16Operands: true } : null);
  const r = await gradientsOf(model, batch);
  overrideMatmul(null);
  model.dispose();
  return r;
}

const ref = await grads(false);
const half = await grads(true);
console.log(`${config} (${device.adapterDescription}): loss f32 ${ref.loss.toFixed(6)}, f16 operands ${half.loss.toFixed(6)}`);
console.log(`${'parameter'.padEnd(28)} ${'rel L2 err'.padStart(11)} ${'max el err'.padStart(11)} ${'< 2^-14'.padStart(9)} ` +
  `${'< 2^-25'.padStart(9)} of`);
let worst = 0;
let sub = 0;
let zero = 0;
let total = 0;
for (const [name, g] of ref.grads) {
  const h = half.grads.get(name)!;
  let d2 = 0;
  let g2 = 0;
  let dmax = 0;
  let gmax = 0;
  let s = 0;
  let z = 0;
  for (let i = 0; i < g.length; i++) {
    d2 += (h[i] - g[i]) ** 2;
    g2 += g[i] ** 2;
    dmax = Math.max(dmax, Math.abs(h[i] - g[i]));
    gmax = Math.max(gmax, Math.abs(g[i]));
    const a = Math.abs(g[i]);
    if (a !== 0 && a < 2 ** -14) s++;
    if (a !== 0 && a < 2 ** -25) z++;
  }
  const rel = Math.sqrt(d2 / g2);
  worst = Math.max(worst, rel);
  [sub, zero, total] = [sub + s, zero + z, total + g.length];
  console.log(`${name.padEnd(28)} ${rel.toExponential(2).padStart(11)} ${(dmax / gmax).toExponential(2).padStart(11)} ` +
    `${String(s).padStart(9)} ${String(z).padStart(9)} ${g.length}`);
}
console.log(`worst relative L2 error ${worst.toExponential(2)}; gradient values below 2^-14: ${sub} of ${total} ` +
  `(${((100 * sub) / total).toFixed(3)}%), below 2^-25: ${zero}`);

/** STEPS AdamW steps on the same batch from the same init; the losses. */
async function curve(f16: boolean): Promise<number[]> {
  const model = randomGPT(cfg, 1);
  const params = model.trainable();
  const state = new Map([...params].map(([n, p]) => [n, { m: Tensor.fromData(new Float32Array(p.size), p.shape),
    v: Tensor.fromData(new Float32Array(p.size), p.shape) }]));
  const losses: number[] = [];
  for (let step = 1; step <= Number(steps); step++) {
    overrideMatmul(f16 ? { f16Operands: true } : null);
    const r = await gradientsOf(model, batch);
    overrideMatmul(null);
    losses.push(r.loss);
    for (const [n, p] of params) {
      const g = Tensor.fromData(r.grads.get(n)!, p.shape);
      adamwStep(p, g, state.get(n)!.m, state.get(n)!.v, { lr: 1e-3, step, weightDecay: 0.1 });
      g.dispose();
    }
  }
  model.dispose();
  return losses;
}
const c32 = await curve(false);
const c16 = await curve(true);
console.log('step  loss f32    loss f16 operands');
c32.forEach((l, i) => console.log(`${String(i + 1).padStart(4)}  ${l.toFixed(5)}   ${c16[i].toFixed(5)}`));
closeDevice(device);
