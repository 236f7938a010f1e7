// Register-tiled matmul, generated as unrolled WGSL text (the llvmpipe JIT does no unrolling).
// Each invocation computes a TM x TN block of C held in TM*TN/4 vec4 accumulators; the K loop steps
// by 4, loading for each step TM*4 floats of A and TN*4 floats of B (as vec4 where the operand's
// rows are 16-byte aligned, else as 4 scalars), then runs the FMAs accumulator by accumulator
// (4 in a row on each), which keeps spilled accumulators' traffic low on a CPU "GPU".
// The contract (parameters, bindings, indexing) is every matmul kernel's: kernels/matmul.ts.
// Exact at any M, N, K: the K tail is masked (select) in the last step; rows and columns past M, N
// are computed from whatever the loads return (an out-of-range load is defined to return some
// in-bounds value or 0) and never stored. No early return for invocations past the edge either: on
// llvmpipe a divergent return masks everything after it, and the JIT took longer.
import { kernel, LANE, variant, type BindingType, type Kernel } from './kernel.ts';
import { accumulate, matmulInterface, transposedB } from './matmul.ts';

export interface MatmulTile {
  /** Rows of C per invocation (multiple of 4). */
  tm: number;
  /** Columns of C per invocation (multiple of 4). */
  tn: number;
  /** Workgroup size: x runs along N, y along M. */
  wgx: number;
  wgy: number;
}

/** Tile per backend: llvmpipe wants the largest register tile that pays (its JIT keeps a tile's
 *  accumulators in vector registers, does no loop unrolling, and gains nothing from shared memory);
 *  a real GPU a small one (a 32x16 tile per invocation would spill registers there).
 *  On llvmpipe the engine runs kernels/matmul-llvmpipe.ts (vec4, unrolled guarded stores, no K mask
 *  when K % 4 == 0); this generator runs there only as overrideMatmul({ kernel: 'generic' }).
 *  Measured: docs/measurements.md, 'Matmul on llvmpipe'. */
export const MATMUL_TILES: Record<'software' | 'gpu', MatmulTile> = {
  // The 'generic' software tile: 32x16 is a little faster here but compiles several times slower.
  software: { tm: 16, tn: 16, wgx: 8, wgy: 1 },
  gpu: { tm: 4, tn: 4, wgx: 16, wgy: 16 },
};

export interface TiledVariant {
  tile: MatmulTile;
  transA: boolean;
  transB: boolean;
  /** Load A (B) as vec4: its leading dimension, offset and batch stride are multiples of 4. */
  vecA: boolean;
  vecB: boolean;
}

export function tiledMatmulKernel(v: TiledVariant): Kernel {
  const { tm, tn, wgx, wgy } = v.tile;
  const name = `matmul_tiled_${tm}x${tn}_${wgx}x${wgy}_${+v.transA}${+v.transB}${+v.vecA}${+v.vecB}`;
  const vec = (x: boolean): BindingType => (x ? 'read vec4<f32>' : 'read f32');
  return variant(name, () => kernel(name, 'main', matmulInterface(vec(v.vecA), vec(v.vecB), 'read_write f32'), generate(v)));
}

/** Zero where the K index is past the end (m: a bool, or a vec4<bool> for a vec4 along K). */
const SEL = (x: string, m: string): string => `select(zero4, ${x}, ${m})`;

