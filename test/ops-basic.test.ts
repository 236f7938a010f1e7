import t from 'tap';
import { add, backward, concat, param, div, matmul, mean, mul, permute, reshape, scale, slice, split, sub, sum, sumTo, Tensor, tidy,
  transpose } from '../engine/index.ts';
import { checkOp } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';
import { broadcast2, matmulRef } from './helpers/ref.ts';

await withDevice(t);

const binary = { add: (x: number, y: number) => x + y, sub: (x: number, y: number) => x - y, mul: (x: number, y: number) => x * y,
  div: (x: number, y: number) => x / y };
const gpuBinary = { add, sub, mul, div };
// The first five take the per-axis path; the last four the vec4 path (periods that are multiples of 4).
const pairs: [number[], number[]][] = [[[7, 33], [7, 33]], [[1], [129]], [[3, 7, 33], [33]], [[7, 1], [1, 33]], [[2, 1, 7, 5], [3, 1, 5]],
  [[6, 32], [6, 32]], [[3, 5, 8], [8]], [[4], [3, 4]], [[2, 12], [1, 3, 2, 12]]];
for (const [name, f] of Object.entries(binary)) {
  for (const [as, bs] of pairs) {
    t.test(`${name} ${JSON.stringify(as)} ${JSON.stringify(bs)}`, (t) => checkOp(t, `${name} ${JSON.stringify(as)} ${JSON.stringify(bs)}`, {
      inputs: [{ shape: as }, name === 'div' ? { shape: bs, data: Array.from({ length: bs.reduce((x, y) => x * y, 1) },
        (_, i) => 1.5 + (i % 5)) } : { shape: bs }],
      gpu: (a, b) => gpuBinary[name as keyof typeof gpuBinary](a, b),
      cpu: (a, b) => broadcast2(a, as, b, bs, f),
    }));
  }
}

t.test('scale', (t) => checkOp(t, 'scale', { inputs: [{ shape: [33, 7] }], gpu: (x) => scale(x, -2.5),
  cpu: (x) => x.map((v) => -2.5 * v) }));

for (const [shape, axis] of [[[7, 33], 0], [[7, 33], 1], [[3, 5, 129], 1], [[129], 0]] as [number[], number][]) {
  const cpuSum = (x: Float64Array, div: number): Float64Array => {
    const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const len = shape[axis];
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const out = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++) for (let j = 0; j < len; j++) for (let r = 0; r < inner; r++)
      out[o * inner + r] += x[(o * len + j) * inner + r] / div;
    return out;
  };
  t.test(`sum axis ${axis} of ${JSON.stringify(shape)}`, (t) => checkOp(t, `sum axis ${axis} of ${JSON.stringify(shape)}`,
    { inputs: [{ shape }], gpu: (x) => sum(x, axis), cpu: (x) => cpuSum(x, 1) }));
  t.test(`mean axis ${axis} of ${JSON.stringify(shape)}`, (t) => checkOp(t, `mean axis ${axis} of ${JSON.stringify(shape)}`,
    { inputs: [{ shape }], gpu: (x) => mean(x, axis), cpu: (x) => cpuSum(x, shape[axis]) }));
}
t.test('long reductions are exact (llvmpipe ends an invocation\'s loops after 65535 iterations)', async (t) => {
  const ones = (n: number): Tensor => Tensor.fromData(new Float32Array(n).fill(1), [n]);
  t.equal(await tidy(() => sum(ones(200_000))).item(), 200_000, 'sum of 200000 ones');
  t.ok(Math.abs((await tidy(() => mean(ones(100_000))).item()) - 1) < 1e-6, 'mean of 100000 ones');
  const col = await tidy(() => sumTo(Tensor.fromData(new Float32Array(70_000 * 3).fill(1), [70_000, 3]), [3])).toArray();
  t.same(Array.from(col), [70_000, 70_000, 70_000], 'a bias gradient over 70000 rows');
  const deep = await tidy(() => sumTo(Tensor.fromData(new Float32Array(70_000 * 6).fill(1), [70_000, 1, 2, 3]), [1, 2, 3])).toArray();
  t.same(Array.from(deep), new Array(6).fill(70_000), 'over the outermost of four axes (the deepest loop nest)');
});
t.test('mean of all', (t) => checkOp(t, 'mean of all', { inputs: [{ shape: [7, 33] }], gpu: (x) => mean(x),
  cpu: (x) => Float64Array.of(x.reduce((a, b) => a + b, 0) / x.length) }));

