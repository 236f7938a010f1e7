// Data movement: axis permutation, and copying a block along one axis (slice, concat, pad).

struct Permute {
  n: u32, o1: u32, o2: u32, o3: u32,      // output count, output extents of axes 1..3
  st0: u32, st1: u32, st2: u32, st3: u32, // input strides, in output axis order
}

struct AxisCopy {
  n: u32, inner: u32, count: u32, src_len: u32,
  src_start: u32, dst_len: u32, dst_start: u32, _p: u32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> P: Permute;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn permute(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  let c3 = i % P.o3;
  let q2 = i / P.o3;
  let c2 = q2 % P.o2;
  let q1 = q2 / P.o2;
  let c1 = q1 % P.o1;
  let c0 = q1 / P.o1;
  y[i] = x[c0 * P.st0 + c1 * P.st1 + c2 * P.st2 + c3 * P.st3];
}

@group(0) @binding(0) var<uniform> Q: AxisCopy;

// dst[o, dst_start + j, r] = src[o, src_start + j, r] for j < count; one invocation per element.
@compute @workgroup_size(WG)
fn axis_copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= Q.n) { return; }
  let r = i % Q.inner;
  let q = i / Q.inner;
  let j = q % Q.count;
  let o = q / Q.count;
  y[(o * Q.dst_len + Q.dst_start + j) * Q.inner + r] = x[(o * Q.src_len + Q.src_start + j) * Q.inner + r];
}
