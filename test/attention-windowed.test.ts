// Flash attention bound in windows of whole batch·heads: a device whose bindings are capped at
// 4 KiB, so q, k, v, O, dO and the gradients span several windows (aligned-down starts, shifted in
// the kernel), and L, D windows of their own. Forward and gradients against the f64 reference.
import t from 'tap';
import { flashAttention, ShapeError, Tensor, tidy } from '../engine/index.ts';
import { checkOp } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';
import { attentionRef } from './helpers/ref.ts';

await withDevice(t, { maxStorageBufferBindingSize: 4096 });


// [2, 3, 33, 8]: 1056 bytes a head, 3 heads a window (vec4 path); [1, 5, 40, 6]: 960 bytes a head, 4 a window (scalar path).
for (const shape of [[2, 3, 33, 8], [1, 5, 40, 6]]) {
  const [B, H, T, dh] = shape;
  t.test(`flash attention ${JSON.stringify(shape)} under a 4 KiB binding cap`, (t) => checkOp(t,
    `flash attention ${JSON.stringify(shape)} under a 4 KiB binding cap`, {
    inputs: [{ shape }, { shape }, { shape }],
    gpu: (q, k, v) => flashAttention(q, k, v),
    cpu: (q, k, v) => attentionRef(q, k, v, B * H, T, dh),
  }));
}

t.test('a head larger than one binding is a clear error', async (t) => {
  t.throws(() => tidy(() => {
    const x = Tensor.empty([1, 1, 64, 32]);
    flashAttention(x, x, x);
  }), ShapeError);
});
