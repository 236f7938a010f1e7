// Causal flash attention, generated as unrolled WGSL text (the llvmpipe JIT does no unrolling).
// Three kernels share one interface (ATTENTION_PARAMS; kernels/attention.wgsl holds the fourth,
// D = rowsum(dO * O)):
//
//   forward  one invocation per (batch·head, block of R query rows): streams over key blocks of C
//            keys up to the diagonal with an online softmax (running max m, sum l per row), never
//            holding more than an R x C tile of scores; writes O and, when asked, L = m + log l.
//   dq       one invocation per (batch·head, block of R query rows): recomputes P = exp(S - L) block
//            by block, dS = P * (dO·vᵀ - D) * scale, dQ += dS · k.
//   dkdv     one invocation per (batch·head, block of C keys): walks the query blocks at or after
//            its keys, dV += Pᵀ · dO, dK += dSᵀ · q.
// Each invocation writes only its own rows, so the results are deterministic (no atomics).
//
// Shapes are uniform (any T, any Dh): the loop over Dh steps by 4, as vec4 loads where Dh is a
// multiple of 4 (VEC), else as 4 scalars masked at the tail. The tile R x C is baked into the text
// (chosen per backend, never per shape). Accumulators along Dh (O, dQ, dK, dV) live in the output
// buffers themselves (read-modify-write per step of 4), since Dh is not a compile-time constant;
// every other value lives in registers with constant names. Masks use a large finite negative.
// Invocations past the end and rows past T load from clamped (in-bounds) rows and never store.
//
// Layout: tensors [nbh, T, Dh] start at element `shift` of their binding; L and D [nbh, T] at
// `lshift`. Invocation g covers batch·head g % nbh, so the 8 lanes of a llvmpipe vector hold
// neighbouring heads of the same (or the next) block and run near-identical loops; blocks are
// handed out heaviest first.
import { kernel, LANE, variant, wgsl, type BindingType, type Kernel } from './kernel.ts';

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

/** T and Dh; nbh: the batch·heads of this window; scale: 1/√Dh; shift and lshift: the window's
 *  element shifts of the [.., T, Dh] tensors and of the [.., T] row statistics; save: write L. */
const ATTENTION_PARAMS = { t: 'u32', dh: 'u32', nbh: 'u32', scale: 'f32', shift: 'u32', lshift: 'u32', save: 'u32' } as const;

/** D = rowsum(dO * O), the backward's first step (kernels/attention.wgsl). */
export const ROWDOT = wgsl('attention', 'rowdot', {
  params: ATTENTION_PARAMS, bindings: { dout: 'read f32', o: 'read f32', dd: 'read_write f32' },
});

export function attentionKernel(entry: AttentionEntry, tile: AttentionTile, vec: boolean): Kernel {
  const name = `attention_${entry}_${tile.r}x${tile.c}_${tile.wg}_${vec ? 'v4' : 's'}`;
  // Rows of q, k, v, O and their gradients as vec4s where Dh is a multiple of 4; L (lse) and D (dd)
  // one float per row.
  const rows: BindingType = vec ? 'read vec4<f32>' : 'read f32';
  const out: BindingType = vec ? 'read_write vec4<f32>' : 'read_write f32';
  const inputs = { q: rows, k: rows, v: rows };
  const bindings: Record<string, BindingType> = entry === 'forward' ? { ...inputs, o: out, lse: 'read_write f32' }
    : { ...inputs, dout: rows, lse: 'read f32', dd: 'read f32', ...(entry === 'dq' ? { dqo: out } : { dko: out, dvo: out }) };
  return variant(name, () => kernel(name, 'main', { params: ATTENTION_PARAMS, bindings }, generate(entry, tile, vec)));
}

