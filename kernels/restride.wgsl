// Copies a [batches, rows, cols] block between two row strides, for the matmul: llvmpipe's kernel
// loads and stores whole vec4s only where rows are 16-byte aligned, so an operand whose rows are not
// (the LM head's 50257 columns) is copied to rows padded to a multiple of 4 (`pad`, zeros past
// cols), and a result computed in such rows is copied back (`unpad`, or added into with ACC).
// One invocation moves 4 consecutive floats of one row: workgroups x over a row's vec4s, y over
// rows, z over batches, so no index is divided (integer division is a per-lane loop on llvmpipe).
// Interfaces: kernels/restride.ts.

// @entry pad
// src rows at any stride -> dst rows of vec4s (d_off, d_ld, d_batch in vec4s).
@compute @workgroup_size(WG)
fn pad(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  let c = 4u * q;
  if (c >= P.cols) { return; }
  let s = P.s_off + gid.z * P.s_batch + gid.y * P.s_ld + c;
  // Past the row's end the load reads the next row (or a clamped index) and the value is dropped.
  let v = vec4<f32>(select(0.0, src[s], c < P.cols), select(0.0, src[s + 1u], c + 1u < P.cols),
                    select(0.0, src[s + 2u], c + 2u < P.cols), select(0.0, src[s + 3u], c + 3u < P.cols));
  dst[P.d_off + gid.z * P.d_batch + gid.y * P.d_ld + q] = v;
}

// @entry unpad
// src rows of vec4s (s_off, s_ld, s_batch in vec4s) -> dst rows at any stride, += with ACC.
fn store(at: u32, v: f32) {
  if (ACC) { dst[at] = dst[at] + v; } else { dst[at] = v; }
}

@compute @workgroup_size(WG)
fn unpad(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  let c = 4u * q;
  if (c >= P.cols) { return; }
  let v = src[P.s_off + gid.z * P.s_batch + gid.y * P.s_ld + q];
  let d = P.d_off + gid.z * P.d_batch + gid.y * P.d_ld + c;
  store(d, v.x);
  if (c + 1u < P.cols) { store(d + 1u, v.y); }
  if (c + 2u < P.cols) { store(d + 2u, v.z); }
  if (c + 3u < P.cols) { store(d + 3u, v.w); }
}
