// The named baseline of the dispatch row: the same tiny dispatch written against Dawn directly (no
// engine: one pipeline and one bind group made once, one pass, one submit, timed to
// onSubmittedWorkDone). Beside wgpt's Device.dispatch in the same run it shows what of a
// dispatch's cost is wgpt and what is the adapter (on llvmpipe: each dispatch handed to its worker
// threads and waited for).
import type { Device } from '../engine/index.ts';

const WGSL = `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) { if (i < 4u) { y[i] = 1.0; } }`;

/** A function that records `n` bare dispatches (one workgroup each) in one pass and submit and
 *  returns the ms until the GPU has finished them. */
export function bareDawnDispatches(device: Device): { run: (n: number) => Promise<number>; destroy: () => void } {
  const gpu = device.gpu;
  const pipeline = gpu.createComputePipeline({ layout: 'auto',
    compute: { module: gpu.createShaderModule({ code: WGSL }), entryPoint: 'main' } });
  const buf = gpu.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
  const group = gpu.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] });
  return {
    run: async (n) => {
      const t0 = performance.now();
      const enc = gpu.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      for (let i = 0; i < n; i++) pass.dispatchWorkgroups(1);
      pass.end();
      gpu.queue.submit([enc.finish()]);
      await gpu.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    },
    destroy: () => buf.destroy(),
  };
}
