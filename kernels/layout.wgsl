// Data movement: axis permutation, and copying a block along one axis (slice, concat, pad).
// Interfaces: kernels/layout.ts.

// @entry permute
@compute @workgroup_size(WG)
fn permute(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let c = coords4(i, P.o1, P.o2, P.o3);
  y[i] = x[c.x * P.st0 + c.y * P.st1 + c.z * P.st2 + c.w * P.st3];
}

// @entry axis_copy
// dst[o, dst_start + j, r] = src[o, src_start + j, r] for j < count; one invocation per element.
@compute @workgroup_size(WG)
fn axis_copy(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let r = i % P.inner;
  let q = i / P.inner;
  let j = q % P.count;
  let o = q / P.count;
  y[(o * P.dst_len + P.dst_start + j) * P.inner + r] = x[(o * P.src_len + P.src_start + j) * P.inner + r];
}