// matmul: the three forms a linear layer needs, batched and shared weights, awkward sizes.
for (const [m, k, n] of [[1, 1, 1], [7, 33, 5], [33, 7, 17], [5, 3, 129]]) {
  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
    const as = ta ? [k, m] : [m, k];
    const bs = tb ? [n, k] : [k, n];
    t.test(`matmul ${m}x${k}x${n} ta=${ta} tb=${tb}`, (t) => checkOp(t, `matmul ${m}x${k}x${n} ta=${ta} tb=${tb}`, {
      inputs: [{ shape: as }, { shape: bs }],
      gpu: (a, b) => matmul(a, b, { transA: ta, transB: tb }),
      cpu: (a, b) => matmulRef(a, b, 1, as[0], as[1], bs[0], bs[1], ta, tb, true),
      gradAtol: 1e-3,
    }));
  }
}
t.test('matmul batched [3,7,33]·[33,5] (shared weight)', (t) => checkOp(t, 'matmul batched [3,7,33]·[33,5] (shared weight)', {
  inputs: [{ shape: [3, 7, 33] }, { shape: [33, 5] }],
  gpu: (a, b) => matmul(a, b),
  cpu: (a, b) => matmulRef(a, b, 3, 7, 33, 33, 5, false, false, true),
  gradAtol: 1e-3,
}));
t.test('matmul batched [2,3,7,9]·[2,3,9,5]ᵀ', (t) => checkOp(t, 'matmul batched [2,3,7,9]·[2,3,9,5]ᵀ', {
  inputs: [{ shape: [2, 3, 7, 9] }, { shape: [2, 3, 5, 9] }],
  gpu: (a, b) => matmul(a, b, { transB: true }),
  cpu: (a, b) => matmulRef(a, b, 6, 7, 9, 5, 9, false, true, false),
}));

// layout
t.test('reshape', (t) => checkOp(t, 'reshape', { inputs: [{ shape: [7, 6] }], gpu: (x) => scale(reshape(x, [3, -1, 2]), 2),
  cpu: (x) => x.map((v) => 2 * v) }));
t.test('transpose [7,33]', (t) => checkOp(t, 'transpose [7,33]', {
  inputs: [{ shape: [7, 33] }], gpu: (x) => transpose(x),
  cpu: (x) => Float64Array.from({ length: 231 }, (_, i) => x[(i % 7) * 33 + Math.floor(i / 7)]),
}));
t.test('permute [2,3,5,7] -> [0,2,1,3]', (t) => checkOp(t, 'permute [2,3,5,7] -> [0,2,1,3]', {
  inputs: [{ shape: [2, 3, 5, 7] }], gpu: (x) => permute(x, [0, 2, 1, 3]),
  cpu: (x) => {
    const out = new Float64Array(x.length);
    let o = 0;
    for (let a = 0; a < 2; a++) for (let c = 0; c < 5; c++) for (let b = 0; b < 3; b++) for (let d = 0; d < 7; d++)
      out[o++] = x[((a * 3 + b) * 5 + c) * 7 + d];
    return out;
  },
}));
t.test('slice axis 1', (t) => checkOp(t, 'slice axis 1', {
  inputs: [{ shape: [3, 7, 5] }], gpu: (x) => slice(x, 1, 2, 4),
  cpu: (x) => {
    const out: number[] = [];
    for (let a = 0; a < 3; a++) for (let b = 2; b < 6; b++) for (let c = 0; c < 5; c++) out.push(x[(a * 7 + b) * 5 + c]);
    return Float64Array.from(out);
  },
}));
t.test('split then concat (reordered)', (t) => checkOp(t, 'split then concat (reordered)', {
  inputs: [{ shape: [3, 7] }],
  gpu: (x) => { const [p, q, r] = split(x, [2, 4, 1], 1); return concat([r, p, scale(q, 3)], 1); },
  cpu: (x) => {
    const out: number[] = [];
    for (let a = 0; a < 3; a++) {
      const row = x.subarray(a * 7, a * 7 + 7);
      out.push(row[6], row[0], row[1], ...Array.from(row.subarray(2, 6), (v) => 3 * v));
    }
    return Float64Array.from(out);
  },
}));

t.test('a transposed batched A with a shared B that needs a gradient is refused at the forward', async (t) => {
  tidy(() => {
    const a = param(Tensor.fromData(Array.from({ length: 24 }, (_, i) => i / 10), [2, 3, 4]));
    const b = param(Tensor.fromData(Array.from({ length: 15 }, (_, i) => i / 7), [3, 5]));
    t.throws(() => matmul(a, b, { transA: true }),
      { name: 'ShapeError', message: /shared B \[3, 5\] that needs a gradient is not supported; transpose A first/ });
    // The same product with A transposed first runs forward and backward.
    const y = matmul(transpose(a), b);
    t.same(y.shape, [2, 4, 5]);
    t.doesNotThrow(() => backward(sum(y)));
    // Without a gradient for B the transposed form is fine.
    const c = Tensor.fromData(Array.from({ length: 15 }, (_, i) => i / 7), [3, 5]);
    t.same(matmul(a, c, { transA: true }).shape, [2, 4, 5]);
  });
});
