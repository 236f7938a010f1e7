// Argmax over the last axis, one workgroup per row: each invocation scans a strided part of the
// row keeping its first maximum (strict >, indices ascending), then a tree reduction keeps the
// larger value and, on a tie, the smaller index. So the result is the row's first maximum, as
// torch.argmax. Greedy decoding reads back these ids (4 bytes per row) instead of whole rows of
// logits. No NaN handling: WGSL may assume there is none.
// Row r of this dispatch starts at shift + r*len; its id goes to out[row0 + r].

struct Am { rows: u32, len: u32, shift: u32, row0: u32 }

override WG: u32 = 64; // power of two

// The lowest finite f32: every real value is >= it, and a lane that saw no element (index NONE)
// loses every tie, so a row of all-lowest values still answers its first index.
const LOWEST: f32 = -3.4028234663852886e38;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> P: Am;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let base = P.shift + r * P.len;
  var bv = LOWEST;
  var bi = NONE;
  for (var j = lid; j < P.len; j += WG) {
    let v = x[base + j];
    if (bi == NONE || v > bv) {
      bv = v;
      bi = j;
    }
  }
  best_v[lid] = bv;
  best_i[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let v = best_v[lid + s];
      let i = best_i[lid + s];
      if (v > best_v[lid] || (v == best_v[lid] && i < best_i[lid])) {
        best_v[lid] = v;
        best_i[lid] = i;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { out[P.row0 + r] = i32(best_i[0]); }
}
