// Element-wise kernels over contiguous f32 data, on a window of n elements. The binary ones
// broadcast by strides (0 on a broadcast axis) over up to 4 axes; `base` is the global index of
// this dispatch's first element, so a tensor larger than one binding is processed in windows (see
// engine/ops/elementwise.ts). OP: 0 add, 1 sub, 2 mul, 3 div. Interfaces: kernels/elementwise.ts.

// @entry binary
@compute @workgroup_size(WG)
fn binary(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let c = coords4(P.base + i, P.s1, P.s2, P.s3);
  let x = a[c.x * P.as0 + c.y * P.as1 + c.z * P.as2 + c.w * P.as3 - P.a_base];
  let y = b[c.x * P.bs0 + c.y * P.bs1 + c.z * P.bs2 + c.w * P.bs3 - P.b_base];
  var r: f32;
  switch OP {
    case 0u: { r = x + y; }
    case 1u: { r = x - y; }
    case 2u: { r = x * y; }
    default: { r = x / y; }
  }
  out[i] = r;
}

// @entry binary4
// The fast path for the common cases (same shapes, a bias over rows): each operand repeats with a
// period that divides the output (its whole size, or the trailing axes it spans), and every
// period is a multiple of 4, so one invocation does a vec4 with no per-axis index arithmetic.
// Element g of the output reads element (g % period - base) of an operand's binding.
@compute @workgroup_size(WG)
fn binary4(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n4) { return; }
  let g = P.base + 4u * i;
  let x = a[(g % P.a_period - P.a_base) / 4u];
  let y = b[(g % P.b_period - P.b_base) / 4u];
  var r: vec4<f32>;
  switch OP {
    case 0u: { r = x + y; }
    case 1u: { r = x - y; }
    case 2u: { r = x * y; }
    default: { r = x / y; }
  }
  out[i] = r;
}

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

// @entry add_bias
// A residual branch's output and its bias into the residual stream: out = x + (y + bias[col]),
// in the order that add(x, add(y, bias)) rounds, with bias [d] over the rows.
@compute @workgroup_size(WG)
fn add_bias(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  out[i] = x[i] + (y[i] + bias[(P.base + i) % P.d]);
}
