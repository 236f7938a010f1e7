// Matmul for llvmpipe (Mesa's software rasteriser running WGSL as AVX code), generated as unrolled
// WGSL text. Why it looks the way it does:
// - llvmpipe runs 8 invocations as the 8 lanes of one vector. A storage load whose address is not a
//   compile-time constant is a scalar loop over the lanes, ~2 cycles a float, while an 8-wide FMA
//   costs half a cycle: every loaded float must feed many FMAs. So each invocation computes a
//   TM x TN block of C (32x16: 128 vec4 accumulators), and loads are vec4 wherever alignment allows
//   (one lane loop fetches 4 floats).
// - Every address in the K loop is a running offset plus a multiple of a row stride. Shapes,
//   strides and offsets are runtime uniforms: baking the strides in as override constants (a
//   pipeline per stride triple) measured no faster, so one pipeline serves every shape of a form,
//   and the token count (M, or K of a weight gradient) may change from batch to batch without a
//   compile. Only the accumulate flag is an override constant (ACC), so a plain store loads nothing.
// - The JIT does no unrolling and compiles at first dispatch: the body is unrolled here, once; the
//   K tail mask (select) is emitted only for a K that is not a multiple of 4.
// - FMAs run accumulator by accumulator (4 in a row on each): the accumulators spill, and this
//   order loads and stores each once per K step.
// Edges: rows and columns past M, N are computed from whatever the (robustness-clamped) loads return
// and never stored; stores are guarded per row and per vec4 (vecC: N, LDC and the C offset multiples
// of 4) or per float. Guards are lane masks on llvmpipe, so the interior pays almost nothing.
//
// The contract (parameters, bindings, indexing) is every matmul kernel's (kernels/matmul.ts), but
// for accumulating: here the override constant ACC.
//
// Texture operands (texA, texB): a vec4 operand may instead be read with textureLoad from an
// rgba32float texture that holds a copy of the part of its window the dispatch reads (the engine
// records that copy in the same submit). On llvmpipe a texel fetch is a vectorised gather while a
// storage load with lane-varying addresses is a loop over the lanes, so on CPUs where that loop is
// slow the texture wins by far. The summation order is the same whatever the operand source and
// tile, so every choice gives the same bits.
// Measured: docs/measurements.md, 'Matmul on llvmpipe'.
import { kernel, LANE, TEXTURE_ROW, variant, type BindingType, type Kernel } from './kernel.ts';
import { accumulate, MATMUL_PARAMS, transposedB } from './matmul.ts';

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
  /** Read A (B) from an rgba32float texture holding a copy of its binding window (needs vecA
   *  (vecB)): see TEXTURE_ROW. */
  texA?: boolean;
  texB?: boolean;
}

/** What the tuner chooses per matmul class (engine/tune/): the tile, and whether vec4 operands
 *  are read as textures. */
export interface LlvmpipeChoice {
  tm: number;
  tn: number;
  wgx: number;
  wgy: number;
  textures: boolean;
}

const choice = (textures: boolean, tm: number, tn: number, wgx = 8, wgy = 1): LlvmpipeChoice => ({ tm, tn, wgx, wgy, textures });

/** What the tuner (engine/tune/) times, by bucket ('large' products, medium ones too, 'thin' ones
 *  of a few rows, as in generation, 'scalar' ones whose operands both load floats), the most likely
 *  winners first, since a time budget may stop the list. The first is the built-in choice
 *  (WGPT_TUNE=off, a class not measured yet, and untuned small products): texture 32x16, close to
 *  the best large variant and the fastest to compile. Texture choices apply to vec4 operands only;
 *  storage stays a candidate, since a newer Mesa makes storage loads several times cheaper.
 *  Measured: docs/measurements.md, 'Matmul on llvmpipe'. */
export const LLVMPIPE_CANDIDATES: Record<'large' | 'thin' | 'scalar', LlvmpipeChoice[]> = {
  large: [choice(true, 32, 16), choice(true, 32, 32), choice(false, 32, 16), choice(true, 16, 32), choice(true, 64, 16),
    choice(true, 16, 16)],
  thin: [choice(true, 16, 16), choice(true, 16, 32), choice(true, 16, 8), choice(false, 16, 16), choice(true, 16, 16, 16, 1)],
  // Both operands load floats (not worth textures): 16x16 runs as fast as 32x16 there and compiles
  // faster.
  scalar: [choice(false, 16, 16), choice(false, 32, 16)],
};

