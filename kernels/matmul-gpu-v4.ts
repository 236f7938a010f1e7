// The v4 form of kernels/matmul-gpu.ts (see there): invocation (tx, ty) owns rows
// 4(ty + r·BM/TM) .. +3 and columns 4(tx + q·BN/TN) .. +3 of the block, for r < TM/4, q < TN/4, so
// its reads of the blocks in workgroup memory are vec4s (consecutive tx read consecutive vec4s) and
// its stores to C are too. Blocks as [2][BK][BM/4] and [2][BK][BN/4] vec4s: two buffers, the next
// step's blocks stored into one while this step's are read from the other.
export interface GpuMatmulTile {
  /** A GPU matmul tile (kernels/matmul-gpu.ts). Rows and columns of C per workgroup. */
  bm: number;
  bn: number;
  /** K per step (the depth of the workgroup-memory blocks). */
  bk: number;
  /** Rows and columns of C per invocation. */
  tm: number;
  tn: number;
  /** The vec4, double-buffered form (tm and tn multiples of 4). */
  v4?: boolean;
}

/** Which operands may load (store) as vec4: leading dimension, offset and batch stride multiples of
 *  4 (C's columns too). Only a v4 tile uses it. */
export interface GpuVec {
  a: boolean;
  b: boolean;
  c: boolean;
}

const LANES = ['x', 'y', 'z', 'w'];

/** The GPU tiles' entry point and what every one computes first: its thread (tx, ty, l), block
 *  origin (i0, j0), operand bases and K steps. */
export function gpuEntry(wx: number, wy: number, bm: number, bn: number, bk: number): string {
  return `@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let l = ty * ${wx}u + tx;
  let i0 = wid.y * ${bm}u;
  let j0 = wid.x * ${bn}u;
  let abase = P.a_off + wid.z * P.a_batch;
  let bbase = P.b_off + wid.z * P.b_batch;
  let steps = (P.k + ${bk - 1}u) / ${bk}u;
`;
}

/** WGSL of one v4 kernel: `vec` says which operands load (store) as vec4. */
export function generateV4(tile: GpuMatmulTile, transA: boolean, transB: boolean, vec: GpuVec): string {
  const { bm, bn, bk, tm, tn } = tile;
  const wx = bn / tn;
  const wy = bm / tm;
  const threads = wx * wy;
  if (tm % 4 !== 0 || tn % 4 !== 0 || !Number.isInteger(wx) || !Number.isInteger(wy) || bk % 4 !== 0) {
    throw new Error(`gpu matmul v4 tile ${bm}x${bn}x${bk} ${tm}x${tn}: TM, TN, BK multiples of 4 dividing the block`);
  }
  if ((bm * bk) % threads !== 0 || (bk * bn) % threads !== 0) {
    throw new Error(`gpu matmul tile ${bm}x${bn}x${bk}: the blocks must split evenly over ${threads} invocations`);
  }
  const [tr, tq] = [tm / 4, tn / 4];
  const [am4, bn4] = [bm / 4, bn / 4];
  const half = { a: bk * am4, b: bk * bn4 };
  const a = operand('a', transA, vec.a, bm, bk, threads);
  const b = operand('b', !transB, vec.b, bn, bk, threads);
  const fmas: string[] = [];
  for (let r = 0; r < tr; r++) {
    for (let l = 0; l < 4; l++) {
      for (let q = 0; q < tq; q++) {
        const at = (4 * r + l) * tq + q;
        fmas.push(`      acc[${at}] = fma(vec4<f32>(av${r}.${LANES[l]}), bv${q}, acc[${at}]);`);
      }
    }
  }
  const reads = [
    ...Array.from({ length: tr }, (_, r) => `      let av${r} = As[cur * ${half.a}u + kk * ${am4}u + ${r * wy}u + ty];`),
    ...Array.from({ length: tq }, (_, q) => `      let bv${q} = Bs[cur * ${half.b}u + kk * ${bn4}u + ${q * wx}u + tx];`),
  ];
  const cIndex = vec.c ? '(cbase + i * P.ldc + j) >> 2u' : '';
  const store = vec.c
    ? `if (j < P.n) {
          let v = acc[(r * 4u + l) * ${tq}u + q];
          if (P.accumulate != 0u) { c[${cIndex}] = c[${cIndex}] + v; } else { c[${cIndex}] = v; }
        }`
    : `for (var e = 0u; e < 4u; e++) {
          if (j + e < P.n) {
            let at = cbase + i * P.ldc + j + e;
            let v = acc[(r * 4u + l) * ${tq}u + q][e];
            if (P.accumulate != 0u) { c[at] = c[at] + v; } else { c[at] = v; }
          }
        }`;
  return `var<workgroup> As: array<vec4<f32>, ${2 * half.a}>;
var<workgroup> Bs: array<vec4<f32>, ${2 * half.b}>;

${gpuEntry(wx, wy, bm, bn, bk)}  var ra: array<${a.reg}, ${a.count}>;
  var rb: array<${b.reg}, ${b.count}>;
  var acc: array<vec4<f32>, ${tm * tq}>;
  for (var s = 0u; s < ${tm * tq}u; s++) { acc[s] = vec4<f32>(0.0); }

  {
    let k0 = 0u;
${a.load}
${b.load}
    let nxt = 0u;
${a.store}
${b.store}
  }
  workgroupBarrier();
  for (var step = 0u; step < steps; step++) {
    let cur = step & 1u;
    let more = step + 1u < steps;
    // The next step's blocks into registers, in flight while this step's FMAs run.
    if (more) {
      let k0 = (step + 1u) * ${bk}u;
${a.load}
${b.load}
    }
    for (var kk = 0u; kk < ${bk}u; kk++) {
${reads.join('\n')}
${fmas.join('\n')}
    }
    if (more) {
      let nxt = 1u - cur;
${a.store}
${b.store}
    }
    workgroupBarrier();
  }

  let cbase = P.c_off + wid.z * P.c_batch;
  for (var r = 0u; r < ${tr}u; r++) {
    for (var l = 0u; l < 4u; l++) {
      let i = i0 + (r * ${wy}u + ty) * 4u + l;
      if (i >= P.m) { break; }
      for (var q = 0u; q < ${tq}u; q++) {
        let j = j0 + (q * ${wx}u + tx) * 4u;
        ${store}
      }
    }
  }
}
`;
}

