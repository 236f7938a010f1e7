// A device's faults, never silent: every WebGPU call that can fail runs inside error scopes whose
// results are collected here, with uncaptured errors and the lost device, and thrown as a typed
// error at the next sync point (waits.ts); a lost or destroyed device refuses every later call.
import { DeviceLostError, GPUOutOfMemoryError, GPUValidationError } from '../errors.ts';

export class Faults {
  private errors: string[] = [];
  private scopes: Promise<void>[] = [];
  private lostReason: string | null = null;

  constructor(private readonly gpu: GPUDevice) {
    gpu.addEventListener('uncapturederror', (ev) => {
      this.errors.push((ev as GPUUncapturedErrorEvent).error.message);
    });
    gpu.lost.then((info) => {
      this.lostReason ??= `${info.reason}: ${info.message || 'no message'}`;
    });
  }

  /** Runs `make` inside error scopes of these kinds; what they catch is recorded under `label`. */
  scoped<T>(filters: GPUErrorFilter[], label: string, make: () => T): T {
    for (const f of filters) this.gpu.pushErrorScope(f);
    try {
      return make();
    } finally {
      // Popped even where make() threw: a scope left open would swallow every later error.
      for (let i = 0; i < filters.length; i++) {
        this.scopes.push(this.gpu.popErrorScope().then(
          (err) => {
            if (err) this.errors.push(`${label}: ${err.message}`);
          },
          (e: Error) => {
            this.errors.push(`${label}: ${e.message}`);
          },
        ));
      }
    }
  }

  /** Waits for the scopes opened so far and throws the first error recorded since the last call
   *  (out of memory or validation), with how many more there were. */
  async throwRecorded(label: string): Promise<void> {
    const pending = this.scopes;
    this.scopes = [];
    await Promise.all(pending);
    this.assertAlive(label);
    if (this.errors.length === 0) return;
    const all = this.errors;
    this.errors = [];
    const first = all[0];
    const more = all.length > 1 ? ` (and ${all.length - 1} more)` : '';
    if (/out of memory|out-of-memory/i.test(first)) throw new GPUOutOfMemoryError(first + more);
    throw new GPUValidationError(first + more);
  }

  assertAlive(label: string): void {
    if (this.lostReason) throw new DeviceLostError(`${label}: the GPU device is lost (${this.lostReason}); open a new device`);
  }

  get lost(): boolean {
    return this.lostReason !== null;
  }

  /** Marks the device destroyed: from now on it is lost. Returns false where it already was. */
  markDestroyed(): boolean {
    if (this.lostReason) return false;
    this.lostReason = 'destroyed: Device.destroy() was called';
    return true;
  }
}
