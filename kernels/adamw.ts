// The entry points of kernels/adamw.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { TEXTURE_ROW, wgsl } from './kernel.ts';

/** n: vec4s (adamw4) or floats (adamw1) to update; off: adamw1's first float. The rest are the
 *  step's scalars (see the .wgsl), floats computed in f64 on the host. */
const ADAM = {
  n: 'u32', off: 'u32', decay: 'f32', step: 'f32', b1: 'f32', omb1: 'f32', b2: 'f32', omb2: 'f32', eps: 'f32', rbc2: 'f32',
} as const;

const RW4 = 'read_write vec4<f32>';

export const ADAMW4 = wgsl('adamw', 'adamw4', { params: ADAM, bindings: { p4: RW4, g4: 'read vec4<f32>', m4: RW4, v4: RW4 } });
export const ADAMW1 = wgsl('adamw', 'adamw1', {
  params: ADAM, bindings: { p1: 'read_write f32', g1: 'read f32', m1: 'read_write f32', v1: 'read_write f32' },
});
export const ADAMW4_TEXTURE = wgsl('adamw', 'adamw4_texture', {
  params: ADAM,
  bindings: { tp: 'texture', tg: 'texture', tm: 'texture', tv: 'texture', p4: RW4, m4: RW4, v4: RW4 },
  overrides: { ROW_LOG2: Math.log2(TEXTURE_ROW) },
});
