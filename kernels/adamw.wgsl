// AdamW, one invocation per element, in place (torch.optim.AdamW semantics):
//   p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
struct Adam {
  n: u32, lr: f32, beta1: f32, beta2: f32,
  eps: f32, decay: f32, bc1: f32, bc2: f32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> P: Adam;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  let gi = g[i];
  let mi = P.beta1 * m[i] + (1.0 - P.beta1) * gi;
  let vi = P.beta2 * v[i] + (1.0 - P.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi / P.bc2) + P.eps;
  p[i] = p[i] * P.decay - P.lr * (mi / P.bc1) / denom;
}
