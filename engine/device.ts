// One Device owns the GPUDevice: limits in force, pipeline cache, buffer pool, command batching,
// per-dispatch parameters, counters and error handling. Nothing above engine/ sees a GPUBuffer.
import { chooseAdapter, type Backend } from './adapter.ts';
import { DeviceLostError, GPUOutOfMemoryError, GPUValidationError, WgptError } from './errors.ts';
import { BufferPool, sizeClass } from './pool.ts';
import type { Kernel } from '../kernels/kernel.ts';

export interface DeviceOptions {
  backend?: Backend;
  /** Cap on one storage binding, below the adapter's (tests use 1 MiB to drive the sliced paths). */
  maxStorageBufferBindingSize?: number;
  /** Cap on one buffer, below the adapter's. */
  maxBufferSize?: number;
  /** Cap on the bytes of all GPU buffers this device may hold at once. */
  memoryBudget?: number;
}

/** The limits the engine obeys: the device's own, lowered by any caps asked for. */
export interface Limits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupSizeZ: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeWorkgroupsPerDimension: number;
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
  maxUniformBufferBindingSize: number;
}
const LIMIT_KEYS: (keyof Limits)[] = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension',
  'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment', 'maxUniformBufferBindingSize',
];

export interface Counters {
  buffersCreated: number;
  liveBytes: number;
  peakLiveBytes: number;
  allocatedBytes: number;
  pipelinesCompiled: number;
  dispatches: number;
  submits: number;
  readbacks: number;
}

/** A window of a buffer, in bytes, bound to one storage slot. */
export interface Binding {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

export interface Dispatch {
  kernel: Kernel;
  constants?: Record<string, number>;
  /** Up to 16 u32 words (floats as their bits, see f32bits) bound as a uniform at binding 0. */
  params: ArrayLike<number>;
  bindings: Binding[];
  workgroups: [number, number?, number?];
  /** The operation, for error messages. */
  label: string;
}

const PARAM_WORDS = 16;
const PARAM_SLOTS = 4096;
const f32view = new Float32Array(1);
const u32view = new Uint32Array(f32view.buffer);
/** The bits of an f32, for passing floats through the u32 parameter block. */
export function f32bits(x: number): number {
  f32view[0] = x;
  return u32view[0];
}

export class Device {
  readonly counters: Counters = {
    buffersCreated: 0, liveBytes: 0, peakLiveBytes: 0, allocatedBytes: 0,
    pipelinesCompiled: 0, dispatches: 0, submits: 0, readbacks: 0,
  };
  private pool = new BufferPool();
  private readPool = new BufferPool();
  private pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private paramBuffer: GPUBuffer;
  private paramData: Uint32Array;
  private paramSlot = 0;
  private readonly slotWords: number;
  private errors: string[] = [];
  private scopes: Promise<void>[] = [];
  private lostReason: string | null = null;
  private readonly memoryBudget: number;
  /** With WGPT_PROFILE=1: milliseconds and dispatch count per kernel (each dispatch submitted
   *  alone; submit is synchronous on the software adapter, so the time is the kernel's). */
  readonly profile: Map<string, { ms: number; n: number }> | null = process.env.WGPT_PROFILE ? new Map() : null;

  private constructor(
    readonly gpu: GPUDevice,
    readonly limits: Limits,
    readonly backend: 'gpu' | 'software',
    readonly featureLevel: 'core' | 'compatibility',
    readonly adapterDescription: string,
    readonly features: string[],
    memoryBudget: number,
  ) {
    this.memoryBudget = memoryBudget;
    this.slotWords = Math.max(PARAM_WORDS, limits.minUniformBufferOffsetAlignment / 4);
    this.paramData = new Uint32Array(this.slotWords * PARAM_SLOTS);
    this.paramBuffer = gpu.createBuffer({
      size: this.paramData.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'wgpt params',
    });
    gpu.addEventListener('uncapturederror', (ev) => {
      this.errors.push((ev as GPUUncapturedErrorEvent).error.message);
    });
    gpu.lost.then((info) => {
      this.lostReason ??= `${info.reason}: ${info.message || 'no message'}`;
    });
  }

