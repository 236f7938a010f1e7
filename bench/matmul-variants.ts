// The matmul pipelines (kernel + override constants) one training step of a preset compiles, with
// how often each is dispatched: random weights, one step (forward, backward, AdamW).
//   npx tsx bench/matmul-variants.ts tiny 4 64     (config, batch, tokens)
import { backward, Tensor, tidy } from '../engine/index.ts';
import { currentOrOpenDevice } from './common.ts';
import { randomGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';
import { AdamW } from '../train/run/optim.ts';
const { device } = await currentOrOpenDevice();
const [name, B, T] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const seen = new Map<string, number>();
const orig = device.dispatch.bind(device);
device.dispatch = (d) => {
  if (d.kernel.name.startsWith('matmul')) {
    const key = `${d.kernel.name} ${JSON.stringify(d.constants ?? {})}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return orig(d);
};
const model = randomGPT(getConfig(name));
const opt = new AdamW([...model.params.values()], { lr: 1e-4 });
const ids = new Int32Array(B * T).map((_, i) => (i * 7919) % 50257);
const x = Tensor.fromData(ids, [B, T], 'i32');
const y = Tensor.fromData(ids.map((v) => (v + 1) % 50257), [B, T], 'i32');
const c0 = process.cpuUsage();
const t0 = performance.now();
const before = device.counters.pipelinesCompiled;
const l = tidy(() => { const l = model.loss(x, y); backward(l); return l; });
opt.update();
console.log('loss', await l.item());
const cu = process.cpuUsage(c0);
console.log(`${name} B=${B} T=${T}: first step ${((performance.now() - t0) / 1000).toFixed(1)} s wall, ` +
  `${((cu.user + cu.system) / 1e6).toFixed(1)} s CPU; pipelines ${device.counters.pipelinesCompiled - before}, ` +
  `matmul pipelines ${seen.size}`);
for (const [k, n] of seen) console.log(`  ${n}x ${k}`);
process.exit(0);
