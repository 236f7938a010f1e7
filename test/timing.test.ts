// Timing is honest on any adapter: Device.finish() waits for the GPU (on a real GPU submit returns
// at once, so a timing that ends on submit or on error scopes measures nothing), and WGPT_PROFILE
// times each kernel to its completion.
import t, { type Test } from 'tap';
import { add, closeDevice, matmul, noGrad, openDevice, softmax, Tensor, tidy, type Device } from '../engine/index.ts';
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

/** A device opened with WGPT_PROFILE=1, closed (and the variable restored) when the test ends. */
async function profiledDevice(t: Test): Promise<Device> {
  const saved = process.env.WGPT_PROFILE;
  process.env.WGPT_PROFILE = '1';
  const device = await openDevice();
  t.teardown(() => {
    closeDevice(device);
    if (saved === undefined) delete process.env.WGPT_PROFILE;
    else process.env.WGPT_PROFILE = saved;
  });
  return device;
}

t.test('WGPT_PROFILE gives each kernel its time and dispatch count', async (t) => {
  const device = await profiledDevice(t);
  t.equal(device.profileMode,
    device.features.includes('timestamp-query') ? 'timestamp' : device.backend === 'software' ? 'sync-submit' : 'completion');
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

t.test('GPU timestamps (timestamp-query) are monotone along a chain of dispatches and end before finish() returns', async (t) => {
  const device = await profiledDevice(t);
  if (device.profileMode !== 'timestamp') {
    t.skip(`no timestamp-query on ${device.adapterDescription} (${device.backend}): the profile times submits there`, () => {});
    return;
  }
  const a = Tensor.fromData(randn(128 * 128, 3), [128, 128]);
  await device.finish('warm-up');
  device.profile!.clear();
  // Each dispatch reads the previous one's output, so even a GPU that overlaps independent passes
  // must run these in order; three submits, so spans from several resolves are checked together.
  const host0 = process.hrtime.bigint();
  let kernels = 0;
  noGrad(() => tidy(() => {
    let y = a;
    for (let i = 0; i < 3; i++) {
      y = add(softmax(matmul(y, a)), a);
      kernels += 3;
      device.flush();
    }
  }));
  await device.finish('timestamps');
  const host1 = process.hrtime.bigint();
  const spans = device.profileSpans!;
  t.equal(spans.length, kernels, 'a span per dispatch');
  t.ok(spans.every((s) => s.begin > 0n), 'every span is back when finish() returns');
  let monotone = true;
  let gpuNs = 0n;
  spans.forEach((s, i) => {
    if (s.end < s.begin || (i > 0 && s.begin < spans[i - 1].end)) monotone = false;
    gpuNs += s.end - s.begin;
  });
  t.ok(monotone, 'each span ends after it begins and begins after the previous one ends');
  t.ok(gpuNs > 0n && gpuNs <= host1 - host0, `the GPU time (${gpuNs} ns) fits inside the host's wait (${host1 - host0} ns)`);
  const profiled = [...device.profile!.values()].reduce((n, e) => n + e.n, 0);
  t.equal(profiled, kernels, 'the profile counts every dispatch');
  if (device.backend === 'lavapipe') {
    // lavapipe's timestamps are the host's CLOCK_MONOTONIC, the clock of process.hrtime: every span
    // lies between the first recording and finish()'s return, to the nanosecond (Dawn's 65.5 µs
    // rounding is off while profiling).
    t.ok(spans[0].begin >= host0 && spans[spans.length - 1].end <= host1, 'on the host clock, inside [record, finish() returned]');
    t.ok(spans.some((s) => s.begin % 65536n !== 0n), 'timestamps are not rounded to 65.536 µs');
  }
  a.dispose();
});

t.test('a cached bind group binds the buffers of this dispatch, not stale ones', async (t) => {
  const device = await openDevice();
  t.teardown(() => closeDevice(device));
  const run = async (seed: number): Promise<Float32Array> => {
    const x = Tensor.fromData(randn(16, seed), [4, 4]);
    const y = tidy(() => matmul(x, x));
    const out = (await y.toArray()) as Float32Array;
    // Freed in either order, the pool (oldest made first) hands the same buffers to the same roles.
    x.dispose();
    y.dispose();
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
