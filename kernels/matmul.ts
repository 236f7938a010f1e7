// The contract every matmul kernel keeps (kernels/matmul.wgsl, matmul-tiled.ts, matmul-llvmpipe.ts,
// matmul-gpu.ts), so the engine dispatches any of them the same way:
//   A(i,k) = a[a_off + batch*a_batch + (transA ? k*lda + i : i*lda + k)]
//   B(k,j) = b[b_off + batch*b_batch + (transB ? j*ldb + k : k*ldb + j)]
//   C(i,j) = c[c_off + batch*c_batch + i*ldc + j]      (+= when accumulating)
// batch is the workgroup grid's z. A vec4 operand needs its leading dimension, offset and batch
// stride to be multiples of 4: the engine checks that before choosing one.
import { LANE, wgsl, type BindingType, type KernelInterface } from './kernel.ts';

/** Sizes, leading dimensions, batch strides and element offsets; accumulate (C +=) where the
 *  kernel does not take it as an override constant. */
export const MATMUL_PARAMS = {
  m: 'u32', n: 'u32', k: 'u32', lda: 'u32', ldb: 'u32', ldc: 'u32', a_batch: 'u32', b_batch: 'u32', c_batch: 'u32',
  a_off: 'u32', b_off: 'u32', c_off: 'u32', accumulate: 'u32',
} as const;

/** A matmul kernel's interface: the contract's parameters, and its operands bound as a, b, c. */
export function matmulInterface(a: BindingType, b: BindingType, c: BindingType): KernelInterface {
  return { params: MATMUL_PARAMS, bindings: { a, b, c } };
}

// Text both register-tiled generators emit (matmul-tiled.ts, matmul-llvmpipe.ts).

/** b{kk}_{q}, the vec4 of columns 4q..4q+3 at K step kk, from the loaded rows bt{s} of Bᵀ: a 4x4
 *  transpose in registers per q. */
export function transposedB(tq: number): string[] {
  const lines: string[] = [];
  for (let kk = 0; kk < 4; kk++) {
    const l = LANE[kk];
    for (let q = 0; q < tq; q++) {
      lines.push(`    let b${kk}_${q} = vec4<f32>(bt${4 * q}.${l}, bt${4 * q + 1}.${l}, bt${4 * q + 2}.${l}, bt${4 * q + 3}.${l});`);
    }
  }
  return lines;
}

/** One K step of 4 into the accumulators c{r}_{q}: accumulator by accumulator, 4 FMAs in a row on
 *  each (a spilled accumulator is then loaded and stored once per step). `a(r, kk)`: A's value. */
export function accumulate(tm: number, tq: number, a: (r: number, kk: number) => string): string[] {
  const lines: string[] = [];
  for (let r = 0; r < tm; r++) {
    for (let q = 0; q < tq; q++) {
      for (let kk = 0; kk < 4; kk++) lines.push(`    c${r}_${q} = fma(vec4<f32>(${a(r, kk)}), b${kk}_${q}, c${r}_${q});`);
    }
  }
  return lines;
}

/** Each invocation a 4x4 block of C, TRANS_A / TRANS_B as override constants; 8x8 workgroups. */
export const NAIVE_MATMUL = wgsl('matmul', 'main', {
  ...matmulInterface('read f32', 'read f32', 'read_write f32'), overrides: { TRANS_A: false, TRANS_B: false },
});
