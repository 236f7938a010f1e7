// The entry point of kernels/reduce.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { wgsl } from './kernel.ts';

/** n: output elements; o1..o3: the output's extents of axes 1..3; st0..st3: the input's strides;
 *  r0..r3: the reduced extents (1 where an axis is kept); the sum is times scale. */
export const REDUCE = wgsl('reduce', 'main', {
  params: {
    n: 'u32', o1: 'u32', o2: 'u32', o3: 'u32', st0: 'u32', st1: 'u32', st2: 'u32', st3: 'u32',
    r0: 'u32', r1: 'u32', r2: 'u32', r3: 'u32', scale: 'f32', xshift: 'u32', yshift: 'u32', accum: 'u32',
  },
  bindings: { x: 'read f32', y: 'read_write f32' },
});