/** A choice's name in tables and the tuner's cache: `texture 32x16`, `storage 16x16 4x2`. */
export function llvmpipeChoiceName(c: LlvmpipeChoice): string {
  const wg = c.wgx === 8 && c.wgy === 1 ? '' : ` ${c.wgx}x${c.wgy}`;
  return `${c.textures ? 'texture' : 'storage'} ${c.tm}x${c.tn}${wg}`;
}

export function llvmpipeMatmulKernel(v: LlvmpipeVariant): Kernel {
  const f = (x: boolean): number => +x;
  const tex = v.texA || v.texB ? `_x${f(!!v.texA)}${f(!!v.texB)}` : '';
  const name = `matmul_llvmpipe_${v.tm}x${v.tn}_${v.wgx}x${v.wgy}_t${f(v.transA)}${f(v.transB)}` +
    `_v${f(v.vecA)}${f(v.vecB)}${f(v.vecC)}_k${f(v.kAligned)}${tex}`;
  if ((v.texA && !v.vecA) || (v.texB && !v.vecB)) throw new Error('a texture operand must be vec4-aligned');
  // A texture operand is bound as a_tex (b_tex) and read through a function a (b), see generate.
  const bindings: Record<string, BindingType> = {
    [v.texA ? 'a_tex' : 'a']: v.texA ? 'texture' : v.vecA ? 'read vec4<f32>' : 'read f32',
    [v.texB ? 'b_tex' : 'b']: v.texB ? 'texture' : v.vecB ? 'read vec4<f32>' : 'read f32',
    c: v.vecC ? 'read_write vec4<f32>' : 'read_write f32',
  };
  return variant(name, () => kernel(name, 'main', { params: MATMUL_PARAMS, bindings, overrides: { ACC: false } }, generate(v)));
}

function generate(v: LlvmpipeVariant): string {
  const { tm, tn, wgx, wgy } = v;
  if (tm % 4 !== 0 || tn % 4 !== 0) throw new Error(`matmul tile ${tm}x${tn}: both must be multiples of 4`);
  const tq = tn / 4;
  const L: string[] = [];
  const e = (s: string): void => {
    L.push(s);
  };
  // A texture operand is read through a function of the same name as the buffer it replaces, so
  // the loads below are written once: `a(i)` is the i-th vec4 of the window (texel i, rows of
  // TEXTURE_ROW texels), `a[i]` the i-th element of a storage array.
  const texel = `vec2<u32>(i & ${TEXTURE_ROW - 1}u, i >> ${Math.log2(TEXTURE_ROW)}u)`;
  for (const [name, tex] of [['a', v.texA], ['b', v.texB]] as const) {
    if (tex) e(`fn ${name}(i: u32) -> vec4<f32> { return textureLoad(${name}_tex, ${texel}, 0); }`);
  }
  const vload = (buf: 'a' | 'b', i: string): string => ((buf === 'a' ? v.texA : v.texB) ? `${buf}(${i})` : `${buf}[${i}]`);
  e(`@compute @workgroup_size(${wgx}, ${wgy})
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
    ? vload(buf, add(base, off))
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
        e(`    let a${kk}_${p} = ${mask(v.vecA ? vload('a', add('pa', `${kk}u * ${lda} + ${p}u`)) : load4('a', false, 'pa', off),
          `kin.${LANE[kk]}`)};`);
      }
    }
    aval = (r, kk) => `a${kk}_${r >> 2}.${LANE[r & 3]}`;
  }
  // B values: b{kk}_{q} is a vec4 (columns j0+4q .. j0+4q+3 at step k+kk).
  if (!v.transB) {
    for (let kk = 0; kk < 4; kk++) {
      for (let q = 0; q < tq; q++) {
        const x = v.vecB ? vload('b', add('pb', `${kk}u * ${ldb} + ${q}u`)) : load4('b', false, 'pb', `${kk}u * LDB + ${4 * q}u`);
        e(`    let b${kk}_${q} = ${mask(x, `kin.${LANE[kk]}`)};`);
      }
    }
  } else {
    // Row s of Bᵀ as stored: one vec4 along K, then transposed in registers.
    for (let s = 0; s < tn; s++) e(`    let bt${s} = ${mask(load4('b', v.vecB, 'pb', `${s}u * ${ldb}`), 'kin')};`);
    L.push(...transposedB(tq));
  }
  L.push(...accumulate(tm, tq, aval));
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
