// What a device has done, counted: tests assert a steady step allocates nothing and creates no bind
// group, and benchmarks divide host time by dispatches.

export interface Counters {
  buffersCreated: number;
  liveBytes: number;
  peakLiveBytes: number;
  allocatedBytes: number;
  pipelinesCompiled: number;
  bindGroupsCreated: number;
  /** Operand textures created (see Device.operandTexture); pooled like buffers. */
  texturesCreated: number;
  dispatches: number;
  /** Host milliseconds spent recording dispatches (validation, pipeline and bind-group lookup,
   *  encoding), submits excluded: the CPU cost per dispatch is recordMs / dispatches. */
  recordMs: number;
  submits: number;
  /** Host milliseconds inside submits (on llvmpipe a submit runs the work it holds). */
  submitMs: number;
  /** Uploads copied from the upload arena in order with recorded work (no submit of their own). */
  stagedUploads: number;
  readbacks: number;
}

export function newCounters(): Counters {
  return {
    buffersCreated: 0, liveBytes: 0, peakLiveBytes: 0, allocatedBytes: 0,
    pipelinesCompiled: 0, bindGroupsCreated: 0, texturesCreated: 0, dispatches: 0, recordMs: 0, submits: 0,
    submitMs: 0, stagedUploads: 0, readbacks: 0,
  };
}
