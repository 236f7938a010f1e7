// Softmax over the last axis, one workgroup per row (strided, then the workgroup reductions of
// rows.wgsl or rows-subgroups.wgsl, which kernels/kernel.ts puts before this text; deterministic).
// `causal` (a uniform flag) treats the input as [.., T, T] and masks the positions j > i of row i:
// they act as logits of a large finite negative, i.e. they contribute exactly 0 and get
// probability 0 (no Inf anywhere: WGSL may assume there is none).
// Row r of this dispatch starts at shift + r*len; row0 + r is its global row index.
//
// padded: attention over a left-padded batch (generation only: forward, no backward). The scores
// are [B, H, Tq, Tk]: Tq new queries over Tk keys, query i sitting at key position Tk - Tq + i.
// Sequence b's keys before start[b] are padding. Row (b, h, i) keeps the keys j in
// [start[b], Tk - Tq + i] (causal and past the padding); every other probability is exactly 0, so
// the padded keys add nothing to the following P·V matmul. Each invocation walks its keys relative
// to start[b] (lane i takes j = start + i + k*WG), so a sequence's max and sum are reduced in the same order
// whatever its padding: a prompt answered in a padded batch gets bit-for-bit the probabilities it
// gets alone. A row with no key (a query at a padded position) is all zeros.
// WG: a power of two. Interfaces: kernels/softmax.ts.

const NEG: f32 = -3.0e38;

// @entry forward, padded
/** The row at `base` over the keys [first, end): probabilities there, exactly 0 elsewhere. */
fn softmax_row(base: u32, first: u32, end: u32, lane: Lane) {
  var m = NEG;
  for (var j = first + lane.index; j < end; j += WG) { m = max(m, x[base + j]); }
  m = row_max(m, lane);
  var s = 0.0;
  for (var j = first + lane.index; j < end; j += WG) { s += exp(x[base + j] - m); }
  s = row_sum(s, lane);
  let inv = select(0.0, 1.0 / s, s > 0.0);
  for (var j = lane.index; j < P.len; j += WG) {
    var p = 0.0;
    if (j >= first && j < end) { p = exp(x[base + j] - m) * inv; }
    y[base + j] = p;
  }
}

// @entry forward
/** The number of unmasked positions of global row `row`. */
fn valid_len(row: u32) -> u32 {
  if (P.causal != 0u) { return min(row % P.len + 1u, P.len); }
  return P.len;
}

@compute @workgroup_size(WG)
fn forward(grid: Grid, lane: Lane) {
  let r = grid_group(grid);
  if (r >= P.rows) { return; }
  softmax_row(P.shift + r * P.len, 0u, valid_len(P.row0 + r), lane);
}

// @entry padded
// tq: the new queries per sequence; rows_per_seq: H*tq.
@compute @workgroup_size(WG)
fn padded(grid: Grid, lane: Lane) {
  let r = grid_group(grid);
  if (r >= P.rows) { return; }
  let g = P.row0 + r;
  let first = u32(max(start[g / P.rows_per_seq], 0));
  let end = P.len - P.tq + g % P.tq + 1u; // one past the last key this query sees
  softmax_row(P.shift + r * P.len, first, end, lane);
}

// @entry backward
// dx = y * (g - sum_j g_j y_j)
@compute @workgroup_size(WG)
fn backward(grid: Grid, lane: Lane) {
  let r = grid_group(grid);
  if (r >= P.rows) { return; }
  let base = P.shift + r * P.len;
  var s = 0.0;
  for (var j = lane.index; j < P.len; j += WG) { s = fma(g[base + j], y[base + j], s); }
  let dot = row_sum(s, lane);
  for (var j = lane.index; j < P.len; j += WG) {
    dx[base + j] = y[base + j] * (g[base + j] - dot);
  }
}
