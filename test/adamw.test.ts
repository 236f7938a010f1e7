// AdamW against torch.optim.AdamW's formula in f64, with every variant the tuner may choose (on
// llvmpipe the operands read from storage or from textures): the same bits either way.
import t from 'tap';
import { adamwStep, getDevice, ParamPack, Tensor, zeros } from '../engine/index.ts';
import { candidatesFor } from '../engine/tune/choices.ts';
import { kernelsDispatched, withDevice } from './helpers/device.ts';
import { randn, worst } from './helpers/opcheck.ts';

// A 1 MiB binding cap (262144 floats) drives the windowed path with a tensor of 300001 floats.
await withDevice(t, { maxStorageBufferBindingSize: 1 << 20 });

/** torch.optim.AdamW, in f64. */
function refStep(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, lr: number, b1: number, b2: number,
  eps: number, wd: number, step: number): void {
  const bc1 = 1 - b1 ** step;
  const bc2 = 1 - b2 ** step;
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd;
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + eps;
    p[i] -= (lr / bc1) * m[i] / denom;
  }
}

const cases: { name: string; n: number; opts: { lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number } }[] = [
  { name: '231 floats (vec4 + tail), defaults', n: 231, opts: { lr: 1e-3 } },
  { name: '4096 floats, big lr and weight decay, other betas', n: 4096,
    opts: { lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 } },
  { name: '300001 floats (past one 1 MiB binding), no weight decay', n: 300001, opts: { lr: 3e-4, weightDecay: 0 } },
];

const variants = candidatesFor(getDevice().kernelProfile, { kind: 'adamw' });
const bits = new Map<string, Uint32Array[]>();
for (const c of cases) for (const variant of variants) {
  t.test(`${c.name}, ${variant.name}`, async (t) => {
    const p = randn(c.n, 11).map(Math.fround);
    const m = new Float64Array(c.n);
    const v = new Float64Array(c.n);
    const P = Tensor.fromData(p, [c.n]);
    const M = Tensor.fromData(m, [c.n]);
    const V = Tensor.fromData(v, [c.n]);
    const buffers = [P.buffer, M.buffer, V.buffer];
    let created = 0;
    const b1 = c.opts.beta1 ?? 0.9;
    const b2 = c.opts.beta2 ?? 0.999;
    for (let step = 1; step <= 3; step++) {
      // The GPU sees the gradient rounded to f32; so does the reference.
      const g = randn(c.n, 100 + step, 0.5).map(Math.fround);
      const G = Tensor.fromData(g, [c.n]);
      const before = getDevice().counters.buffersCreated;
      const names = kernelsDispatched(getDevice(), () => adamwStep(P, G, M, V, { ...c.opts, step }, variant));
      if (step === 1) t.ok(names.some((k) => k === `adamw.adamw4${variant.name === 'texture' ? '_texture' : ''}`),
        `ran ${names.join(', ')}`);
      created += getDevice().counters.buffersCreated - before;
      G.dispose();
      refStep(p, g, m, v, c.opts.lr, b1, b2, c.opts.eps ?? 1e-8, c.opts.weightDecay ?? 0.01, step);
    }
    // f32 tolerances: 1e-6 relative, plus an absolute term for values that cancel to near zero
    // (m sums terms of size |g| ~ 0.5, so its rounding is ~1e-7 absolute).
    const got3: Uint32Array[] = [];
    for (const [name, T, want, atol] of [['param', P, p, 1e-7], ['m', M, m, 1e-7], ['v', V, v, 1e-9]] as const) {
      const got = await T.toArray();
      got3.push(new Uint32Array(got.buffer));
      const { ratio, at } = worst(got, want, atol, 1e-6);
      t.ok(ratio <= 1, `${name} after 3 steps: error ratio ${ratio.toFixed(3)}` +
        (ratio > 1 ? ` at ${at}: got ${got[at]}, want ${want[at]}` : ''));
    }
    // Identity, not t.same: two GPUBuffer objects compare as "same" by their (empty) own fields.
    [P, M, V].forEach((x, i) => t.equal(x.buffer, buffers[i], `${['param', 'm', 'v'][i]} updated in place (the same GPUBuffer)`));
    t.not(buffers[0], buffers[1], 'the check can tell buffers apart');
    t.equal(created, 0, 'no new buffers for the update itself');
    const first = bits.get(c.name);
    if (first) t.same(got3, first, `the same bits as ${variants[0].name}`);
    else bits.set(c.name, got3);
    for (const x of [P, M, V]) x.dispose();
  });
}

