// The entry points of kernels/softmax.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { rowKernel } from './kernel.ts';

/** rows of this dispatch, each len long, the first at `shift` of the binding and global row row0. */
const ROWS = { rows: 'u32', len: 'u32', shift: 'u32', row0: 'u32' } as const;

export const SOFTMAX = rowKernel('softmax', 'forward', {
  params: { ...ROWS, causal: 'u32' }, bindings: { x: 'read f32', y: 'read_write f32' },
});
export const SOFTMAX_BACKWARD = rowKernel('softmax', 'backward', {
  params: ROWS, bindings: { y: 'read f32', g: 'read f32', dx: 'read_write f32' },
});
/** tq: the new queries per sequence; rows_per_seq: heads times tq. */
export const PADDED_SOFTMAX = rowKernel('softmax', 'padded', {
  params: { ...ROWS, tq: 'u32', rows_per_seq: 'u32' },
  bindings: { x: 'read f32', y: 'read_write f32', start: 'read i32' },
});
