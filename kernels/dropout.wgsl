// Dropout with a counter-based RNG: element i (global index base + local index) is dropped when a
// PCG hash of (seed, i) falls below `threshold` = p * 2^32; kept elements are scaled by 1/(1-p).
// The backward runs this same kernel on the gradient with the same seed, so no mask is stored.

struct Drop { n: u32, base: u32, seed: u32, threshold: u32, scale: f32, _p0: u32, _p1: u32, _p2: u32 }

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> P: Drop;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

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
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  var v = 0.0;
  if (keep(P.base + i)) { v = x[i] * P.scale; }
  y[i] = v;
}
