// Recording work: one command encoder per submit and one compute pass while dispatches follow each
// other; each dispatch's parameters in a slot of one uniform arena (written once per submit, no
// buffer per dispatch); pipelines compiled once per (kernel, constants); bind groups cached per
// (pipeline, parameter slot, bound windows), so a steady step, which records the same dispatches
// into the same slots over the same pooled buffers, creates none. Every binding is checked against
// the limits in force before it reaches WebGPU: a synchronous, named error rather than dropped work.
import { GPUValidationError, WgptError } from '../errors.ts';
import { MAX_PARAM_WORDS, packParams, type Kernel, type Params } from '../../kernels/kernel.ts';
import type { Counters } from './counters.ts';
import type { Faults } from './faults.ts';
import type { Limits } from './limits.ts';
import type { Binding, TextureBinding } from './memory.ts';
import type { Profiler } from './profiler.ts';

export interface Dispatch {
  kernel: Kernel;
  constants?: Record<string, number>;
  /** The kernel's parameters by name (bound as a uniform at binding 0, in the declared order). */
  params: Params;
  bindings: (Binding | TextureBinding)[];
  workgroups: [number, number?, number?];
  /** The operation, for error messages. */
  label: string;
}

const PARAM_SLOTS = 4096;
/** Bind groups kept for reuse; past this the cache starts over (a training step needs ~1000). */
const BIND_GROUP_CACHE = 16384;

