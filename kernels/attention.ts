// Causal flash attention, generated as unrolled WGSL text (the llvmpipe JIT does no unrolling).
// Three kernels share one interface (ATTENTION_PARAMS):
//
//   forward  one invocation per (batch·head, block of R query rows): streams over key blocks of C
//            keys up to the diagonal with an online softmax (running max m, sum l per row), never
//            holding more than an R x C tile of scores; writes O and, when asked, L = m + log l.
//   dq       one invocation per (batch·head, block of R query rows): first D = rowsum(dO * O) of
//            its rows (written for dkdv), then recomputes P = exp(S - L) block by block,
//            dS = P * (dO·vᵀ - D) * scale, dQ += dS · k.
//   dkdv     one invocation per (batch·head, block of C keys): walks the query blocks at or after
//            its keys, dV += Pᵀ · dO, dK += dSᵀ · q. It runs after dq, whose D it reads.
// Each invocation writes only its own rows, so the results are deterministic (no atomics).
//
// Shapes are uniform (any T, any Dh): the loop over Dh steps by 4, as vec4 loads where Dh is a
// multiple of 4 (VEC), else as 4 scalars masked at the tail. The tile R x C is baked into the text
// (chosen per backend, never per shape). Accumulators along Dh (O, dQ, dK, dV) live in the output
// buffers themselves (read-modify-write per step of 4); every other value lives in registers with
// constant names. Masks use a large finite negative. Invocations past the end and rows past T load
// from clamped (in-bounds) rows and never store.
//
// Layout: the model's own, so no dispatch splits or merges heads. q, k, v are the thirds of the
// rows of qkv [B, T, 3·D] (D = H·Dh; head h at columns h·Dh of each third) plus bias [3·D], added as
// they load; dQ, dK, dV the same thirds of dqkv; O and dO [B, T, D]. qkv and dqkv start at element
// `shift` of their bindings, O and dO at `oshift`, L and D [B·H, T] at `lshift`. Invocation g covers
// batch·head g % nbh (the 8 lanes of a llvmpipe vector run near-identical loops); blocks are handed
// out heaviest first.
import { kernel, LANE, variant, type BindingType, type Kernel } from './kernel.ts';

export interface AttentionTile {
  /** Query rows per invocation. */
  r: number;
  /** Keys per invocation (per key block). */
  c: number;
  /** Invocations per workgroup. */
  wg: number;
}

/** On llvmpipe a big register tile pays (every load a per-lane loop); on a real GPU a small one. */
export const ATTENTION_TILES: Record<'software' | 'gpu', AttentionTile> = {
  software: { r: 16, c: 16, wg: 8 },
  gpu: { r: 4, c: 4, wg: 64 },
};

export type AttentionEntry = 'forward' | 'dq' | 'dkdv';

/** T, Dh and H; nbh: the batch·heads of this window; scale: 1/√Dh; shift, oshift and lshift: the
 *  window's element shifts of qkv (and dqkv), of O (and dO) and of the [B·H, T] row statistics;
 *  save: write L. */
const ATTENTION_PARAMS = {
  t: 'u32', dh: 'u32', nh: 'u32', nbh: 'u32', scale: 'f32', shift: 'u32', oshift: 'u32', lshift: 'u32', save: 'u32',
} as const;

export function attentionKernel(entry: AttentionEntry, tile: AttentionTile, vec: boolean): Kernel {
  const name = `attention_${entry}_${tile.r}x${tile.c}_${tile.wg}_${vec ? 'v4' : 's'}`;
  // Rows of q, k, v, O and their gradients as vec4s where Dh is a multiple of 4; L (lse) and D (dd)
  // one float per row.
  const rows: BindingType = vec ? 'read vec4<f32>' : 'read f32';
  const out: BindingType = vec ? 'read_write vec4<f32>' : 'read_write f32';
  const bindings: Record<string, BindingType> = entry === 'forward' ? { qkv: rows, bias: rows, o: out, lse: 'read_write f32' }
    : entry === 'dq' ? { qkv: rows, bias: rows, o: rows, dout: rows, lse: 'read f32', dd: 'read_write f32', dqkv: out }
    : { qkv: rows, bias: rows, dout: rows, lse: 'read f32', dd: 'read f32', dqkv: out };
  return variant(name, () => kernel(name, 'main', { params: ATTENTION_PARAMS, bindings }, generate(entry, tile, vec)));
}