/** One operand's block load (global memory to registers) and store (registers to the workgroup
 *  buffer `nxt`). The block is BK x `width` (width: BM for A, BN for B); `alongWidth`: the operand
 *  as stored is contiguous along the width (A transposed, B not), else along K. With `vec`, each
 *  invocation loads vec4s along the contiguous axis (lanes past an edge are 0). */
function operand(x: 'a' | 'b', alongWidth: boolean, vec: boolean, width: number, bk: number, threads: number):
  { reg: string; count: number; load: string; store: string } {
  const X = x.toUpperCase() + 's';
  const w4 = width / 4;
  const half = bk * w4;
  const [edge, ld, base, g0] = x === 'a' ? ['P.m', 'P.lda', 'abase', 'i0'] : ['P.n', 'P.ldb', 'bbase', 'j0'];
  // The element at (gw: along the width, gk: along K), as stored.
  const index = (gw: string, gk: string): string => (alongWidth ? `${gk} * ${ld} + ${gw}` : `${gw} * ${ld} + ${gk}`);
  // Writes one float of the block at (kk, w) into buffer nxt.
  const put = (kk: string, w: string, v: string): string => `${X}[nxt * ${half}u + (${kk}) * ${w4}u + ((${w}) >> 2u)][(${w}) & 3u] = ${v};`;
  const vec4Ok = vec && (bk * width) % (4 * threads) === 0;
  if (!vec4Ok) {
    const count = (bk * width) / threads;
    // Consecutive invocations take consecutive addresses of the operand as stored.
    const coord = alongWidth ? { kk: `e / ${width}u`, w: `e % ${width}u` } : { kk: `e % ${bk}u`, w: `e / ${bk}u` };
    return {
      reg: 'f32', count,
      load: `    for (var p = 0u; p < ${count}u; p++) {
      let e = l + p * ${threads}u;
      let gw = ${g0} + ${coord.w};
      let gk = k0 + ${coord.kk};
      let ok = gw < ${edge} && gk < P.k;
      r${x}[p] = select(0.0, ${x}[${base} + select(0u, ${index('gw', 'gk')}, ok)], ok);
    }`,
      store: `    for (var p = 0u; p < ${count}u; p++) {
      let e = l + p * ${threads}u;
      ${put(coord.kk, coord.w, `r${x}[p]`)}
    }`,
    };
  }
  const count = (bk * width) / 4 / threads;
  // e counts vec4s: along the width (4 consecutive w) or along K (4 consecutive kk).
  const coord = alongWidth ? { kk: `e / ${w4}u`, w: `(e % ${w4}u) * 4u` } : { kk: `(e % ${bk / 4}u) * 4u`, w: `e / ${bk / 4}u` };
  const lanes = alongWidth ? `(vec4<u32>(gw) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(${edge})) & vec4<bool>(gk < P.k)`
    : `(vec4<u32>(gk) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(P.k)) & vec4<bool>(gw < ${edge})`;
  const store = alongWidth
    ? `${X}[nxt * ${half}u + kk * ${w4}u + (w >> 2u)] = r${x}[p];`
    : LANES.map((c, i) => `${put(`kk + ${i}u`, 'w', `r${x}[p].${c}`)}`).join('\n      ');
  return {
    reg: 'vec4<f32>', count,
    load: `    for (var p = 0u; p < ${count}u; p++) {
      let e = l + p * ${threads}u;
      let gw = ${g0} + ${coord.w};
      let gk = k0 + ${coord.kk};
      let ok = ${lanes};
      r${x}[p] = select(vec4<f32>(0.0), ${x}[select(0u, (${base} + ${index('gw', 'gk')}) >> 2u, any(ok))], ok);
    }`,
    store: `    for (var p = 0u; p < ${count}u; p++) {
      let e = l + p * ${threads}u;
      let kk = ${coord.kk};
      let w = ${coord.w};
      ${store}
    }`,
  };
}
