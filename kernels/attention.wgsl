// The attention backward's first step: D_i = sum_d dO[i, d] * O[i, d] per row, one invocation per
// row (the flash kernels in kernels/attention.ts read it, whose parameters this entry shares). Rows
// [nbh * T, Dh] start at element `shift` of the dO and O bindings; D at `lshift` of its own.

@compute @workgroup_size(WG)
fn rowdot(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let row = grid_index(grid, lid);
  if (row >= P.nbh * P.t) { return; }
  let base = P.shift + row * P.dh;
  var s = 0.0;
  for (var d = 0u; d < P.dh; d++) { s = fma(dout[base + d], o[base + d], s); }
  dd[P.lshift + row] = s;
}
