// Texture operands of llvmpipe's matmul (Device.operandTexture): a copy of just the part of a window
// a dispatch reads, in textures that are pooled like buffers (a steady loop creates none), counted
// in live memory while in use, and a fallback to storage loads where a copy would need more rows
// than the texture limit allows. On a GPU adapter (no texture variants) the file checks only the
// products.
import t from 'tap';
import { matmul, noGrad, Tensor, tidy } from '../engine/index.ts';
import { overrideMatmul } from '../engine/tune/matmul-pick.ts';
import { candidatesFor } from '../engine/tune/choices.ts';
import { TEXTURE_ROW } from '../kernels/kernel.ts';
import { assertClose, randn } from './helpers/opcheck.ts';
import { kernelsDispatched, withDevice } from './helpers/device.ts';
import { matmulRef } from './helpers/ref.ts';

// Two texture rows at most: 8192 texels, 32768 floats.
const device = await withDevice(t, { maxTextureDimension2D: 2 });
const software = device.kernelProfile === 'software';
const texture = candidatesFor(device.kernelProfile, { kind: 'matmul', form: 'nn', vecA: true, vecB: true, bucket: 'large' })
  .find((c) => c.name.startsWith('texture'));
if (texture) overrideMatmul({ candidate: texture });
t.teardown(() => overrideMatmul(null));

async function check(m: number, n: number, k: number): Promise<string[]> {
  const a = randn(m * k, m);
  const b = randn(k * n, n);
  const A = Tensor.fromData(a, [m, k]);
  const B = Tensor.fromData(b, [k, n]);
  let C!: Tensor;
  const names = kernelsDispatched(device, () => {
    C = noGrad(() => matmul(A, B));
  });
  assertClose(t, await C.toArray(), matmulRef(a, b, 1, m, k, k, n, false, false, true), 1e-5, 1e-4, `${m}x${n}x${k}`);
  for (const x of [A, B, C]) x.dispose();
  return names;
}

t.test('operands within the limit are read as textures; one past it falls back to storage',
  { skip: !software && 'no texture variants on GPU kernels' }, async (t) => {
  t.equal(device.limits.maxTextureDimension2D, 2, 'the cap is in force');
  // A [16, 1024] and B [1024, 16]: 4096 texels each, one row.
  const fits = await check(16, 16, 1024);
  t.match(fits[0], /_x11$/, `both operands as textures (${fits[0]})`);
  // A [40, 1024]: 10240 texels, three rows: the dispatch reads both operands from storage.
  const past = await check(40, 16, 1024);
  t.notMatch(past[0], /_x\d\d$/, `storage loads (${past[0]})`);
  t.ok(40 * 1024 / 4 > 2 * TEXTURE_ROW);
});

t.test('a steady loop of products creates no texture after the first, and frees what it used',
  { skip: !software && 'no texture variants on GPU kernels' }, async (t) => {
  const A = Tensor.fromData(randn(32 * 64, 1), [32, 64]);
  const B = Tensor.fromData(randn(64 * 48, 2), [64, 48]);
  const live = device.counters.liveBytes;
  let created = 0;
  for (let i = 0; i < 5; i++) {
    noGrad(() => tidy(() => void matmul(matmul(A, B), B, { transB: true })));
    await device.finish();
    if (i === 0) created = device.counters.texturesCreated;
  }
  t.ok(created > 0, `textures were made (${created})`);
  t.equal(device.counters.texturesCreated, created, 'none after the first pass');
  t.equal(device.counters.liveBytes, live, 'the textures went back to the pool');
  A.dispose();
  B.dispose();
});
