// Waiting, two kinds never confused: `sync()` submits and surfaces the GPU errors recorded so far
// (it awaits error scopes, not the GPU); `finish()` is the completion barrier. A readback is a sync
// point too. Every timing of GPU work ends on finish() or a readback: on llvmpipe submit returns
// when the work is done, on a real GPU at once.
import { DeviceLostError, WgptError } from '../errors.ts';
import type { Counters } from './counters.ts';
import type { Faults } from './faults.ts';
import type { Memory } from './memory.ts';
import type { Profiler } from './profiler.ts';
import type { Recorder } from './recorder.ts';

/** A readback under way (Waits.readLater). */
export interface PendingRead {
  bytes: Promise<ArrayBuffer>;
}

export class Waits {
  /** Work to do at the next wait (a readback or finish()) before it: the matmul tuner measuring
   *  the product classes met so far (engine/tune/tuner.ts). Not run from inside itself. */
  beforeWait: (() => Promise<void> | void) | null = null;
  private inBeforeWait = false;

  constructor(
    private readonly gpu: GPUDevice,
    private readonly faults: Faults,
    private readonly recorder: Recorder,
    private readonly memory: Memory,
    private readonly counters: Counters,
    private readonly profiler: Profiler | null,
  ) {}

  /** Reads bytes back to the host: a sync point, where any recorded GPU error is thrown. */
  async read(buffer: GPUBuffer, offset: number, bytes: number, label: string): Promise<ArrayBuffer> {
    return (await this.readLater(buffer, offset, bytes, label)).bytes;
  }

  /** A readback started but not waited for: resolves once the copy into a staging buffer is
   *  recorded and submitted (the source may then be freed and more work recorded while the GPU
   *  still runs); `bytes` resolves once the staging buffer is mapped, as read() does. The loop
   *  reads a step's loss this way, after recording the next step (train/run/loop.ts). */
  async readLater(buffer: GPUBuffer, offset: number, bytes: number, label: string): Promise<PendingRead> {
    await this.runBeforeWait();
    const size = Math.ceil(bytes / 4) * 4;
    const { cls, buffer: staging } = this.memory.readback(size);
    this.recorder.copy(buffer, offset, staging, 0, size, label);
    this.recorder.flush();
    this.counters.readbacks++;
    const mapped = this.mapped(staging, cls, size, bytes, label);
    // Awaited by whoever reads it, maybe only after other awaits: not an unhandled rejection meanwhile.
    mapped.catch(() => {});
    return { bytes: mapped };
  }

  private async mapped(staging: GPUBuffer, cls: number, size: number, bytes: number, label: string): Promise<ArrayBuffer> {
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
      const Err = this.faults.lost ? DeviceLostError : WgptError;
      throw new Err(`${label}: reading back failed: ${(e as Error).message}`, { cause: e });
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.memory.giveReadback(cls, staging);
    await this.sync(label);
    return out;
  }

  /** The completion barrier: submits pending work, waits until the GPU has finished all of it
   *  (queue.onSubmittedWorkDone) and for the profile's timestamps, then throws any GPU error
   *  recorded. Every timing of GPU work ends here or on a readback. */
  async finish(label: string): Promise<void> {
    await this.runBeforeWait();
    if (!this.faults.lost) this.recorder.flush();
    this.faults.assertAlive(label);
    await this.gpu.queue.onSubmittedWorkDone();
    await this.profiler?.settle();
    await this.sync(label);
  }

  /** Submits pending work and throws the first GPU error recorded since the last sync. It waits
   *  for the error scopes, not for the GPU: use `finish()` (or a readback) to time work. */
  async sync(label: string): Promise<void> {
    if (!this.faults.lost) this.recorder.flush();
    await this.faults.throwRecorded(label);
  }

  private async runBeforeWait(): Promise<void> {
    if (!this.beforeWait || this.inBeforeWait || this.faults.lost) return;
    this.inBeforeWait = true;
    try {
      await this.beforeWait();
    } finally {
      this.inBeforeWait = false;
    }
  }
}
