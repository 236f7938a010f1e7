// Element-wise kernels over contiguous f32 data. Broadcasting is by strides (0 on a broadcast axis)
// over up to 4 axes; `base` is the global index of this dispatch's first element, so a tensor
// larger than one binding is processed in windows (see engine/ops/elementwise.ts).

struct Binary {
  n: u32, base: u32, s1: u32, s2: u32,
  s3: u32, a_base: u32, b_base: u32, _pad: u32,
  as0: u32, as1: u32, as2: u32, as3: u32,
  bs0: u32, bs1: u32, bs2: u32, bs3: u32,
}

override WG: u32 = 64;
override OP: u32 = 0; // 0 add, 1 sub, 2 mul, 3 div

@group(0) @binding(0) var<uniform> P: Binary;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn binary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  let g = P.base + i;
  let c3 = g % P.s3;
  let r2 = g / P.s3;
  let c2 = r2 % P.s2;
  let r1 = r2 / P.s2;
  let c1 = r1 % P.s1;
  let c0 = r1 / P.s1;
  let x = a[c0 * P.as0 + c1 * P.as1 + c2 * P.as2 + c3 * P.as3 - P.a_base];
  let y = b[c0 * P.bs0 + c1 * P.bs1 + c2 * P.bs2 + c3 * P.bs3 - P.b_base];
  var r: f32;
  switch OP {
    case 0u: { r = x + y; }
    case 1u: { r = x - y; }
    case 2u: { r = x * y; }
    default: { r = x / y; }
  }
  out[i] = r;
}

// The fast path for the common cases (same shapes, a bias over rows): each operand repeats with a
// period that divides the output (its whole size, or the trailing axes it spans), and every
// period is a multiple of 4, so one invocation does a vec4 with no per-axis index arithmetic.
// Element g of the output reads element (g % period - base) of an operand's binding.
struct Binary4 {
  n4: u32, base: u32, a_period: u32, a_base: u32,
  b_period: u32, b_base: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> Q: Binary4;
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn binary4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= Q.n4) { return; }
  let g = Q.base + 4u * i;
  let x = a4[(g % Q.a_period - Q.a_base) / 4u];
  let y = b4[(g % Q.b_period - Q.b_base) / 4u];
  var r: vec4<f32>;
  switch OP {
    case 0u: { r = x + y; }
    case 1u: { r = x - y; }
    case 2u: { r = x * y; }
    default: { r = x / y; }
  }
  out4[i] = r;
}