  static async open(options: DeviceOptions = {}): Promise<Device> {
    const choice = await chooseAdapter(options.backend ?? 'auto');
    const requiredLimits: Record<string, number> = {};
    for (const k of LIMIT_KEYS) requiredLimits[k] = choice.adapter.limits[k];
    const gpu = await choice.adapter.requestDevice({ requiredLimits, label: 'wgpt' });
    const limits = {} as Limits;
    for (const k of LIMIT_KEYS) limits[k] = gpu.limits[k];
    const cap = (k: keyof Limits, v: number | undefined): void => {
      if (v !== undefined) limits[k] = Math.min(limits[k], v);
    };
    cap('maxStorageBufferBindingSize', options.maxStorageBufferBindingSize);
    cap('maxBufferSize', options.maxBufferSize);
    return new Device(gpu, limits, choice.backend, choice.featureLevel, choice.description,
      [...choice.adapter.features].sort(), options.memoryBudget ?? Infinity);
  }

  // ---- memory -------------------------------------------------------------------------------

  /** A storage buffer of at least `bytes`, from the pool when one is free. */
  allocate(bytes: number, label: string): { buffer: GPUBuffer; bytes: number } {
    this.assertAlive(label);
    // The size class rounds up by up to 25%: never past maxBufferSize (a request that fits is
    // allocated at the limit, exactly what is created is what is checked).
    const max = this.limits.maxBufferSize - (this.limits.maxBufferSize % 4);
    const cls = Math.min(sizeClass(bytes), max);
    if (bytes > max) {
      throw new GPUOutOfMemoryError(
        `${label}: cannot allocate ${bytes} bytes, over this device's maxBufferSize of ${this.limits.maxBufferSize}`);
    }
    let buffer = this.pool.take(cls);
    if (!buffer) {
      if (this.counters.allocatedBytes + cls > this.memoryBudget) this.releasePooled();
      if (this.counters.allocatedBytes + cls > this.memoryBudget) {
        throw new GPUOutOfMemoryError(
          `${label}: out of GPU memory allocating ${bytes} bytes (${this.counters.liveBytes} bytes live, budget ${this.memoryBudget})`);
      }
      this.gpu.pushErrorScope('out-of-memory');
      this.gpu.pushErrorScope('validation');
      buffer = this.gpu.createBuffer({
        size: cls,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.watchScope(`${label}: allocating ${cls} bytes`);
      this.watchScope(`${label}: allocating ${cls} bytes`);
      this.counters.buffersCreated++;
      this.counters.allocatedBytes += cls;
    }
    this.counters.liveBytes += cls;
    this.counters.peakLiveBytes = Math.max(this.counters.peakLiveBytes, this.counters.liveBytes);
    return { buffer, bytes: cls };
  }

  /** Gives a buffer back to the pool. Commands already recorded may still read it: that is
   *  safe, since later commands run after them and uploads flush first (see upload). */
  release(buffer: GPUBuffer, cls: number): void {
    this.counters.liveBytes -= cls;
    if (this.lostReason) return;
    this.pool.give(cls, buffer);
  }

  /** Destroys pooled buffers (after the work that may use them has been submitted). */
  releasePooled(): void {
    this.flush();
    this.counters.allocatedBytes -= this.pool.drain();
  }

  /** Writes host data into a buffer. queue.writeBuffer runs before any unsubmitted command, so
   *  recorded work is submitted first: it must not see data written after it. */
  upload(buffer: GPUBuffer, offsetBytes: number, data: ArrayBufferView, label: string): void {
    this.assertAlive(label);
    this.flush();
    this.gpu.queue.writeBuffer(buffer, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  // ---- pipelines and dispatch ------------------------------------------------------------------

  private pipelineFor(kernel: Kernel, constants: Record<string, number> | undefined) {
    const key = kernel.name + (constants ? JSON.stringify(constants) : '');
    let entry = this.pipelines.get(key);
    if (!entry) {
      this.gpu.pushErrorScope('validation');
      const module = this.gpu.createShaderModule({ code: kernel.code, label: kernel.name });
      const pipeline = this.gpu.createComputePipeline({
        layout: 'auto',
        label: kernel.name,
        compute: { module, entryPoint: kernel.entry ?? 'main', constants },
      });
      this.watchScope(`compiling kernel ${kernel.name}`);
      entry = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      this.pipelines.set(key, entry);
      this.counters.pipelinesCompiled++;
    }
    return entry;
  }

  /** Checks a binding window against the limits in force; a clear error instead of dropped work. */
  checkBinding(b: Binding, label: string): void {
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

  dispatch(d: Dispatch): void {
    this.assertAlive(d.label);
    if (d.params.length > PARAM_WORDS) throw new WgptError(`${d.label}: more than ${PARAM_WORDS} parameter words`);
    const [x, y = 1, z = 1] = d.workgroups;
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new WgptError(`${d.label}: ${x}x${y}x${z} workgroups exceed ${maxGroups} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    for (const b of d.bindings) this.checkBinding(b, d.label);
    if (this.paramSlot === PARAM_SLOTS) this.flush();
    const { pipeline, layout } = this.pipelineFor(d.kernel, d.constants);
    const slot = this.paramSlot++;
    this.paramData.set(d.params as ArrayLike<number>, slot * this.slotWords);
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: this.paramBuffer, offset: slot * this.slotWords * 4, size: PARAM_WORDS * 4 } },
    ];
    d.bindings.forEach((b, i) => entries.push({ binding: i + 1, resource: b }));
    this.gpu.pushErrorScope('validation');
    const group = this.gpu.createBindGroup({ layout, entries, label: d.label });
    this.watchScope(d.label);
    if (!this.pass) {
      this.encoder ??= this.gpu.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
    if (this.profile) {
      const t0 = performance.now();
      this.flush();
      const key = process.env.WGPT_PROFILE === "shapes" ? `${d.kernel.name} ${Array.from(d.params).slice(0, 3).join("x")} z${z}` : d.kernel.name;
      const entry = this.profile.get(key) ?? { ms: 0, n: 0 };
      entry.ms += performance.now() - t0;
      entry.n++;
      this.profile.set(key, entry);
    }
  }

  /** Copies bytes between buffers, in order with the dispatches around it. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number, label: string): void {
    this.assertAlive(label);
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.gpu.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits everything recorded so far (on this adapter submit returns when the work is done). */
  flush(): void {
    if (!this.encoder) return;
    this.assertAlive('submit');
    this.pass?.end();
    this.pass = null;
    if (this.paramSlot > 0) {
      this.gpu.queue.writeBuffer(this.paramBuffer, 0, this.paramData.buffer, 0, this.paramSlot * this.slotWords * 4);
    }
    this.gpu.pushErrorScope('validation');
    this.gpu.queue.submit([this.encoder.finish()]);
    this.watchScope('submit');
    this.encoder = null;
    this.paramSlot = 0;
    this.counters.submits++;
  }

  /** Reads bytes back to the host: a sync point, where any recorded GPU error is thrown. */
  async read(buffer: GPUBuffer, offset: number, bytes: number, label: string): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const cls = sizeClass(size);
    let staging = this.readPool.take(cls);
    if (!staging) {
      staging = this.gpu.createBuffer({ size: cls, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      this.counters.buffersCreated++;
    }
    this.copy(buffer, offset, staging, 0, size, label);
    this.flush();
    this.counters.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, size);
    } catch (e) {
      // Not back to the pool: a staging buffer whose map failed is in no known state.
      staging.destroy();
      // A GPU error recorded before (or a lost device) is the real cause: thrown with this one kept.
      await this.sync(label).catch((s: Error) => {
        s.cause ??= e;
        throw s;
      });
      const Err = this.lostReason ? DeviceLostError : WgptError;
      throw new Err(`${label}: reading back failed: ${(e as Error).message}`, { cause: e });
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.readPool.give(cls, staging);
    await this.sync(label);
    return out;
  }

  /** Submits pending work and throws the first GPU error recorded since the last sync. */
  async sync(label = 'sync'): Promise<void> {
    if (!this.lostReason) this.flush();
    const pending = this.scopes;
    this.scopes = [];
    await Promise.all(pending);
    this.assertAlive(label);
    if (this.errors.length > 0) {
      const all = this.errors;
      this.errors = [];
      const first = all[0];
      const more = all.length > 1 ? ` (and ${all.length - 1} more)` : '';
      if (/out of memory|out-of-memory/i.test(first)) throw new GPUOutOfMemoryError(first + more);
      throw new GPUValidationError(first + more);
    }
  }

  private watchScope(label: string): void {
    this.scopes.push(this.gpu.popErrorScope().then(
      (err) => {
        if (err) this.errors.push(`${label}: ${err.message}`);
      },
      (e: Error) => {
        this.errors.push(`${label}: ${e.message}`);
      },
    ));
  }

  private assertAlive(label: string): void {
    if (this.lostReason) throw new DeviceLostError(`${label}: the GPU device is lost (${this.lostReason}); open a new device`);
  }

  get isLost(): boolean {
    return this.lostReason !== null;
  }

  /** Destroys the device; every later call throws DeviceLostError. */
  destroy(): void {
    if (this.lostReason) return;
    this.lostReason = 'destroyed: Device.destroy() was called';
    this.pool.drain();
    this.readPool.drain();
    this.gpu.destroy();
  }
}
