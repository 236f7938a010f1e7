// GELU, tanh form: gelu(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3); and the fused
// bias + GELU after the MLP's first linear layer. Element-wise over a window of n elements whose
// first element has global index `base` (the bias is indexed by (base + i) % d).
// Interfaces: kernels/activation.ts.

const K0: f32 = 0.7978845608028654; // sqrt(2/pi)
const K1: f32 = 0.044715;

// tanh without overflow (exp of a large argument would give Inf, which WGSL may assume away).
fn tanh_safe(u: f32) -> f32 {
  let e = exp(-2.0 * abs(u));
  return sign(u) * (1.0 - e) / (1.0 + e);
}

fn gelu(x: f32) -> f32 {
  let u = K0 * fma(K1 * x * x, x, x);
  return 0.5 * x * (1.0 + tanh_safe(u));
}

fn gelu_grad(x: f32) -> f32 {
  let x2 = x * x;
  let t = tanh_safe(K0 * fma(K1 * x2, x, x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * K0 * fma(3.0 * K1, x2, 1.0);
}

// @entry gelu_forward
@compute @workgroup_size(WG)
fn gelu_forward(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  y[i] = gelu(x[i]);
}

// @entry gelu_backward
@compute @workgroup_size(WG)
fn gelu_backward(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  dx[i] = g[i] * gelu_grad(x[i]);
}

// @entry bias_gelu_forward
@compute @workgroup_size(WG)
fn bias_gelu_forward(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  y[i] = gelu(x[i] + bias[(P.base + i) % P.d]);
}

// @entry bias_gelu_backward
// d/dx of gelu(x + bias), one invocation per column, down the rows of this window, so the bias
// gradient is the column's sum in the same pass (continuing an earlier window's with accumulate)
// and no reduction follows.
@compute @workgroup_size(WG)
fn bias_gelu_backward(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let c = grid_index(grid, lid);
  if (c >= P.d) { return; }
  let b = bias[c];
  var s = 0.0;
  if (P.accumulate != 0u) { s = dbias[c]; }
  for (var r = 0u; r < P.rows; r++) {
    let i = P.shift + r * P.d + c;
    let v = g[i] * gelu_grad(x[i] + b);
    dx[i] = v;
    s += v;
  }
  dbias[c] = s;
}
