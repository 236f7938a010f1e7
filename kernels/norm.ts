// The entry points of kernels/norm.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { rowKernel, wgsl } from './kernel.ts';

/** rows of this dispatch, each d long, the first at `shift` of the binding and global row row0. */
const ROWS = { rows: 'u32', d: 'u32', shift: 'u32', row0: 'u32' } as const;

export const LN_FORWARD = rowKernel('norm', 'forward', {
  params: { ...ROWS, eps: 'f32' },
  bindings: { x: 'read f32', w: 'read f32', b: 'read f32', y: 'read_write f32', means: 'read_write f32', rstds: 'read_write f32' },
});
/** add: dx = prior + the layer norm's own (prior unread otherwise). */
export const LN_BACKWARD_DX = rowKernel('norm', 'backward_dx', {
  params: { ...ROWS, add: 'u32' },
  bindings: { x: 'read f32', w: 'read f32', gy: 'read f32', means: 'read f32', rstds: 'read f32', prior: 'read f32', dx: 'read_write f32' },
});
/** One invocation per column: no workgroup reduction. */
export const LN_BACKWARD_WB = wgsl('norm', 'backward_wb', {
  params: { ...ROWS, accumulate: 'u32' },
  bindings: { x: 'read f32', gy: 'read f32', means: 'read f32', rstds: 'read f32', dw: 'read_write f32', db: 'read_write f32' },
});
