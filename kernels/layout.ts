// The entry points of kernels/layout.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { wgsl } from './kernel.ts';

const XY = { x: 'read f32', y: 'read_write f32' } as const;

/** n: output elements; o1..o3: the output's extents of axes 1..3; st0..st3: the input's strides,
 *  in output axis order. */
export const PERMUTE = wgsl('layout', 'permute', {
  params: { n: 'u32', o1: 'u32', o2: 'u32', o3: 'u32', st0: 'u32', st1: 'u32', st2: 'u32', st3: 'u32' }, bindings: XY,
});
export const AXIS_COPY = wgsl('layout', 'axis_copy', {
  params: { n: 'u32', inner: 'u32', count: 'u32', src_len: 'u32', src_start: 'u32', dst_len: 'u32', dst_start: 'u32' },
  bindings: XY,
});

/** n: elements; b, heads, t, dh: the extents of qkv [B, T, 3·H·Dh], gathered into [3, B, H, T, Dh]. */
export const SPLIT_HEADS = wgsl('layout', 'split_heads', {
  params: { n: 'u32', b: 'u32', heads: 'u32', t: 'u32', dh: 'u32' }, bindings: XY,
});
