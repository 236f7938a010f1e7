// One real-size case: gathering from GPT-2's token embedding [50257, 768] (147 MiB, past a 128 MiB
// binding limit, so bound in two windows of rows) and its backward. The 128 MiB cap is the software
// adapter's own limit, pinned so a GPU with 2 GiB bindings runs the same windows.
import t from 'tap';
import { backward, embedding, getDevice, param, Tensor, tidy } from '../engine/index.ts';
import { randn } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';

const device = await withDevice(t, { maxStorageBufferBindingSize: 128 << 20 });
const V = 50257;
const D = 768;

t.test('embedding from a [50257, 768] weight', async (t) => {
  t.ok(V * D * 4 > device.limits.maxStorageBufferBindingSize, 'the table exceeds one binding');
  const w = new Float32Array(V * D);
  for (let i = 0; i < w.length; i++) w[i] = (Math.imul(i, 2654435761) >>> 0) / 2 ** 32 - 0.5;
  const weight = param(Tensor.fromData(w, [V, D]));
  // Ids on both sides of the window boundary, the last row, and repeats.
  const perWindow = Math.floor((device.limits.maxStorageBufferBindingSize / 4 - device.limits.minStorageBufferOffsetAlignment / 4 + 1) / D);
  const ids = [0, perWindow - 1, perWindow, V - 1, 7, perWindow, 0, V - 1];
  const idsT = Tensor.fromData(ids, [2, 4], 'i32');
  const g = randn(ids.length * D, 5);
  const out = tidy(() => {
    const y = embedding(weight, idsT);
    backward(y, Tensor.fromData(g, y.shape));
    return y;
  });
  const got = await out.toArray();
  t.same(out.shape, [2, 4, D]);
  let bad = 0;
  ids.forEach((id, p) => {
    for (let c = 0; c < D; c++) if (got[p * D + c] !== w[id * D + c]) bad++;
  });
  t.equal(bad, 0, 'forward rows are exact copies');
  const dw = weight.grad!;
  const readRow = async (r: number): Promise<Float32Array> =>
    new Float32Array(await getDevice().read(dw.buffer, r * D * 4, D * 4, 'dW row'));
  for (const id of new Set(ids)) {
    const want = new Float64Array(D);
    ids.forEach((x, p) => {
      if (x === id) for (let c = 0; c < D; c++) want[c] += Math.fround(g[p * D + c]);
    });
    const row = await readRow(id);
    let worst = 0;
    for (let c = 0; c < D; c++) worst = Math.max(worst, Math.abs(row[c] - want[c]));
    t.ok(worst < 1e-6, `dW row ${id}: error ${worst}`);
  }
  for (const r of [1, perWindow - 2, perWindow + 1, V - 2]) {
    t.ok((await readRow(r)).every((x) => x === 0), `dW row ${r} is zero`);
  }
  for (const x of [out, dw, weight, idsT]) x.dispose();
});
