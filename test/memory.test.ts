// A training loop must keep GPU memory flat: every intermediate is freed deterministically.
import t from 'tap';
import { assign, backward, keep, matmul, mean, mul, noGrad, param, scale, sub, Tensor, tidy, tidyAsync } from '../engine/index.ts';
import { withDevice } from './helpers/device.ts';
import { randn } from './helpers/opcheck.ts';

const device = await withDevice(t);

t.test('100 forward + backward + update steps keep live bytes flat and create no buffers or bind groups', async (t) => {
  const w1 = param(Tensor.fromData(randn(16 * 32, 1, 0.3), [16, 32]));
  const w2 = param(Tensor.fromData(randn(32 * 8, 2, 0.3), [32, 8]));
  const x = Tensor.fromData(randn(64 * 16, 3), [64, 16]);
  const y = Tensor.fromData(randn(64 * 8, 4), [64, 8]);
  const losses: number[] = [];
  let liveAt10 = 0;
  let createdAt10 = 0;
  let groupsAt10 = 0;
  for (let step = 0; step < 100; step++) {
    const loss = tidy(() => {
      const h = matmul(x, w1);
      const err = sub(matmul(mul(h, h), w2), y);
      const l = mean(mul(err, err));
      backward(l);
      noGrad(() => {
        for (const p of [w1, w2]) {
          assign(p, sub(p, scale(p.grad!, 0.01)));
          p.grad!.dispose();
          p.grad = null;
        }
      });
      return keep(l);
    });
    losses.push(await loss.item());
    loss.dispose();
    if (step === 10) {
      liveAt10 = device.counters.liveBytes;
      createdAt10 = device.counters.buffersCreated;
      groupsAt10 = device.counters.bindGroupsCreated;
    }
  }
  t.equal(device.counters.liveBytes, liveAt10, 'live bytes after step 100 equal those after step 10');
  t.equal(device.counters.buffersCreated, createdAt10, 'no GPU buffer created after warm-up');
  // The same dispatches over the same pooled buffers reuse their bind groups (engine/device/recorder.ts).
  t.equal(device.counters.bindGroupsCreated, groupsAt10, 'no bind group created after warm-up');
  t.ok(losses[99] < losses[0] * 0.8, `the loss falls (${losses[0].toFixed(3)} -> ${losses[99].toFixed(3)})`);
});

t.test('tidy and tidyAsync free what fn made before it threw', async (t) => {
  const x = Tensor.fromData(randn(64, 1), [64]);
  const before = device.counters.liveBytes;
  t.throws(() => tidy(() => {
    mul(x, x);
    throw new Error('fn failed');
  }), /fn failed/);
  t.equal(device.counters.liveBytes, before, 'tidy');
  await t.rejects(tidyAsync(async () => {
    mul(x, x);
    await x.toArray();
    throw new Error('fn failed');
  }), /fn failed/);
  t.equal(device.counters.liveBytes, before, 'tidyAsync');
});

t.test('tidyAsync: a readback between forward and backward, then everything made inside is freed', async (t) => {
  const w = param(Tensor.fromData(randn(8 * 4, 5, 0.3), [8, 4]));
  const x = Tensor.fromData(randn(3 * 8, 6), [3, 8]);
  const before = device.counters.liveBytes;
  const seen = await tidyAsync(async () => {
    const y = matmul(x, w);
    const host = await y.toArray(); // the graph must survive this await
    backward(y, Tensor.fromData(host.map((v) => 2 * v), [3, 4])); // d(sum y^2)/dy
    return host;
  });
  t.equal(seen.length, 12);
  const g = await w.grad!.toArray();
  // d/dw sum((xw)^2) = 2 x^T (xw)
  const xs = await x.toArray();
  let worst = 0;
  for (let i = 0; i < 8; i++) for (let j = 0; j < 4; j++) {
    let want = 0;
    for (let r = 0; r < 3; r++) want += 2 * xs[r * 8 + i] * seen[r * 4 + j];
    worst = Math.max(worst, Math.abs(want - g[i * 4 + j]));
  }
  t.ok(worst < 1e-5, `gradient through the awaited graph (max error ${worst})`);
  w.grad!.dispose();
  w.grad = null;
  t.equal(device.counters.liveBytes, before, 'only the gradient outlived the scope');
  // The first scope opened ends first, while the second is still open above it.
  const first = tidyAsync(async () => {
    await new Promise((r) => setTimeout(r, 5));
  });
  const second = tidyAsync(async () => {
    await new Promise((r) => setTimeout(r, 20));
  });
  await t.rejects(first, /scopes ended out of order/, 'interleaved async scopes are refused');
  await second;
  for (const z of [w, x]) z.dispose();
});
