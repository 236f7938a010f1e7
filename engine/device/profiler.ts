// Per-kernel GPU time (WGPT_PROFILE=1, or =shapes to split by shape), honest on any adapter:
// - where the device has `timestamp-query`, every dispatch gets its own compute pass with timestamp
//   writes; the timestamps are resolved into a buffer at each submit and read back asynchronously,
//   so the figures are the GPU's own (Device.finish() waits for them);
// - on the software adapter, queue.submit returns when the work is done, so each dispatch is
//   submitted alone and the submit's wall time is the kernel's;
// - on a GPU without timestamps, each dispatch is submitted alone and timed from its submit (or the
//   previous dispatch's completion, whichever is later) to its own completion (onSubmittedWorkDone).
// A kernel's "ms" is then summed per name; "n" counts its dispatches. The profiler is a hook on
// the recorder (recorder.ts): it is asked whether to submit before a dispatch (full), for the
// dispatch's own timed pass (passTimestamps), after it (dispatched), and at every submit (resolve).
import type { Kernel, Params } from '../../kernels/kernel.ts';

export type ProfileMode = 'timestamp' | 'sync-submit' | 'completion';

export interface ProfileEntry {
  ms: number;
  n: number;
}

/** One dispatch's GPU timestamps (timestamp mode), in the GPU's nanoseconds. */
export interface ProfileSpan {
  key: string;
  begin: bigint;
  end: bigint;
}

/** The most recent spans kept (older ones are dropped, so a long profiled run stays bounded). */
export const PROFILE_SPANS_KEPT = 8192;

/** Timestamp pairs per submit at most; the device flushes before a pass would run past it. */
export const PROFILE_QUERY_PAIRS = 1024;

export class Profiler {
  readonly entries = new Map<string, ProfileEntry>();
  /** timestamp mode: the latest dispatches' raw timestamps, in submission order. */
  readonly spans: ProfileSpan[] = [];
  private querySet: GPUQuerySet | null = null;
  private resolveBuffer: GPUBuffer | null = null;
  /** Keys of the passes recorded since the last submit, in query-pair order. */
  private keys: string[] = [];
  private pending: Promise<void>[] = [];
  private lastDone = 0;

  /** `byShape`: WGPT_PROFILE=shapes, a kernel's figures split by its shape. */
  constructor(private readonly gpu: GPUDevice, readonly mode: ProfileMode, private readonly byShape: boolean) {
    if (mode === 'timestamp') {
      this.querySet = gpu.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_QUERY_PAIRS, label: 'wgpt profile' });
      this.resolveBuffer = gpu.createBuffer({
        size: 16 * PROFILE_QUERY_PAIRS,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
        label: 'wgpt profile resolve',
      });
    }
  }

  /** The profile's name for a dispatch: the kernel, or by shape its first three parameters (the
   *  shape, for most kernels) and batch count too. */
  keyOf(kernel: Kernel, params: Params, z: number): string {
    if (!this.byShape) return kernel.name;
    return `${kernel.name} ${Object.keys(kernel.params).slice(0, 3).map((p) => params[p]).join('x')} z${z}`;
  }

  private add(key: string, ms: number): void {
    const e = this.entries.get(key) ?? { ms: 0, n: 0 };
    e.ms += ms;
    e.n++;
    this.entries.set(key, e);
  }

  /** Whether this submit's timestamp pairs are all taken (the recorder then submits first). */
  get full(): boolean {
    return this.keys.length >= PROFILE_QUERY_PAIRS;
  }

  /** timestamp mode: the timestampWrites of the next dispatch's own compute pass; null in the
   *  other modes (the dispatch joins the open pass). */
  passTimestamps(key: string): GPUComputePassTimestampWrites | null {
    if (this.mode !== 'timestamp') return null;
    const i = this.keys.length;
    this.keys.push(key);
    return { querySet: this.querySet!, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** timestamp mode, before the encoder is finished: resolve this submit's queries and copy them
   *  to a buffer to map once the submit is done. Returns the read to start after the submit. */
  resolve(encoder: GPUCommandEncoder): (() => void) | null {
    if (this.keys.length === 0) return null;
    const n = this.keys.length;
    const keys = this.keys;
    this.keys = [];
    const read = this.gpu.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: 'wgpt profile read' });
    encoder.resolveQuerySet(this.querySet!, 0, 2 * n, this.resolveBuffer!, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer!, 0, read, 0, 16 * n);
    // Spans take their places in submission order now and get their times when the read is back.
    const spans = keys.map((key) => ({ key, begin: 0n, end: 0n }));
    this.spans.push(...spans);
    if (this.spans.length > PROFILE_SPANS_KEPT) this.spans.splice(0, this.spans.length - PROFILE_SPANS_KEPT);
    return () => {
      this.pending.push(read.mapAsync(GPUMapMode.READ).then(() => {
        const ns = new BigInt64Array(read.getMappedRange());
        for (let i = 0; i < n; i++) {
          this.add(keys[i], Number(ns[2 * i + 1] - ns[2 * i]) / 1e6);
          spans[i].begin = ns[2 * i];
          spans[i].end = ns[2 * i + 1];
        }
        read.unmap();
        read.destroy();
      }));
    };
  }

  /** After a dispatch is recorded: without timestamps it is submitted alone (`flush`) and timed.
   *  On the software adapter submit is synchronous, so the flush's wall time is the kernel's; on a
   *  GPU it is timed from its submit (or the previous dispatch's completion) to its completion. */
  dispatched(key: string, flush: () => void): void {
    if (this.mode === 'timestamp') return;
    const t0 = performance.now();
    flush();
    if (this.mode === 'sync-submit') {
      this.add(key, performance.now() - t0);
      return;
    }
    this.pending.push(this.gpu.queue.onSubmittedWorkDone().then(() => {
      const done = performance.now();
      this.add(key, done - Math.max(t0, this.lastDone));
      this.lastDone = done;
    }));
  }

  /** Resolves when every figure recorded so far is in `entries`. */
  async settle(): Promise<void> {
    while (this.pending.length > 0) {
      const p = this.pending;
      this.pending = [];
      await Promise.all(p);
    }
  }
}
