// Flash attention bound in windows of whole batches: a device whose bindings are capped at 4 KiB,
// so qkv, O, dO and dqkv span several windows (aligned-down starts, shifted in the kernel), and L, D
// windows of their own. Forward and gradient against the f64 reference.
import t from 'tap';
import { qkvAttention, ShapeError, Tensor, tidy } from '../engine/index.ts';
import { checkOp } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';
import { qkvAttentionRef } from './helpers/ref.ts';

await withDevice(t, { maxStorageBufferBindingSize: 4096 });

// [B, T, H, Dh]: [3, 10, 2, 8]: 1920 bytes of qkv a batch, 2 batches a window (vec4 path);
// [2, 13, 3, 6]: 2808 bytes a batch, 1 a window (scalar path).
for (const [B, T, H, dh] of [[3, 10, 2, 8], [2, 13, 3, 6]]) {
  const name = `qkvAttention [${B}, ${T}, ${3 * H * dh}], ${H} heads, under a 4 KiB binding cap`;
  t.test(name, (t) => checkOp(t, name, {
    inputs: [{ shape: [B, T, 3 * H * dh] }],
    gpu: (qkv) => qkvAttention(qkv, H),
    cpu: (qkv) => qkvAttentionRef(qkv, B, T, H, dh),
  }));
}

t.test('a batch larger than one binding is a clear error', async (t) => {
  t.throws(() => tidy(() => qkvAttention(Tensor.empty([1, 64, 96]), 1)), ShapeError);
});
