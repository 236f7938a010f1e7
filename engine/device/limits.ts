// The limits the engine obeys: the adapter's own, requested whole, then lowered by any caps asked
// for (tests open a 1 MiB binding limit to drive the sliced paths with small shapes).

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

/** The limits a device may be opened with below the adapter's. */
const CAPPED = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxTextureDimension2D'] as const;
export type LimitCaps = Partial<Pick<Limits, (typeof CAPPED)[number]>>;

/** What to request: everything the adapter has (never more than it gives, never assumed). */
export function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  return Object.fromEntries(LIMIT_KEYS.map((k) => [k, adapter.limits[k]]));
}

/** The device's limits, lowered by `caps`. */
export function limitsInForce(gpu: GPUDevice, caps: LimitCaps): Limits {
  const limits = Object.fromEntries(LIMIT_KEYS.map((k) => [k, gpu.limits[k]])) as unknown as Limits;
  for (const k of CAPPED) {
    const cap = caps[k];
    if (cap !== undefined) limits[k] = Math.min(limits[k], cap);
  }
  return limits;
}