export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly paramBuffer: GPUBuffer;
  private readonly paramData: Uint32Array;
  private paramSlot = 0;
  /** Words per slot: the parameters, padded to the uniform offset alignment (256 bytes on GPUs). */
  private readonly slotWords: number;
  private pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; id: number }>();
  private bindGroups = new Map<string, GPUBindGroup>();
  private resourceIds = new WeakMap<GPUBuffer | GPUTexture, number>();
  private nextResourceId = 0;

  constructor(
    private readonly gpu: GPUDevice,
    private readonly limits: Limits,
    private readonly counters: Counters,
    private readonly faults: Faults,
    /** Times kernels (WGPT_PROFILE): a hook on every dispatch and submit. */
    private readonly profiler: Profiler | null,
  ) {
    this.slotWords = Math.max(MAX_PARAM_WORDS, limits.minUniformBufferOffsetAlignment / 4);
    this.paramData = new Uint32Array(this.slotWords * PARAM_SLOTS);
    const usage = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
    this.paramBuffer = gpu.createBuffer({ size: this.paramData.byteLength, usage, label: 'wgpt params' });
  }

  dispatch(d: Dispatch): void {
    const started = performance.now();
    this.faults.assertAlive(d.label);
    const [x, y = 1, z = 1] = d.workgroups;
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new WgptError(`${d.label}: ${x}x${y}x${z} workgroups exceed ${maxGroups} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const slots = d.kernel.slots;
    let matches = d.bindings.length === slots.length;
    for (let i = 0; i < d.bindings.length && matches; i++) {
      const b = d.bindings[i];
      if ('buffer' in b) this.checkBinding(b, d.label);
      matches = ('buffer' in b) !== (slots[i] === 'texture');
    }
    if (!matches) {
      const want = Object.entries(d.kernel.bindings).map(([n, t]) => `${n} (${t})`).join(', ');
      throw new WgptError(`${d.label}: kernel ${d.kernel.name} binds ${want}; got ${d.bindings.map((b) => ('buffer' in b ? 'a buffer' : 'a texture')).join(', ')}`);
    }
    // A full parameter arena (or timestamp set) is submitted before this dispatch takes a slot.
    if (this.paramSlot === PARAM_SLOTS || this.profiler?.full) {
      this.counters.recordMs += performance.now() - started;
      this.flush();
      this.dispatch(d);
      return;
    }
    const { pipeline, layout, id } = this.pipelineFor(d.kernel, d.constants, d.label);
    const slot = this.paramSlot++;
    packParams(d.kernel, d.params, this.paramData, slot * this.slotWords, d.label);
    const group = this.bindGroupFor(layout, id, slot, d.bindings, d.label);
    const key = this.profiler?.keyOf(d.kernel, d.params, z) ?? '';
    const timestamps = this.profiler?.passTimestamps(key);
    if (timestamps) {
      // Timed by GPU timestamps: one pass per dispatch (commands() ends the open one).
      this.pass = this.commands().beginComputePass({ timestampWrites: timestamps });
    } else if (!this.pass) {
      this.pass = this.commands().beginComputePass();
    }
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
    this.counters.recordMs += performance.now() - started;
    this.profiler?.dispatched(key, () => this.flush());
  }

  /** Checks a binding window against the limits in force; a clear error instead of dropped work. */
  private checkBinding(b: Binding, label: string): void {
    const max = this.limits.maxStorageBufferBindingSize;
    if (b.size > max) {
      throw new GPUValidationError(
        `${label}: a binding of ${b.size} bytes exceeds maxStorageBufferBindingSize (${max}); the op must bind it in slices`);
    }
    if (b.offset % this.limits.minStorageBufferOffsetAlignment !== 0) {
      throw new GPUValidationError(
        `${label}: binding offset ${b.offset} is not a multiple of minStorageBufferOffsetAlignment (${this.limits.minStorageBufferOffsetAlignment})`);
    }
  }

  /** Sets bytes of a buffer to zero, in order with the dispatches around it: a memset in the
   *  driver, where on llvmpipe a fill kernel's stores are loops over the lanes (docs/measurements.md, 'Row
   *  kernels'). */
  clear(buffer: GPUBuffer, offset: number, bytes: number, label: string): void {
    this.faults.assertAlive(label);
    this.commands().clearBuffer(buffer, offset, bytes);
  }

  /** Copies bytes between buffers, in order with the dispatches around it. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number, label: string): void {
    this.faults.assertAlive(label);
    this.commands().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Copies `texels` vec4s of `src` into a texture, texel i at (i % rowTexels, i / rowTexels), in
   *  order with the dispatches around it. */
  copyToTexture(src: Binding, texture: GPUTexture, rowTexels: number, texels: number): void {
    const encoder = this.commands();
    const rowBytes = rowTexels * 16;
    const full = Math.floor(texels / rowTexels);
    const rest = texels % rowTexels;
    if (full > 0) {
      encoder.copyBufferToTexture({ buffer: src.buffer, offset: src.offset, bytesPerRow: rowBytes, rowsPerImage: full },
        { texture }, [rowTexels, full]);
    }
    if (rest > 0) {
      encoder.copyBufferToTexture({ buffer: src.buffer, offset: src.offset + full * rowBytes, bytesPerRow: rowBytes },
        { texture, origin: [0, full] }, [rest, 1]);
    }
  }

  /** Writes host data into a buffer. queue.writeBuffer runs before any unsubmitted command, so
   *  recorded work is submitted first: it must not see data written after it. */
  upload(buffer: GPUBuffer, offsetBytes: number, data: ArrayBufferView, label: string): void {
    this.faults.assertAlive(label);
    this.flush();
    this.gpu.queue.writeBuffer(buffer, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Submits everything recorded so far. Not a completion barrier: on a real GPU submit returns
   *  at once (on llvmpipe it returns when the work is done); `Device.finish()` waits for the GPU. */
  flush(): void {
    if (!this.encoder) return;
    this.faults.assertAlive('submit');
    this.pass?.end();
    this.pass = null;
    if (this.paramSlot > 0) {
      this.gpu.queue.writeBuffer(this.paramBuffer, 0, this.paramData.buffer, 0, this.paramSlot * this.slotWords * 4);
    }
    const readTimestamps = this.profiler?.resolve(this.encoder);
    const encoder = this.encoder;
    this.faults.scoped(['validation'], 'submit', () => {
      this.gpu.queue.submit([encoder.finish()]);
      readTimestamps?.();
    });
    this.encoder = null;
    this.paramSlot = 0;
    this.counters.submits++;
  }

  /** Forgets the cached bind groups (their buffers are about to be destroyed). */
  dropBindGroups(): void {
    this.bindGroups.clear();
  }

  /** The open encoder, outside any pass: for copies and clears between dispatches. */
  private commands(): GPUCommandEncoder {
    this.pass?.end();
    this.pass = null;
    return (this.encoder ??= this.gpu.createCommandEncoder());
  }

  private pipelineFor(kernel: Kernel, constants: Record<string, number> | undefined, label: string) {
    const key = kernel.name + (constants ? JSON.stringify(constants) : '');
    let entry = this.pipelines.get(key);
    if (!entry) {
      const declared = Object.keys(kernel.overrides ?? {});
      const unknown = Object.keys(constants ?? {}).filter((c) => !declared.includes(c));
      if (unknown.length > 0) throw new WgptError(`${label}: kernel ${kernel.name} has no override ${unknown.join(', ')} (it takes ${declared.join(', ') || 'none'})`);
      const pipeline = this.faults.scoped(['validation'], `compiling kernel ${kernel.name}`, () => this.gpu.createComputePipeline({
        layout: 'auto',
        label: kernel.name,
        compute: { module: this.gpu.createShaderModule({ code: kernel.code, label: kernel.name }), entryPoint: kernel.entry, constants },
      }));
      entry = { pipeline, layout: pipeline.getBindGroupLayout(0), id: this.pipelines.size };
      this.pipelines.set(key, entry);
      this.counters.pipelinesCompiled++;
    }
    return entry;
  }

  private bindGroupFor(layout: GPUBindGroupLayout, pipelineId: number, slot: number, bindings: Dispatch['bindings'], label: string): GPUBindGroup {
    let key = `${pipelineId}:${slot}`;
    for (const b of bindings) {
      const resource = 'buffer' in b ? b.buffer : b.texture;
      let id = this.resourceIds.get(resource);
      if (id === undefined) this.resourceIds.set(resource, (id = this.nextResourceId++));
      key += 'buffer' in b ? `|${id}:${b.offset}:${b.size}` : `|t${id}`;
    }
    let group = this.bindGroups.get(key);
    if (group) return group;
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: this.paramBuffer, offset: slot * this.slotWords * 4, size: MAX_PARAM_WORDS * 4 } },
    ];
    bindings.forEach((b, i) => entries.push({ binding: i + 1, resource: 'buffer' in b ? b : b.view }));
    group = this.faults.scoped(['validation'], label, () => this.gpu.createBindGroup({ layout, entries, label }));
    if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.clear();
    this.bindGroups.set(key, group);
    this.counters.bindGroupsCreated++;
    return group;
  }
}
