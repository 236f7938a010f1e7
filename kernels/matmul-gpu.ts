// Matmul for real GPUs: block tiles in workgroup memory with register blocking, the classic SGEMM
// shape. A workgroup of (BN/TN) x (BM/TM) invocations computes a BM x BN block of C; K is walked in
// steps of BK. Each step the whole workgroup copies the A block (BM x BK) and the B block (BK x BN)
// into workgroup memory with coalesced loads (consecutive invocations read consecutive addresses in
// either transpose), then every invocation runs BK rank-1 updates of its TM x TN accumulators.
// The next step's blocks are loaded into registers before the current step's FMAs (one buffer in
// registers, one in workgroup memory), so global latency hides behind arithmetic.
// Invocation (tx, ty) owns rows ty + r·(BM/TM) and columns tx + c·(BN/TN): reads of the B block are
// consecutive across tx (no bank conflicts), reads of the A block broadcast across tx, and the
// stores to C are coalesced.
//
// The contract (parameters, bindings, indexing) is every matmul kernel's: kernels/matmul.ts.
// Exact at any M, N, K: loads past an edge read 0 (the index is clamped, the value selected away),
// stores past an edge are skipped. No shape is baked in: one pipeline per (tile, transposes).
// A `v4` tile is the cuBLAS-class form: each invocation owns groups of 4 consecutive rows and
// columns, so it reads its A and B values from workgroup memory as vec4s, loads an operand as vec4s
// where it is aligned (leading dimension, offset, batch stride multiples of 4: `vec`), stores C as
// vec4s where C is, and double-buffers the blocks (the next step is stored into the other half
// while this one is read: one barrier a step). Each output still sums its products over K in
// order, one fma at a time, so a v4 tile gives the same bits as the scalar ones.
// On llvmpipe this kernel is slow (there every workgroup-memory access whose address is not a
// constant runs as a scalar loop over the vector's lanes, and barriers split the invocations);
// tests run it there at small shapes (DeviceOptions.kernels = 'gpu'), and only small ones: Mesa ends
// an invocation's loops after 65535 iterations in all, which this kernel's nested loops pass at K of
// a few thousand.
import { kernel, variant, type BindingType, type Kernel } from './kernel.ts';
import { generateV4, gpuEntry, type GpuMatmulTile, type GpuVec } from './matmul-gpu-v4.ts';

export type { GpuMatmulTile, GpuVec } from './matmul-gpu-v4.ts';
import { matmulInterface } from './matmul.ts';

const SCALAR: GpuVec = { a: false, b: false, c: false };

/** 64x64 blocks, 4x4 per invocation, 256 invocations, 8 KiB of workgroup memory: enough
 *  workgroups at the chapter's shapes (M = 512..1024 tokens) to fill a 132-SM GPU, and the
 *  register use (16 accumulators + 8 operands + prefetch) leaves room for several groups per SM. */
export const GPU_MATMUL_TILE: GpuMatmulTile = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };

/** What the tuner (engine/tune/) times on a GPU, the built-in tile first: bigger blocks with more
 *  accumulators per invocation (fewer workgroup-memory reads per FMA, fewer workgroups), a smaller
 *  block for products too small to fill the GPU with 64x64 blocks. All 256 invocations; each
 *  output sums over K in order, so every tile gives the same bits. */
export const GPU_MATMUL_CANDIDATES: GpuMatmulTile[] = [
  GPU_MATMUL_TILE,
  { bm: 128, bn: 64, bk: 16, tm: 8, tn: 4 },
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 },
  { bm: 32, bn: 64, bk: 16, tm: 2, tn: 4 },
  { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, v4: true },
  { bm: 128, bn: 64, bk: 16, tm: 8, tn: 4, v4: true },
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, v4: true },
  { bm: 32, bn: 64, bk: 16, tm: 4, tn: 4, v4: true },
];

/** A tile's name in tables and the tuner's cache: `64x64x16 4x4`. */
export function gpuTileName(t: GpuMatmulTile): string {
  return `${t.bm}x${t.bn}x${t.bk} ${t.tm}x${t.tn}${t.v4 ? ' v4' : ''}`;
}

export function gpuMatmulKernel(tile: GpuMatmulTile, transA: boolean, transB: boolean, vec: GpuVec = SCALAR): Kernel {
  const { bm, bn, bk, tm, tn } = tile;
  if (tile.v4) {
    const threads = (bm / tm) * (bn / tn);
    // An operand loads as vec4 only where its block splits into whole vec4s per invocation.
    const v = { a: vec.a && (bm * bk) % (4 * threads) === 0, b: vec.b && (bk * bn) % (4 * threads) === 0, c: vec.c };
    const name = `matmul_gpu_${bm}x${bn}x${bk}_${tm}x${tn}_v4_${+transA}${+transB}${+v.a}${+v.b}${+v.c}`;
    const t = (x: boolean, access: 'read' | 'read_write'): BindingType => `${access} ${x ? 'vec4<f32>' : 'f32'}`;
    const iface = matmulInterface(t(v.a, 'read'), t(v.b, 'read'), t(v.c, 'read_write'));
    return variant(name, () => kernel(name, 'main', iface, generateV4(tile, transA, transB, v)));
  }
  const name = `matmul_gpu_${bm}x${bn}x${bk}_${tm}x${tn}_${+transA}${+transB}`;
  const iface = matmulInterface('read f32', 'read f32', 'read_write f32');
  return variant(name, () => kernel(name, 'main', iface, generate(tile, transA, transB)));
}

/** Workgroup grid for C [batch, m, n]. */
export function gpuMatmulGrid(tile: GpuMatmulTile, m: number, n: number, batch: number): [number, number, number] {
  return [Math.ceil(n / tile.bn), Math.ceil(m / tile.bm), batch];
}

