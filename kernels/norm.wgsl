// LayerNorm over the last axis (biased variance). Forward and the dx backward run one workgroup
// per row (WG invocations stride the row, then a workgroup reduction of rows.wgsl or
// rows-subgroups.wgsl, put before this text: fixed order, deterministic); dweight/dbias run one invocation per column, summing the rows in order.
// Rows live in a window of the bound buffer: row r of this dispatch starts at shift + r*d;
// per-row statistics (mean, rstd) are bound whole and indexed by row0 + r.

struct Ln {
  rows: u32, d: u32, shift: u32, row0: u32,
  eps: f32, accumulate: u32, _p0: u32, _p1: u32,
}

override WG: u32 = 64; // power of two

@group(0) @binding(0) var<uniform> P: Ln;

// ---- forward: y = (x - mean) * rstd * w + b; saves mean and rstd per row ----------------------
@group(0) @binding(1) var<storage, read> f_x: array<f32>;
@group(0) @binding(2) var<storage, read> f_w: array<f32>;
@group(0) @binding(3) var<storage, read> f_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> f_y: array<f32>;
@group(0) @binding(5) var<storage, read_write> f_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> f_rstd: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let lid = lane.index;
  let base = P.shift + r * P.d;
  var s = 0.0;
  for (var j = lid; j < P.d; j += WG) { s += f_x[base + j]; }
  // Both statistics through row_sum2 with a zero second sum, as this kernel always did: with row_sum
  // (one workgroup array) in their place, Mesa 22.3's GL llvmpipe read a stale sum at 64
  // invocations a row (rows off by 10%), Tint's GLSL barrier() not ordering workgroup memory there.
  let mean = row_sum2(s, 0.0, lane).x / f32(P.d);
  var v = 0.0;
  for (var j = lid; j < P.d; j += WG) {
    let t = f_x[base + j] - mean;
    v = fma(t, t, v);
  }
  let rstd = inverseSqrt(row_sum2(v, 0.0, lane).x / f32(P.d) + P.eps);
  for (var j = lid; j < P.d; j += WG) {
    f_y[base + j] = fma((f_x[base + j] - mean) * rstd, f_w[j], f_b[j]);
  }
  if (lid == 0u) {
    f_mean[P.row0 + r] = mean;
    f_rstd[P.row0 + r] = rstd;
  }
}

// ---- backward dx = rstd * (a - mean(a) - xhat * mean(a * xhat)), a = gy * w -------------------
@group(0) @binding(1) var<storage, read> d_x: array<f32>;
@group(0) @binding(2) var<storage, read> d_w: array<f32>;
@group(0) @binding(3) var<storage, read> d_gy: array<f32>;
@group(0) @binding(4) var<storage, read> d_mean: array<f32>;
@group(0) @binding(5) var<storage, read> d_rstd: array<f32>;
@group(0) @binding(6) var<storage, read_write> d_dx: array<f32>;

@compute @workgroup_size(WG)
fn backward_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let lid = lane.index;
  let base = P.shift + r * P.d;
  let mean = d_mean[P.row0 + r];
  let rstd = d_rstd[P.row0 + r];
  var sa = 0.0;
  var sax = 0.0;
  for (var j = lid; j < P.d; j += WG) {
    let a = d_gy[base + j] * d_w[j];
    sa += a;
    sax = fma(a, (d_x[base + j] - mean) * rstd, sax);
  }
  let sums = row_sum2(sa, sax, lane) / f32(P.d);
  for (var j = lid; j < P.d; j += WG) {
    let a = d_gy[base + j] * d_w[j];
    let xhat = (d_x[base + j] - mean) * rstd;
    d_dx[base + j] = rstd * (a - sums.x - xhat * sums.y);
  }
}

// ---- backward dweight = sum_rows gy * xhat, dbias = sum_rows gy (one invocation per column) ----
@group(0) @binding(1) var<storage, read> c_x: array<f32>;
@group(0) @binding(2) var<storage, read> c_gy: array<f32>;
@group(0) @binding(3) var<storage, read> c_mean: array<f32>;
@group(0) @binding(4) var<storage, read> c_rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> c_dw: array<f32>;
@group(0) @binding(6) var<storage, read_write> c_db: array<f32>;

@compute @workgroup_size(WG)
fn backward_wb(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let c = (wid.y * nwg.x + wid.x) * WG + lid;
  if (c >= P.d) { return; }
  var sw = 0.0;
  var sb = 0.0;
  if (P.accumulate != 0u) {
    sw = c_dw[c];
    sb = c_db[c];
  }
  for (var r = 0u; r < P.rows; r++) {
    let i = P.shift + r * P.d + c;
    let g = c_gy[i];
    sw = fma(g, (c_x[i] - c_mean[P.row0 + r]) * c_rstd[P.row0 + r], sw);
    sb += g;
  }
  c_dw[c] = sw;
  c_db[c] = sb;
}
