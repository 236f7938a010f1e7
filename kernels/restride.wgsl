// Copies a [batches, rows, cols] block between two row strides, for the matmul: llvmpipe's kernel
// loads and stores whole vec4s only where rows are 16-byte aligned, so an operand whose rows are not
// (the LM head's 50257 columns) is copied to rows padded to a multiple of 4 (`pad`, zeros past
// cols), and a result computed in such rows is copied back (`unpad`, or added into with ACC).
// One invocation moves 4 consecutive floats of one row: workgroups x over a row's vec4s, y over
// rows, z over batches, so no index is divided (integer division is a per-lane loop on llvmpipe).
struct Restride {
  rows: u32, cols: u32, _p0: u32, _p1: u32,
  s_off: u32, s_ld: u32, s_batch: u32, d_off: u32,
  d_ld: u32, d_batch: u32, _p2: u32, _p3: u32,
}

override WG: u32 = 64;
override ACC: bool = false;

@group(0) @binding(0) var<uniform> P: Restride;

// pad: src rows at any stride -> dst rows of vec4s (d_off, d_ld, d_batch in vec4s).
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn pad(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  let c = 4u * q;
  if (c >= P.cols) { return; }
  let s = P.s_off + gid.z * P.s_batch + gid.y * P.s_ld + c;
  // Past the row's end the load reads the next row (or a clamped index) and the value is dropped.
  let v = vec4<f32>(select(0.0, src[s], c < P.cols), select(0.0, src[s + 1u], c + 1u < P.cols),
                    select(0.0, src[s + 2u], c + 2u < P.cols), select(0.0, src[s + 3u], c + 3u < P.cols));
  dst4[P.d_off + gid.z * P.d_batch + gid.y * P.d_ld + q] = v;
}

// unpad: src rows of vec4s (s_off, s_ld, s_batch in vec4s) -> dst rows at any stride, += with ACC.
@group(0) @binding(1) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn store(at: u32, v: f32) {
  if (ACC) { dst[at] = dst[at] + v; } else { dst[at] = v; }
}

@compute @workgroup_size(WG)
fn unpad(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  let c = 4u * q;
  if (c >= P.cols) { return; }
  let v = src4[P.s_off + gid.z * P.s_batch + gid.y * P.s_ld + q];
  let d = P.d_off + gid.z * P.d_batch + gid.y * P.d_ld + c;
  store(d, v.x);
  if (c + 1u < P.cols) { store(d + 1u, v.y); }
  if (c + 2u < P.cols) { store(d + 2u, v.z); }
  if (c + 3u < P.cols) { store(d + 3u, v.w); }
}
