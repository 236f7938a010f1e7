// Softmax over the last axis, one workgroup per row (strided, then the workgroup reductions of
// rows.wgsl or rows-subgroups.wgsl, which kernels/kernel.ts puts before this text; deterministic). CAUSAL (a uniform flag) treats the input as [.., T, T] and masks the
// positions j > i of row i: they act as logits of a large finite negative, i.e. they contribute
// exactly 0 and get probability 0 (no Inf anywhere: WGSL may assume there is none).
// Row r of this dispatch starts at shift + r*len; row0 + r is its global row index.
//
// padded: attention over a left-padded batch (generation only: forward, no backward). The scores
// are [B, H, Tq, Tk]: Tq new queries over Tk keys, query i sitting at key position Tk - Tq + i.
// Sequence b's keys before start[b] are padding. Row (b, h, i) keeps the keys j in
// [start[b], Tk - Tq + i] (causal and past the padding); every other probability is exactly 0, so
// the padded keys add nothing to the following P·V matmul. Each invocation walks its keys relative
// to start[b] (j = start + lid + k*WG), so a sequence's max and sum are reduced in the same order
// whatever its padding: a prompt answered in a padded batch gets bit-for-bit the probabilities it
// gets alone. A row with no key (a query at a padded position) is all zeros.

// tq and rows_per_seq: the padded entry's Tq and H*Tq.
struct Sm { rows: u32, len: u32, shift: u32, row0: u32, causal: u32, tq: u32, rows_per_seq: u32, _p: u32 }

override WG: u32 = 64; // power of two

const NEG: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> P: Sm;

/** The number of unmasked positions of global row `row`. */
fn valid_len(row: u32) -> u32 {
  if (P.causal != 0u) { return min(row % P.len + 1u, P.len); }
  return P.len;
}

@group(0) @binding(1) var<storage, read> f_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_y: array<f32>;

/** The row at `base` over the keys [first, end): probabilities there, exactly 0 elsewhere. */
fn softmax_row(base: u32, first: u32, end: u32, lane: Lane) {
  let lid = lane.index;
  var m = NEG;
  for (var j = first + lid; j < end; j += WG) { m = max(m, f_x[base + j]); }
  m = row_max(m, lane);
  var s = 0.0;
  for (var j = first + lid; j < end; j += WG) { s += exp(f_x[base + j] - m); }
  s = row_sum(s, lane);
  let inv = select(0.0, 1.0 / s, s > 0.0);
  for (var j = lid; j < P.len; j += WG) {
    var y = 0.0;
    if (j >= first && j < end) { y = exp(f_x[base + j] - m) * inv; }
    f_y[base + j] = y;
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  softmax_row(P.shift + r * P.len, 0u, valid_len(P.row0 + r), lane);
}

@group(0) @binding(3) var<storage, read> start: array<i32>;

@compute @workgroup_size(WG)
fn padded(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let g = P.row0 + r;
  let first = u32(max(start[g / P.rows_per_seq], 0));
  let end = P.len - P.tq + g % P.tq + 1u; // one past the last key this query sees
  softmax_row(P.shift + r * P.len, first, end, lane);
}

// dx = y * (g - sum_j g_j y_j)
@group(0) @binding(1) var<storage, read> b_y: array<f32>;
@group(0) @binding(2) var<storage, read> b_g: array<f32>;
@group(0) @binding(3) var<storage, read_write> b_dx: array<f32>;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let lid = lane.index;
  let base = P.shift + r * P.len;
  var s = 0.0;
  for (var j = lid; j < P.len; j += WG) { s = fma(b_g[base + j], b_y[base + j], s); }
  let dot = row_sum(s, lane);
  for (var j = lid; j < P.len; j += WG) {
    b_dx[base + j] = b_y[base + j] * (b_g[base + j] - dot);
  }
}
