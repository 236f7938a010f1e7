// The entry point of kernels/dropout.wgsl (kernels/kernel.ts: how an interface becomes WGSL).
import { wgsl } from './kernel.ts';

export const DROPOUT = wgsl('dropout', 'main', {
  params: { n: 'u32', base: 'u32', seed: 'u32', threshold: 'u32', scale: 'f32' },
  bindings: { x: 'read f32', y: 'read_write f32' },
});
