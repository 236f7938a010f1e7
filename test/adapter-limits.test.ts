// What wgpt's kernels need of an adapter (engine/device/limits.ts KERNEL_NEEDS): an adapter below it
// is refused when the device opens, in one sentence that names the limit; a kernel past the limits
// in force is refused in one sentence that names it, before any WebGPU validation error; and every
// kernel a training step, generation and the optimizer dispatch stays within KERNEL_NEEDS.
import t from 'tap';
import { AdapterTooSmallError, backward, getDevice, keep, Tensor, tidy, type Device } from '../engine/index.ts';
import { adapterShortfall, KERNEL_NEEDS } from '../engine/device/limits.ts';
import { kernel, storageBuffers, workgroupInvocations, type Kernel } from '../kernels/kernel.ts';
import { randomGPT } from '../model/build.ts';
import { generate } from '../model/generate.ts';
import { AdamW } from '../train/run/optim.ts';
import { withDevice } from './helpers/device.ts';

const device = await withDevice(t);

t.test('an adapter below the kernels\' needs is named in one sentence', async (t) => {
  const compat = { maxStorageBuffersPerShaderStage: 4, maxComputeInvocationsPerWorkgroup: 128 };
  t.equal(adapterShortfall(compat, 'a phone'), 'this GPU adapter (a phone) is too small for wgpt: it allows 4 storage ' +
    'buffers per shader stage and 128 invocations per workgroup, where wgpt\'s kernels need 8 and 256');
  t.match(adapterShortfall({ ...compat, maxComputeInvocationsPerWorkgroup: 256 }, 'x'), /allows 4 storage buffers per shader stage, where/);
  t.equal(adapterShortfall(KERNEL_NEEDS, 'core'), null, 'WebGPU\'s core defaults are enough');
  t.equal(adapterShortfall(device.limits, device.adapterDescription), null, 'and so is this adapter');
});

t.test('a kernel past the limits in force is refused in one sentence, naming it', async (t) => {
  const n = device.limits.maxStorageBuffersPerShaderStage + 1;
  const bindings = Object.fromEntries(Array.from({ length: n }, (_, i) => [`b${i}`, 'read f32' as const]));
  const wide = kernel('test.wide', 'main', { params: {}, bindings }, '@compute @workgroup_size(1) fn main() {}');
  t.equal(storageBuffers(wide), n);
  const xs = Array.from({ length: n }, () => Tensor.empty([4]));
  t.throws(() => device.dispatch({ kernel: wide, label: 'wide', params: {}, bindings: xs.map((x) => x.bind()), workgroups: [1, 1, 1] }),
    new AdapterTooSmallError(`this GPU adapter is too small for wgpt's kernel test.wide: it needs ${n} storage buffers ` +
      `(the adapter allows ${n - 1} per shader stage)`));
  const size = device.limits.maxComputeInvocationsPerWorkgroup * 2;
  const big = kernel('test.big', 'main', { params: {}, bindings: { y: 'read_write f32' }, overrides: { WG: 64 } },
    '@compute @workgroup_size(WG, 2) fn main() {}');
  t.equal(workgroupInvocations(big), 128, 'the override\'s default');
  t.throws(() => device.dispatch({ kernel: big, label: 'big', params: {}, bindings: [xs[0].bind()], constants: { WG: size / 2 }, workgroups: [1, 1, 1] }),
    /^this GPU adapter is too small for wgpt's kernel test\.big: it needs \d+ invocations a workgroup \(the adapter allows \d+\)$/);
  for (const x of xs) x.dispose();
  await device.finish();
});

/** Every (kernel, constants) that fn dispatches. */
async function dispatched(d: Device, fn: () => Promise<void>): Promise<[Kernel, Readonly<Record<string, number>> | undefined][]> {
  const seen: [Kernel, Readonly<Record<string, number>> | undefined][] = [];
  const dispatch = d.dispatch.bind(d);
  d.dispatch = (x) => {
    seen.push([x.kernel, x.constants]);
    dispatch(x);
  };
  try {
    await fn();
  } finally {
    d.dispatch = dispatch;
  }
  return seen;
}

t.test('every kernel of a training step, the optimizer and generation stays within KERNEL_NEEDS', async (t) => {
  const model = randomGPT({ vocabSize: 96, contextLength: 16, dModel: 32, nLayers: 1, nHeads: 2, layerNormEps: 1e-5, dropout: 0.1,
    tiedHead: true });
  const opt = new AdamW([...model.trainable().values()], { lr: 1e-3, weightDecay: 0.1 });
  const seen = await dispatched(getDevice(), async () => {
    const ids = keep(Tensor.fromData(Array.from({ length: 32 }, (_, i) => i % 96), [2, 16], 'i32'));
    const loss = tidy(() => {
      const l = model.loss(ids, ids, { train: true, dropoutSeed: 1 });
      backward(l);
      return l;
    });
    opt.update();
    await loss.item();
    loss.dispose();
    ids.dispose();
    await generate(model, [1, 2, 3], { maxNewTokens: 3 });
  });
  t.ok(seen.length > 30, `${seen.length} dispatches`);
  const over = seen.filter(([k, c]) => storageBuffers(k) > KERNEL_NEEDS.maxStorageBuffersPerShaderStage ||
    !(workgroupInvocations(k, c) <= KERNEL_NEEDS.maxComputeInvocationsPerWorkgroup)).map(([k]) => k.name);
  t.same([...new Set(over)], [], `within ${JSON.stringify(KERNEL_NEEDS)}`);
  opt.dispose();
  model.dispose();
});
