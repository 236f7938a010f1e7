// Unary element-wise kernels on a window of n elements. Interfaces: kernels/elementwise.ts.

// @entry affine
@compute @workgroup_size(WG)
fn affine(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  y[i] = P.alpha * x[i] + P.beta;
}

// @entry fill
@compute @workgroup_size(WG)
fn fill(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  y[i] = P.value;
}
