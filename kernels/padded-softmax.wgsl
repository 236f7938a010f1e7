// Softmax for attention over a left-padded batch (generation only: forward, no backward).
// The scores are [B, H, Tq, Tk]: Tq new queries over Tk keys, query i sitting at key position
// Tk - Tq + i. Sequence b's keys before start[b] are padding. Row (b, h, i) keeps the keys
// j in [start[b], Tk - Tq + i] (causal and past the padding); every other probability is exactly 0,
// so the padded keys add nothing to the following P·V matmul.
//
// Each invocation walks its keys relative to start[b] (j = start + lid + k*WG), so a sequence's max
// and sum are reduced in the same order whatever its padding: a prompt answered in a padded batch
// gets bit-for-bit the probabilities it gets alone. A row with no key (a query at a padded
// position) is all zeros.
// One workgroup per row; row r of this dispatch starts at shift + r*len and is global row row0 + r.

struct Ps { rows: u32, len: u32, shift: u32, row0: u32, tq: u32, rows_per_seq: u32, _p0: u32, _p1: u32 }

override WG: u32 = 64; // power of two

const NEG: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> P: Ps;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> start: array<i32>;

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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let base = P.shift + r * P.len;
  let g = P.row0 + r;
  let first = u32(max(start[g / P.rows_per_seq], 0));
  let end = P.len - P.tq + g % P.tq + 1u; // one past the last key this query sees
  var m = NEG;
  for (var j = first + lid; j < end; j += WG) { m = max(m, x[base + j]); }
  m = wg_max(m, lid);
  var s = 0.0;
  for (var j = first + lid; j < end; j += WG) { s += exp(x[base + j] - m); }
  s = wg_sum(s, lid);
  let inv = select(0.0, 1.0 / s, s > 0.0);
  for (var j = lid; j < P.len; j += WG) {
    var p = 0.0;
    if (j >= first && j < end) { p = exp(x[base + j] - m) * inv; }
    y[base + j] = p;
  }
}
