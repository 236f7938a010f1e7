// The host cost of recording one dispatch, split: Dawn's own calls (setPipeline, setBindGroup with
// a dynamic offset, dispatchWorkgroups) on a bind group of `bindings` storage buffers, made once, in
// one pass, against wgpt's Device.dispatch of the same kernel shape. Only recording is timed (the
// pass is ended and submitted after the clock stops), so the adapter's execution is not in it.
//   npx tsx bench/record-cost.ts [dispatches] [bindings] [bind groups]
import { closeDevice, openDevice } from '../engine/index.ts';

const n = Number(process.argv[2] ?? 2000);
const bindings = Number(process.argv[3] ?? 4);
/** Distinct bind groups (each over its own buffers) the dispatches rotate through, as a step's do. */
const groups = Number(process.argv[4] ?? 1);
const device = await openDevice();
const gpu = device.gpu;
const decl = Array.from({ length: bindings }, (_, i) =>
  `@group(0) @binding(${i + 1}) var<storage, read_write> b${i}: array<f32>;`).join('\n');
const code = `struct P { n: u32 }\n@group(0) @binding(0) var<uniform> p: P;\n${decl}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < p.n) { b0[g.x] = b0[g.x] + 1.0; } }`;
const entries: GPUBindGroupLayoutEntry[] = [
  { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
];
for (let i = 0; i < bindings; i++) entries.push({ binding: i + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } });
const bgl = gpu.createBindGroupLayout({ entries });
const pipeline = gpu.createComputePipeline({
  layout: gpu.createPipelineLayout({ bindGroupLayouts: [bgl] }), compute: { module: gpu.createShaderModule({ code }), entryPoint: 'main' },
});
const uniform = gpu.createBuffer({ size: 256 * 4096, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
const bindGroups = Array.from({ length: groups }, () => {
  const bufs = Array.from({ length: bindings }, () => gpu.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE }));
  return gpu.createBindGroup({
    layout: bgl,
    entries: [
      { binding: 0, resource: { buffer: uniform, size: 256 } },
      ...bufs.map((buffer, i) => ({ binding: i + 1, resource: { buffer } })),
    ],
  });
});
const offsets = [0];
const bare = async (): Promise<number> => {
  const enc = gpu.createCommandEncoder();
  const pass = enc.beginComputePass();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    offsets[0] = (i % 4096) * 256;
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroups[i % groups], offsets);
    pass.dispatchWorkgroups(1);
  }
  const ms = performance.now() - t0;
  pass.end();
  gpu.queue.submit([enc.finish()]);
  await gpu.queue.onSubmittedWorkDone();
  return (ms * 1000) / n;
};
const runs: number[] = [];
for (let r = 0; r < 5; r++) runs.push(await bare());
runs.sort((a, b) => a - b);
console.log(`Dawn alone, ${bindings} storage bindings + a dynamic uniform, ${groups} bind groups: ` +
  `${runs[2].toFixed(1)} µs per dispatch recorded ` +
  `(median of 5 × ${n}; min ${runs[0].toFixed(1)})`);
console.log(`adapter: ${device.adapterDescription}`);
closeDevice(device);
process.exit(0);
