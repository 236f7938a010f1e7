// Data movement: axis permutation, and copying a block along one axis (slice, concat, pad).
// Interfaces: kernels/layout.ts.

// @entry permute
@compute @workgroup_size(WG)
fn permute(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let c3 = i % P.o3;
  let q2 = i / P.o3;
  let c2 = q2 % P.o2;
  let q1 = q2 / P.o2;
  let c1 = q1 % P.o1;
  let c0 = q1 / P.o1;
  y[i] = x[c0 * P.st0 + c1 * P.st1 + c2 * P.st2 + c3 * P.st3];
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
