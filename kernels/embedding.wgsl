// Embedding gather and its deterministic backward (no float atomics in WGSL).
// The weight [V, D] is bound in windows of rows [w_row0, w_row0 + w_rows) (at w_shift in the
// binding), so a table past one binding (GPT-2's wte) works; outputs/gradients [N, D] likewise in
// windows of rows [o_row0, ...) at o_shift. ids, and the CSR grouping, are bound whole.

struct Emb {
  n: u32, d: u32, o_row0: u32, o_rows: u32,
  o_shift: u32, w_row0: u32, w_rows: u32, w_shift: u32,
  u0: u32, _p0: u32, _p1: u32, _p2: u32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> P: Emb;

// ---- gather: out[r, c] = w[ids[r], c] for the output rows whose id falls in this weight window ----
@group(0) @binding(1) var<storage, read> g_ids: array<i32>;
@group(0) @binding(2) var<storage, read> g_w: array<f32>;
@group(0) @binding(3) var<storage, read_write> g_out: array<f32>;

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  let r = i / P.d;
  let c = i % P.d;
  let id = u32(g_ids[P.o_row0 + r]) - P.w_row0; // wraps for ids below the window
  if (id < P.w_rows) {
    g_out[P.o_shift + i] = g_w[P.w_shift + id * P.d + c];
  }
}

// ---- backward: dW[uniq[u], c] += sum over positions p of uniq[u] (ascending) of g[p, c] ----
// One invocation per (unique id u in [u0, u0 + n/d), column c); only the positions inside this
// gradient window [o_row0, o_row0 + o_rows) are added, so windows processed in order add every
// position in ascending order: the same sums, in the same order, however the gradient is split.
@group(0) @binding(1) var<storage, read> s_uniq: array<i32>;
@group(0) @binding(2) var<storage, read> s_offsets: array<i32>;
@group(0) @binding(3) var<storage, read> s_pos: array<i32>;
@group(0) @binding(4) var<storage, read> s_g: array<f32>;
@group(0) @binding(5) var<storage, read_write> s_dw: array<f32>;

@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  let u = P.u0 + i / P.d;
  let c = i % P.d;
  let at = P.w_shift + (u32(s_uniq[u]) - P.w_row0) * P.d + c;
  var acc = s_dw[at];
  let end = u32(s_offsets[u + 1u]);
  for (var k = u32(s_offsets[u]); k < end; k++) {
    let p = u32(s_pos[k]) - P.o_row0; // wraps for positions below the window
    if (p < P.o_rows) { acc += s_g[P.o_shift + p * P.d + c]; }
  }
  s_dw[at] = acc;
}