function generate(entry: AttentionEntry, tile: AttentionTile, vec: boolean): string {
  const { r: R, c: C, wg } = tile;
  const L: string[] = [];
  const e = (s: string): void => {
    L.push(s);
  };
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  // Element offset of a row (vec4 units when VEC) and a load of 4 floats at step dq.
  const rowOff = (row: string): string => (vec ? `(base + ${row} * dh) >> 2u` : `base + ${row} * dh`);
  const ld = (buf: string, off: string, masked: boolean): string => {
    if (vec) return `${buf}[${off} + dq]`;
    const i = `${off} + dq * 4u`;
    const v = `vec4<f32>(${buf}[${i}], ${buf}[${i} + 1u], ${buf}[${i} + 2u], ${buf}[${i} + 3u])`;
    return masked ? `select(zero4, ${v}, dm)` : v;
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
  const dot4 = (a: string, b: string, acc: string): string =>
    `fma(${a}.w, ${b}.w, fma(${a}.z, ${b}.z, fma(${a}.y, ${b}.y, fma(${a}.x, ${b}.x, ${acc}))))`;

  e(`const NEG: f32 = -1.0e30;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let T = P.t;
  let dh = P.dh;
  let nbh = P.nbh;
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
  let base = P.shift + bh * T * dh;
  let lbase = P.lshift + bh * T;`);
    for (const r of range(R)) {
      e(`  let rc${r} = min(i0 + ${r}u, T - 1u);
  let ok${r} = live && i0 + ${r}u < T;
  let qo${r} = ${rowOff(`rc${r}`)};`);
    }
    const out = entry === 'forward' ? 'o' : 'dqo';
    if (entry === 'forward') {
      for (const r of range(R)) e(`  var m${r} = NEG;\n  var l${r} = 0.0;`);
    } else {
      for (const r of range(R)) e(`  let lr${r} = lse[lbase + rc${r}];\n  let dr${r} = dd[lbase + rc${r}];`);
    }
    // Zero the accumulator rows.
    e(`  for (var dq = 0u; dq < nd; dq++) {`);
    dmask('    ');
    for (const r of range(R)) {
      e(`    if (ok${r}) {`);
      st(out, `qo${r}`, 'zero4', '      ');
      e(`    }`);
    }
    e(`  }`);
    e(`  let nkb = select(0u, (min(i0 + ${R}u, T) + ${C - 1}u) / ${C}u, live);
  for (var kb = 0u; kb < nkb; kb++) {
    let j0 = kb * ${C}u;`);
    for (const c of range(C)) e(`    let ko${c} = ${rowOff(`min(j0 + ${c}u, T - 1u)`)};`);
    for (const r of range(R)) for (const c of range(C)) {
      e(`    var s${r}_${c} = 0.0;`);
      if (entry === 'dq') e(`    var p${r}_${c} = 0.0;`);
    }
    e(`    for (var dq = 0u; dq < nd; dq++) {`);
    dmask('      ');
    for (const r of range(R)) {
      e(`      let a${r} = ${ld('q', `qo${r}`, true)};`);
      if (entry === 'dq') e(`      let g${r} = ${ld('dout', `qo${r}`, true)};`);
    }
    for (const c of range(C)) {
      e(`      let b${c} = ${ld('k', `ko${c}`, false)};`);
      if (entry === 'dq') e(`      let w${c} = ${ld('v', `ko${c}`, false)};`);
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
      for (const c of range(C)) e(`      let b${c} = ${ld('v', `ko${c}`, false)};`);
      for (const r of range(R)) {
        e(`      if (ok${r}) {
        var acc = ${ld('o', `qo${r}`, false)} * al${r};`);
        for (const c of range(C)) e(`        acc = fma(vec4<f32>(s${r}_${c}), b${c}, acc);`);
        st('o', `qo${r}`, 'acc', '        ');
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
      for (const c of range(C)) e(`      let b${c} = ${ld('k', `ko${c}`, false)};`);
      for (const r of range(R)) {
        e(`      if (ok${r}) {
        var acc = ${ld('dqo', `qo${r}`, false)};`);
        for (const c of range(C)) e(`        acc = fma(vec4<f32>(s${r}_${c}), b${c}, acc);`);
        st('dqo', `qo${r}`, 'acc', '        ');
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
        st('o', `qo${r}`, `${ld('o', `qo${r}`, false)} * inv${r}`, '      ');
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
  let base = P.shift + bh * T * dh;
  let lbase = P.lshift + bh * T;`);
    for (const c of range(C)) {
      e(`  let okc${c} = live && j0 + ${c}u < T;
  let ko${c} = ${rowOff(`min(j0 + ${c}u, T - 1u)`)};`);
    }
    e(`  for (var dq = 0u; dq < nd; dq++) {`);
    dmask('    ');
    for (const c of range(C)) {
      e(`    if (okc${c}) {`);
      st('dko', `ko${c}`, 'zero4', '      ');
      st('dvo', `ko${c}`, 'zero4', '      ');
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
    let lr${r} = lse[lbase + rc${r}];
    let dr${r} = dd[lbase + rc${r}];`);
    }
    for (const r of range(R)) for (const c of range(C)) e(`    var s${r}_${c} = 0.0;\n    var p${r}_${c} = 0.0;`);
    e(`    for (var dq = 0u; dq < nd; dq++) {`);
    dmask('      ');
    for (const r of range(R)) e(`      let a${r} = ${ld('q', `qo${r}`, true)};\n      let g${r} = ${ld('dout', `qo${r}`, true)};`);
    for (const c of range(C)) e(`      let b${c} = ${ld('k', `ko${c}`, false)};\n      let w${c} = ${ld('v', `ko${c}`, false)};`);
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
    for (const r of range(R)) e(`      let a${r} = ${ld('q', `qo${r}`, false)};\n      let g${r} = ${ld('dout', `qo${r}`, false)};`);
    for (const c of range(C)) {
      e(`      if (okc${c}) {
        var av = ${ld('dvo', `ko${c}`, false)};
        var ak = ${ld('dko', `ko${c}`, false)};`);
      for (const r of range(R)) e(`        av = fma(vec4<f32>(s${r}_${c}), g${r}, av);`);
      for (const r of range(R)) e(`        ak = fma(vec4<f32>(p${r}_${c}), a${r}, ak);`);
      st('dvo', `ko${c}`, 'av', '        ');
      st('dko', `ko${c}`, 'ak', '        ');
      e(`      }`);
    }
    e(`    }
  }`);
  }
  e(`}`);
  return L.join('\n') + '\n';
}
