// Unary element-wise kernels on a window of n elements.
struct Unary { n: u32, alpha: f32, beta: f32, _pad: u32 }

override WG: u32 = 64;
override OP: u32 = 0; // 0 y = alpha*x + beta, 1 fill y = beta

@group(0) @binding(0) var<uniform> P: Unary;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn affine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  y[i] = P.alpha * x[i] + P.beta;
}

@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  dst[i] = P.beta;
}
