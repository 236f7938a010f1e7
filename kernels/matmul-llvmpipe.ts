// Matmul for llvmpipe (Mesa's software rasteriser running WGSL as AVX code), generated as unrolled
// WGSL text. Why it looks the way it does:
// - llvmpipe runs 8 invocations as the 8 lanes of one vector. A storage load whose address is not a
//   compile-time constant is a scalar loop over the lanes, ~2 cycles a float, while an 8-wide FMA
//   costs half a cycle: every loaded float must feed many FMAs. So each invocation computes a
//   TM x TN block of C (32x16: 128 vec4 accumulators), and loads are vec4 wherever alignment allows
//   (one lane loop fetches 4 floats).
// - Every address in the K loop is a running offset plus a multiple of a row stride. Shapes,
//   strides and offsets are runtime uniforms: baking the strides in as override constants (a
//   pipeline per stride triple) measured no faster (28.6 vs 28.7 GFLOP/s per 2 CPU-seconds at 1024³
//   and at 768x2304x1024 tn), so one pipeline serves every shape of a form, and the token count
//   (M, or K of a weight gradient) may change from batch to batch without a compile. Only the
//   accumulate flag is an override constant (ACC), so a plain store loads nothing.
// - The JIT does no unrolling and compiles at first dispatch: the body is unrolled here, once; the
//   K tail mask (select) is emitted only for a K that is not a multiple of 4.
// - FMAs run accumulator by accumulator (4 in a row on each): the accumulators spill, and this
//   order loads and stores each once per K step.
// Edges: rows and columns past M, N are computed from whatever the (robustness-clamped) loads return
// and never stored; stores are guarded per row and per vec4 (vecC: N, LDC and the C offset multiples
// of 4) or per float. Guards are lane masks on llvmpipe, so the interior pays almost nothing.
//
// The contract (parameter block, bindings, indexing) is that of kernels/matmul.wgsl:
//   A(i,k) = a[a_off + batch*a_batch + (TRANS_A ? k*lda + i : i*lda + k)]
//   B(k,j) = b[b_off + batch*b_batch + (TRANS_B ? j*ldb + k : k*ldb + j)]
//   C(i,j) = c[c_off + batch*c_batch + i*ldc + j]      (+= when ACC, an override constant here)
// A vec4 operand (vecA, vecB, vecC) needs its stride, offset and batch stride to be multiples of 4;
// the engine checks that before choosing one.
import type { Kernel } from './kernel.ts';

export interface LlvmpipeVariant {
  /** Rows and columns of C per invocation (multiples of 4); workgroup size (x along N). */
  tm: number;
  tn: number;
  wgx: number;
  wgy: number;
  transA: boolean;
  transB: boolean;
  vecA: boolean;
  vecB: boolean;
  /** vec4 stores: LDC, c_off, c_batch and N multiples of 4. */
  vecC: boolean;
  /** K % 4 == 0: no tail mask in the K loop. */
  kAligned: boolean;
}

/** Tiles (see the table in kernels/matmul-tiled.ts): 32x16 where an operand loads as vec4; where
 *  both load floats, 16x16 runs as fast and compiles 3x faster (2.4-2.9 vs 8-8.7 s CPU). With one
 *  vec4 operand 32x16 is ~20% faster than 16x16 and compiles in 4.7 s CPU. */
export const LLVMPIPE_TILES = {
  vec4: { tm: 32, tn: 16, wgx: 8, wgy: 1 },
  scalar: { tm: 16, tn: 16, wgx: 8, wgy: 1 },
};

const cache = new Map<string, Kernel>();

export function llvmpipeMatmulKernel(v: LlvmpipeVariant): Kernel {
  const f = (x: boolean): number => +x;
  const name = `matmul_llvmpipe_${v.tm}x${v.tn}_${v.wgx}x${v.wgy}_t${f(v.transA)}${f(v.transB)}_v${f(v.vecA)}${f(v.vecB)}${f(v.vecC)}_k${f(v.kAligned)}`;
  let kernel = cache.get(name);
  if (!kernel) {
    kernel = { name, code: generate(v), entry: 'main' };
    cache.set(name, kernel);
  }
  return kernel;
}

