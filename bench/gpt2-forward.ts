// Forward and forward+backward time of a GPT-2 model at the chapter's batch shape (8 x 64 tokens),
// random weights: `npx tsx bench/gpt2-forward.ts [gpt2|tiny] [reps]`.
import { backward, closeDevice, keep, noGrad, openDevice, Tensor, tidy } from '../engine/index.ts';
import { randomGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';

const device = await openDevice();
const model = randomGPT(getConfig(process.argv[2] ?? 'gpt2'), 1);
const reps = Number(process.argv[3] ?? 2);
const [B, T] = [8, 64];
const ids = Tensor.fromData(Array.from({ length: B * T }, (_, i) => (i * 7919) % 50257), [B, T], 'i32');
const targets = Tensor.fromData(Array.from({ length: B * T }, (_, i) => (i * 104729) % 50257), [B, T], 'i32');
async function time(fn: () => Tensor): Promise<number> {
  const t0 = performance.now();
  const l = tidy(() => keep(fn()));
  await l.item();
  l.dispose();
  for (const p of model.params.values()) {
    p.grad?.dispose();
    p.grad = null;
  }
  return performance.now() - t0;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fwd: number[] = [];
const both: number[] = [];
for (let r = 0; r <= reps; r++) {
  const f = await time(() => noGrad(() => model.loss(ids, targets)));
  const b = await time(() => {
    const l = model.loss(ids, targets);
    backward(l);
    return l;
  });
  if (r > 0) {
    fwd.push(f);
    both.push(b);
  }
}
console.log(JSON.stringify({ model: process.argv[2] ?? 'gpt2', B, T, forward_ms: median(fwd), forward_backward_ms: median(both), forward_all: fwd, both_all: both }));
closeDevice(device);
process.exit(0);
