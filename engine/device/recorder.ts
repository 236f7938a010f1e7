// Recording work: one command encoder per submit and one compute pass while dispatches follow each
// other; each dispatch's parameters in a slot of one uniform arena (written once per submit, no
// buffer per dispatch), bound at a dynamic offset; pipelines compiled once per (kernel, constants),
// each kernel's bind group layout made once from its declared interface; bind groups cached per
// (kernel, bound windows), not per slot, so a steady step, which records the same dispatches over
// the same pooled buffers, creates none however its slots fall. Small uploads while work is
// recorded are staged in a second arena and copied in order with the dispatches, so they need no
// submit of their own. Every binding is checked against the limits in force before it reaches
// WebGPU: a synchronous, named error rather than dropped work.
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
/** Bytes of the upload arena, and the largest upload staged in it (larger ones submit first). */
const STAGE_BYTES = 1 << 20;
const STAGE_MAX = 1 << 16;

/** A kernel's bind group layout and pipeline layout (from its interface), and its pipelines by
 *  override constants. */
interface KernelEntry {
  id: number;
  layout: GPUBindGroupLayout;
  pipelineLayout: GPUPipelineLayout;
  pipelines: { constants: Record<string, number> | undefined; pipeline: GPUComputePipeline }[];
}

function sameConstants(a: Record<string, number> | undefined, b: Record<string, number> | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}

