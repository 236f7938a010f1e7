// The entry points of kernels/embedding.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { wgsl } from './kernel.ts';

/** n: invocations; d: the row length; the output (gradient) window o_* and the weight window w_*:
 *  first row, rows, element shift in the binding. */
const WINDOWS = { n: 'u32', d: 'u32', o_row0: 'u32', o_rows: 'u32', o_shift: 'u32', w_row0: 'u32', w_rows: 'u32', w_shift: 'u32' } as const;

export const GATHER = wgsl('embedding', 'gather', { params: WINDOWS, bindings: { ids: 'read i32', w: 'read f32', out: 'read_write f32' } });
/** u0: the first unique id of this weight window. */
export const SCATTER = wgsl('embedding', 'scatter', {
  params: { ...WINDOWS, u0: 'u32' },
  bindings: { uniq: 'read i32', offsets: 'read i32', positions: 'read i32', g: 'read f32', dw: 'read_write f32' },
});
