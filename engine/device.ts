// One Device owns the GPUDevice: limits in force, pipeline cache, buffer pool, command batching,
// per-dispatch parameters, counters and error handling. Nothing above engine/ sees a GPUBuffer.
import { chooseAdapter } from './adapter.ts';
import { DeviceLostError, GPUOutOfMemoryError, GPUValidationError, WgptError } from './errors.ts';
import { BufferPool, sizeClass } from './pool.ts';
import { Profiler, type ProfileEntry, type ProfileSpan } from './profiler.ts';
import { setting, type AdapterKind, type Backend, type KernelSet } from './settings.ts';
import { MAX_PARAM_WORDS, packParams, type Kernel, type Params } from '../kernels/kernel.ts';

export interface DeviceOptions {
  backend?: Backend;
  /** Cap on one storage binding, below the adapter's (tests use 1 MiB to drive the sliced paths). */
  maxStorageBufferBindingSize?: number;
  /** Cap on one buffer, below the adapter's. */
  maxBufferSize?: number;
  /** Cap on a texture's rows and columns, below the adapter's (tests drive the matmul's fallback
   *  from textures to storage with it). */
  maxTextureDimension2D?: number;
  /** Cap on the bytes of all GPU buffers this device may hold at once. */
  memoryBudget?: number;
  /** Which kernel variants (tiles, workgroup sizes) to run: the adapter's own ('auto', default;
   *  WGPT_KERNELS overrides), or those tuned for the other kind of adapter, so tests check the
   *  real GPU's kernels on the software adapter at small shapes. */
  kernels?: KernelSet;
  /** Whether the row reductions use subgroup operations where the device has `subgroups`
   *  (default true; WGPT_SUBGROUPS=off says false). */
  subgroups?: boolean;
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
  maxTextureDimension2D: number;
}
const LIMIT_KEYS: (keyof Limits)[] = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension',
  'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment', 'maxUniformBufferBindingSize',
  'maxTextureDimension2D',
];

export interface Counters {
  buffersCreated: number;
  liveBytes: number;
  peakLiveBytes: number;
  allocatedBytes: number;
  pipelinesCompiled: number;
  bindGroupsCreated: number;
  /** Operand textures created (see operandTexture); pooled like buffers. */
  texturesCreated: number;
  dispatches: number;
  /** Host milliseconds spent recording dispatches (validation, pipeline and bind-group lookup,
   *  encoding), submits excluded: the CPU cost per dispatch is recordMs / dispatches. */
  recordMs: number;
  submits: number;
  readbacks: number;
}

/** A window of a buffer, in bytes, bound to one storage slot. */
export interface Binding {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/** An rgba32float texture bound to a `texture_2d<f32>` slot (see operandTexture). */
export interface TextureBinding {
  texture: GPUTexture;
}

/** A texture copy of a binding window, in use until `release()`. */
export interface OperandTexture {
  binding: TextureBinding;
  release(): void;
}

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

export class Device {
  readonly counters: Counters = {
    buffersCreated: 0, liveBytes: 0, peakLiveBytes: 0, allocatedBytes: 0,
    pipelinesCompiled: 0, bindGroupsCreated: 0, texturesCreated: 0, dispatches: 0, recordMs: 0, submits: 0, readbacks: 0,
  };
  private pool = new BufferPool();
  private readPool = new BufferPool();
  private pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; id: number }>();
  /** Bind groups by (pipeline, parameter slot, bound windows): a steady step records the same
   *  dispatches into the same slots over the same pooled buffers, so it creates none. */
  private bindGroups = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer | GPUTexture, number>();
  /** Operand textures by row count (see operandTexture), and each one's view. */
  private texturePool = new Map<number, GPUTexture[]>();
  private textureViews = new WeakMap<GPUTexture, GPUTextureView>();
  private nextBufferId = 0;
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
  private readonly profiler: Profiler | null;
  /** Work to do at the next wait (a readback or finish()) before it: the matmul tuner measuring
   *  the product classes met so far (engine/tune/tuner.ts). Not run from inside itself. */
  beforeWait: (() => Promise<void> | void) | null = null;
  private inBeforeWait = false;
  private useSubgroups: boolean;

