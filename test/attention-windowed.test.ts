// Flash attention bound in windows of whole batch·heads: a device whose bindings are capped at
// 4 KiB, so q, k, v, O, dO and the gradients span several windows (aligned-down starts, shifted in
// the kernel), and L, D windows of their own. Forward and gradients against the f64 reference.
import t from 'tap';
import { flashAttention, ShapeError, Tensor, tidy } from '../engine/index.ts';
import { checkOp } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';

await withDevice(t, { maxStorageBufferBindingSize: 4096 });

function attentionRef(q: Float64Array, k: Float64Array, v: Float64Array, bh: number, T: number, dh: number): Float64Array {
  const out = new Float64Array(bh * T * dh);
  const sc = 1 / Math.sqrt(dh);
  for (let b = 0; b < bh; b++) {
    const o = b * T * dh;
    for (let i = 0; i < T; i++) {
      const s = Array.from({ length: i + 1 }, (_, j) => {
        let a = 0;
        for (let d = 0; d < dh; d++) a += q[o + i * dh + d] * k[o + j * dh + d];
        return a * sc;
      });
      const m = Math.max(...s);
      const p = s.map((x) => Math.exp(x - m));
      const l = p.reduce((x, y) => x + y, 0);
      for (let j = 0; j <= i; j++) for (let d = 0; d < dh; d++) out[o + i * dh + d] += (p[j] / l) * v[o + j * dh + d];
    }
  }
  return out;
}

// [2, 3, 33, 8]: 1056 bytes a head, 3 heads a window (vec4 path); [1, 5, 40, 6]: 960 bytes a head, 4 a window (scalar path).
for (const shape of [[2, 3, 33, 8], [1, 5, 40, 6]]) {
  const [B, H, T, dh] = shape;
  await checkOp(t, `flash attention ${JSON.stringify(shape)} under a 4 KiB binding cap`, {
    inputs: [{ shape }, { shape }, { shape }],
    gpu: (q, k, v) => flashAttention(q, k, v),
    cpu: (q, k, v) => attentionRef(q, k, v, B * H, T, dh),
  });
}

t.test('a head larger than one binding is a clear error', async (t) => {
  t.throws(() => tidy(() => {
    const x = Tensor.empty([1, 1, 64, 32]);
    flashAttention(x, x, x);
  }), ShapeError);
});
