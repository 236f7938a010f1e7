// One Device owns the GPUDevice, and is a thin front over its parts (engine/device/): the limits in
// force (limits.ts), memory from pools under a budget (memory.ts), recording and submitting work
// (recorder.ts, with the profiler as a hook on it), waiting and surfacing errors (waits.ts, over
// faults.ts's error scopes). Ops and tests call the Device; nothing above engine/ sees a GPUBuffer.
import { platform } from '#platform';
import type { AdapterChoice } from './platform/types.ts';
import { AdapterTooSmallError, WgptError } from './errors.ts';
import { setting, type AdapterKind, type Backend, type KernelSet } from './settings.ts';
import { newCounters, type Counters } from './device/counters.ts';
import { Faults } from './device/faults.ts';
import { adapterLimits, adapterShortfall, limitsInForce, type Limits } from './device/limits.ts';
import { Memory, type Binding, type OperandTexture } from './device/memory.ts';
import { Profiler, type ProfileEntry, type ProfileSpan } from './device/profiler.ts';
import { Recorder, type Dispatch } from './device/recorder.ts';
import { type PendingRead, Waits } from './device/waits.ts';

export type { Counters } from './device/counters.ts';
export type { Limits } from './device/limits.ts';
export type { Binding, OperandTexture, TextureBinding } from './device/memory.ts';
export type { Dispatch } from './device/recorder.ts';

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

export class Device {
  readonly counters: Counters = newCounters();
  readonly backend: AdapterKind;
  readonly featureLevel: 'core' | 'compatibility';
  readonly adapterDescription: string;
  readonly features: string[];
  /** Whose kernel variants run here (see DeviceOptions.kernels). */
  readonly kernelProfile: 'gpu' | 'software';
  /** The adapter's smallest subgroup size (0 without subgroups): a workgroup no larger is one
   *  subgroup (kernels/rows-subgroups.wgsl's ONE_SUBGROUP). */
  readonly subgroupMinSize: number;
  private readonly faults: Faults;
  private readonly memory: Memory;
  private readonly recorder: Recorder;
  private readonly waits: Waits;
  private readonly profiler: Profiler | null;
  private useSubgroups: boolean;

  private constructor(
    readonly gpu: GPUDevice, readonly limits: Limits, choice: AdapterChoice, options: DeviceOptions, profile: 'kernels' | 'shapes' | null,
  ) {
    this.backend = choice.backend;
    this.featureLevel = choice.featureLevel;
    this.adapterDescription = choice.description;
    this.features = [...choice.adapter.features].sort();
    const kernels = options.kernels ?? setting('WGPT_KERNELS');
    // lavapipe is llvmpipe's code generator too: the software kernels are its own.
    this.kernelProfile = kernels !== 'auto' ? kernels : choice.backend === 'gpu' ? 'gpu' : 'software';
    this.subgroupMinSize = gpu.features.has('subgroups') ? choice.adapter.info?.subgroupMinSize ?? 0 : 0;
    this.useSubgroups = (options.subgroups ?? setting('WGPT_SUBGROUPS')) && gpu.features.has('subgroups');
    const mode = gpu.features.has('timestamp-query') ? 'timestamp' : choice.backend === 'software' ? 'sync-submit' : 'completion';
    this.profiler = profile ? new Profiler(gpu, mode, profile === 'shapes') : null;
    this.faults = new Faults(gpu);
    this.memory = new Memory(gpu, limits, options.memoryBudget ?? Infinity, this.counters, this.faults);
    this.recorder = new Recorder(gpu, limits, this.counters, this.faults, this.profiler);
    this.waits = new Waits(gpu, this.faults, this.recorder, this.memory, this.counters, this.profiler);
    // Pooled buffers are destroyed only after the work recorded over them is submitted, and with
    // them every cached bind group that names them.
    this.memory.beforeDrain = () => {
      this.recorder.flush();
      this.recorder.dropBindGroups();
    };
  }

  static async open(options: DeviceOptions = {}): Promise<Device> {
    const profile = setting('WGPT_PROFILE');
    const choice = await platform.chooseAdapter(options.backend ?? 'auto', profile !== null);
    const shortfall = adapterShortfall(choice.adapter.limits as unknown as Record<string, number>, choice.description);
    if (shortfall) throw new AdapterTooSmallError(shortfall);
    // Timestamps only where asked for (WGPT_PROFILE): per-kernel GPU times in the profile.
    const requiredFeatures: GPUFeatureName[] = profile && choice.adapter.features.has('timestamp-query')
      ? ['timestamp-query'] : [];
    // Subgroups wherever the adapter has them: the row reductions use them (see subgroups).
    if (choice.adapter.features.has('subgroups')) requiredFeatures.push('subgroups');
    const gpu = await choice.adapter.requestDevice({ requiredLimits: adapterLimits(choice.adapter), requiredFeatures, label: 'wgpt' });
    return new Device(gpu, limitsInForce(gpu, options), choice, options, profile);
  }

