// Fused AdamW step (torch.optim.AdamW), in place on p, m, v; one invocation per vec4 (adamw4) or per
// float (adamw1, for a tail of fewer than 4 floats). Scalars come from the host, computed in f64:
//   decay = 1 - lr*wd, step = lr / (1 - beta1^t), rbc2 = 1 / sqrt(1 - beta2^t)
//   p = p*decay; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; p -= step * m / (sqrt(v)*rbc2 + eps)
// Interfaces: kernels/adamw.ts.

/** The new p, m and v of four floats: what adamw4 and adamw4_texture store, so both compute the
 *  same bits. */
struct Step4 { p: vec4<f32>, m: vec4<f32>, v: vec4<f32> }

fn step4(p: vec4<f32>, g: vec4<f32>, m0: vec4<f32>, v0: vec4<f32>) -> Step4 {
  let m = P.b1 * m0 + P.omb1 * g;
  let v = P.b2 * v0 + P.omb2 * g * g;
  return Step4(p * P.decay - P.step * m / (sqrt(v) * P.rbc2 + P.eps), m, v);
}

// @entry adamw4
@compute @workgroup_size(WG)
fn adamw4(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let s = step4(p4[i], g4[i], m4[i], v4[i]);
  m4[i] = s.m;
  v4[i] = s.v;
  p4[i] = s.p;
}

// @entry adamw1
@compute @workgroup_size(WG)
fn adamw1(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let j = P.off + i;
  let g = g1[j];
  let m = P.b1 * m1[j] + P.omb1 * g;
  let v = P.b2 * v1[j] + P.omb2 * g * g;
  m1[j] = m;
  v1[j] = v;
  p1[j] = p1[j] * P.decay - P.step * m / (sqrt(v) * P.rbc2 + P.eps);
}

// @entry adamw4_texture
// adamw4 reading p, g, m, v from rgba32float textures holding copies of their windows (vec4 i at
// texel (i % 2^ROW_LOG2, i >> ROW_LOG2), see TEXTURE_ROW in kernels/kernel.ts) and writing p, m, v
// to storage: on llvmpipe a texel fetch is a vectorised gather where a storage load with
// lane-varying addresses is a loop over the lanes, which on some CPUs costs several times more.
@compute @workgroup_size(WG)
fn adamw4_texture(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  let q = vec2<u32>(i & ((1u << ROW_LOG2) - 1u), i >> ROW_LOG2);
  let s = step4(textureLoad(tp, q, 0), textureLoad(tg, q, 0), textureLoad(tm, q, 0), textureLoad(tv, q, 0));
  m4[i] = s.m;
  v4[i] = s.v;
  p4[i] = s.p;
}