function generate(v: TiledVariant): string {
  const { tm, tn, wgx, wgy } = v.tile;
  if (tm % 4 !== 0 || tn % 4 !== 0) throw new Error(`matmul tile ${tm}x${tn}: both must be multiples of 4`);
  const tq = tn / 4;
  const L: string[] = [];
  const e = (s: string): void => {
    L.push(s);
  };
  e(`@compute @workgroup_size(${wgx}, ${wgy})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i0 = gid.y * ${tm}u;
  let j0 = gid.x * ${tn}u;
  let batch = gid.z;
  let abase = P.a_off + batch * P.a_batch;
  let bbase = P.b_off + batch * P.b_batch;
  let lda = P.lda;
  let ldb = P.ldb;
  let kmax = P.k;
  let zero4 = vec4<f32>(0.0);`);
  // A vec4 of 4 consecutive floats of an operand starting at element index `idx` (a u32 expression).
  const load4 = (buf: 'a' | 'b', vec: boolean, idx: string): string =>
    vec ? `${buf}[(${idx}) >> 2u]` : `vec4<f32>(${buf}[${idx}], ${buf}[${idx} + 1u], ${buf}[${idx} + 2u], ${buf}[${idx} + 3u])`;
  // Accumulators as separate variables: an array here (even with constant indices) compiles slower
  // and runs slower on llvmpipe.
  const C = (r: number, q: number): string => `c${r}_${q}`;
  for (let r = 0; r < tm; r++) for (let q = 0; q < tq; q++) e(`  var ${C(r, q)} = zero4;`);
  // Row (or column) starts, per invocation, outside the loop.
  if (!v.transA) e(`  let pa = abase + i0 * lda;`);
  else e(`  let pa = abase + i0;`);
  if (!v.transB) e(`  let pb = bbase + j0;`);
  else e(`  let pb = bbase + j0 * ldb;`);
  e(`  for (var k = 0u; k < kmax; k += 4u) {`);
  // Masks for the K tail: lanes k..k+3 of a vec4 along K, or whole vec4s at steps k+kk.
  e(`    let kin = vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(kmax);`);
  // A values: aval(r, kk) is a scalar expression.
  let aval: (r: number, kk: number) => string;
  if (!v.transA) {
    e(`    let ak = pa + k;`);
    for (let r = 0; r < tm; r++) e(`    let a${r} = ${SEL(load4('a', v.vecA, r === 0 ? 'ak' : `ak + ${r}u * lda`), 'kin')};`);
    aval = (r, kk) => `a${r}.${LANE[kk]}`;
  } else {
    for (let kk = 0; kk < 4; kk++) {
      e(`    let ak${kk} = pa + (k + ${kk}u) * lda;`);
      for (let p = 0; p < tm / 4; p++) e(`    let a${kk}_${p} = ${SEL(load4('a', v.vecA, p === 0 ? `ak${kk}` : `ak${kk} + ${4 * p}u`),
        `kin.${LANE[kk]}`)};`);
    }
    aval = (r, kk) => `a${kk}_${r >> 2}.${LANE[r & 3]}`;
  }
  // B values: bvec(kk, q) is a vec4 expression (columns j0+4q .. j0+4q+3 at step k+kk).
  if (!v.transB) {
    for (let kk = 0; kk < 4; kk++) {
      e(`    let bk${kk} = pb + (k + ${kk}u) * ldb;`);
      for (let q = 0; q < tq; q++) e(`    let b${kk}_${q} = ${SEL(load4('b', v.vecB, q === 0 ? `bk${kk}` : `bk${kk} + ${4 * q}u`),
        `kin.${LANE[kk]}`)};`);
    }
  } else {
    e(`    let bk = pb + k;`);
    for (let s = 0; s < tn; s++) e(`    let bt${s} = ${SEL(load4('b', v.vecB, s === 0 ? 'bk' : `bk + ${s}u * ldb`), 'kin')};`);
    L.push(...transposedB(tq));
  }
  L.push(...accumulate(tm, tq, aval));
  e(`  }`);
  // Stores: a loop (not unrolled: every store is a branchy per-lane scatter, and unrolled ones
  // multiply the JIT's work) over the rows and columns inside the bounds.
  e(`  var acc: array<vec4<f32>, ${tm * tq}>;`);
  for (let r = 0; r < tm; r++) for (let q = 0; q < tq; q++) e(`  acc[${r * tq + q}] = ${C(r, q)};`);
  e(`  let cb = P.c_off + batch * P.c_batch + i0 * P.ldc + j0;
  let rows = select(0u, min(P.m - i0, ${tm}u), i0 < P.m);
  let cols = select(0u, min(P.n - j0, ${tn}u), j0 < P.n);
  let accumulate = P.accumulate != 0u;
  for (var r = 0u; r < rows; r++) {
    let cr = cb + r * P.ldc;
    for (var s = 0u; s < cols; s++) {
      let v = acc[r * ${tq}u + (s >> 2u)][s & 3u];
      if (accumulate) { c[cr + s] = c[cr + s] + v; } else { c[cr + s] = v; }
    }
  }`);
  e(`}`);
  return L.join('\n') + '\n';
}
