// The limits the engine obeys: the adapter's own, requested whole, then lowered by any caps asked
// for (tests open a 1 MiB binding limit to drive the sliced paths with small shapes).

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
