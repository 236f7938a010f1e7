// One matmul dispatch: which kernel runs it (the adapter kind's own, with the variant the tuner
// chose for its class; or what an override forces, for a test, a benchmark or tuning by hand), and
// its operands bound as storage windows or as textures holding a copy of them. engine/ops/matmul.ts
// splits products into such dispatches (windows, K slices, aligned copies); engine/tune/tuner.ts
// times candidates through here.
import { getDevice } from '../tensor.ts';
import { setting } from '../settings.ts';
import { TEXTURE_ROW, type Kernel } from '../../kernels/kernel.ts';
import { NAIVE_MATMUL } from '../../kernels/matmul.ts';
import { MATMUL_TILES, tiledMatmulKernel, type MatmulTile } from '../../kernels/matmul-tiled.ts';
import { gpuMatmulGrid, gpuMatmulKernel } from '../../kernels/matmul-gpu.ts';
import { llvmpipeMatmulKernel } from '../../kernels/matmul-llvmpipe.ts';
import { chooseCandidate, type Candidate } from '../tune/choices.ts';
import { perDevice } from './util.ts';
import type { Binding, Device, OperandTexture, TextureBinding } from '../device.ts';

/** What runs a device's products instead of the tuned choice of each class (tests, benchmarks).
 *  Without one, every product runs the adapter's own kernel (on llvmpipe kernels/matmul-llvmpipe.ts,
 *  on a GPU kernels/matmul-gpu.ts) with the variant chosen for its class. WGPT_MATMUL_TILE sets
 *  `tile` by hand, WGPT_MATMUL_TEXTURES whether llvmpipe's kernel reads vec4 operands as textures. */
export interface MatmulOverride {
  /** 'generic': kernels/matmul-tiled.ts on any backend (runtime shapes, one compile per transpose
   *  form); 'naive': kernels/matmul.wgsl (the benchmark's baseline). */
  kernel?: 'generic' | 'naive';
  /** This register tile (on a GPU it runs kernels/matmul-tiled.ts). */
  tile?: MatmulTile;
  /** false: every operand loads floats. */
  vec4?: boolean;
  /** This candidate of the adapter's own kernel for every product. */
  candidate?: Candidate;
}

const overrides = perDevice<MatmulOverride>();

/** Sets (null: clears) the device's override; returns the previous one. */
export function overrideMatmul(o: MatmulOverride | null, device = getDevice()): MatmulOverride | null {
  return overrides.set(o, device);
}

/** The override in force: the device's, with WGPT_MATMUL_TILE's tile where it sets none. */
function overrideOf(device: Device): MatmulOverride {
  const o = overrides.get(device) ?? {};
  const tile = o.tile ?? setting('WGPT_MATMUL_TILE');
  return tile ? { ...o, tile } : o;
}

/** Whether products run llvmpipe's own kernel with vec4 loads (where the engine slices long K and
 *  pads unaligned operands for it). */
export function llvmpipeVec4Kernel(device = getDevice()): boolean {
  const o = overrideOf(device);
  return !o.kernel && device.kernelProfile === 'software' && o.vec4 !== false;
}

/** Whether the class choices are in force (nothing overridden), so measuring them means something:
 *  WGPT_MATMUL_TEXTURES forces the operand source even on the tuner's own candidates, which would
 *  then be timed as what they are not. */
export function matmulTunable(device = getDevice()): boolean {
  const o = overrideOf(device);
  return !o.kernel && !o.tile && !o.candidate && setting('WGPT_MATMUL_TEXTURES') === null;
}

/** One dispatch's shape: sizes, strides, batch strides and element offsets (as in the kernels'
 *  parameter block). */
export interface Shape {
  m: number;
  n: number;
  k: number;
  batches: number;
  lda: number;
  ldb: number;
  ldc: number;
  aBatch: number;
  bBatch: number;
  cBatch: number;
  aOff: number;
  bOff: number;
  cOff: number;
}

/** One matmul dispatch: its shape (as in the kernels' parameter block) and its bound windows. */
export interface MatmulDispatch extends Shape {
  a: Binding;
  b: Binding;
  c: Binding;
  accumulate: boolean;
}

export const by4 = (...xs: number[]): boolean => xs.every((x) => x % 4 === 0);
export const up4 = (x: number): number => Math.ceil(x / 4) * 4;

interface Plan {
  kernel: Kernel;
  workgroups: [number, number, number];
  constants?: Record<string, number>;
  /** Operands the kernel reads as textures (bound through Device.operandTexture). */
  texA?: boolean;
  texB?: boolean;
}

/** The kernel and workgroup grid for one dispatch. vec4 loads of an operand need its leading
 *  dimension, window offset and batch stride to be multiples of 4; otherwise it is loaded as
 *  scalars (same kernel shape, same exactness). `candidate` (the tuner's) replaces the class's
 *  choice; `textures` false reads every operand from storage. */
