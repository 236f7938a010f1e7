import { backward, keep, openDevice, Tensor, tidy } from './engine/index.ts';
import { randomGPT } from './model/build.ts';
import { getConfig } from './model/config.ts';
import { AdamW } from './train/optim.ts';
const dev = await openDevice();
const model = randomGPT(getConfig(process.argv[2] ?? 'tiny'), 1);
const opt = new AdamW([...model.params.values()], { lr: 1e-3 });
const B = 8, T = 64;
const ids = Tensor.fromData(Array.from({ length: B * T }, (_, i) => (i * 7919) % 50257), [B, T], 'i32');
const tg = Tensor.fromData(Array.from({ length: B * T }, (_, i) => (i * 104729) % 50257), [B, T], 'i32');
for (let s = 0; s < 3; s++) {
  const c0 = {...dev.counters};
  const t0 = performance.now();
  const loss = tidy(() => { const l = model.loss(ids, tg); return keep(l); });
  await dev.sync(); const t1 = performance.now();
  await loss.item(); loss.dispose();
  const l2 = tidy(() => { const l = model.loss(ids, tg); backward(l); return keep(l); });
  await dev.sync(); const t2 = performance.now();
  opt.update(); await dev.sync(); const t3 = performance.now();
  l2.dispose();
  console.log(`fwd ${(t1-t0).toFixed(0)} ms, fwd+bwd ${(t2-t1).toFixed(0)} ms, adamw ${(t3-t2).toFixed(0)} ms`, dev.counters.dispatches-c0.dispatches, dev.counters.submits-c0.submits, dev.counters.buffersCreated-c0.buffersCreated);
}
if (dev.profile) { const rows = [...dev.profile].sort((a,b)=>b[1].ms-a[1].ms); for (const [k,v] of rows.slice(0,25)) console.log(k.padEnd(40), v.ms.toFixed(0).padStart(7), v.n); }
process.exit(0);
