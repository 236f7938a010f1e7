// The entry points of kernels/loss.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { rowKernel } from './kernel.ts';

/** rows of this dispatch, each v logits, the first at `shift` of the binding and global row row0;
 *  ignore: the target that counts for nothing; weighted: 1 reads a weight per row from w (unweighted,
 *  the caller binds any i32/f32-sized buffer there, unread). */
const ROWS = { rows: 'u32', v: 'u32', shift: 'u32', row0: 'u32', ignore: 'i32', weighted: 'u32' } as const;

export const CE_FORWARD = rowKernel('loss', 'forward', {
  params: ROWS, bindings: { logits: 'read f32', targets: 'read i32', stats: 'read_write f32', losses: 'read_write f32', w: 'read f32' },
});
/** use_denom: divide by denom instead of the count of targets. */
export const CE_FINISH = rowKernel('loss', 'finish', {
  params: { rows: 'u32', v: 'u32', ignore: 'i32', use_denom: 'u32', denom: 'f32', weighted: 'u32' },
  bindings: { losses: 'read f32', targets: 'read i32', out: 'read_write f32', denom: 'read_write f32', w: 'read f32' },
});
export const CE_BACKWARD = rowKernel('loss', 'backward', {
  params: ROWS,
  bindings: {
    logits: 'read f32', targets: 'read i32', stats: 'read f32', g: 'read f32', denom: 'read f32', dx: 'read_write f32', w: 'read f32',
  },
  overrides: { PER_ROW: 0 },
});
