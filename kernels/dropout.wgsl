// Dropout with a counter-based RNG: element i (global index base + local index) is dropped when a
// PCG hash of (seed, i) falls below `threshold` = p * 2^32; kept elements are scaled by 1/(1-p).
// The backward runs this same kernel on the gradient with the same seed, so no mask is stored.
// Interface: kernels/dropout.ts.

// PCG-RXS-M-XS 32-bit output function as a hash (Jarzynski & Olano, "Hash functions for GPU rendering").
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn keep(i: u32) -> bool {
  return pcg(pcg(i ^ pcg(P.seed)) + P.seed) >= P.threshold;
}

@compute @workgroup_size(WG)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  var v = 0.0;
  if (keep(P.base + i)) { v = x[i] * P.scale; }
  y[i] = v;
}
