// The entry points of kernels/elementwise.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { wgsl } from './kernel.ts';

/** The binary kernels' override OP. */
export const BINARY_OPS = { add: 0, sub: 1, mul: 2, div: 3 } as const;

/** n: elements of this window, whose first has global index base; s1..s3: the output's extents of
 *  axes 1..3; as*, bs*: the operands' strides (0 where broadcast); a_base, b_base: the first
 *  element of each operand's binding. */
export const BINARY = wgsl('elementwise', 'binary', {
  params: {
    n: 'u32', base: 'u32', s1: 'u32', s2: 'u32', s3: 'u32', a_base: 'u32', b_base: 'u32',
    as0: 'u32', as1: 'u32', as2: 'u32', as3: 'u32', bs0: 'u32', bs1: 'u32', bs2: 'u32', bs3: 'u32',
  },
  bindings: { a: 'read f32', b: 'read f32', out: 'read_write f32' },
  overrides: { OP: 0 },
});
export const BINARY4 = wgsl('elementwise', 'binary4', {
  params: { n4: 'u32', base: 'u32', a_period: 'u32', a_base: 'u32', b_period: 'u32', b_base: 'u32' },
  bindings: { a: 'read vec4<f32>', b: 'read vec4<f32>', out: 'read_write vec4<f32>' },
  overrides: { OP: 0 },
});

export const AFFINE = wgsl('elementwise', 'affine', {
  params: { n: 'u32', alpha: 'f32', beta: 'f32' }, bindings: { x: 'read f32', y: 'read_write f32' },
});
export const FILL = wgsl('elementwise', 'fill', { params: { n: 'u32', value: 'f32' }, bindings: { y: 'read_write f32' } });
/** n: elements of this window, whose first has global index base; d: the bias's length. */
export const ADD_BIAS = wgsl('elementwise', 'add_bias', {
  params: { n: 'u32', base: 'u32', d: 'u32' }, bindings: { x: 'read f32', y: 'read f32', bias: 'read f32', out: 'read_write f32' },
});
