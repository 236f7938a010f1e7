// Typed errors: every GPU fault surfaces as one of these, thrown at the next sync point (or at once
// where the engine can tell synchronously), with the operation that caused it in the message.

export class WgptError extends Error {
  /** `options.cause`: the error this one reports (kept, so nothing of it is lost). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A shape or argument the caller got wrong: names both shapes. */
export class ShapeError extends WgptError {}

/** WebGPU reported a validation error (a bad binding, a limit exceeded, a broken shader). */
export class GPUValidationError extends WgptError {}

/** The device refused an allocation. */
export class GPUOutOfMemoryError extends WgptError {}

/** The device was lost or destroyed; nothing more can run on it. */
export class DeviceLostError extends WgptError {}

/** The adapter cannot run wgpt's kernels (a limit below what they need), in one sentence. */
export class AdapterTooSmallError extends WgptError {}
