// addBias: x + (y + bias) in one dispatch, against f64 forward and backward, and bit for bit
// against add(x, add(y, bias)), which it replaces in the model's residual stream.
import t from 'tap';
import { add, addBias, Tensor } from '../engine/index.ts';
import { withDevice } from './helpers/device.ts';
import { checkOp, randn } from './helpers/opcheck.ts';

await withDevice(t);

for (const shape of [[2, 5, 12], [7, 3]]) {
  t.test(`addBias ${JSON.stringify(shape)}`, async (t) => {
    const d = shape[shape.length - 1];
    await checkOp(t, 'addBias', {
      inputs: [{ shape }, { shape }, { shape: [d] }],
      gpu: (x, y, b) => addBias(x, y, b),
      cpu: (x, y, b) => x.map((v, i) => v + (y[i] + b[i % d])),
    });
    const n = shape.reduce((a, b) => a * b, 1);
    const [x, y, b] = [randn(n, 1), randn(n, 2), randn(d, 3)].map((v, i) => Tensor.fromData(v, i === 2 ? [d] : shape));
    const fused = addBias(x, y, b);
    const inner = add(y, b);
    const composed = add(x, inner);
    t.same(new Uint32Array((await fused.toArray()).buffer), new Uint32Array((await composed.toArray()).buffer),
      'the bits of add(x, add(y, bias))');
    for (const z of [x, y, b, fused, inner, composed]) z.dispose();
  });
}