function generate(tile: GpuMatmulTile, transA: boolean, transB: boolean): string {
  const { bm, bn, bk, tm, tn } = tile;
  const wx = bn / tn;
  const wy = bm / tm;
  const threads = wx * wy;
  if (!Number.isInteger(wx) || !Number.isInteger(wy)) throw new Error(`gpu matmul tile ${bm}x${bn}: not a multiple of ${tm}x${tn}`);
  if ((bm * bk) % threads !== 0 || (bk * bn) % threads !== 0) {
    throw new Error(`gpu matmul tile ${bm}x${bn}x${bk}: the blocks must split evenly over ${threads} invocations`);
  }
  const la = (bm * bk) / threads; // A elements each invocation loads per step
  const lb = (bk * bn) / threads;
  // Element e of a block, as (row of K, column) of the block, for a coalesced load: consecutive
  // invocations take consecutive addresses of the operand as stored.
  const aCoord = transA
    ? { kk: `e / ${bm}u`, i: `e % ${bm}u` } // stored [K, M]: consecutive along M
    : { kk: `e % ${bk}u`, i: `e / ${bk}u` }; // stored [M, K]: consecutive along K
  const bCoord = transB
    ? { kk: `e % ${bk}u`, j: `e / ${bk}u` } // stored [N, K]: consecutive along K
    : { kk: `e / ${bn}u`, j: `e % ${bn}u` }; // stored [K, N]: consecutive along N
  const aIndex = transA ? 'gk * P.lda + gi' : 'gi * P.lda + gk';
  const bIndex = transB ? 'gj * P.ldb + gk' : 'gk * P.ldb + gj';
  return `// The blocks as [BK][BM] and [BK][BN]: a step's rank-1 update reads one row of each.
var<workgroup> As: array<f32, ${bk * bm}>;
var<workgroup> Bs: array<f32, ${bk * bn}>;

${gpuEntry(wx, wy, bm, bn, bk)}  var ra: array<f32, ${la}>;
  var rb: array<f32, ${lb}>;
  var acc: array<f32, ${tm * tn}>;
  for (var s = 0u; s < ${tm * tn}u; s++) { acc[s] = 0.0; }

  // Block loads of step 0 into registers.
  ${loadBlocks(0, bk, la, lb, aCoord, bCoord, aIndex, bIndex, threads)}
  for (var step = 0u; step < steps; step++) {
    for (var p = 0u; p < ${la}u; p++) {
      let e = l + p * ${threads}u;
      As[(${aCoord.kk}) * ${bm}u + ${aCoord.i}] = ra[p];
    }
    for (var p = 0u; p < ${lb}u; p++) {
      let e = l + p * ${threads}u;
      Bs[(${bCoord.kk}) * ${bn}u + ${bCoord.j}] = rb[p];
    }
    workgroupBarrier();
    // The next step's blocks, in flight while this step's FMAs run.
    if (step + 1u < steps) {
      ${loadBlocks(1, bk, la, lb, aCoord, bCoord, aIndex, bIndex, threads)}
    }
    for (var kk = 0u; kk < ${bk}u; kk++) {
      var av: array<f32, ${tm}>;
      var bv: array<f32, ${tn}>;
      for (var r = 0u; r < ${tm}u; r++) { av[r] = As[kk * ${bm}u + ty + r * ${wy}u]; }
      for (var q = 0u; q < ${tn}u; q++) { bv[q] = Bs[kk * ${bn}u + tx + q * ${wx}u]; }
      for (var r = 0u; r < ${tm}u; r++) {
        for (var q = 0u; q < ${tn}u; q++) { acc[r * ${tn}u + q] = fma(av[r], bv[q], acc[r * ${tn}u + q]); }
      }
    }
    workgroupBarrier();
  }

  let cbase = P.c_off + wid.z * P.c_batch;
  for (var r = 0u; r < ${tm}u; r++) {
    let i = i0 + ty + r * ${wy}u;
    if (i >= P.m) { break; }
    for (var q = 0u; q < ${tn}u; q++) {
      let j = j0 + tx + q * ${wx}u;
      if (j < P.n) {
        let at = cbase + i * P.ldc + j;
        let v = acc[r * ${tn}u + q];
        if (P.accumulate != 0u) { c[at] = c[at] + v; } else { c[at] = v; }
      }
    }
  }
}
`;
}

/** WGSL that loads this invocation's share of the A and B blocks of step `step + ahead` into
 *  ra / rb, zero past the edges (a clamped index keeps the read in bounds). */
function loadBlocks(ahead: number, bk: number, la: number, lb: number, aCoord: { kk: string; i: string }, bCoord: { kk: string; j: string },
  aIndex: string, bIndex: string, threads: number): string {
  const k0 = ahead ? '(step + 1u)' : '0u';
  // One operand: `count` elements per invocation into `reg`, its row (or column) g{x} from x0.
  const operand = (count: number, x: 'i' | 'j', at: string, kk: string, edge: string, op: 'a' | 'b', index: string): string => `
    for (var p = 0u; p < ${count}u; p++) {
      let e = l + p * ${threads}u;
      let g${x} = ${x}0 + ${at};
      let gk = k0 + ${kk};
      let ok = g${x} < ${edge} && gk < P.k;
      r${op}[p] = select(0.0, ${op}[${op}base + select(0u, ${index}, ok)], ok);
    }`;
  const a = operand(la, 'i', aCoord.i, aCoord.kk, 'P.m', 'a', aIndex);
  const b = operand(lb, 'j', bCoord.j, bCoord.kk, 'P.n', 'b', bIndex);
  return `{
    let k0 = ${k0} * ${bk}u;${a}${b}
  }`;
}
