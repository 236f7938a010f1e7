// LayerNorm over the last axis (biased variance). Forward and the dx backward run one workgroup
// per row (WG invocations stride the row, then a workgroup reduction of rows.wgsl or
// rows-subgroups.wgsl, put before this text: fixed order, deterministic); dweight/dbias run one
// invocation per column, summing the rows in order. WG: a power of two.
// Rows live in a window of the bound buffer: row r of this dispatch starts at shift + r*d;
// per-row statistics (mean, rstd) are bound whole and indexed by row0 + r.
// Interfaces: kernels/norm.ts.

// @entry forward
// y = (x - mean) * rstd * w + b; saves mean and rstd per row.
@compute @workgroup_size(WG)
fn forward(grid: Grid, lane: Lane) {
  let r = grid_group(grid);
  if (r >= P.rows) { return; }
  let base = P.shift + r * P.d;
  var s = 0.0;
  for (var j = lane.index; j < P.d; j += WG) { s += x[base + j]; }
  // Both statistics through row_sum2 with a zero second sum, as this kernel always did: with row_sum
  // (one workgroup array) in their place, GL llvmpipe read a stale sum at 64 invocations a row,
  // Tint's GLSL barrier() not ordering workgroup memory there (DESIGN.md, 'What the code taught us').
  let mean = row_sum2(s, 0.0, lane).x / f32(P.d);
  var v = 0.0;
  for (var j = lane.index; j < P.d; j += WG) {
    let t = x[base + j] - mean;
    v = fma(t, t, v);
  }
  let rstd = inverseSqrt(row_sum2(v, 0.0, lane).x / f32(P.d) + P.eps);
  for (var j = lane.index; j < P.d; j += WG) {
    y[base + j] = fma((x[base + j] - mean) * rstd, w[j], b[j]);
  }
  if (lane.index == 0u) {
    means[P.row0 + r] = mean;
    rstds[P.row0 + r] = rstd;
  }
}

// @entry backward_dx
// dx = rstd * (a - mean(a) - xhat * mean(a * xhat)), a = gy * w; with add, prior + that (the
// gradient x gathered before, from the residual path beside the layer norm).
@compute @workgroup_size(WG)
fn backward_dx(grid: Grid, lane: Lane) {
  let r = grid_group(grid);
  if (r >= P.rows) { return; }
  let base = P.shift + r * P.d;
  let mean = means[P.row0 + r];
  let rstd = rstds[P.row0 + r];
  var sa = 0.0;
  var sax = 0.0;
  for (var j = lane.index; j < P.d; j += WG) {
    let a = gy[base + j] * w[j];
    sa += a;
    sax = fma(a, (x[base + j] - mean) * rstd, sax);
  }
  let sums = row_sum2(sa, sax, lane) / f32(P.d);
  for (var j = lane.index; j < P.d; j += WG) {
    let a = gy[base + j] * w[j];
    let xhat = (x[base + j] - mean) * rstd;
    let own = rstd * (a - sums.x - xhat * sums.y);
    if (P.add != 0u) { dx[base + j] = prior[base + j] + own; } else { dx[base + j] = own; }
  }
}

// @entry backward_wb
// dweight = sum_rows gy * xhat, dbias = sum_rows gy, one invocation per column; with accumulate
// the sums continue those of an earlier window of rows.
@compute @workgroup_size(WG)
fn backward_wb(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let c = grid_index(grid, lid);
  if (c >= P.d) { return; }
  var sw = 0.0;
  var sb = 0.0;
  if (P.accumulate != 0u) {
    sw = dw[c];
    sb = db[c];
  }
  for (var r = 0u; r < P.rows; r++) {
    let i = P.shift + r * P.d + c;
    let g = gy[i];
    sw = fma(g, (x[i] - means[P.row0 + r]) * rstds[P.row0 + r], sw);
    sb += g;
  }
  dw[c] = sw;
  db[c] = sb;
}
