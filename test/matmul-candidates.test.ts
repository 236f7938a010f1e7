// Every matmul variant the tuner may choose (engine/tune/choices.ts: on llvmpipe the tiles with
// storage or texture operands, on a GPU the workgroup tiles) gives the float64 product in every
// transpose form at ragged shapes, and the same bits as the built-in default: each sums an output
// over K in the same order, so the tuner's choice (and a run resumed on a machine that chose
// differently) changes no number. A forced variant also passes the op checker's finite-difference
// VJP. On a GPU adapter the file checks the GPU tiles.
import t from 'tap';
import { matmul, Tensor } from '../engine/index.ts';
import { overrideMatmul } from '../engine/tune/matmul-pick.ts';
import { candidatesFor, type Candidate, type MatmulClass } from '../engine/tune/choices.ts';
import { assertClose, checkOp, randn } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';
import { matmulRef } from './helpers/ref.ts';

const device = await withDevice(t);
t.teardown(() => overrideMatmul(null));

const cls = (vec: boolean, bucket: 'thin' | 'large'): MatmulClass => ({ kind: 'matmul', form: 'nn', vecA: vec, vecB: vec, bucket });
const unique = (cs: Candidate[]): Candidate[] => [...new Map(cs.map((c) => [c.name, c])).values()];
const candidates = unique([cls(true, 'large'), cls(true, 'thin'), cls(false, 'large')]
  .flatMap((c) => candidatesFor(device.kernelProfile, c)));

// [m, n, k] and the candidates run there: 37x20x44, every operand vec4-aligned with ragged tiles in
// M, every candidate; 5x24x13, a K tail (K % 4 != 0) with aligned N, and 9x7x6, nothing aligned
// (float loads and stores), the defaults of each bucket (the tile and the texture or storage source
// are independent parts of the generator, so their edges need not be crossed with every tile).
const defaults = unique([cls(true, 'large'), cls(true, 'thin'), cls(false, 'large')].map((c) => candidatesFor(device.kernelProfile, c)[0]));
const SHAPES: [number[], Candidate[]][] = [[[37, 20, 44], candidates], [[5, 24, 13], defaults], [[9, 7, 6], defaults]];
const FORMS = [[false, false], [false, true], [true, false], [true, true]] as const;

/** C = op(A)·op(B) with `c` forced (null: the class's choice), as raw bits. */
async function product(c: Candidate | null, m: number, n: number, k: number, ta: boolean, tb: boolean):
  Promise<{ got: Float32Array; want: Float64Array }> {
  const as = ta ? [k, m] : [m, k];
  const bs = tb ? [n, k] : [k, n];
  const a = randn(m * k, m + 3 * n + 7 * k);
  const b = randn(k * n, 11 * m + n + k);
  const A = Tensor.fromData(a, as);
  const B = Tensor.fromData(b, bs);
  overrideMatmul(c && { candidate: c });
  try {
    const C = matmul(A, B, { transA: ta, transB: tb });
    const got = (await C.toArray()) as Float32Array;
    for (const x of [A, B, C]) x.dispose();
    return { got, want: matmulRef(a, b, 1, as[0], as[1], bs[0], bs[1], ta, tb, true) };
  } finally {
    overrideMatmul(null);
  }
}

t.test(`${candidates.length} candidates on ${device.kernelProfile} kernels: the f64 product, and the default's bits`, async (t) => {
  t.ok(candidates.length >= 3, candidates.map((c) => c.name).join(', '));
  for (const [[m, n, k], run] of SHAPES) {
    for (const [ta, tb] of FORMS) {
      const base = await product(candidatesFor(device.kernelProfile, cls(true, 'large'))[0], m, n, k, ta, tb);
      for (const c of run) {
        const label = `${c.name} ${m}x${n}x${k} ta=${ta} tb=${tb}`;
        const { got, want } = await product(c, m, n, k, ta, tb);
        assertClose(t, got, want, 1e-5, 1e-4, label);
        t.same(new Uint32Array(got.buffer), new Uint32Array(base.got.buffer), `${label}: the same bits as the default`);
      }
    }
  }
});

t.test('a forced non-default candidate: forward and VJP against float64 (finite differences)', async (t) => {
  const c = candidates[candidates.length - 1];
  overrideMatmul({ candidate: c });
  t.teardown(() => overrideMatmul(null));
  await checkOp(t, `matmul VJP, ${c.name}`, {
    inputs: [{ shape: [3, 21, 36] }, { shape: [36, 20] }],
    gpu: (a, b) => matmul(a, b),
    cpu: (a, b) => matmulRef(a, b, 3, 21, 36, 36, 20, false, false, true),
    gradAtol: 1e-3,
  });
});
