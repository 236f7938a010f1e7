// Softmax over the last axis, one workgroup per row (strided, then tree reductions in workgroup
// memory; deterministic). CAUSAL (a uniform flag) treats the input as [.., T, T] and masks the
// positions j > i of row i: they act as logits of a large finite negative, i.e. they contribute
// exactly 0 and get probability 0 (no Inf anywhere: WGSL may assume there is none).
// Row r of this dispatch starts at shift + r*len; row0 + r is its global row index.

struct Sm { rows: u32, len: u32, shift: u32, row0: u32, causal: u32, _p0: u32, _p1: u32, _p2: u32 }

override WG: u32 = 64; // power of two

const NEG: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> P: Sm;

var<workgroup> red: array<f32, WG>;

fn wg_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn wg_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

/** The number of unmasked positions of global row `row`. */
fn valid_len(row: u32) -> u32 {
  if (P.causal != 0u) { return min(row % P.len + 1u, P.len); }
  return P.len;
}

@group(0) @binding(1) var<storage, read> f_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_y: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let base = P.shift + r * P.len;
  let n = valid_len(P.row0 + r);
  var m = NEG;
  for (var j = lid; j < n; j += WG) { m = max(m, f_x[base + j]); }
  m = wg_max(m, lid);
  var s = 0.0;
  for (var j = lid; j < n; j += WG) { s += exp(f_x[base + j] - m); }
  let inv = 1.0 / wg_sum(s, lid);
  for (var j = lid; j < P.len; j += WG) {
    var y = 0.0;
    if (j < n) { y = exp(f_x[base + j] - m) * inv; }
    f_y[base + j] = y;
  }
}

// dx = y * (g - sum_j g_j y_j)
@group(0) @binding(1) var<storage, read> b_y: array<f32>;
@group(0) @binding(2) var<storage, read> b_g: array<f32>;
@group(0) @binding(3) var<storage, read_write> b_dx: array<f32>;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let base = P.shift + r * P.len;
  var s = 0.0;
  for (var j = lid; j < P.len; j += WG) { s = fma(b_g[base + j], b_y[base + j], s); }
  let dot = wg_sum(s, lid);
  for (var j = lid; j < P.len; j += WG) {
    b_dx[base + j] = b_y[base + j] * (b_g[base + j] - dot);
  }
}
