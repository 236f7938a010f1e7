// What wgpt's kernels need of an adapter (engine/device/limits.ts KERNEL_NEEDS): an adapter below it
// is refused when the device opens, in one sentence that names the limit, and every kernel a
// training step, the optimizer and generation dispatch stays within KERNEL_NEEDS (so an adapter that
// passes the check runs them; CI runs this on llvmpipe's kernel set and on lavapipe's GPU set).
import t from 'tap';
import { backward, getDevice, keep, Tensor, tidy, type Device } from '../engine/index.ts';
import { adapterShortfall, KERNEL_NEEDS } from '../engine/device/limits.ts';
import type { Kernel } from '../kernels/kernel.ts';
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

/** The storage buffers a kernel binds (its uniform and textures apart). */
const storageBuffers = (k: Kernel): number => k.slots.filter((s) => s !== 'texture').length;

/** Invocations per workgroup of a kernel run with these override constants: the product of its
 *  @workgroup_size, each term a literal or an override (NaN for any other expression: a failure). */
function workgroupInvocations(k: Kernel, constants?: Readonly<Record<string, number>>): number {
  const size = /@workgroup_size\(([^)]*)\)/.exec(k.code);
  if (!size) return Number.NaN;
  return size[1].split(',').reduce((n, term) => {
    const s = term.trim();
    return n * (/^\d+u?$/.test(s) ? Number.parseInt(s, 10) : Number(constants?.[s] ?? k.overrides?.[s]));
  }, 1);
}

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
