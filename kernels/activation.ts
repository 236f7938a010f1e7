// The entry points of kernels/activation.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { wgsl } from './kernel.ts';

const BIAS = { n: 'u32', base: 'u32', d: 'u32' } as const;

export const GELU = wgsl('activation', 'gelu_forward', { params: { n: 'u32' }, bindings: { x: 'read f32', y: 'read_write f32' } });
export const GELU_BACKWARD = wgsl('activation', 'gelu_backward', {
  params: { n: 'u32' }, bindings: { x: 'read f32', g: 'read f32', dx: 'read_write f32' },
});
export const BIAS_GELU = wgsl('activation', 'bias_gelu_forward', {
  params: BIAS, bindings: { x: 'read f32', bias: 'read f32', y: 'read_write f32' },
});
/** rows of this window, each d long, the first at `shift`; accumulate: continue dbias. */
export const BIAS_GELU_BACKWARD = wgsl('activation', 'bias_gelu_backward', {
  params: { rows: 'u32', d: 'u32', shift: 'u32', accumulate: 'u32' },
  bindings: { x: 'read f32', bias: 'read f32', g: 'read f32', dx: 'read_write f32', dbias: 'read_write f32' },
});
