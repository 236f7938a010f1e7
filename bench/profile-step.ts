// Where a training step's time goes: runs `step/<config>` (bench/step.ts's configs, seeded weights)
// with WGPT_PROFILE=1 and prints per kernel the GPU ms and dispatch count of one steady step (after a
// warm-up step). The kernel times are GPU timestamps where the adapter has `timestamp-query`, else
// each dispatch is submitted alone and timed to its completion (engine/device/profiler.ts).
//   WGPT_PROFILE=1 npx tsx bench/profile-step.ts [small|gpt2] [lora]   (lora: rank-16 adapters on attn+mlp)
import { backward, closeDevice, openDevice, Tensor, tidy } from '../engine/index.ts';
import { setting } from '../engine/settings.ts';
import { randomGPT } from '../model/build.ts';
import { initLora, loraSpec } from '../model/lora.ts';
import { AdamW } from '../train/run/optim.ts';
import { peerBatch } from './peers/weights.ts';
import { SEED, STEP_CONFIGS } from './step.ts';

if (!setting('WGPT_PROFILE')) throw new Error('run with WGPT_PROFILE=1');
const name = process.argv[2] ?? 'small';
const c = STEP_CONFIGS[name];
const device = await openDevice();
const model = randomGPT({ vocabSize: c.vocab, contextLength: c.T, dModel: c.dModel, nLayers: c.nLayers, nHeads: c.nHeads,
  layerNormEps: 1e-5, dropout: 0, tiedHead: true }, SEED);
if (process.argv[3] === 'lora') model.useAdapters(initLora(model.config, loraSpec(16), SEED));
const opt = new AdamW([...model.trainable().values()], { lr: 1e-4, weightDecay: 0.1 });
const b = peerBatch(c, SEED);
const ids = Tensor.fromData(b.inputs, [c.B, c.T], 'i32');
const targets = Tensor.fromData(b.targets, [c.B, c.T], 'i32');
const step = async (): Promise<number> => {
  const l = tidy(() => { const x = model.loss(ids, targets); backward(x); return x; });
  opt.update();
  const v = await l.item();
  l.dispose();
  return v;
};
await step();
device.profile!.clear();
const t0 = performance.now();
const loss = await step();
await device.finish('profile');
const wall = performance.now() - t0;
const entries = [...device.profile!.entries()].sort((a, b) => b[1].ms - a[1].ms);
const total = entries.reduce((s, [, e]) => s + e.ms, 0);
console.log(`step/${name}: ${wall.toFixed(0)} ms wall (profiled: ${device.profileMode}), ` +
  `kernels ${total.toFixed(0)} ms, loss ${loss.toFixed(5)}`);
for (const [k, e] of entries) console.log(`${k.padEnd(48)} ${e.ms.toFixed(1).padStart(9)} ms ` +
  `${(100 * e.ms / total).toFixed(1).padStart(5)}%  ${String(e.n).padStart(5)} dispatches`);
closeDevice(device);
process.exit(0);