  private constructor(
    readonly gpu: GPUDevice,
    readonly limits: Limits,
    readonly backend: AdapterKind,
    readonly featureLevel: 'core' | 'compatibility',
    readonly adapterDescription: string,
    readonly features: string[],
    memoryBudget: number,
    /** Whose kernel variants run here (see DeviceOptions.kernels). */
    readonly kernelProfile: 'gpu' | 'software',
    /** The adapter's smallest subgroup size (0 without subgroups): a workgroup no larger is one
     *  subgroup (kernels/rows-subgroups.wgsl's ONE_SUBGROUP). */
    readonly subgroupMinSize: number,
    subgroups: boolean,
    profile: 'kernels' | 'shapes' | null,
  ) {
    this.memoryBudget = memoryBudget;
    this.useSubgroups = subgroups && gpu.features.has('subgroups');
    this.profiler = !profile ? null
      : new Profiler(gpu, gpu.features.has('timestamp-query') ? 'timestamp' : backend === 'software' ? 'sync-submit' : 'completion', profile === 'shapes');
    this.slotWords = Math.max(MAX_PARAM_WORDS, limits.minUniformBufferOffsetAlignment / 4);
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
    const profile = setting('WGPT_PROFILE');
    const choice = await chooseAdapter(options.backend ?? 'auto', profile !== null);
    const requiredLimits: Record<string, number> = {};
    for (const k of LIMIT_KEYS) requiredLimits[k] = choice.adapter.limits[k];
    // Timestamps only where asked for (WGPT_PROFILE): per-kernel GPU times in the profile.
    const requiredFeatures: GPUFeatureName[] = profile && choice.adapter.features.has('timestamp-query')
      ? ['timestamp-query'] : [];
    // Subgroups wherever the adapter has them: the row reductions use them (see useSubgroups).
    if (choice.adapter.features.has('subgroups')) requiredFeatures.push('subgroups');
    const gpu = await choice.adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'wgpt' });
    const limits = {} as Limits;
    for (const k of LIMIT_KEYS) limits[k] = gpu.limits[k];
    const cap = (k: keyof Limits, v: number | undefined): void => {
      if (v !== undefined) limits[k] = Math.min(limits[k], v);
    };
    cap('maxStorageBufferBindingSize', options.maxStorageBufferBindingSize);
    cap('maxBufferSize', options.maxBufferSize);
    cap('maxTextureDimension2D', options.maxTextureDimension2D);
    const kernels = options.kernels ?? setting('WGPT_KERNELS');
    // lavapipe is llvmpipe's code generator too: the software kernels are its own.
    const own = choice.backend === 'gpu' ? 'gpu' : 'software';
    return new Device(gpu, limits, choice.backend, choice.featureLevel, choice.description,
      [...choice.adapter.features].sort(), options.memoryBudget ?? Infinity, kernels === 'auto' ? own : kernels,
      gpu.features.has('subgroups') ? choice.adapter.info?.subgroupMinSize ?? 0 : 0,
      options.subgroups ?? setting('WGPT_SUBGROUPS'), profile);
  }

  /** Whether the row reductions (softmax, layer norm, cross-entropy, argmax) run their subgroup
   *  build (kernels/rows-subgroups.wgsl): where the device has `subgroups` unless turned off.
   *  Settable, so a benchmark or a test runs both builds on one device. */
  get subgroups(): boolean {
    return this.useSubgroups;
  }

  set subgroups(on: boolean) {
    if (on && !this.gpu.features.has('subgroups')) {
      throw new WgptError(`this adapter (${this.adapterDescription}) has no subgroups feature: the row reductions run their workgroup-memory build`);
    }
    this.useSubgroups = on;
  }

  /** With WGPT_PROFILE: GPU milliseconds and dispatch count per kernel (see engine/profiler.ts);
   *  complete after `await finish()`. */
  get profile(): Map<string, ProfileEntry> | null {
    return this.profiler?.entries ?? null;
  }

  /** With WGPT_PROFILE in timestamp mode: the latest dispatches' GPU timestamps, in submission
   *  order (complete after `await finish()`); null in the other modes. */
  get profileSpans(): readonly ProfileSpan[] | null {
    return this.profiler?.mode === 'timestamp' ? this.profiler.spans : null;
  }

  /** How the profile is timed: 'timestamp' (GPU timestamps), 'sync-submit' or 'completion'. */
  get profileMode(): string | null {
    return this.profiler?.mode ?? null;
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
    this.bindGroups.clear();
    this.counters.allocatedBytes -= this.pool.drain() + this.drainTextures();
  }

  private drainTextures(): number {
    let bytes = 0;
    for (const list of this.texturePool.values()) {
      for (const t of list) {
        bytes += t.width * t.height * 16;
        t.destroy();
      }
    }
    this.texturePool.clear();
    return bytes;
  }

  /** An rgba32float texture holding a copy of the window `src` (a whole number of vec4s), texel i
   *  at (i % rowTexels, i / rowTexels); the copy is recorded in order with the dispatches around
   *  it. The texture goes back to the pool on `release()`, which may come as soon as the dispatch
   *  that reads it is recorded (later copies into it run after that dispatch, as for buffers).
   *  Null where the window needs more rows than maxTextureDimension2D. */
  operandTexture(src: Binding, rowTexels: number, label: string): OperandTexture | null {
    this.assertAlive(label);
    if (src.size % 16 !== 0 || src.offset % 16 !== 0) throw new WgptError(`${label}: a texture operand needs whole vec4s`);
    const texels = src.size / 16;
    const rowBytes = rowTexels * 16;
    // Row counts in the pool's size classes (at most 25% more rows than asked for), so a steady
    // step reuses its textures.
    const rows = sizeClass(Math.ceil(texels / rowTexels) * rowBytes) / rowBytes;
    if (rows > this.limits.maxTextureDimension2D) return null;
    const bytes = rows * rowBytes;
    let texture = this.texturePool.get(rows)?.pop();
    if (!texture) {
      if (this.counters.allocatedBytes + bytes > this.memoryBudget) this.releasePooled();
      if (this.counters.allocatedBytes + bytes > this.memoryBudget) {
        throw new GPUOutOfMemoryError(`${label}: out of GPU memory allocating a ${bytes}-byte operand texture (budget ${this.memoryBudget})`);
      }
      this.gpu.pushErrorScope('out-of-memory');
      this.gpu.pushErrorScope('validation');
      texture = this.gpu.createTexture({
        size: [rowTexels, rows], format: 'rgba32float', label: `${label} operand texture`,
        usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
      });
      this.watchScope(`${label}: allocating a ${rowTexels}x${rows} operand texture`);
      this.watchScope(`${label}: allocating a ${rowTexels}x${rows} operand texture`);
      this.textureViews.set(texture, texture.createView());
      this.counters.texturesCreated++;
      this.counters.allocatedBytes += bytes;
    }
    this.counters.liveBytes += bytes;
    this.counters.peakLiveBytes = Math.max(this.counters.peakLiveBytes, this.counters.liveBytes);
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.gpu.createCommandEncoder();
    const full = Math.floor(texels / rowTexels);
    const rest = texels % rowTexels;
    if (full > 0) {
      this.encoder.copyBufferToTexture({ buffer: src.buffer, offset: src.offset, bytesPerRow: rowBytes, rowsPerImage: full },
        { texture }, [rowTexels, full]);
    }
    if (rest > 0) {
      this.encoder.copyBufferToTexture({ buffer: src.buffer, offset: src.offset + full * rowBytes, bytesPerRow: rowBytes },
        { texture, origin: [0, full] }, [rest, 1]);
    }
    const t = texture;
    let released = false;
    return {
      binding: { texture: t },
      release: () => {
        if (released) return;
        released = true;
        this.counters.liveBytes -= bytes;
        if (this.lostReason) return;
        let list = this.texturePool.get(rows);
        if (!list) this.texturePool.set(rows, (list = []));
        list.push(t);
      },
    };
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
      entry = { pipeline, layout: pipeline.getBindGroupLayout(0), id: this.pipelines.size };
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
    const started = performance.now();
    this.assertAlive(d.label);
    if (d.bindings.length !== Object.keys(d.kernel.bindings).length) {
      throw new WgptError(`${d.label}: kernel ${d.kernel.name} binds ${Object.keys(d.kernel.bindings).join(', ')}; got ${d.bindings.length} bindings`);
    }
    const [x, y = 1, z = 1] = d.workgroups;
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new WgptError(`${d.label}: ${x}x${y}x${z} workgroups exceed ${maxGroups} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    for (const b of d.bindings) if ('buffer' in b) this.checkBinding(b, d.label);
    // A full parameter arena (or timestamp set) is submitted before this dispatch takes a slot.
    if (this.paramSlot === PARAM_SLOTS || this.profiler?.full) {
      this.counters.recordMs += performance.now() - started;
      this.flush();
      return this.dispatch(d);
    }
    const { pipeline, layout, id } = this.pipelineFor(d.kernel, d.constants);
    const slot = this.paramSlot++;
    packParams(d.kernel, d.params, this.paramData, slot * this.slotWords, d.label);
    const group = this.bindGroupFor(layout, id, slot, d.bindings, d.label);
    const key = this.profiler ? this.profiler.keyOf(d.kernel, d.params, z) : '';
    if (this.profiler?.mode === 'timestamp') {
      // One pass per dispatch, its begin and end timestamped.
      this.pass?.end();
      this.encoder ??= this.gpu.createCommandEncoder();
      this.pass = this.encoder.beginComputePass({ timestampWrites: this.profiler.passTimestamps(key) });
    } else if (!this.pass) {
      this.encoder ??= this.gpu.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
    this.counters.recordMs += performance.now() - started;
    if (this.profiler?.mode === 'sync-submit') {
      // Submit is synchronous on the software adapter: the flush's wall time is the kernel's.
      const t0 = performance.now();
      this.flush();
      this.profiler.add(key, performance.now() - t0);
    } else if (this.profiler?.mode === 'completion') {
      const t0 = performance.now();
      this.flush();
      this.profiler.watchCompletion(key, t0);
    }
  }

  private bindGroupFor(layout: GPUBindGroupLayout, pipelineId: number, slot: number, bindings: (Binding | TextureBinding)[], label: string): GPUBindGroup {
    let key = `${pipelineId}:${slot}`;
    for (const b of bindings) {
      const resource = 'buffer' in b ? b.buffer : b.texture;
      let id = this.bufferIds.get(resource);
      if (id === undefined) this.bufferIds.set(resource, (id = this.nextBufferId++));
      key += 'buffer' in b ? `|${id}:${b.offset}:${b.size}` : `|t${id}`;
    }
    let group = this.bindGroups.get(key);
    if (group) return group;
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: this.paramBuffer, offset: slot * this.slotWords * 4, size: MAX_PARAM_WORDS * 4 } },
    ];
    bindings.forEach((b, i) => entries.push({ binding: i + 1, resource: 'buffer' in b ? b : this.textureViews.get(b.texture)! }));
    this.gpu.pushErrorScope('validation');
    group = this.gpu.createBindGroup({ layout, entries, label });
    this.watchScope(label);
    if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.clear();
    this.bindGroups.set(key, group);
    this.counters.bindGroupsCreated++;
    return group;
  }

  /** Sets bytes of a buffer to zero, in order with the dispatches around it (a memset in the
   *  driver: on llvmpipe ~10x faster than a fill kernel, whose stores are loops over the lanes). */
  clear(buffer: GPUBuffer, offset: number, bytes: number, label: string): void {
    this.assertAlive(label);
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.gpu.createCommandEncoder();
    this.encoder.clearBuffer(buffer, offset, bytes);
  }

  /** Copies bytes between buffers, in order with the dispatches around it. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number, label: string): void {
    this.assertAlive(label);
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.gpu.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits everything recorded so far. Not a completion barrier: on a real GPU submit returns
   *  at once (on llvmpipe it returns when the work is done); `finish()` waits for the GPU. */
  flush(): void {
    if (!this.encoder) return;
    this.assertAlive('submit');
    this.pass?.end();
    this.pass = null;
    if (this.paramSlot > 0) {
      this.gpu.queue.writeBuffer(this.paramBuffer, 0, this.paramData.buffer, 0, this.paramSlot * this.slotWords * 4);
    }
    const readTimestamps = this.profiler?.resolve(this.encoder);
    this.gpu.pushErrorScope('validation');
    this.gpu.queue.submit([this.encoder.finish()]);
    readTimestamps?.();
    this.watchScope('submit');
    this.encoder = null;
    this.paramSlot = 0;
    this.counters.submits++;
  }

  /** Reads bytes back to the host: a sync point, where any recorded GPU error is thrown. */
  async read(buffer: GPUBuffer, offset: number, bytes: number, label: string): Promise<ArrayBuffer> {
    await this.runBeforeWait();
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

  /** The completion barrier: submits pending work, waits until the GPU has finished all of it
   *  (queue.onSubmittedWorkDone) and for the profile's timestamps, then throws any GPU error
   *  recorded. Every timing of GPU work ends here or on a readback. */
  async finish(label = 'finish'): Promise<void> {
    await this.runBeforeWait();
    if (!this.lostReason) this.flush();
    this.assertAlive(label);
    await this.gpu.queue.onSubmittedWorkDone();
    await this.profiler?.settle();
    await this.sync(label);
  }

  /** Submits pending work and throws the first GPU error recorded since the last sync. It waits
   *  for the error scopes, not for the GPU: use `finish()` (or a readback) to time work. */
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

  private async runBeforeWait(): Promise<void> {
    if (!this.beforeWait || this.inBeforeWait || this.lostReason) return;
    this.inBeforeWait = true;
    try {
      await this.beforeWait();
    } finally {
      this.inBeforeWait = false;
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
    this.bindGroups.clear();
    this.pool.drain();
    this.readPool.drain();
    this.drainTextures();
    this.gpu.destroy();
  }
}