function generate(entry: AttentionEntry, tile: AttentionTile, vec: boolean): string {
  const { r: R, c: C, wg } = tile;
  const L: string[] = [];
  const e = (s: string): void => {
    L.push(s);
  };
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  // Element offsets (vec4 units when VEC) of a row of q (and dQ) and of O (and dO); k and v (and
  // dK, dV) rows are a third (kv) and two thirds past q's. A load of 4 floats at step dq.
  const rowOff = (row: string): string => (vec ? `((ibase + ${row} * rs) >> 2u)` : `(ibase + ${row} * rs)`);
  const outOff = (row: string): string => (vec ? `((obase + ${row} * D) >> 2u)` : `(obase + ${row} * D)`);
  const ld = (buf: string, off: string, masked: boolean): string => {
    if (vec) return `${buf}[${off} + dq]`;
    const i = `${off} + dq * 4u`;
    const v = `vec4<f32>(${buf}[${i}], ${buf}[${i} + 1u], ${buf}[${i} + 2u], ${buf}[${i} + 3u])`;
    return masked ? `select(zero4, ${v}, dm)` : v;
  };
  // A row of q, k or v at step dq: the projection's output plus its bias, loaded once a step
  // (biasLoads) as bq, bk, bv.
  const ldx = (part: 'q' | 'k' | 'v', off: string, masked: boolean): string => `(${ld('qkv', off, masked)} + b${part})`;
  const biasLoads = (parts: ('q' | 'k' | 'v')[], masked: boolean, pad: string): void => {
    const at = { q: 'hb', k: 'hb + kv', v: 'hb + 2u * kv' };
    for (const p of parts) e(`${pad}let b${p} = ${ld('bias', at[p], masked)};`);
  };
  // Stores a vec4 value at step dq (scalar: the lanes inside Dh only).
  const st = (buf: string, off: string, val: string, pad: string): void => {
    if (vec) {
      e(`${pad}${buf}[${off} + dq] = ${val};`);
      return;
    }
    e(`${pad}{ let i = ${off} + dq * 4u; let x = ${val};`);
    e(`${pad}  ${buf}[i] = x.x;`);
    for (let l = 1; l < 4; l++) e(`${pad}  if (dm.${LANE[l]}) { ${buf}[i + ${l}u] = x.${LANE[l]}; }`);
    e(`${pad}}`);
  };
  const dmask = (pad: string): void => {
    if (!vec) e(`${pad}let dm = vec4<u32>(dq * 4u) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(dh);`);
  };
  // bh's head of qkv (and dqkv) and of O (and dO), and its row statistics.
  const bases = `  let ibase = P.shift + (bh / P.nh) * T * rs + (bh % P.nh) * dh;
  let obase = P.oshift + (bh / P.nh) * T * D + (bh % P.nh) * dh;
  let lbase = P.lshift + bh * T;
  let hb = ${vec ? '((bh % P.nh) * dh) >> 2u' : '(bh % P.nh) * dh'};`;
  const dot4 = (a: string, b: string, acc: string): string =>
    `fma(${a}.w, ${b}.w, fma(${a}.z, ${b}.z, fma(${a}.y, ${b}.y, fma(${a}.x, ${b}.x, ${acc}))))`;

  e(`const NEG: f32 = -1.0e30;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let T = P.t;
  let dh = P.dh;
  let nbh = P.nbh;
  let D = P.nh * dh;
  let rs = 3u * D;
  let kv = ${vec ? 'D >> 2u' : 'D'};
  let scale = P.scale;
  let zero4 = vec4<f32>(0.0);
  let nd = (dh + 3u) / 4u;
  let g = (wid.y * nwg.x + wid.x) * ${wg}u + lid;`);

  if (entry === 'forward' || entry === 'dq') {
    // ---- per block of R query rows ----
    e(`  let ntiles = (T + ${R - 1}u) / ${R}u;
  let live = g < nbh * ntiles;
  let bh = g % nbh;
  let tile = ntiles - 1u - min(g / nbh, ntiles - 1u);
  let i0 = tile * ${R}u;
${bases}`);
    for (const r of range(R)) {
      e(`  let rc${r} = min(i0 + ${r}u, T - 1u);
  let ok${r} = live && i0 + ${r}u < T;
  let qo${r} = ${rowOff(`rc${r}`)};
  let oo${r} = ${outOff(`rc${r}`)};`);
    }
    // The forward accumulates O in its rows of o; dq accumulates dQ in its rows of dqkv.
    const out = entry === 'forward' ? 'o' : 'dqkv';
    const acc = (r: number): string => (entry === 'forward' ? `oo${r}` : `qo${r}`);
    if (entry === 'forward') {
      for (const r of range(R)) e(`  var m${r} = NEG;\n  var l${r} = 0.0;`);
    } else {
      // D = rowsum(dO * O) of these rows, in the order of a plain loop over Dh.
      for (const r of range(R)) e(`  var dr${r} = 0.0;`);
      e(`  for (var dq = 0u; dq < nd; dq++) {`);
      dmask('    ');
      for (const r of range(R)) e(`    dr${r} = ${dot4(ld('dout', `oo${r}`, true), ld('o', `oo${r}`, true), `dr${r}`)};`);
      e(`  }`);
      for (const r of range(R)) e(`  let lr${r} = lse[lbase + rc${r}];\n  if (ok${r}) { dd[lbase + rc${r}] = dr${r}; }`);
    }
    // Zero the accumulator rows.
    e(`  for (var dq = 0u; dq < nd; dq++) {`);
    dmask('    ');
    for (const r of range(R)) {
      e(`    if (ok${r}) {`);
      st(out, acc(r), 'zero4', '      ');
      e(`    }`);
    }
    e(`  }`);
    e(`  let nkb = select(0u, (min(i0 + ${R}u, T) + ${C - 1}u) / ${C}u, live);
  for (var kb = 0u; kb < nkb; kb++) {
    let j0 = kb * ${C}u;`);
    for (const c of range(C)) e(`    let ko${c} = ${rowOff(`min(j0 + ${c}u, T - 1u)`)} + kv;\n    let vo${c} = ko${c} + kv;`);
    for (const r of range(R)) for (const c of range(C)) {
      e(`    var s${r}_${c} = 0.0;`);
      if (entry === 'dq') e(`    var p${r}_${c} = 0.0;`);
    }
    e(`    for (var dq = 0u; dq < nd; dq++) {`);
    dmask('      ');
    biasLoads(['q'], true, '      ');
    biasLoads(entry === 'dq' ? ['k', 'v'] : ['k'], false, '      ');
    for (const r of range(R)) {
      e(`      let a${r} = ${ldx('q', `qo${r}`, true)};`);
      if (entry === 'dq') e(`      let g${r} = ${ld('dout', `oo${r}`, true)};`);
    }
    for (const c of range(C)) {
      e(`      let b${c} = ${ldx('k', `ko${c}`, false)};`);
      if (entry === 'dq') e(`      let w${c} = ${ldx('v', `vo${c}`, false)};`);
    }
    for (const r of range(R)) for (const c of range(C)) {
      e(`      s${r}_${c} = ${dot4(`a${r}`, `b${c}`, `s${r}_${c}`)};`);
      if (entry === 'dq') e(`      p${r}_${c} = ${dot4(`g${r}`, `w${c}`, `p${r}_${c}`)};`);
    }
    e(`    }`);
    if (entry === 'forward') {
      // Online softmax over this block.
      for (const r of range(R)) {
        for (const c of range(C)) e(`    s${r}_${c} = select(NEG, s${r}_${c} * scale, j0 + ${c}u <= rc${r});`);
        let mx = `s${r}_0`;
        for (const c of range(C).slice(1)) mx = `max(${mx}, s${r}_${c})`;
        e(`    let mn${r} = max(m${r}, ${mx});
    let al${r} = exp(m${r} - mn${r});`);
        for (const c of range(C)) e(`    s${r}_${c} = exp(s${r}_${c} - mn${r});`);
        e(`    l${r} = fma(l${r}, al${r}, ${range(C).map((c) => `s${r}_${c}`).join(' + ')});
    m${r} = mn${r};`);
      }
      e(`    for (var dq = 0u; dq < nd; dq++) {`);
      dmask('      ');
      biasLoads(['v'], false, '      ');
      for (const c of range(C)) e(`      let b${c} = ${ldx('v', `vo${c}`, false)};`);
      for (const r of range(R)) {
        e(`      if (ok${r}) {
        var acc = ${ld('o', `oo${r}`, false)} * al${r};`);
        for (const c of range(C)) e(`        acc = fma(vec4<f32>(s${r}_${c}), b${c}, acc);`);
        st('o', `oo${r}`, 'acc', '        ');
        e(`      }`);
      }
      e(`    }`);
    } else {
      // dS = P * (dP - D) * scale, P = exp(S * scale - L) (masked before the exp).
      for (const r of range(R)) for (const c of range(C)) {
        e(`    s${r}_${c} = exp(select(NEG, s${r}_${c} * scale, j0 + ${c}u <= rc${r}) - lr${r}) * (p${r}_${c} - dr${r}) * scale;`);
      }
      e(`    for (var dq = 0u; dq < nd; dq++) {`);
      dmask('      ');
      biasLoads(['k'], false, '      ');
      for (const c of range(C)) e(`      let b${c} = ${ldx('k', `ko${c}`, false)};`);
      for (const r of range(R)) {
        e(`      if (ok${r}) {
        var acc = ${ld('dqkv', `qo${r}`, false)};`);
        for (const c of range(C)) e(`        acc = fma(vec4<f32>(s${r}_${c}), b${c}, acc);`);
        st('dqkv', `qo${r}`, 'acc', '        ');
        e(`      }`);
      }
      e(`    }`);
    }
    e(`  }`);
    if (entry === 'forward') {
      // Normalise, and save L = m + log l per row.
      for (const r of range(R)) e(`  let inv${r} = 1.0 / l${r};`);
      e(`  for (var dq = 0u; dq < nd; dq++) {`);
      dmask('    ');
      for (const r of range(R)) {
        e(`    if (ok${r}) {`);
        st('o', `oo${r}`, `${ld('o', `oo${r}`, false)} * inv${r}`, '      ');
        e(`    }`);
      }
      e(`  }
  if (P.save != 0u) {`);
      for (const r of range(R)) e(`    if (ok${r}) { lse[lbase + rc${r}] = m${r} + log(l${r}); }`);
      e(`  }`);
    }
  } else {
    // ---- dkdv: per block of C keys, over the query blocks of R rows at or after them ----
    e(`  let ntiles = (T + ${C - 1}u) / ${C}u;
  let live = g < nbh * ntiles;
  let bh = g % nbh;
  let tile = min(g / nbh, ntiles - 1u);
  let j0 = tile * ${C}u;
${bases}`);
    for (const c of range(C)) {
      e(`  let okc${c} = live && j0 + ${c}u < T;
  let ko${c} = ${rowOff(`min(j0 + ${c}u, T - 1u)`)} + kv;
  let vo${c} = ko${c} + kv;`);
    }
    e(`  for (var dq = 0u; dq < nd; dq++) {`);
    dmask('    ');
    for (const c of range(C)) {
      e(`    if (okc${c}) {`);
      st('dqkv', `ko${c}`, 'zero4', '      ');
      st('dqkv', `vo${c}`, 'zero4', '      ');
      e(`    }`);
    }
    e(`  }
  let nqb = (T + ${R - 1}u) / ${R}u;
  let qb0 = select(nqb, j0 / ${R}u, live);
  for (var qb = qb0; qb < nqb; qb++) {
    let i0 = qb * ${R}u;`);
    for (const r of range(R)) {
      e(`    let row${r} = i0 + ${r}u;
    let rc${r} = min(row${r}, T - 1u);
    let qo${r} = ${rowOff(`rc${r}`)};
    let oo${r} = ${outOff(`rc${r}`)};
    let lr${r} = lse[lbase + rc${r}];
    let dr${r} = dd[lbase + rc${r}];`);
    }
    for (const r of range(R)) for (const c of range(C)) e(`    var s${r}_${c} = 0.0;\n    var p${r}_${c} = 0.0;`);
    e(`    for (var dq = 0u; dq < nd; dq++) {`);
    dmask('      ');
    biasLoads(['q'], true, '      ');
    biasLoads(['k', 'v'], false, '      ');
    for (const r of range(R)) e(`      let a${r} = ${ldx('q', `qo${r}`, true)};\n      let g${r} = ${ld('dout', `oo${r}`, true)};`);
    for (const c of range(C)) e(`      let b${c} = ${ldx('k', `ko${c}`, false)};\n      let w${c} = ${ldx('v', `vo${c}`, false)};`);
    for (const r of range(R)) for (const c of range(C)) {
      e(`      s${r}_${c} = ${dot4(`a${r}`, `b${c}`, `s${r}_${c}`)};`);
      e(`      p${r}_${c} = ${dot4(`g${r}`, `w${c}`, `p${r}_${c}`)};`);
    }
    e(`    }`);
    // s <- P (masked: key after the row, or a row past T), p <- dS.
    for (const r of range(R)) for (const c of range(C)) {
      e(`    s${r}_${c} = exp(select(NEG, s${r}_${c} * scale, j0 + ${c}u <= row${r} && row${r} < T) - lr${r});
    p${r}_${c} = s${r}_${c} * (p${r}_${c} - dr${r}) * scale;`);
    }
    e(`    for (var dq = 0u; dq < nd; dq++) {`);
    dmask('      ');
    biasLoads(['q'], false, '      ');
    for (const r of range(R)) e(`      let a${r} = ${ldx('q', `qo${r}`, false)};\n      let g${r} = ${ld('dout', `oo${r}`, false)};`);
    for (const c of range(C)) {
      e(`      if (okc${c}) {
        var av = ${ld('dqkv', `vo${c}`, false)};
        var ak = ${ld('dqkv', `ko${c}`, false)};`);
      for (const r of range(R)) e(`        av = fma(vec4<f32>(s${r}_${c}), g${r}, av);`);
      for (const r of range(R)) e(`        ak = fma(vec4<f32>(p${r}_${c}), a${r}, ak);`);
      st('dqkv', `vo${c}`, 'av', '        ');
      st('dqkv', `ko${c}`, 'ak', '        ');
      e(`      }`);
    }
    e(`    }
  }`);
  }
  e(`}`);
  return L.join('\n') + '\n';
}
