// Embedding gather and its deterministic backward (no float atomics in WGSL).
// The weight [V, D] is bound in windows of rows [w_row0, w_row0 + w_rows) (at w_shift in the
// binding), so a table past one binding (GPT-2's wte) works; outputs/gradients [N, D] likewise in
// windows of rows [o_row0, ...) at o_shift. ids, and the CSR grouping, are bound whole.
// Interfaces: kernels/embedding.ts.

// @entry gather
// out[r, c] = w[ids[r], c] for the output rows whose id falls in this weight window.
@compute @workgroup_size(WG)
fn gather(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let r = i / P.d;
  let c = i % P.d;
  let id = u32(ids[P.o_row0 + r]) - P.w_row0; // wraps for ids below the window
  if (id < P.w_rows) {
    out[P.o_shift + i] = w[P.w_shift + id * P.d + c];
  }
}

// @entry scatter
// The backward: dW[uniq[u], c] += sum over positions p of uniq[u] (ascending) of g[p, c].
// One invocation per (unique id u in [u0, u0 + n/d), column c); only the positions inside this
// gradient window [o_row0, o_row0 + o_rows) are added, so windows processed in order add every
// position in ascending order: the same sums, in the same order, however the gradient is split.
@compute @workgroup_size(WG)
fn scatter(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let u = P.u0 + i / P.d;
  let c = i % P.d;
  let at = P.w_shift + (u32(uniq[u]) - P.w_row0) * P.d + c;
  var acc = dw[at];
  let end = u32(offsets[u + 1u]);
  for (var k = u32(offsets[u]); k < end; k++) {
    let p = u32(positions[k]) - P.o_row0; // wraps for positions below the window
    if (p < P.o_rows) { acc += g[P.o_shift + p * P.d + c]; }
  }
  dw[at] = acc;
}
