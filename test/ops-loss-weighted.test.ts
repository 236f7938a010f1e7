// crossEntropy with a weight per row (the prompt-loss weight): forward and gradient against an f64
// reference, sum(w·ℓ)/sum(w) over the counted rows; all-ones weights give the unweighted loss and
// gradients bit for bit, zero weights the ignored rows' bit for bit; misshapen weights are refused
// (their values are checked where they are made, on the host: GPT.loss).
import t, { type Test } from 'tap';
import { backward, crossEntropy, param, Tensor, tidy } from '../engine/index.ts';
import { checkOp, randn } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';

// Bindings capped at 1 MiB: six rows of GPT-2's vocabulary (1.2 MB) take two windows of rows, so
// the weights (indexed by global row) are checked across a window boundary too.
await withDevice(t, { maxStorageBufferBindingSize: 1 << 20 });

/** sum over counted rows of w·CE(row) / (denominator ?? sum of their w), in f64; 0 when that is 0. */
function weightedCeRef(x: Float64Array, targets: number[], w: ArrayLike<number>, v: number, denominator?: number): number {
  let sum = 0;
  let wsum = 0;
  targets.forEach((tg, r) => {
    if (tg === -100) return;
    let m = -Infinity;
    for (let j = 0; j < v; j++) m = Math.max(m, x[r * v + j]);
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(x[r * v + j] - m);
    sum += w[r] * (m + Math.log(s) - x[r * v + tg]);
    wsum += w[r];
  });
  const d = denominator ?? wsum;
  return d === 0 ? 0 : sum / d;
}

const targetsFor = (n: number, v: number, seed: number): number[] => Array.from(randn(n, seed), (z) => Math.floor(Math.abs(z) * 1e4) % v);

// Prompt-loss-weight patterns: W on some rows, 1 on the rest, ignored rows and zero weights among them.
const CASES: { name: string; n: number; v: number; weights: (n: number) => number[]; ignore?: number[]; denominator?: number }[] = [
  { name: 'W=0.1 on the first half', n: 7, v: 33, weights: (n) => Array.from({ length: n }, (_, i) => (i < n / 2 ? 0.1 : 1)) },
  { name: 'W=0.01, an ignored row', n: 6, v: 129, weights: (n) => Array.from({ length: n }, (_, i) => (i < 3 ? 0.01 : 1)), ignore: [4] },
  { name: 'W=0 rows and W=0.5 rows', n: 9, v: 17, weights: (n) => Array.from({ length: n }, (_, i) => [0, 0.5, 1][i % 3]) },
  { name: 'arbitrary weights, one above 1', n: 5, v: 700, weights: () => [0.3, 2.5, 0.7, 1, 0.05] },
  { name: 'a caller denominator', n: 7, v: 33, weights: (n) => Array.from({ length: n }, (_, i) => (i < 4 ? 0.25 : 1)),
    ignore: [6], denominator: 9 },
];
for (const c of CASES) {
  const tg = targetsFor(c.n, c.v, c.n * 13 + c.v).map((x, i) => (c.ignore?.includes(i) ? -100 : x));
  const w = c.weights(c.n);
  t.test(`weighted crossEntropy [${c.n}, ${c.v}]: ${c.name}`, (t) => checkOp(t, `weighted crossEntropy ${c.name}`, {
    inputs: [{ shape: [c.n, c.v] }, { shape: [c.n], dtype: 'i32', data: tg }, { shape: [c.n], data: w, grad: false }],
    gpu: (x, y, wt) => crossEntropy(x, y, { weights: wt, denominator: c.denominator }),
    // The weights stay fixed under the finite differences: the reference closes over them.
    cpu: (x) => Float64Array.of(weightedCeRef(x, tg, w, c.v, c.denominator)),
  }));
}

/** Loss and logits gradient on the GPU, weighted or not. */
async function ce(x: ArrayLike<number>, tg: number[], v: number, opts: { weights?: number[]; denominator?: number } = {}):
  Promise<{ loss: number; grad: Float32Array }> {
  const logits = param(Tensor.fromData(x, [tg.length, v]));
  const targets = Tensor.fromData(tg, [tg.length], 'i32');
  const loss = tidy(() => {
    const weights = opts.weights ? Tensor.fromData(opts.weights, [tg.length]) : undefined;
    const l = crossEntropy(logits, targets, { weights, denominator: opts.denominator });
    backward(l);
    return l;
  });
  const out = { loss: await loss.item(), grad: (await logits.grad!.toArray()) as Float32Array };
  for (const tt of [loss, logits.grad!, logits, targets]) tt.dispose();
  return out;
}

function sameBits(t: Test, a: { loss: number; grad: Float32Array }, b: { loss: number; grad: Float32Array }, what: string): void {
  t.equal(Object.is(a.loss, b.loss), true, `${what}: loss ${a.loss} vs ${b.loss}`);
  let differ = 0;
  for (let i = 0; i < a.grad.length; i++) if (!Object.is(a.grad[i], b.grad[i])) differ++;
  t.equal(differ, 0, `${what}: every gradient element equal (${differ} of ${a.grad.length} differ)`);
}

