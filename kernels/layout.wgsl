// Data movement: axis permutation, copying a block along one axis (slice, concat, pad), and
// attention's heads out of (and back into) the qkv projection.
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

// @entry split_heads
// Attention's heads: element i of heads [3, B, H, T, Dh] is element (b, t, s·D + h·Dh + d) of
// qkv [B, T, 3·D] (D = H·Dh), gathered; one invocation per element, every element written once.
@compute @workgroup_size(WG)
fn split_heads(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let c = coords4(i, P.heads, P.t, P.dh);
  // c.x: s·B + b, c.y: h, c.z: t, c.w: d
  let s = c.x / P.b;
  let b = c.x % P.b;
  let j = (b * P.t + c.z) * 3u * P.heads * P.dh + (s * P.heads + c.y) * P.dh + c.w;
  y[i] = x[j];
}