export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly paramBuffer: GPUBuffer;
  private readonly paramData: Uint32Array;
  private paramSlot = 0;
  /** Words per slot: the parameters, padded to the uniform offset alignment (256 bytes on GPUs). */
  private readonly slotWords: number;
  private kernels = new Map<Kernel, KernelEntry>();
  private bindGroups = new Map<string, GPUBindGroup>();
  private resourceIds = new WeakMap<GPUBuffer | GPUTexture, number>();
  private nextResourceId = 0;
  /** The dynamic offset of the current dispatch's parameter slot (reused: no array per dispatch). */
  private readonly slotOffset = new Uint32Array(1);
  private readonly stageBuffer: GPUBuffer;
  private readonly stageData = new Uint8Array(STAGE_BYTES);
  private stageUsed = 0;

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
    this.stageBuffer = gpu.createBuffer({ size: STAGE_BYTES, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label: 'wgpt uploads' });
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
      throw new WgptError(`${d.label}: kernel ${d.kernel.name} binds ${want}; ` +
        `got ${d.bindings.map((b) => ('buffer' in b ? 'a buffer' : 'a texture')).join(', ')}`);
    }
    // A full parameter arena (or timestamp set) is submitted before this dispatch takes a slot.
    if (this.paramSlot === PARAM_SLOTS || this.profiler?.full) {
      this.counters.recordMs += performance.now() - started;
      this.flush();
      this.dispatch(d);
      return;
    }
    const entry = this.kernelEntry(d.kernel);
    const pipeline = this.pipelineFor(entry, d.kernel, d.constants, d.label);
    const slot = this.paramSlot++;
    packParams(d.kernel, d.params, this.paramData, slot * this.slotWords, d.label);
    const group = this.bindGroupFor(entry, d.bindings, d.label);
    this.slotOffset[0] = slot * this.slotWords * 4;
    const key = this.profiler?.keyOf(d.kernel, d.params, z) ?? '';
    const timestamps = this.profiler?.passTimestamps(key);
    if (timestamps) {
      // Timed by GPU timestamps: one pass per dispatch (commands() ends the open one).
      this.pass = this.commands().beginComputePass({ timestampWrites: timestamps });
    } else if (!this.pass) {
      this.pass = this.commands().beginComputePass();
    }
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group, this.slotOffset, 0, 1);
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
        `${label}: binding offset ${b.offset} is not a multiple of minStorageBufferOffsetAlignment ` +
          `(${this.limits.minStorageBufferOffsetAlignment})`);
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

  /** Writes host data into a buffer, in order with the work recorded around it. queue.writeBuffer
   *  runs before any unsubmitted command, and recorded work must not see data written after it: so
   *  while work is recorded, a small upload is staged in the upload arena and copied into place by
   *  a command in order (the arena is written at the submit), and a large one submits that work
   *  first. With nothing recorded it is written at once. */
  upload(buffer: GPUBuffer, offsetBytes: number, data: ArrayBufferView, label: string): void {
    this.faults.assertAlive(label);
    const n = data.byteLength;
    if (this.encoder && n <= STAGE_MAX && n % 4 === 0 && offsetBytes % 4 === 0) {
      if (this.stageUsed + n > STAGE_BYTES) this.flush();
      this.stageData.set(new Uint8Array(data.buffer, data.byteOffset, n), this.stageUsed);
      this.commands().copyBufferToBuffer(this.stageBuffer, this.stageUsed, buffer, offsetBytes, n);
      this.stageUsed += n;
      this.counters.stagedUploads++;
      return;
    }
    this.flush();
    this.gpu.queue.writeBuffer(buffer, offsetBytes, data.buffer, data.byteOffset, n);
  }

  /** Submits everything recorded so far. Not a completion barrier: on a real GPU submit returns
   *  at once (on llvmpipe it returns when the work is done); `Device.finish()` waits for the GPU. */
  flush(): void {
    if (!this.encoder) return;
    const started = performance.now();
    this.faults.assertAlive('submit');
    this.pass?.end();
    this.pass = null;
    if (this.paramSlot > 0) {
      this.gpu.queue.writeBuffer(this.paramBuffer, 0, this.paramData.buffer, 0, this.paramSlot * this.slotWords * 4);
    }
    if (this.stageUsed > 0) this.gpu.queue.writeBuffer(this.stageBuffer, 0, this.stageData.buffer, 0, this.stageUsed);
    const readTimestamps = this.profiler?.resolve(this.encoder);
    const encoder = this.encoder;
    this.faults.scoped(['validation'], 'submit', () => {
      this.gpu.queue.submit([encoder.finish()]);
      readTimestamps?.();
    });
    this.encoder = null;
    this.paramSlot = 0;
    this.stageUsed = 0;
    this.counters.submits++;
    this.counters.submitMs += performance.now() - started;
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

  /** The kernel's layouts, made once from its declared interface: binding 0 its parameters at a
   *  dynamic offset, then its storage buffers and textures. */
  private kernelEntry(kernel: Kernel): KernelEntry {
    let entry = this.kernels.get(kernel);
    if (entry) return entry;
    const visibility = GPUShaderStage.COMPUTE;
    const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility, buffer: { type: 'uniform', hasDynamicOffset: true } }];
    kernel.slots.forEach((type, i) => entries.push(type === 'texture'
      ? { binding: i + 1, visibility, texture: { sampleType: 'unfilterable-float' } }
      : { binding: i + 1, visibility, buffer: { type: type.startsWith('read_write') ? 'storage' : 'read-only-storage' } }));
    const layout = this.faults.scoped(['validation'], `the bind group layout of kernel ${kernel.name}`,
      () => this.gpu.createBindGroupLayout({ entries, label: kernel.name }));
    const pipelineLayout = this.gpu.createPipelineLayout({ bindGroupLayouts: [layout], label: kernel.name });
    entry = { id: this.kernels.size, layout, pipelineLayout, pipelines: [] };
    this.kernels.set(kernel, entry);
    return entry;
  }

  private pipelineFor(entry: KernelEntry, kernel: Kernel, constants: Record<string, number> | undefined,
    label: string): GPUComputePipeline {
    for (const p of entry.pipelines) if (sameConstants(p.constants, constants)) return p.pipeline;
    const declared = Object.keys(kernel.overrides ?? {});
    const unknown = Object.keys(constants ?? {}).filter((c) => !declared.includes(c));
    if (unknown.length > 0) throw new WgptError(`${label}: kernel ${kernel.name} has no override ${unknown.join(', ')} ` +
      `(it takes ${declared.join(', ') || 'none'})`);
    const pipeline = this.faults.scoped(['validation'], `compiling kernel ${kernel.name}`, () => this.gpu.createComputePipeline({
      layout: entry.pipelineLayout,
      label: kernel.name,
      compute: { module: this.gpu.createShaderModule({ code: kernel.code, label: kernel.name }), entryPoint: kernel.entry, constants },
    }));
    entry.pipelines.push({ constants: constants && { ...constants }, pipeline });
    this.counters.pipelinesCompiled++;
    return pipeline;
  }

  private bindGroupFor(entry: KernelEntry, bindings: Dispatch['bindings'], label: string): GPUBindGroup {
    let key = `${entry.id}`;
    for (const b of bindings) {
      const resource = 'buffer' in b ? b.buffer : b.texture;
      let id = this.resourceIds.get(resource);
      if (id === undefined) this.resourceIds.set(resource, (id = this.nextResourceId++));
      key += 'buffer' in b ? `|${id}:${b.offset}:${b.size}` : `|t${id}`;
    }
    let group = this.bindGroups.get(key);
    if (group) return group;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.paramBuffer, offset: 0, size: MAX_PARAM_WORDS * 4 } }];
    bindings.forEach((b, i) => entries.push({ binding: i + 1, resource: 'buffer' in b ? b : b.view }));
    group = this.faults.scoped(['validation'], label, () => this.gpu.createBindGroup({ layout: entry.layout, entries, label }));
    if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.clear();
    this.bindGroups.set(key, group);
    this.counters.bindGroupsCreated++;
    return group;
  }
}