t.test('all-ones weights: the unweighted loss and gradients, bit for bit', async (t) => {
  // Confident rows of large logits too (the LM head's precision path) and an ignored row.
  for (const [n, v, scale] of [[7, 33, 1], [5, 1000, 20], [3, 50257, 3]]) {
    const x = randn(n * v, n + v, scale);
    const tg = targetsFor(n, v, v).map((y, i) => (i === 1 ? -100 : y));
    const ones = new Array<number>(n).fill(1);
    sameBits(t, await ce(x, tg, v, { weights: ones }), await ce(x, tg, v), `[${n}, ${v}]`);
    const counted = tg.filter((y) => y !== -100).length;
    sameBits(t, await ce(x, tg, v, { weights: ones, denominator: counted }), await ce(x, tg, v, { denominator: counted }),
      `[${n}, ${v}] with a denominator`);
  }
});

t.test('zero weights: the same loss and gradients as ignoring those rows, bit for bit', async (t) => {
  const [n, v] = [8, 129];
  const x = randn(n * v, 5, 4);
  const tg = targetsFor(n, v, 3);
  const zeroed = [0, 2, 3];
  const weights = tg.map((_, i) => (zeroed.includes(i) ? 0 : 1));
  const ignored = tg.map((y, i) => (zeroed.includes(i) ? -100 : y));
  const a = await ce(x, tg, v, { weights });
  const b = await ce(x, ignored, v);
  sameBits(t, a, b, 'zero-weight rows');
  t.ok(zeroed.every((r) => a.grad.subarray(r * v, (r + 1) * v).every((g) => Object.is(g, 0))),
    'a zero-weight row gets exactly +0 gradient');
  t.ok(Math.abs(a.loss - weightedCeRef(x, tg, weights, v)) < 1e-5, 'and the loss matches the reference');
});

t.test('a fractional weight scales the row: loss and gradient against the f64 reference at V = 50257', async (t) => {
  const [n, v] = [4, 50257];
  const x = randn(n * v, 21, 2);
  const tg = [50256, 7, 30000, 11];
  const weights = [0.01, 0.01, 1, 1];
  const r = await ce(x, tg, v, { weights });
  const want = weightedCeRef(x, tg, weights, v);
  t.ok(Math.abs(r.loss - want) < 1e-5 * Math.abs(want), `loss ${r.loss} vs ${want}`);
  // Row 0's gradient is 0.01/1.02 of its unweighted softmax - onehot; row 2's 1/1.02.
  const plain = await ce(x, tg, v, { denominator: 1 });
  for (const [row, w] of [[0, 0.01], [2, 1]]) {
    let worst = 0;
    for (let j = 0; j < v; j++) {
      const want = (plain.grad[row * v + j] * w) / 2.02;
      worst = Math.max(worst, Math.abs(r.grad[row * v + j] - want) / (Math.abs(want) + 1e-12));
    }
    t.ok(worst < 1e-5,
      `row ${row} (w = ${w}): gradient is w / sum(w) of the unweighted one (worst relative error ${worst.toExponential(2)})`);
  }
});

t.test('rows in two binding windows: weights follow the global row', async (t) => {
  const [n, v] = [6, 50257];
  const x = randn(n * v, 8, 2);
  const tg = [5, 50256, -100, 17, 40000, 3];
  const weights = [0.1, 0.1, 0.1, 1, 1, 0.5];
  const r = await ce(x, tg, v, { weights });
  const want = weightedCeRef(x, tg, weights, v);
  t.ok(Math.abs(r.loss - want) < 1e-5 * Math.abs(want), `loss ${r.loss} vs ${want}`);
  const plain = await ce(x, tg, v, { denominator: 1 });
  const wsum = 0.1 + 0.1 + 1 + 1 + 0.5;
  let worst = 0;
  for (let i = 0; i < n * v; i++) {
    const w = tg[Math.floor(i / v)] === -100 ? 0 : weights[Math.floor(i / v)];
    const want = (plain.grad[i] * w) / wsum;
    worst = Math.max(worst, Math.abs(r.grad[i] - want) / (Math.abs(want) + 1e-12));
  }
  t.ok(worst < 1e-5, `every row's gradient is w / sum(w) of its unweighted one (worst relative error ${worst.toExponential(2)})`);
  sameBits(t, await ce(x, tg, v, { weights: new Array<number>(n).fill(1) }), await ce(x, tg, v), 'all-ones weights across windows');
});

t.test('weights of the wrong shape or type are refused in one line', async (t) => {
  tidy(() => {
    const x = Tensor.fromData(randn(14, 1), [2, 7]);
    const y = Tensor.fromData([1, 2], [2], 'i32');
    t.throws(() => crossEntropy(x, y, { weights: Tensor.fromData([1, 1, 1], [3]) }), /weights \[3\] for 2 rows/);
    t.throws(() => crossEntropy(x, y, { weights: Tensor.fromData([1, 1], [2], 'i32') }), /expected an f32 tensor/);
  });
});
