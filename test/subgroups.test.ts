// The row reductions' subgroup build (kernels/rows-subgroups.wgsl: subgroupAdd / subgroupMax, then
// the subgroups' partials through workgroup memory), checked against the f64 references where the
// adapter has `subgroups` (lavapipe, a real GPU): with the software kernels' 8-invocation rows (one
// subgroup on llvmpipe, no barrier) and the GPU kernels' 64 and 256 (several subgroups, and on
// llvmpipe more partials than lanes, so the partials loop runs). Where the adapter has no
// subgroups, the workgroup-memory build runs and asking for subgroups is a clear error.
import t, { type Test } from 'tap';
import {
  argmax, closeDevice, crossEntropy, layerNorm, openDevice, softmax, Tensor, tidy, type Device,
} from '../engine/index.ts';
import { rowWorkgroup } from '../engine/ops/util.ts';
import { checkOp, randn } from './helpers/opcheck.ts';
import { kernelsDispatched, slowReadbacks } from './helpers/device.ts';
import { crossEntropyRef, layerNormRef, softmaxRef } from './helpers/ref.ts';

async function open(t: Test, kernels: 'software' | 'gpu'): Promise<Device> {
  const device = await openDevice({ kernels });
  slowReadbacks(device);
  t.teardown(() => closeDevice(device));
  return device;
}

for (const kernels of ['software', 'gpu'] as const) {
  t.test(`subgroup row reductions, ${kernels} row workgroups`, async (t) => {
    const device = await open(t, kernels);
    if (!device.features.includes('subgroups')) {
      t.skip(`no subgroups on ${device.adapterDescription} (${device.backend}): the workgroup-memory build runs`, () => {});
      return;
    }
    t.ok(device.subgroups, 'on by default where the adapter has them');
    const wg = rowWorkgroup(64, device);
    t.comment(`rows of ${wg} and ${rowWorkgroup(256, device)} invocations, subgroups of at least ${device.subgroupMinSize}`);
    const x = Tensor.fromData(randn(3 * 40, 1), [3, 40]);
    t.same(kernelsDispatched(device, () => tidy(() => void softmax(x))), ['softmax.forward+subgroups'], 'the subgroup build runs');
    device.subgroups = false;
    t.same(kernelsDispatched(device, () => tidy(() => void softmax(x))), ['softmax.forward'], 'turned off: the tree build');
    device.subgroups = true;
    x.dispose();

    await checkOp(t, 'causal softmax [2, 40, 40]', {
      inputs: [{ shape: [2, 40, 40] }],
      gpu: (x) => softmax(x, { causal: true }),
      cpu: (x) => softmaxRef(x, 40, true),
    });
    await checkOp(t, 'layerNorm [5, 300]', {
      inputs: [{ shape: [5, 300] }, { shape: [300] }, { shape: [300] }],
      gpu: (x, w, b) => layerNorm(x, w, b),
      cpu: (x, w, b) => layerNormRef(x, w, b, 300, 1e-5),
    });
    // Row 0's target is confident (p > 1/2): its gradient comes from the sum of the others.
    const [n, v] = [6, 700];
    const tg = [3, -100, 699, 0, 512, 17];
    const logits = randn(n * v, 5);
    logits[3] = 12;
    await checkOp(t, 'crossEntropy [6, 700]', {
      inputs: [{ shape: [n, v], data: logits }, { shape: [n], dtype: 'i32', data: tg }],
      gpu: (x, y) => crossEntropy(x, y),
      cpu: (x) => crossEntropyRef(x, v, tg),
    });

    // argmax: ties across lanes and subgroups go to the first maximum; a row of one value too.
    const len = 1000;
    const a = Float32Array.from(randn(4 * len, 7));
    a[900] = 9;
    a[13] = 9;
    a[450] = 9;
    a[len + len - 1] = 8;
    a[len + 5 * wg + 3] = 8;
    a.fill(-3.4028234663852886e38, 2 * len, 3 * len);
    const want = [0, 1, 2, 3].map((r) => {
      let best = 0;
      for (let j = 1; j < len; j++) if (a[r * len + j] > a[r * len + best]) best = j;
      return best;
    });
    const ids = tidy(() => argmax(Tensor.fromData(a, [4, len])));
    const got = Array.from(await ids.toArray());
    ids.dispose();
    t.same(got, want, 'argmax');
    t.same(got.slice(0, 3), [13, 5 * wg + 3, 0], 'ties go to the first maximum, across subgroups');
  });
}

t.test('a device without subgroups, or with them turned off, runs the workgroup-memory build', async (t) => {
  const device = await openDevice({ subgroups: false });
  t.teardown(() => closeDevice(device));
  t.notOk(device.subgroups, 'off when asked');
  if (device.features.includes('subgroups')) {
    t.doesNotThrow(() => void (device.subgroups = true), 'and on again: the adapter has them');
  } else {
    t.throws(() => void (device.subgroups = true), { message: /has no subgroups feature/ });
  }
  device.subgroups = false;
  const x = Tensor.fromData(randn(8, 2), [2, 4]);
  t.same(kernelsDispatched(device, () => tidy(() =>
    void layerNorm(x, Tensor.fromData([1, 1, 1, 1], [4]), Tensor.fromData([0, 0, 0, 0], [4])))),
    ['norm.forward']);
  x.dispose();
});
