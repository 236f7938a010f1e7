// Sum over any set of axes (up to 4): each invocation owns one output element and adds the
// reduced elements in a fixed order (deterministic; no float atomics in WGSL).
// An input past one binding is reduced in windows (engine/ops/sum-to.ts): x and y are bound from
// aligned-down offsets (xshift, yshift elements in), and a window that continues a sum adds to y
// (accum) instead of writing it. The engine also keeps each invocation under 4096 additions:
// llvmpipe stops an invocation's loops after 65535 iterations in all, nested ones included
// (Mesa's loop limiter), which silently cut a sum of 262000 ones to 65535.
// Interface: kernels/reduce.ts.

@compute @workgroup_size(WG)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let c = coords4(i, P.o1, P.o2, P.o3);
  let base = P.xshift + c.x * P.st0 + c.y * P.st1 + c.z * P.st2 + c.w * P.st3;
  var acc = 0.0;
  for (var k0 = 0u; k0 < P.r0; k0++) {
    for (var k1 = 0u; k1 < P.r1; k1++) {
      for (var k2 = 0u; k2 < P.r2; k2++) {
        let row = base + k0 * P.st0 + k1 * P.st1 + k2 * P.st2;
        for (var k3 = 0u; k3 < P.r3; k3++) {
          acc += x[row + k3 * P.st3];
        }
      }
    }
  }
  if (P.accum != 0u) {
    y[P.yshift + i] += acc * P.scale;
  } else {
    y[P.yshift + i] = acc * P.scale;
  }
}