  /** Whether the row reductions (softmax, layer norm, cross-entropy, argmax) run their subgroup
   *  build (kernels/rows-subgroups.wgsl): where the device has `subgroups` unless turned off.
   *  Settable, so a benchmark or a test runs both builds on one device. */
  get subgroups(): boolean { return this.useSubgroups; }

  set subgroups(on: boolean) {
    if (on && !this.gpu.features.has('subgroups')) {
      throw new WgptError(
        `this adapter (${this.adapterDescription}) has no subgroups feature: the row reductions run their workgroup-memory build`,
      );
    }
    this.useSubgroups = on;
  }

  /** With WGPT_PROFILE: GPU milliseconds and dispatch count per kernel (see device/profiler.ts);
   *  complete after `await finish()`. */
  get profile(): Map<string, ProfileEntry> | null { return this.profiler?.entries ?? null; }

  /** With WGPT_PROFILE in timestamp mode: the latest dispatches' GPU timestamps, in submission
   *  order (complete after `await finish()`); null in the other modes. */
  get profileSpans(): readonly ProfileSpan[] | null { return this.profiler?.mode === 'timestamp' ? this.profiler.spans : null; }

  /** How the profile is timed: 'timestamp' (GPU timestamps), 'sync-submit' or 'completion'. */
  get profileMode(): string | null { return this.profiler?.mode ?? null; }

  // ---- memory (device/memory.ts) ----
  allocate(bytes: number, label: string): { buffer: GPUBuffer; bytes: number } { return this.memory.allocate(bytes, label); }
  release(buffer: GPUBuffer, cls: number): void { this.memory.release(buffer, cls); }
  releasePooled(): void { this.memory.releasePooled(); }

  /** An rgba32float texture holding a copy of the window `src` (a whole number of vec4s), texel i
   *  at (i % rowTexels, i / rowTexels); the copy is recorded in order with the dispatches around
   *  it. The texture goes back to the pool on `release()`, which may come as soon as the dispatch
   *  that reads it is recorded (later copies into it run after that dispatch, as for buffers).
   *  Null where the window needs more rows than maxTextureDimension2D. */
  operandTexture(src: Binding, rowTexels: number, label: string): OperandTexture | null {
    this.faults.assertAlive(label);
    if (src.size % 16 !== 0 || src.offset % 16 !== 0) throw new WgptError(`${label}: a texture operand needs whole vec4s`);
    const texels = src.size / 16;
    const t = this.memory.texture(texels, rowTexels, label);
    if (t) this.recorder.copyToTexture(src, t.binding.texture, rowTexels, texels);
    return t;
  }

  // ---- recording (device/recorder.ts) ----
  upload(buffer: GPUBuffer, offsetBytes: number, data: ArrayBufferView, label: string): void {
    this.recorder.upload(buffer, offsetBytes, data, label);
  }
  dispatch(d: Dispatch): void { this.recorder.dispatch(d); }
  clear(buffer: GPUBuffer, offset: number, bytes: number, label: string): void { this.recorder.clear(buffer, offset, bytes, label); }
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number, label: string): void {
    this.recorder.copy(src, srcOffset, dst, dstOffset, bytes, label);
  }
  /** Submits everything recorded so far: not a completion barrier (see finish). */
  flush(): void { this.recorder.flush(); }

  // ---- waiting (device/waits.ts) ----
  /** Work to do at the next wait (a readback or finish()) before it: the matmul tuner. */
  get beforeWait(): Waits['beforeWait'] { return this.waits.beforeWait; }
  set beforeWait(work: Waits['beforeWait']) { this.waits.beforeWait = work; }
  read(buffer: GPUBuffer, offset: number, bytes: number, label: string): Promise<ArrayBuffer> {
    return this.waits.read(buffer, offset, bytes, label);
  }
  /** A readback whose copy is submitted now and whose bytes come later (device/waits.ts). */
  readLater(buffer: GPUBuffer, offset: number, bytes: number, label: string): Promise<PendingRead> {
    return this.waits.readLater(buffer, offset, bytes, label);
  }
  /** The completion barrier: every timing of GPU work ends here or on a readback. */
  finish(label = 'finish'): Promise<void> { return this.waits.finish(label); }
  sync(label = 'sync'): Promise<void> { return this.waits.sync(label); }
  get isLost(): boolean { return this.faults.lost; }

  /** Destroys the device; every later call throws DeviceLostError. */
  destroy(): void {
    if (!this.faults.markDestroyed()) return;
    this.recorder.dropBindGroups();
    this.memory.drain();
    this.gpu.destroy();
  }
}
