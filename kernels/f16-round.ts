// The entry point of kernels/f16-round.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { wgsl } from './kernel.ts';

/** y = x rounded to the nearest f16 value (ties to even), as f32. */
export const ROUND_F16 = wgsl('f16-round', 'main', { params: { n: 'u32' }, bindings: { x: 'read f32', y: 'read_write f32' } });
