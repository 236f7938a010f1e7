// Forward, forward+backward and a whole training step (+ AdamW) of a GPT-2 model at the chapter's
// batch shape (8 x 64 tokens), random weights, every target counted:
//   npx tsx bench/gpt2-forward.ts [gpt2|tiny|...] [reps]
import { backward, closeDevice, keep, noGrad, openDevice, Tensor, tidy } from '../engine/index.ts';
import { randomGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';
import { AdamW } from '../train/run/optim.ts';

const name = process.argv[2] ?? 'gpt2';
const device = await openDevice();
const model = randomGPT(getConfig(name), 1);
const opt = new AdamW([...model.params.values()], { lr: 1e-4, weightDecay: 0.1 });
const reps = Number(process.argv[3] ?? 2);
const [B, T] = [8, 64];
const ids = Tensor.fromData(Array.from({ length: B * T }, (_, i) => (i * 7919) % 50257), [B, T], 'i32');
const targets = Tensor.fromData(Array.from({ length: B * T }, (_, i) => (i * 104729) % 50257), [B, T], 'i32');
async function time(fn: () => Tensor, update: boolean): Promise<number> {
  const t0 = performance.now();
  const l = tidy(() => keep(fn()));
  if (update) opt.update();
  await l.item();
  l.dispose();
  opt.zeroGrad();
  return performance.now() - t0;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lossAndGrad = (): Tensor => {
  const l = model.loss(ids, targets);
  backward(l);
  return l;
};
const runs: Record<string, number[]> = { forward: [], forward_backward: [], step: [] };
for (let r = 0; r <= reps; r++) {
  const f = await time(() => noGrad(() => model.loss(ids, targets)), false);
  const b = await time(lossAndGrad, false);
  const s = await time(lossAndGrad, true);
  if (r === 0) continue; // warm-up: compiles and fills the buffer pool
  runs.forward.push(f);
  runs.forward_backward.push(b);
  runs.step.push(s);
}
const stepMs = median(runs.step);
console.log(JSON.stringify({
  model: name, B, T, forward_ms: median(runs.forward), forward_backward_ms: median(runs.forward_backward), step_ms: stepMs,
  tokens_per_s: (B * T) / (stepMs / 1000), runs,
}));
closeDevice(device);
process.exit(0);
