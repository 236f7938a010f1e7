// The entry points of kernels/restride.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { wgsl } from './kernel.ts';

/** cols per row; the source and destination layouts: offset, row stride and batch stride (in
 *  vec4s on the vec4 side). */
const LAYOUTS = { cols: 'u32', s_off: 'u32', s_ld: 'u32', s_batch: 'u32', d_off: 'u32', d_ld: 'u32', d_batch: 'u32' } as const;

export const PAD = wgsl('restride', 'pad', { params: LAYOUTS, bindings: { src: 'read f32', dst: 'read_write vec4<f32>' } });
export const UNPAD = wgsl('restride', 'unpad', {
  params: LAYOUTS, bindings: { src: 'read vec4<f32>', dst: 'read_write f32' }, overrides: { ACC: false },
});
