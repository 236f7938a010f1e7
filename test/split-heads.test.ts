// splitHeads: attention's q, k, v [B, H, T, Dh] out of qkv [B, T, 3·D] in one dispatch, for
// generation (forward only: training attends on qkv itself), against the reference of split +
// reshape + permute; every element moved, so the values are exact.
import t from 'tap';
import { param, splitHeads, Tensor, WgptError } from '../engine/index.ts';
import { kernelsDispatched, withDevice } from './helpers/device.ts';

const device = await withDevice(t);

/** qkv [B, T, 3·H·Dh] -> piece s (0 q, 1 k, 2 v) as [B, H, T, Dh], in f64. */
function headsRef(qkv: Float64Array, b: number, tt: number, h: number, dh: number, s: number): Float64Array {
  const d = h * dh;
  const out = new Float64Array(b * h * tt * dh);
  let i = 0;
  for (let bi = 0; bi < b; bi++) for (let hi = 0; hi < h; hi++) for (let ti = 0; ti < tt; ti++) {
    for (let di = 0; di < dh; di++) out[i++] = qkv[(bi * tt + ti) * 3 * d + s * d + hi * dh + di];
  }
  return out;
}

// [2, 16, 3·64] has whole 256-byte thirds (the fused path); [1, 3, 3·10] does not (the composed one).
for (const [b, tt, h, dh] of [[2, 16, 4, 16], [2, 8, 2, 4], [1, 3, 2, 5]]) {
  t.test(`splitHeads [${b}, ${tt}, ${3 * h * dh}] into ${h} heads`, async (t) => {
    const n = b * tt * 3 * h * dh;
    const data = Float64Array.from({ length: n }, (_, i) => i);
    const qkv = Tensor.fromData(data, [b, tt, 3 * h * dh]);
    const fused = (b * tt * h * dh) % 64 === 0;
    let pieces: Tensor[] = [];
    const names = kernelsDispatched(device, () => (pieces = splitHeads(qkv, h)));
    t.same(names, fused ? ['layout.split_heads'] : ['layout.axis_copy', 'layout.axis_copy', 'layout.axis_copy',
      'layout.permute', 'layout.permute', 'layout.permute'], 'its dispatches');
    for (let s = 0; s < 3; s++) {
      t.same(Array.from(await pieces[s].toArray()), Array.from(headsRef(data, b, tt, h, dh, s)),
        `piece ${s}: exact`);
    }
    for (const x of [qkv, ...pieces]) x.dispose();
  });
}

t.test('splitHeads refuses a tensor that needs a gradient, saying what trains', async (t) => {
  const qkv = param(Tensor.fromData(new Float32Array(2 * 16 * 192), [2, 16, 192]));
  t.throws(() => splitHeads(qkv, 4), new WgptError('splitHeads is forward only (generation): to train, attend on qkv with qkvAttention'));
  qkv.dispose();
});
