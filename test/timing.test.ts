// Timing is honest on any adapter: Device.finish() waits for the GPU (on a real GPU submit returns
// at once, so a timing that ends on submit or on error scopes measures nothing), and WGPT_PROFILE
// times each kernel to its completion.
import t from 'tap';
import { closeDevice, matmul, noGrad, openDevice, Tensor, tidy } from '../engine/index.ts';
import { randn } from './helpers/opcheck.ts';

t.test('finish() waits for the queue to finish its work, after submitting it', async (t) => {
  const device = await openDevice();
  t.teardown(() => closeDevice(device));
  const queue = device.gpu.queue;
  const done = queue.onSubmittedWorkDone.bind(queue);
  const calls: string[] = [];
  queue.onSubmittedWorkDone = () => {
    calls.push(`done-wait after ${device.counters.submits} submits`);
    return done();
  };
  t.teardown(() => void (queue.onSubmittedWorkDone = done));
  const x = Tensor.fromData(randn(64, 1), [8, 8]);
  noGrad(() => tidy(() => void matmul(x, x)));
  const submits = device.counters.submits;
  await device.finish('test');
  t.same(calls, [`done-wait after ${submits + 1} submits`], 'recorded work is submitted, then waited for');
  await device.sync('test');
  t.equal(calls.length, 1, 'sync() is not a completion barrier and does not claim to be');
  x.dispose();
});

t.test('WGPT_PROFILE gives each kernel its time and dispatch count', async (t) => {
  const saved = process.env.WGPT_PROFILE;
  process.env.WGPT_PROFILE = '1';
  const device = await openDevice();
  t.teardown(() => {
    closeDevice(device);
    if (saved === undefined) delete process.env.WGPT_PROFILE;
    else process.env.WGPT_PROFILE = saved;
  });
  t.equal(device.profileMode, device.features.includes('timestamp-query') ? 'timestamp' : device.backend === 'software' ? 'sync-submit' : 'completion');
  const a = Tensor.fromData(randn(96 * 64, 2), [96, 64]);
  for (let i = 0; i < 3; i++) noGrad(() => tidy(() => void matmul(a, a, { transB: true })));
  await device.finish('profile');
  const entries = [...device.profile!.entries()];
  t.equal(entries.length, 1, 'one kernel');
  const [name, e] = entries[0];
  t.match(name, /^matmul_/);
  t.equal(e.n, 3, 'three dispatches');
  t.ok(e.ms > 0 && e.ms < 10_000, `a time was measured (${e.ms.toFixed(3)} ms)`);
  a.dispose();
});

t.test('a cached bind group binds the buffers of this dispatch, not stale ones', async (t) => {
  const device = await openDevice();
  t.teardown(() => closeDevice(device));
  const run = async (seed: number): Promise<Float32Array> => {
    const x = Tensor.fromData(randn(16, seed), [4, 4]);
    const y = tidy(() => matmul(x, x));
    const out = (await y.toArray()) as Float32Array;
    // Freed in reverse, so the pool (last in, first out) hands the same buffers to the same roles.
    y.dispose();
    x.dispose();
    return out;
  };
  const first = await run(1);
  const groups = device.counters.bindGroupsCreated;
  const second = await run(2);
  t.equal(device.counters.bindGroupsCreated, groups, 'the repeat created no bind group');
  t.not(first[0], second[0], 'and computed on the new data');
  const x2 = randn(16, 2);
  let want = 0;
  for (let k = 0; k < 4; k++) want += x2[k] * x2[4 * k];
  t.ok(Math.abs(second[0] - want) < 1e-5, 'the right value');
  device.releasePooled();
  const third = await run(2);
  t.same(third, second, 'after the pool is drained (cached groups dropped), the same result');
});
