// A training loop must keep GPU memory flat: every intermediate is freed deterministically.
import t from 'tap';
import { assign, backward, keep, matmul, mean, mul, noGrad, param, scale, sub, Tensor, tidy } from '../engine/index.ts';
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
  // The same dispatches over the same pooled buffers reuse their bind groups (engine/device.ts).
  t.equal(device.counters.bindGroupsCreated, groupsAt10, 'no bind group created after warm-up');
  t.ok(losses[99] < losses[0] * 0.8, `the loss falls (${losses[0].toFixed(3)} -> ${losses[99].toFixed(3)})`);
});
