// Cross-entropy over logits [N, V] with i32 targets [N] (PyTorch semantics: mean over the targets
// that are not ignore_index). A target that is ignore_index, or outside [0, V), is ignored here
// (the engine rejects out-of-range targets on the host when it has their host copy).
// With `weighted` set, each row has a weight w[row] >= 0 (the prompt-loss weight): its loss is
// w * loss and the mean is sum(w * loss) / sum(w) over the counted rows (or over the caller's
// denominator). A weight of 1 multiplies exactly and a weight of 0 is taken as an ignored row, so
// all-ones weights give the unweighted loss and gradients bit for bit.
//   forward:  one workgroup per row: online max / sum of exp over the vocabulary, then a
//             workgroup combine of the (max, sum) pairs (rows.wgsl or rows-subgroups.wgsl, put
//             before this text); the row's max m and log-sum ls = log(sum exp(x - m))
//             are kept for the backward, and loss[row] = (m - x[target]) + ls (0 for an ignored row).
//   finish:   one workgroup sums the row losses and counts the targets (sums their weights) in a
//             fixed order; loss = sum / denominator (that count, or the caller's), 0 when it is 0.
//   backward: one workgroup per row: dx = (softmax - onehot) * (g / denominator) * w[row], 0 for
//             ignored rows.
//             With PER_ROW = 1 (the per-token losses) each row has its own g[row] and no mean.
// Precision where it matters, a trained model's confident rows (logits near -60, p[target] ~ 1):
// the log-softmax is (x - m) - ls, never x - (m + ls): m + ls rounded in f32 loses ulp(m) ~ 4e-6,
// which is most of the digits of a small p - 1 (the LM head's gradient was 2.4e-4 off in norm).
// The target's p - 1 is taken as minus the sum of the other probabilities when p > 1/2, since
// 1 - p computed from p in f32 keeps only the digits of p above 6e-8.
// Logit rows live in a window of the bound buffer (row r at shift + r*v; global row row0 + r).
// PER_ROW (backward): 1 = each row its own upstream gradient g[row] (the per-token loss). WG: a
// power of two. Interfaces: kernels/loss.ts.

const NEG: f32 = -3.0e38;

fn target_of(t: i32) -> i32 {
  if (t == P.ignore || t < 0 || u32(t) >= P.v) { return -1; }
  return t;
}

// @entry forward
// stats [rows, 2]: m, ls per row.
@compute @workgroup_size(WG)
fn forward(grid: Grid, lane: Lane) {
  let r = grid_group(grid);
  if (r >= P.rows) { return; }
  let base = P.shift + r * P.v;
  var m = NEG;
  var s = 0.0;
  for (var j = lane.index; j < P.v; j += WG) {
    let x = logits[base + j];
    if (x > m) {
      s = s * exp(m - x) + 1.0;
      m = x;
    } else {
      s += exp(x - m);
    }
  }
  let ms = row_max_sum(m, s, lane);
  if (lane.index == 0u) {
    let row = P.row0 + r;
    let m0 = ms.x;
    let ls = log(ms.y);
    stats[2u * row] = m0;
    stats[2u * row + 1u] = ls;
    let t = target_of(targets[row]);
    var loss = 0.0;
    if (t >= 0) {
      loss = (m0 - logits[base + u32(t)]) + ls;
      // A weight of 0 marks the row ignored: its loss is 0, never 0 * loss (NaN for an infinite loss).
      if (P.weighted != 0u) { loss = select(w[row] * loss, 0.0, w[row] == 0.0); }
    }
    losses[row] = loss;
  }
}

// @entry finish
// The mean over the counted targets: out [1] the loss, denom [1] the denominator used.
@compute @workgroup_size(WG)
fn finish(lane: Lane) {
  var sum = 0.0;
  var count = 0.0;
  for (var i = lane.index; i < P.rows; i += WG) {
    sum += losses[i];
    if (target_of(targets[i]) >= 0) {
      if (P.weighted != 0u) { count += w[i]; } else { count += 1.0; }
    }
  }
  let sc = row_sum2(sum, count, lane);
  if (lane.index == 0u) {
    var d = sc.y;
    if (P.use_denom != 0u) { d = P.denom; }
    var loss = 0.0;
    if (d != 0.0) { loss = sc.x / d; }
    out[0] = loss;
    denom[0] = d;
  }
}

// @entry backward
// g [1]: the upstream gradient of the loss ([rows] with PER_ROW); denom [1] (not read with PER_ROW).
@compute @workgroup_size(WG)
fn backward(grid: Grid, lane: Lane) {
  let r = grid_group(grid);
  if (r >= P.rows) { return; }
  let base = P.shift + r * P.v;
  let row = P.row0 + r;
  let t = target_of(targets[row]);
  var scale = 0.0; // a zero scale (no counted target, or a zero gradient) gives dx = 0
  if (PER_ROW == 1u) {
    scale = g[row];
  } else if (denom[0] != 0.0) {
    scale = g[0] / denom[0];
    if (P.weighted != 0u) { scale = scale * w[row]; }
  }
  if (t < 0 || scale == 0.0) {
    for (var j = lane.index; j < P.v; j += WG) { dx[base + j] = 0.0; }
    return;
  }
  let m = stats[2u * row];
  let ls = stats[2u * row + 1u];
  let tu = u32(t);
  var rest = 0.0; // sum of the probabilities of every column but the target
  for (var j = lane.index; j < P.v; j += WG) {
    let p = exp((logits[base + j] - m) - ls);
    if (j == tu) { continue; }
    rest += p;
    dx[base + j] = p * scale;
  }
  let others = row_sum(rest, lane);
  if (lane.index == 0u) {
    let pt = exp((logits[base + tu] - m) - ls);
    var dt = pt - 1.0;
    if (pt > 0.5) { dt = -others; }
    dx[base + tu] = dt * scale;
  }
}
