// GELU, tanh form: gelu(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3); and the fused
// bias + GELU after the MLP's first linear layer. Element-wise over a window of n elements whose
// first element has global index `base` (the bias is indexed by (base + i) % d).

struct Act { n: u32, base: u32, d: u32, _p: u32 }

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> P: Act;

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

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@group(0) @binding(1) var<storage, read> g_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> g_y: array<f32>;

@compute @workgroup_size(WG)
fn gelu_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  g_y[i] = gelu(g_x[i]);
}

@group(0) @binding(1) var<storage, read> gb_x: array<f32>;
@group(0) @binding(2) var<storage, read> gb_g: array<f32>;
@group(0) @binding(3) var<storage, read_write> gb_dx: array<f32>;

@compute @workgroup_size(WG)
fn gelu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  gb_dx[i] = gb_g[i] * gelu_grad(gb_x[i]);
}

@group(0) @binding(1) var<storage, read> bg_x: array<f32>;
@group(0) @binding(2) var<storage, read> bg_bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> bg_y: array<f32>;

@compute @workgroup_size(WG)
fn bias_gelu_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  bg_y[i] = gelu(bg_x[i] + bg_bias[(P.base + i) % P.d]);
}

@group(0) @binding(1) var<storage, read> bgb_x: array<f32>;
@group(0) @binding(2) var<storage, read> bgb_bias: array<f32>;
@group(0) @binding(3) var<storage, read> bgb_g: array<f32>;
@group(0) @binding(4) var<storage, read_write> bgb_dx: array<f32>;

// d/dx of gelu(x + bias): the same for x and (summed over rows) for the bias.
@compute @workgroup_size(WG)
fn bias_gelu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  bgb_dx[i] = bgb_g[i] * gelu_grad(bgb_x[i] + bgb_bias[(P.base + i) % P.d]);
}