const LANE = ['x', 'y', 'z', 'w'];

function generate(v: LlvmpipeVariant): string {
  const { tm, tn, wgx, wgy } = v;
  if (tm % 4 !== 0 || tn % 4 !== 0) throw new Error(`matmul tile ${tm}x${tn}: both must be multiples of 4`);
  const tq = tn / 4;
  const L: string[] = [];
  const e = (s: string): void => {
    L.push(s);
  };
  const vt = (vec: boolean): string => (vec ? 'vec4<f32>' : 'f32');
  e(`struct Mm {
  m: u32, n: u32, k: u32, lda: u32,
  ldb: u32, ldc: u32, a_batch: u32, b_batch: u32,
  c_batch: u32, a_off: u32, b_off: u32, c_off: u32,
  accumulate: u32, _p0: u32, _p1: u32, _p2: u32,
}
override ACC: bool;
@group(0) @binding(0) var<uniform> P: Mm;
@group(0) @binding(1) var<storage, read> a: array<${vt(v.vecA)}>;
@group(0) @binding(2) var<storage, read> b: array<${vt(v.vecB)}>;
@group(0) @binding(3) var<storage, read_write> c: array<${vt(v.vecC)}>;

@compute @workgroup_size(${wgx}, ${wgy})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i0 = gid.y * ${tm}u;
  let j0 = gid.x * ${tn}u;
  let batch = gid.z;
  let zero4 = vec4<f32>(0.0);
  let LDA = P.lda;
  let LDB = P.ldb;
  let LDC = P.ldc;`);
  // Operand element strides and start offsets, in the units of each buffer (vec4 or float).
  const unit = (vec: boolean, x: string): string => (vec ? `(${x}) / 4u` : x);
  const lda = v.vecA ? 'LDA / 4u' : 'LDA';
  const ldb = v.vecB ? 'LDB / 4u' : 'LDB';
  e(`  var pa = ${unit(v.vecA, `P.a_off + batch * P.a_batch + ${v.transA ? 'i0' : 'i0 * LDA'}`)};`);
  e(`  var pb = ${unit(v.vecB, `P.b_off + batch * P.b_batch + ${v.transB ? 'j0 * LDB' : 'j0'}`)};`);
  // Accumulators as separate variables: an array (even with constant indices) compiles and runs
  // slower on llvmpipe.
  const C = (r: number, q: number): string => `c${r}_${q}`;
  for (let r = 0; r < tm; r++) for (let q = 0; q < tq; q++) e(`  var ${C(r, q)} = zero4;`);
  e(`  for (var k = 0u; k < P.k; k += 4u) {`);
  if (!v.kAligned) e(`    let kin = vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(P.k);`);
  const mask = (x: string, m: string): string => (v.kAligned ? x : `select(zero4, ${x}, ${m})`);
  // 4 consecutive floats at buffer index `at` (a running offset plus constants).
  const add = (base: string, off: string): string => (off === '0u' ? base : `${base} + ${off}`);
  const load4 = (buf: 'a' | 'b', vec: boolean, base: string, off: string): string => (vec
    ? `${buf}[${add(base, off)}]`
    : `vec4<f32>(${[0, 1, 2, 3].map((i) => `${buf}[${add(base, `${off} + ${i}u`)}]`).join(', ')})`);
  // A values: aval(r, kk) is a scalar expression.
  let aval: (r: number, kk: number) => string;
  if (!v.transA) {
    // Row r of A, K steps k..k+3: one vec4 along K.
    for (let r = 0; r < tm; r++) e(`    let a${r} = ${mask(load4('a', v.vecA, 'pa', `${r}u * ${lda}`), 'kin')};`);
    aval = (r, kk) => `a${r}.${LANE[kk]}`;
  } else {
    // Row k+kk of Aᵀ as stored: vec4s along M.
    for (let kk = 0; kk < 4; kk++) {
      for (let p = 0; p < tm / 4; p++) {
        const off = `${kk}u * LDA + ${4 * p}u`;
        e(`    let a${kk}_${p} = ${mask(v.vecA ? `a[${add('pa', `${kk}u * ${lda} + ${p}u`)}]` : load4('a', false, 'pa', off), `kin.${LANE[kk]}`)};`);
      }
    }
    aval = (r, kk) => `a${kk}_${r >> 2}.${LANE[r & 3]}`;
  }
  // B values: b{kk}_{q} is a vec4 (columns j0+4q .. j0+4q+3 at step k+kk).
  if (!v.transB) {
    for (let kk = 0; kk < 4; kk++) {
      for (let q = 0; q < tq; q++) {
        const x = v.vecB ? `b[${add('pb', `${kk}u * ${ldb} + ${q}u`)}]` : load4('b', false, 'pb', `${kk}u * LDB + ${4 * q}u`);
        e(`    let b${kk}_${q} = ${mask(x, `kin.${LANE[kk]}`)};`);
      }
    }
  } else {
    // Row s of Bᵀ as stored: one vec4 along K, then transposed in registers.
    for (let s = 0; s < tn; s++) e(`    let bt${s} = ${mask(load4('b', v.vecB, 'pb', `${s}u * ${ldb}`), 'kin')};`);
    for (let kk = 0; kk < 4; kk++) {
      for (let q = 0; q < tq; q++) {
        const l = LANE[kk];
        e(`    let b${kk}_${q} = vec4<f32>(bt${4 * q}.${l}, bt${4 * q + 1}.${l}, bt${4 * q + 2}.${l}, bt${4 * q + 3}.${l});`);
      }
    }
  }
  for (let r = 0; r < tm; r++) {
    for (let q = 0; q < tq; q++) {
      for (let kk = 0; kk < 4; kk++) e(`    ${C(r, q)} = fma(vec4<f32>(${aval(r, kk)}), b${kk}_${q}, ${C(r, q)});`);
    }
  }
  // Advance the running offsets by one K step of 4.
  const stepA = v.transA ? `4u * ${lda}` : v.vecA ? '1u' : '4u';
  const stepB = v.transB ? (v.vecB ? '1u' : '4u') : `4u * ${ldb}`;
  e(`    pa += ${stepA};`);
  e(`    pb += ${stepB};`);
  e(`  }`);
  // Stores, unrolled: a runtime loop would need the accumulators in an array, which took 3x the
  // compile time and ran at half the speed (measured). ACC (C += A·B) is an override constant, so
  // the plain store carries no load of the old value (which may be garbage, even NaN).
  if (v.vecC) {
    // vec4 stores, each guarded by its row and its 4 columns (N % 4 == 0).
    e(`  let pc = (P.c_off + batch * P.c_batch + i0 * LDC + j0) / 4u;`);
    for (let q = 0; q < tq; q++) e(`  let col${q} = j0 + ${4 * q}u < P.n;`);
    for (let r = 0; r < tm; r++) {
      e(`  if (i0 + ${r}u < P.m) {`);
      for (let q = 0; q < tq; q++) {
        const at = add('pc', `${r}u * (LDC / 4u) + ${q}u`);
        e(`    if (col${q}) { if (ACC) { c[${at}] += ${C(r, q)}; } else { c[${at}] = ${C(r, q)}; } }`);
      }
      e(`  }`);
    }
  } else {
    // Float stores (N or LDC not a multiple of 4), each guarded by its row and column.
    e(`  let pc = P.c_off + batch * P.c_batch + i0 * LDC + j0;`);
    for (let s = 0; s < tn; s++) e(`  let col${s} = j0 + ${s}u < P.n;`);
    for (let r = 0; r < tm; r++) {
      e(`  if (i0 + ${r}u < P.m) {`);
      for (let s = 0; s < tn; s++) {
        const at = add('pc', `${r}u * LDC + ${s}u`);
        const x = `${C(r, s >> 2)}.${LANE[s & 3]}`;
        e(`    if (col${s}) { if (ACC) { c[${at}] += ${x}; } else { c[${at}] = ${x}; } }`);
      }
      e(`  }`);
    }
  }
  e(`}`);
  return L.join('\n') + '\n';
}