// Packed parameters: a group of them (each window at its 256-byte-aligned place in one buffer) is
// one dispatch, and gives the bits of the update tensor by tensor; a group where a parameter has
// no gradient leaves that parameter alone (as torch does), parameter by parameter.
t.test('ParamPack: one dispatch per group, the same bits as tensor by tensor', async (t) => {
  // 300001 floats is past the 1 MiB binding cap: a group of its own, updated in two windows.
  const sizes = [[8, 12], [768], [3, 5, 4], [300001], [64]];
  const data = sizes.map((s, i) => randn(s.reduce((a, b) => a * b, 1), 20 + i).map(Math.fround));
  const packed = data.map((d, i) => Tensor.fromData(d, sizes[i]));
  const alone = data.map((d, i) => Tensor.fromData(d, sizes[i]));
  const pack = new ParamPack(packed);
  const m = pack.zeros();
  const v = pack.zeros();
  const mv = alone.map((p) => [zeros(p.shape), zeros(p.shape)]);
  const opts = { lr: 1e-2, weightDecay: 0.1 };
  for (let step = 1; step <= 2; step++) {
    // Step 2: the last parameter has no gradient, so its group goes parameter by parameter.
    const grads = data.map((d, i) => (step === 2 && i === 4 ? null : Tensor.fromData(randn(d.length, 40 + 10 * step + i, 0.5), sizes[i])));
    const names = kernelsDispatched(getDevice(), () => pack.adamw(grads, m, v, { ...opts, step }));
    // Groups, in order: [the first three] (under 262144 floats), [the 300001] (two windows, the
    // second's last float in adamw1), [the last].
    if (step === 1) t.equal(names.length, 1 + 3 + 1, `step 1: a dispatch per group and window (${names.join(', ')})`);
    if (step === 2) t.equal(names.length, 1 + 3, `step 2: the last group left alone (${names.join(', ')})`);
    grads.forEach((g, i) => {
      if (g) adamwStep(alone[i], g, mv[i][0], mv[i][1], { ...opts, step });
      g?.dispose();
    });
  }
  for (let i = 0; i < sizes.length; i++) {
    for (const [what, a, b] of [['param', packed[i], alone[i]], ['m', m.views[i], mv[i][0]], ['v', v.views[i], mv[i][1]]] as const) {
      const got = new Uint32Array((await a.toArray()).buffer);
      const want = new Uint32Array((await b.toArray()).buffer);
      t.same(got, want, `parameter ${i} [${sizes[i]}] ${what}: the same bits`);
    }
  }
  t.same(await packed[4].toArray(), await alone[4].toArray(), 'the parameter without a gradient is left alone');
  for (const x of [...packed, ...alone, ...mv.flat(), ...m.flat, ...m.views, ...v.flat, ...v.views]) x.dispose();
  pack.dispose();
});

t.test('rejects mismatched shapes and bad steps', async (t) => {
  const a = Tensor.fromData([1, 2, 3, 4], [4]);
  const b = Tensor.fromData([1, 2, 3], [3]);
  t.throws(() => adamwStep(a, b, a, a, { lr: 1e-3, step: 1 }), /grad has shape/);
  t.throws(() => adamwStep(a, a, a, a, { lr: 1e-3, step: 0 }), /step must be/);
  a.dispose();
  b.dispose();
});
