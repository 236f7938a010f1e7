// Cold compile of each llvmpipe matmul variant a GPT-2 training step uses, at small shapes: the first
// dispatch's wall and process CPU seconds (Mesa's JIT compiles there). Run with a cold cache:
//   MESA_SHADER_CACHE_DISABLE=true npx tsx bench/matmul-cold.ts
import { closeDevice, matmul, noGrad, Tensor } from '../engine/index.ts';
import { currentOrOpenDevice } from './common.ts';
const { device } = await currentOrOpenDevice();
const cases: [string, number[], number[], boolean, boolean][] = [
  ['t00 v111 k1 (x·W, aligned)', [64, 768], [768, 64], false, false],
  ['t01 v111 k1 (dy·Wᵀ, aligned)', [64, 768], [64, 768], false, true],
  ['t10 v111 k1 (xᵀ·dy, aligned)', [64, 64], [64, 128], true, false],
  ['t01 v110 (logits: C rows unaligned)', [64, 768], [66, 768], false, true],
  ['t00 v011 k0 (dX of head: A unaligned, K tail)', [64, 770], [770, 64], false, false],
  ['t10 v011 k1 (dW of head: A unaligned)', [64, 66], [64, 128], true, false],
  ['t01 v000 k0 (both unaligned, 16x16)', [64, 770], [66, 770], false, true],
];
for (const [name, as, bs, ta, tb] of cases) {
  const a = Tensor.fromData(new Float32Array(as[0] * as[1]).fill(1), as);
  const b = Tensor.fromData(new Float32Array(bs[0] * bs[1]).fill(1), bs);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const c = noGrad(() => matmul(a, b, { transA: ta, transB: tb }));
  await c.toArray();
  const cu = process.cpuUsage(c0);
  console.log(`${name.padEnd(48)} first dispatch ${((performance.now() - t0) / 1000).toFixed(2)} s wall, ` +
    `${((cu.user + cu.system) / 1e6).toFixed(2)} s CPU`);
  for (const x of [a, b, c]) x.dispose();
}
closeDevice(device);
process.exit(0);
