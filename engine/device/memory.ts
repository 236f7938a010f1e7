// A device's memory: storage buffers and operand textures from size-class pools, under one budget,
// every creation inside out-of-memory and validation error scopes, and counted. GPU memory is never
// left to the garbage collector: a tensor's buffer comes back here when it is disposed.
import { GPUOutOfMemoryError } from '../errors.ts';
import type { Counters } from './counters.ts';
import type { Faults } from './faults.ts';
import type { Limits } from './limits.ts';
import { Pool, sizeClass } from './pool.ts';

/** A window of a buffer, in bytes, bound to one storage slot. */
export interface Binding {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/** An rgba32float texture bound to a `texture_2d<f32>` slot (see Device.operandTexture). */
export interface TextureBinding {
  texture: GPUTexture;
  view: GPUTextureView;
}

/** A pooled texture, in use until `release()`. */
export interface OperandTexture {
  binding: TextureBinding;
  release(): void;
}

export class Memory {
  private buffers = new Pool<GPUBuffer>();
  private readbacks = new Pool<GPUBuffer>();
  /** Operand textures by row count. */
  private textures = new Pool<GPUTexture>((t) => t.width * t.height * 16);
  private views = new WeakMap<GPUTexture, GPUTextureView>();
  /** Run before pooled memory is destroyed: recorded work that may use it is submitted, and cached
   *  bind groups naming it are dropped (the device wires this to its recorder). */
  beforeDrain: () => void = () => {};

  constructor(
    private readonly gpu: GPUDevice,
    private readonly limits: Limits,
    private readonly budget: number,
    private readonly counters: Counters,
    private readonly faults: Faults,
  ) {}

  /** A storage buffer of at least `bytes`, from the pool when one is free. */
  allocate(bytes: number, label: string): { buffer: GPUBuffer; bytes: number } {
    this.faults.assertAlive(label);
    // The size class rounds up by up to 25%: never past maxBufferSize (a request that fits is
    // allocated at the limit, exactly what is created is what is checked).
    const max = this.limits.maxBufferSize - (this.limits.maxBufferSize % 4);
    const cls = Math.min(sizeClass(bytes), max);
    if (bytes > max) {
      throw new GPUOutOfMemoryError(
        `${label}: cannot allocate ${bytes} bytes, over this device's maxBufferSize of ${this.limits.maxBufferSize}`);
    }
    const buffer = this.buffers.take(cls, () => this.create(cls, `${label}: allocating ${cls} bytes`,
      () => `${label}: out of GPU memory allocating ${bytes} bytes (${this.counters.liveBytes} bytes live, budget ${this.budget})`,
      () => {
        this.counters.buffersCreated++;
        return this.gpu.createBuffer({ size: cls, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      }));
    this.live(cls);
    return { buffer, bytes: cls };
  }

  /** Gives a buffer back to the pool. Commands already recorded may still read it: that is
   *  safe, since later commands run after them and uploads keep their order (see Recorder.upload). */
  release(buffer: GPUBuffer, cls: number): void {
    this.counters.liveBytes -= cls;
    if (this.faults.lost) return;
    this.buffers.give(cls, buffer);
  }

  /** An rgba32float texture of at least `texels` texels in rows of `rowTexels`, from the pool
   *  when one is free; back to the pool on `release()`. Null where it needs more rows than
   *  maxTextureDimension2D. */
  texture(texels: number, rowTexels: number, label: string): OperandTexture | null {
    const rowBytes = rowTexels * 16;
    // Row counts in the pool's size classes (at most 25% more rows than asked for), so a steady
    // step reuses its textures.
    const rows = sizeClass(Math.ceil(texels / rowTexels) * rowBytes) / rowBytes;
    if (rows > this.limits.maxTextureDimension2D) return null;
    const bytes = rows * rowBytes;
    const texture = this.textures.take(rows, () => this.create(bytes, `${label}: allocating a ${rowTexels}x${rows} operand texture`,
      () => `${label}: out of GPU memory allocating a ${bytes}-byte operand texture (budget ${this.budget})`,
      () => {
        const t = this.gpu.createTexture({
          size: [rowTexels, rows], format: 'rgba32float', label: `${label} operand texture`,
          usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
        });
        this.views.set(t, t.createView());
        this.counters.texturesCreated++;
        return t;
      }));
    this.live(bytes);
    let released = false;
    return {
      binding: { texture, view: this.views.get(texture)! },
      release: () => {
        if (released) return;
        released = true;
        this.counters.liveBytes -= bytes;
        if (!this.faults.lost) this.textures.give(rows, texture);
      },
    };
  }

  /** A mappable buffer for reading back `bytes` (a multiple of 4): its size class and the buffer. */
  readback(bytes: number): { cls: number; buffer: GPUBuffer } {
    const cls = sizeClass(bytes);
    const buffer = this.readbacks.take(cls, () => {
      // Outside the budget (staging is short-lived), inside the scopes: the failed map throws their error.
      const made = this.faults.scoped(['out-of-memory', 'validation'], `allocating a ${cls}-byte readback buffer`,
        () => this.gpu.createBuffer({ size: cls, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
      this.counters.buffersCreated++;
      return made;
    });
    return { cls, buffer };
  }

  giveReadback(cls: number, buffer: GPUBuffer): void {
    this.readbacks.give(cls, buffer);
  }

  /** Destroys pooled buffers and textures (after the work that may use them has been submitted). */
  releasePooled(): void {
    this.beforeDrain();
    this.counters.allocatedBytes -= this.buffers.drain() + this.textures.drain();
  }

  /** Destroys everything pooled, at the device's end. */
  drain(): void {
    this.buffers.drain();
    this.readbacks.drain();
    this.textures.drain();
  }

  /** Every new buffer's and texture's path: within the budget (pooled memory is released first
   *  where it would be passed; `refusal` says why not), inside error scopes, counted. */
  private create<T>(bytes: number, label: string, refusal: () => string, make: () => T): T {
    if (this.counters.allocatedBytes + bytes > this.budget) this.releasePooled();
    if (this.counters.allocatedBytes + bytes > this.budget) throw new GPUOutOfMemoryError(refusal());
    const made = this.faults.scoped(['out-of-memory', 'validation'], label, make);
    this.counters.allocatedBytes += bytes;
    return made;
  }

  private live(bytes: number): void {
    this.counters.liveBytes += bytes;
    this.counters.peakLiveBytes = Math.max(this.counters.peakLiveBytes, this.counters.liveBytes);
  }
}
