// Rounds f32 values to the nearest f16 value (round to nearest, ties to even), kept as f32: what a
// tensor core's operand holds when a product runs with f16 operands. Bit-exact in f32 arithmetic
// and integer ops, so it needs no shader-f16 and runs on llvmpipe too. f16: 5 exponent bits (bias
// 15), 10 mantissa bits; normals from 2^-14, subnormals in steps of 2^-24, largest finite 65504;
// from 65520 (halfway to 2^16, which rounds to even, past the range) the result is infinity.
// Interface: kernels/f16-round.ts.

fn round_f16(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  let sign = b & 0x80000000u;
  let a = b & 0x7fffffffu;
  if (a >= 0x7f800000u) { return x; } // infinity, NaN
  if (a >= 0x477ff000u) { return bitcast<f32>(sign | 0x7f800000u); } // >= 65520: overflow
  if (a < 0x38800000u) {
    // Below 2^-14: a multiple of 2^-24. Scaling by a power of 2 is exact; round() ties to even.
    return round(x * 16777216.0) * (1.0 / 16777216.0);
  }
  // A normal: keep 10 of the 23 mantissa bits, ties to even; a carry moves into the exponent.
  let rest = a & 0x1fffu;
  var r = a & ~0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (r & 0x2000u) != 0u)) { r = r + 0x2000u; }
  return bitcast<f32>(sign | r);
}

// @entry main
@compute @workgroup_size(WG)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  y[i] = round_f16(x[i]);
}
