// Argmax over the last axis, one workgroup per row: each invocation scans a strided part of the
// row keeping its first maximum (strict >, indices ascending), then a workgroup reduction
// (row_argmax of rows.wgsl or rows-subgroups.wgsl, put before this text) keeps the larger value
// and, on a tie, the smaller index. So the result is the row's first maximum, as
// torch.argmax. Greedy decoding reads back these ids (4 bytes per row) instead of whole rows of
// logits. No NaN handling: WGSL may assume there is none.
// Row r of this dispatch starts at shift + r*len; its id goes to out[row0 + r]. WG: a power of two.
// Interface: kernels/argmax.ts.

// The lowest finite f32: every real value is >= it, and a lane that saw no element (index NONE)
// loses every tie, so a row of all-lowest values still answers its first index.
const LOWEST: f32 = -3.4028234663852886e38;
const NONE: u32 = 0xffffffffu;

@compute @workgroup_size(WG)
fn main(grid: Grid, lane: Lane) {
  let r = grid_group(grid);
  if (r >= P.rows) { return; }
  let base = P.shift + r * P.len;
  var bv = LOWEST;
  var bi = NONE;
  for (var j = lane.index; j < P.len; j += WG) {
    let v = x[base + j];
    if (bi == NONE || v > bv) {
      bv = v;
      bi = j;
    }
  }
  let best = row_argmax(bv, bi, lane);
  if (lane.index == 0u) { out[P.row0 + r] = i32(best); }
}
