// The limits the engine obeys: the adapter's own, requested whole, then lowered by any caps asked
// for (tests open a 1 MiB binding limit to drive the sliced paths with small shapes); and what the
// kernels need of an adapter at least.

const LIMIT_KEYS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension',
  'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment', 'maxUniformBufferBindingSize',
  'maxTextureDimension2D',
] as const;

export type Limits = Record<(typeof LIMIT_KEYS)[number], number>;

/** The limits a device may be opened with below the adapter's. */
const CAPPED = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxTextureDimension2D'] as const;

/** What to request: everything the adapter has (never more than it gives, never assumed). */
export function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  return Object.fromEntries(LIMIT_KEYS.map((k) => [k, adapter.limits[k]]));
}

/** The device's limits, lowered by `caps`. */
export function limitsInForce(gpu: GPUDevice, caps: Partial<Pick<Limits, (typeof CAPPED)[number]>>): Limits {
  const limits = Object.fromEntries(LIMIT_KEYS.map((k) => [k, gpu.limits[k]])) as Limits;
  for (const k of CAPPED) {
    const cap = caps[k];
    if (cap !== undefined) limits[k] = Math.min(limits[k], cap);
  }
  return limits;
}

/** What wgpt's kernels need of an adapter at least, WebGPU's core defaults (every kernel stays
 *  within them: test/adapter-limits.test.ts). An adapter below them (WebGPU's compatibility mode
 *  on some phones: 4 storage buffers, 128 invocations) is refused when the device opens. */
export const KERNEL_NEEDS = { maxStorageBuffersPerShaderStage: 8, maxComputeInvocationsPerWorkgroup: 256 } as const;

const WHAT: Record<keyof typeof KERNEL_NEEDS, string> = { maxStorageBuffersPerShaderStage: 'storage buffers per shader stage',
  maxComputeInvocationsPerWorkgroup: 'invocations per workgroup' };

/** The adapter's limits against KERNEL_NEEDS: one sentence naming each one short, or null. */
export function adapterShortfall(limits: Readonly<Record<string, number>>, adapter: string): string | null {
  const short = (Object.keys(KERNEL_NEEDS) as (keyof typeof KERNEL_NEEDS)[]).filter((k) => limits[k] < KERNEL_NEEDS[k]);
  if (short.length === 0) return null;
  const has = short.map((k) => `${limits[k]} ${WHAT[k]}`).join(' and ');
  return `this GPU adapter (${adapter}) is too small for wgpt: it allows ${has}, where wgpt's kernels need ${
    short.map((k) => KERNEL_NEEDS[k]).join(' and ')}`;
}
