// Fused AdamW step (torch.optim.AdamW), in place on p, m, v; one invocation per vec4 (adamw4) or per
// float (adamw1, for a tail of fewer than 4 floats). Scalars come from the host, computed in f64:
//   decay = 1 - lr*wd, step = lr / (1 - beta1^t), rbc2 = 1 / sqrt(1 - beta2^t)
//   p = p*decay; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; p -= step * m / (sqrt(v)*rbc2 + eps)
struct Adam {
  n: u32, off: u32, decay: f32, step: f32,
  b1: f32, omb1: f32, b2: f32, omb2: f32,
  eps: f32, rbc2: f32, _p0: u32, _p1: u32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> P: Adam;
@group(0) @binding(1) var<storage, read_write> p4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v4: array<vec4<f32>>;

/** The new p, m and v of four floats: what adamw4 and adamw4_texture store, so both compute the
 *  same bits. */
struct Step4 { p: vec4<f32>, m: vec4<f32>, v: vec4<f32> }

fn step4(p: vec4<f32>, g: vec4<f32>, m0: vec4<f32>, v0: vec4<f32>) -> Step4 {
  let m = P.b1 * m0 + P.omb1 * g;
  let v = P.b2 * v0 + P.omb2 * g * g;
  return Step4(p * P.decay - P.step * m / (sqrt(v) * P.rbc2 + P.eps), m, v);
}

@compute @workgroup_size(WG)
fn adamw4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  let s = step4(p4[i], g4[i], m4[i], v4[i]);
  m4[i] = s.m;
  v4[i] = s.v;
  p4[i] = s.p;
}

@group(0) @binding(1) var<storage, read_write> p1: array<f32>;
@group(0) @binding(2) var<storage, read> g1: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> v1: array<f32>;

@compute @workgroup_size(WG)
fn adamw1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  let j = P.off + i;
  let g = g1[j];
  let m = P.b1 * m1[j] + P.omb1 * g;
  let v = P.b2 * v1[j] + P.omb2 * g * g;
  m1[j] = m;
  v1[j] = v;
  p1[j] = p1[j] * P.decay - P.step * m / (sqrt(v) * P.rbc2 + P.eps);
}

// adamw4 reading p, g, m, v from rgba32float textures holding copies of their windows (vec4 i at
// texel (i % 2^ROW_LOG2, i >> ROW_LOG2), see TEXTURE_ROW in kernels/kernel.ts) and writing p, m, v
// to storage: on llvmpipe a texel fetch is a vectorised gather where a storage load with
// lane-varying addresses is a loop over the lanes, which on some CPUs costs several times more.
override ROW_LOG2: u32 = 12;
@group(0) @binding(1) var tp: texture_2d<f32>;
@group(0) @binding(2) var tg: texture_2d<f32>;
@group(0) @binding(3) var tm: texture_2d<f32>;
@group(0) @binding(4) var tv: texture_2d<f32>;
@group(0) @binding(5) var<storage, read_write> p4t: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> m4t: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> v4t: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn adamw4_texture(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  let q = vec2<u32>(i & ((1u << ROW_LOG2) - 1u), i >> ROW_LOG2);
  let s = step4(textureLoad(tp, q, 0), textureLoad(tg, q, 0), textureLoad(tm, q, 0), textureLoad(tv, q, 0));
  m4t[i] = s.m;
  v4t[i] = s.v;
  p4t[i] = s.p;
}
