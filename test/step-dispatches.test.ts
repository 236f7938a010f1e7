// The host cost of a training step, counted: a gpt2-shaped step (pre-LN blocks, fused bias+GELU,
// flash attention, tied head, AdamW) at toy sizes, whose dispatches per layer and fixed part give
// the count for 12 layers by arithmetic; and a steady step, which records the same dispatches over
// the same pooled buffers, creates no bind group and no buffer, and is one submit.
import t from 'tap';
import { backward, getDevice, Tensor, tidy } from '../engine/index.ts';
import { randomGPT } from '../model/build.ts';
import { AdamW } from '../train/run/optim.ts';
import { withDevice } from './helpers/device.ts';

await withDevice(t);

/** Dispatches, bind groups, buffers and submits of the 4th step of an nLayers model. */
async function steadyStep(nLayers: number) {
  const model = randomGPT({ vocabSize: 256, contextLength: 16, dModel: 64, nLayers, nHeads: 4, layerNormEps: 1e-5, dropout: 0,
    tiedHead: true });
  const opt = new AdamW([...model.trainable().values()], { lr: 1e-3, weightDecay: 0.1 });
  const ids = Tensor.fromData(Array.from({ length: 32 }, (_, i) => (i * 37) % 256), [2, 16], 'i32');
  const targets = Tensor.fromData(Array.from({ length: 32 }, (_, i) => (i * 11 + 3) % 256), [2, 16], 'i32');
  const c = getDevice().counters;
  let delta = { dispatches: 0, bindGroups: 0, buffers: 0, submits: 0 };
  for (let step = 0; step < 4; step++) {
    const before = { ...c };
    const l = tidy(() => {
      const x = model.loss(ids, targets);
      backward(x);
      return x;
    });
    opt.update();
    await l.item();
    l.dispose();
    delta = {
      dispatches: c.dispatches - before.dispatches, bindGroups: c.bindGroupsCreated - before.bindGroupsCreated,
      buffers: c.buffersCreated - before.buffersCreated, submits: c.submits - before.submits,
    };
  }
  for (const x of [ids, targets]) x.dispose();
  opt.dispose();
  model.dispose();
  return delta;
}

t.test('a gpt2-shaped step: dispatches per layer and in all; a steady step creates no bind group', async (t) => {
  const one = await steadyStep(1);
  const two = await steadyStep(2);
  const perLayer = two.dispatches - one.dispatches;
  const fixed = one.dispatches - perLayer;
  // Per layer: 12 matmuls (4 projections x forward, dA, dB), 6 of layer norm (2 x forward, dx
  // with the residual's gradient added, dweight/dbias), 3 of attention (forward on qkv's own layout
  // adding its bias, D with dQ, dK+dV), 2 residuals with their biases (addBias), 3 bias gradients
  // (qkv's, the residuals'), 2 of bias+GELU (its backward sums the bias gradient); AdamW is one
  // dispatch per group of parameters (ParamPack), none per layer.
  t.equal(perLayer, 28, `${perLayer} dispatches per layer`);
  t.ok(fixed <= 20, `${fixed} dispatches outside the layers`);
  // gpt2 has 12 layers; its 50257-token head binds wte in windows, which adds its own.
  t.comment(`12 layers: ${fixed} + 12 x ${perLayer} = ${fixed + 12 * perLayer} dispatches, before wte's windows`);
  for (const s of [one, two]) {
    t.equal(s.bindGroups, 0, 'a steady step creates no bind group');
    t.equal(s.buffers, 0, 'and no buffer');
    t.equal(s.submits, 1, 'and is one submit (its uploads are recorded before or copied in order)');
  }
});
