// Argmax over the last axis, one workgroup per row: each invocation scans a strided part of the
// row keeping its first maximum (strict >, indices ascending), then a workgroup reduction
// (row_argmax of rows.wgsl or rows-subgroups.wgsl, put before this text) keeps the larger value
// and, on a tie, the smaller index. So the result is the row's first maximum, as
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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let lid = lane.index;
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
  let best = row_argmax(bv, bi, lane);
  if (lid == 0u) { out[P.row0 + r] = i32(best); }
}
