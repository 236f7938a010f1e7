// The workgroup reductions of rows.wgsl on subgroup operations (the `subgroups` feature): one
// subgroupAdd / subgroupMax per subgroup, then, where the workgroup holds several subgroups, their
// partials through workgroup memory and one more subgroup operation (every subgroup reads all the
// partials in the same order, so every invocation gets the same result). Where the workgroup is a
// single subgroup (8 invocations a row on llvmpipe, whose subgroups are its 8 vector lanes) no
// barrier runs at all. Same functions, same contract as rows.wgsl; the order of the additions
// differs, so results may differ from the tree's in the last bits. rowKernel (kernels/kernel.ts)
// enables subgroups and declares ONE_SUBGROUP for this build.

struct Lane {
  @builtin(local_invocation_index) index: u32,
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
  @builtin(subgroup_id) sg_id: u32,
  @builtin(num_subgroups) sg_count: u32,
}

// One partial per subgroup (a workgroup holds at most WG subgroups).
var<workgroup> rows_a: array<f32, WG>;
var<workgroup> rows_b: array<f32, WG>;
var<workgroup> rows_i: array<u32, WG>;

fn row_max(v: f32, lane: Lane) -> f32 {
  let m = subgroupMax(v);
  if (ONE_SUBGROUP) { return m; }
  if (lane.sg_lane == 0u) { rows_a[lane.sg_id] = m; }
  workgroupBarrier();
  var t = rows_a[0];
  for (var i = lane.sg_lane; i < lane.sg_count; i += lane.sg_size) { t = max(t, rows_a[i]); }
  let r = subgroupMax(t);
  workgroupBarrier();
  return r;
}

fn row_sum(v: f32, lane: Lane) -> f32 {
  let s = subgroupAdd(v);
  if (ONE_SUBGROUP) { return s; }
  if (lane.sg_lane == 0u) { rows_a[lane.sg_id] = s; }
  workgroupBarrier();
  var t = 0.0;
  for (var i = lane.sg_lane; i < lane.sg_count; i += lane.sg_size) { t += rows_a[i]; }
  let r = subgroupAdd(t);
  workgroupBarrier();
  return r;
}

fn row_sum2(a: f32, b: f32, lane: Lane) -> vec2<f32> {
  let s = subgroupAdd(vec2<f32>(a, b));
  if (ONE_SUBGROUP) { return s; }
  if (lane.sg_lane == 0u) {
    rows_a[lane.sg_id] = s.x;
    rows_b[lane.sg_id] = s.y;
  }
  workgroupBarrier();
  var t = vec2<f32>(0.0);
  for (var i = lane.sg_lane; i < lane.sg_count; i += lane.sg_size) { t += vec2<f32>(rows_a[i], rows_b[i]); }
  let r = subgroupAdd(t);
  workgroupBarrier();
  return r;
}

fn row_max_sum(m: f32, s: f32, lane: Lane) -> vec2<f32> {
  let mm = row_max(m, lane);
  // A lane that saw no element has s = 0 (and m at the mask value): it adds exactly 0.
  return vec2<f32>(mm, row_sum(s * exp(m - mm), lane));
}

fn row_argmax(v: f32, i: u32, lane: Lane) -> u32 {
  var m = subgroupMax(v);
  var j = subgroupMin(select(0xffffffffu, i, v == m));
  if (ONE_SUBGROUP) { return j; }
  if (lane.sg_lane == 0u) {
    rows_a[lane.sg_id] = m;
    rows_i[lane.sg_id] = j;
  }
  workgroupBarrier();
  m = rows_a[0];
  j = 0xffffffffu;
  for (var k = lane.sg_lane; k < lane.sg_count; k += lane.sg_size) {
    let w = rows_a[k];
    if (w > m || (w == m && rows_i[k] < j)) {
      m = w;
      j = rows_i[k];
    }
  }
  let best = subgroupMax(m);
  let r = subgroupMin(select(0xffffffffu, j, m == best));
  workgroupBarrier();
  return r;
}
