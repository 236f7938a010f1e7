// C = op(A) · op(B) (+ C when accumulate), batched: the benchmark's baseline. Simple and exact:
// each invocation computes a 4x4 block of C with scalar loads. The contract (parameters, bindings,
// indexing) is every matmul kernel's: kernels/matmul.ts.

fn load_a(base: u32, i: u32, k: u32) -> f32 {
  if (i >= P.m || k >= P.k) { return 0.0; }
  if (TRANS_A) { return a[base + k * P.lda + i]; }
  return a[base + i * P.lda + k];
}

fn load_b(base: u32, k: u32, j: u32) -> f32 {
  if (k >= P.k || j >= P.n) { return 0.0; }
  if (TRANS_B) { return b[base + j * P.ldb + k]; }
  return b[base + k * P.ldb + j];
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i0 = gid.y * 4u;
  let j0 = gid.x * 4u;
  if (i0 >= P.m || j0 >= P.n) { return; }
  let batch = gid.z;
  let abase = P.a_off + batch * P.a_batch;
  let bbase = P.b_off + batch * P.b_batch;
  var acc: array<array<f32, 4>, 4>;
  for (var k = 0u; k < P.k; k++) {
    var av: array<f32, 4>;
    var bv: array<f32, 4>;
    for (var r = 0u; r < 4u; r++) {
      av[r] = load_a(abase, i0 + r, k);
      bv[r] = load_b(bbase, k, j0 + r);
    }
    for (var r = 0u; r < 4u; r++) {
      for (var s = 0u; s < 4u; s++) {
        acc[r][s] = fma(av[r], bv[s], acc[r][s]);
      }
    }
  }
  let cbase = P.c_off + batch * P.c_batch;
  for (var r = 0u; r < 4u; r++) {
    let i = i0 + r;
    if (i >= P.m) { break; }
    for (var s = 0u; s < 4u; s++) {
      let j = j0 + s;
      if (j >= P.n) { break; }
      let idx = cbase + i * P.ldc + j;
      if (P.accumulate != 0u) { c[idx] = c[idx] + acc[r][s]; } else { c[idx] = acc[r][s]; }
    }
  }
}
