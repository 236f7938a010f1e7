// The attention backward's first step: D_i = sum_d dO[i, d] * O[i, d] per row, one invocation per
// row (the flash kernels in kernels/attention.ts read it). Rows [nbh * T, Dh] start at element
// `shift` of the dO and O bindings; D at `lshift` of its own.

struct Ap { t: u32, dh: u32, nbh: u32, scale: f32, shift: u32, lshift: u32, save: u32, _p0: u32 }

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> P: Ap;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> o: array<f32>;
@group(0) @binding(3) var<storage, read_write> dd: array<f32>;

@compute @workgroup_size(WG)
fn rowdot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * WG + lid;
  if (row >= P.nbh * P.t) { return; }
  let base = P.shift + row * P.dh;
  var s = 0.0;
  for (var d = 0u; d < P.dh; d++) { s = fma(dout[base + d], o[base + d], s); }
  dd[P.lshift + row] = s;
}
