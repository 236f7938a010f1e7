// The entry point of kernels/argmax.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { rowKernel } from './kernel.ts';

export const ARGMAX = rowKernel('argmax', 'main', {
  params: { rows: 'u32', len: 'u32', shift: 'u32', row0: 'u32' }, bindings: { x: 'read f32', out: 'read_write i32' },
});