function plan(s: Shape, transA: boolean, transB: boolean, accumulate: boolean, candidate: Candidate | null, textures: boolean): Plan {
  const { m: mm, n: nn, batches, lda, ldb, aBatch, bBatch, aOff, bOff } = s;
  const device = getDevice();
  const o = overrideOf(device);
  if (o.kernel === 'naive') {
    return { kernel: NAIVE_MATMUL, workgroups: [Math.ceil(nn / 32), Math.ceil(mm / 32), batches], constants: { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0 } };
  }
  const profile = device.kernelProfile;
  const forced = o.tile;
  const choice = (vecA: boolean, vecB: boolean): Candidate => candidate ?? o.candidate ?? chooseCandidate(device, mm, nn, s.k, transA, transB, vecA, vecB);
  if (!o.kernel && profile === 'gpu' && !forced) {
    // A real GPU's kernel: workgroup-memory blocks, register tiles (kernels/matmul-gpu.ts).
    const c = choice(false, false);
    if (!('gpu' in c)) throw new Error(`matmul: ${c.name} is not a GPU tile`);
    return { kernel: gpuMatmulKernel(c.gpu, transA, transB), workgroups: gpuMatmulGrid(c.gpu, mm, nn, batches) };
  }
  if (!o.kernel && profile === 'software') {
    // One pipeline per transpose form, alignment, operand source and accumulate flag; shapes at runtime.
    const vector = o.vec4 ?? true;
    const vecA = vector && by4(lda, aOff, aBatch);
    const vecB = vector && by4(ldb, bOff, bBatch);
    const c = choice(vecA, vecB);
    if (!('llvmpipe' in c)) throw new Error(`matmul: ${c.name} is not an llvmpipe variant`);
    const tile = forced ?? c.llvmpipe;
    const tex = textures && (setting('WGPT_MATMUL_TEXTURES') ?? c.llvmpipe.textures);
    const kernel = llvmpipeMatmulKernel({
      ...tile, transA, transB, vecA, vecB,
      vecC: vector && by4(s.ldc, s.cOff, s.cBatch, nn),
      kAligned: s.k % 4 === 0,
      texA: tex && vecA,
      texB: tex && vecB,
    });
    return {
      kernel, constants: { ACC: accumulate ? 1 : 0 }, texA: tex && vecA, texB: tex && vecB,
      workgroups: [Math.ceil(nn / (tile.tn * tile.wgx)), Math.ceil(mm / (tile.tm * tile.wgy)), batches],
    };
  }
  const tile = forced ?? MATMUL_TILES[profile];
  // With this generator ('generic' on llvmpipe) scalar loads ran as fast as vec4 ones (measured),
  // and each variant is another multi-second compile: use vec4 only on a real GPU.
  const vector = o.vec4 ?? profile === 'gpu';
  const vecA = vector && by4(lda, aOff, aBatch);
  const vecB = vector && by4(ldb, bOff, bBatch);
  return {
    kernel: tiledMatmulKernel({ tile, transA, transB, vecA, vecB }),
    workgroups: [Math.ceil(nn / (tile.tn * tile.wgx)), Math.ceil(mm / (tile.tm * tile.wgy)), batches],
  };
}

/** The part of an operand's window a dispatch reads, from its offset (a multiple of 4 floats) to
 *  its last element rounded up to a whole vec4, copied into a texture; null where it cannot be
 *  (the copy would pass the buffer's end, or the texture the adapter's size). */
function operandTexture(bind: Binding, off: number, rows: number, cols: number, ld: number, batchStride: number,
  batches: number, label: string): OperandTexture | null {
  const span = up4((batchStride === 0 ? 0 : (batches - 1) * batchStride) + (rows - 1) * ld + cols);
  const window = { buffer: bind.buffer, offset: bind.offset + off * 4, size: span * 4 };
  if (window.offset + window.size > bind.buffer.size) return null;
  return getDevice().operandTexture(window, TEXTURE_ROW, label);
}

/** Records one dispatch of C = op(A)·op(B) (or +=), with the class's chosen variant or `candidate`. */
export function dispatchMatmul(d: MatmulDispatch, transA: boolean, transB: boolean, label: string, candidate: Candidate | null = null): void {
  let p = plan(d, transA, transB, d.accumulate, candidate, true);
  let a: Binding | TextureBinding = d.a;
  let b: Binding | TextureBinding = d.b;
  let { aOff, bOff } = d;
  const held: OperandTexture[] = [];
  if (p.texA || p.texB) {
    const ta = p.texA ? operandTexture(d.a, d.aOff, transA ? d.k : d.m, transA ? d.m : d.k, d.lda, d.aBatch, d.batches, label) : null;
    const tb = p.texB ? operandTexture(d.b, d.bOff, transB ? d.n : d.k, transB ? d.k : d.n, d.ldb, d.bBatch, d.batches, label) : null;
    if ((p.texA && !ta) || (p.texB && !tb)) {
      ta?.release();
      tb?.release();
      p = plan(d, transA, transB, d.accumulate, candidate, false);
    } else {
      if (ta) [a, aOff] = [ta.binding, 0];
      if (tb) [b, bOff] = [tb.binding, 0];
      held.push(...[ta, tb].filter((x): x is OperandTexture => x !== null));
    }
  }
  getDevice().dispatch({
    kernel: p.kernel, constants: p.constants, label, workgroups: p.workgroups,
    params: {
      m: d.m, n: d.n, k: d.k, lda: d.lda, ldb: d.ldb, ldc: d.ldc, a_batch: d.aBatch, b_batch: d.bBatch, c_batch: d.cBatch,
      a_off: aOff, b_off: bOff, c_off: d.cOff, accumulate: d.accumulate ? 1 : 0,
    },
    bindings: [a, b, d.c],
  });
  // Back to the pool: a later copy into one of them runs after this dispatch. In reverse, so the
  // pool (last in, first out) hands the same textures to the same operands next time and a
  // repeated product finds its cached bind group (in order, A and B swapped textures every call).
  for (const x of held.reverse()) x.release();
}
