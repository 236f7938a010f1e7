// Faults are never silent: each becomes a clear thrown error, never zeros or a wrong number.
import t from 'tap';
import {
  add, closeDevice, DeviceLostError, GPUValidationError, matmul, openDevice, sum, Tensor, tidy,
} from '../engine/index.ts';
import { Faults } from '../engine/device/faults.ts';
import { kernel } from '../kernels/kernel.ts';

t.test('a binding over the limit is refused with a message naming both sizes', async (t) => {
  const device = await openDevice({ maxStorageBufferBindingSize: 1 << 20 });
  t.teardown(() => closeDevice(device));
  t.equal(device.limits.maxStorageBufferBindingSize, 1 << 20, 'the cap is in force');
  const big = Tensor.fromData(new Float32Array(300_000).fill(1), [300_000]);
  t.equal(await sum(big).item(), 300_000, 'a reduction past one binding runs in windows');
  const out = Tensor.empty([300_000]);
  t.throws(() => device.dispatch({
    kernel: kernel('noop', 'main', { params: {}, bindings: { out: 'read_write f32' } }, '@compute @workgroup_size(1) fn main() {}'),
    params: {}, bindings: [out.bind()], workgroups: [1], label: 'oversized test',
  }), { name: 'GPUValidationError', message: /1200000 bytes exceeds maxStorageBufferBindingSize \(1048576\)/ });
  // Element-wise ops over tensors past one binding run in windows and give exact values.
  const doubled = await add(big, big).toArray();
  t.equal(doubled[0], 2);
  t.equal(doubled[299_999], 2);
  t.ok(doubled.every((v) => v === 2), 'every element computed');
});

t.test('WebGPU validation errors surface at the next sync point', async (t) => {
  const device = await openDevice();
  t.teardown(() => closeDevice(device));
  device.gpu.createBuffer({ size: 4, usage: 0 }); // invalid: no usage
  await t.rejects(device.sync('after a bad createBuffer'), GPUValidationError);
  // The error is reported once; the device keeps working afterwards.
  const x = Tensor.fromData([1, 2, 3], [3]);
  t.same(Array.from(await add(x, x).toArray()), [2, 4, 6]);
});

t.test('an error scope whose work threw is still closed: later errors are not swallowed by it', async (t) => {
  const device = await openDevice();
  t.teardown(() => closeDevice(device));
  const faults = new Faults(device.gpu);
  t.throws(() => faults.scoped(['validation'], 'failing work', () => {
    throw new Error('make failed');
  }), /make failed/);
  device.gpu.createBuffer({ size: 4, usage: 0 }); // invalid: in that scope, had it been left open
  await t.rejects(device.sync('after a bad createBuffer'), GPUValidationError);
});

t.test('allocations the device refuses are clear errors', async (t) => {
  // maxBufferSize pinned (a GPU's may be 1 TiB): 4 GiB of floats is over it on any adapter.
  const device = await openDevice({ memoryBudget: 1 << 20, maxBufferSize: 2 ** 30 });
  t.teardown(() => closeDevice(device));
  t.throws(() => Tensor.empty([1 << 30]), { name: 'GPUOutOfMemoryError', message: /maxBufferSize of 1073741824/ });
  const a = Tensor.empty([200_000]);
  t.throws(() => Tensor.empty([200_000]), { name: 'GPUOutOfMemoryError', message: /out of GPU memory allocating 800000 bytes/ });
  a.dispose();
  t.doesNotThrow(() => Tensor.empty([200_000]).dispose(), 'memory comes back after dispose');
});

t.test('a destroyed device throws DeviceLostError, also for work already queued', async (t) => {
  const device = await openDevice();
  t.teardown(() => closeDevice(device));
  const x = Tensor.fromData(Array.from({ length: 4096 }, (_, i) => i), [64, 64]);
  const submitted = matmul(x, x); // recorded and submitted: in the queue when the device goes
  device.flush();
  const recorded = add(x, x); // recorded, never submitted
  t.ok(device.counters.submits > 0, 'work was submitted');
  device.destroy(); // the device is still the current one: no "no GPU device" shortcut
  t.ok(device.isLost);
  await t.rejects(submitted.toArray(), DeviceLostError, 'submitted work');
  await t.rejects(recorded.toArray(), DeviceLostError, 'recorded work');
  t.throws(() => add(x, x), DeviceLostError, 'new work');
  t.throws(() => Tensor.empty([4]), DeviceLostError, 'new allocations');
});

t.test('a failed readback keeps its cause and class, and frees its staging buffer', async (t) => {
  const device = await openDevice();
  t.teardown(() => closeDevice(device));
  const x = Tensor.fromData([1, 2, 3], [3]);
  const probe = device.gpu.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ });
  const proto = Object.getPrototypeOf(probe) as GPUBuffer;
  probe.destroy();
  const { mapAsync, destroy } = proto;
  const injected = new Error('injected map failure');
  let failed: GPUBuffer | null = null;
  const destroyed: GPUBuffer[] = [];
  proto.mapAsync = function (this: GPUBuffer) {
    failed = this;
    return Promise.reject(injected);
  };
  proto.destroy = function (this: GPUBuffer) {
    destroyed.push(this);
    return destroy.call(this);
  };
  try {
    const err = await x.toArray().then(() => null, (e: Error) => e);
    t.ok(err, 'the readback failed');
    t.notOk(err instanceof DeviceLostError, `not DeviceLostError while the device lives (${err?.name})`);
    t.equal(err?.name, 'WgptError');
    t.equal(err?.cause, injected, 'the original error is its cause');
    t.match(err?.message, /reading back failed: injected map failure/);
    t.ok(failed && destroyed.includes(failed), 'the staging buffer is destroyed, not leaked or pooled');
  } finally {
    proto.mapAsync = mapAsync;
    proto.destroy = destroy;
  }
  t.notOk(device.isLost);
  t.same(Array.from(await x.toArray()), [1, 2, 3], 'the device keeps working');
});

t.test('allocate never creates past maxBufferSize, also after rounding up to a size class', async (t) => {
  const device = await openDevice({ maxBufferSize: 1_000_000 });
  t.teardown(() => closeDevice(device));
  const { buffer, bytes } = device.allocate(960_000, 'test'); // its size class is 1048576
  t.equal(bytes, 1_000_000, 'allocated at the limit');
  t.equal(buffer.size, 1_000_000);
  device.release(buffer, bytes);
  t.throws(() => device.allocate(1_000_004, 'test'), { name: 'GPUOutOfMemoryError', message: /maxBufferSize of 1000000/ });
});

t.test('mismatched shapes name both shapes', async (t) => {
  const device = await openDevice();
  t.teardown(() => closeDevice(device));
  const a = Tensor.empty([2, 3]);
  const b = Tensor.empty([4]);
  t.throws(() => add(a, b), { name: 'ShapeError', message: /\[2, 3\] and \[4\] do not broadcast/ });
  t.throws(() => matmul(a, Tensor.empty([4, 5])), /cannot multiply \[2, 3\] by \[4, 5\]/);
  t.throws(() => tidy(() => a.view([5])), /cannot view \[2, 3\] as \[5\]/);
  a.dispose();
  t.throws(() => add(a, a), /used after dispose/);
});
