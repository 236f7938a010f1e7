// The workgroup reductions of the one-workgroup-per-row kernels (softmax, layer norm,
// cross-entropy, argmax): trees in workgroup memory, WG a power of two. kernels/kernel.ts
// (rowKernel) puts this text before a kernel's own; rows-subgroups.wgsl has the same functions
// built on subgroup operations, used where the device has `subgroups`. Every invocation of the
// workgroup gets the result, and the workgroup memory is free again when a function returns.
// A kernel takes `lane: Lane` as an entry-point parameter and passes it on.

struct Lane { @builtin(local_invocation_index) index: u32 }

var<workgroup> rows_a: array<f32, WG>;
var<workgroup> rows_b: array<f32, WG>;
var<workgroup> rows_i: array<u32, WG>;

fn row_max(v: f32, lane: Lane) -> f32 {
  let lid = lane.index;
  rows_a[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { rows_a[lid] = max(rows_a[lid], rows_a[lid + s]); }
    workgroupBarrier();
  }
  let r = rows_a[0];
  workgroupBarrier();
  return r;
}

fn row_sum(v: f32, lane: Lane) -> f32 {
  let lid = lane.index;
  rows_a[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { rows_a[lid] = rows_a[lid] + rows_a[lid + s]; }
    workgroupBarrier();
  }
  let r = rows_a[0];
  workgroupBarrier();
  return r;
}

/** Sums a and b over the workgroup at once. */
fn row_sum2(a: f32, b: f32, lane: Lane) -> vec2<f32> {
  let lid = lane.index;
  rows_a[lid] = a;
  rows_b[lid] = b;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      rows_a[lid] = rows_a[lid] + rows_a[lid + s];
      rows_b[lid] = rows_b[lid] + rows_b[lid + s];
    }
    workgroupBarrier();
  }
  let r = vec2<f32>(rows_a[0], rows_b[0]);
  workgroupBarrier();
  return r;
}

/** Combines online log-sum-exp states: each invocation's running max m and sum s of exp(x - m)
 *  become the row's (max, sum of exp(x - max)). */
fn row_max_sum(m: f32, s: f32, lane: Lane) -> vec2<f32> {
  let lid = lane.index;
  rows_a[lid] = m;
  rows_b[lid] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k >> 1u) {
    if (lid < k) {
      let m1 = rows_a[lid];
      let m2 = rows_a[lid + k];
      let mm = max(m1, m2);
      rows_b[lid] = rows_b[lid] * exp(m1 - mm) + rows_b[lid + k] * exp(m2 - mm);
      rows_a[lid] = mm;
    }
    workgroupBarrier();
  }
  let r = vec2<f32>(rows_a[0], rows_b[0]);
  workgroupBarrier();
  return r;
}

/** The index of the row's first maximum, from each invocation's (value, index): the larger value
 *  wins, on a tie the smaller index (an index of 0xffffffff, "none", loses every tie). */
fn row_argmax(v: f32, i: u32, lane: Lane) -> u32 {
  let lid = lane.index;
  rows_a[lid] = v;
  rows_i[lid] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let w = rows_a[lid + s];
      let j = rows_i[lid + s];
      if (w > rows_a[lid] || (w == rows_a[lid] && j < rows_i[lid])) {
        rows_a[lid] = w;
        rows_i[lid] = j;
      }
    }
    workgroupBarrier();
  }
  let r = rows_i[0];
  workgroupBarrier();
  return r;
}
