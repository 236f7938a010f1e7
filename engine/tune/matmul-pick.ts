// Which kernel runs one matmul dispatch: the adapter kind's own, with the candidate chosen for the
// product's class (choices.ts: the tuner's measurement, else the default), or what an override
// forces (a test, a benchmark, tuning by hand). engine/ops/matmul-lower.ts lowers products to
// dispatches and asks here for each; the tuner (tuner.ts) asks here for a candidate's kernel.
// WGPT_DEBUG=kernels prints each class's choice and the WGSL it runs, once per class.
import type { Device } from '../device.ts';
import { WgptError } from '../errors.ts';
import { setting } from '../settings.ts';
import { getDevice } from '../tensor.ts';
import type { Kernel } from '../../kernels/kernel.ts';
import { NAIVE_MATMUL } from '../../kernels/matmul.ts';
import { MATMUL_TILES, tiledMatmulKernel, type MatmulTile } from '../../kernels/matmul-tiled.ts';
import { gpuMatmulGrid, gpuMatmulKernel } from '../../kernels/matmul-gpu.ts';
import { llvmpipeMatmulKernel } from '../../kernels/matmul-llvmpipe.ts';
import { chooseCandidate, type Candidate } from './choices.ts';

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
  /** The f16-operand emulation (a numerics study, not a product path): each operand rounded to
   *  f16 (kernels/f16-round.wgsl) before the f32 product, as a tensor core would load it. */
  f16Operands?: boolean;
}

const overrides = new WeakMap<Device, MatmulOverride>();

/** Sets (null: clears) the device's override; returns the previous one. */
export function overrideMatmul(o: MatmulOverride | null, device = getDevice()): MatmulOverride | null {
  const prev = overrides.get(device) ?? null;
  if (o === null) overrides.delete(device);
  else overrides.set(device, o);
  return prev;
}

/** The override in force: the device's, with WGPT_MATMUL_TILE's tile where it sets none. */
function overrideOf(device: Device): MatmulOverride {
  const o = overrides.get(device) ?? {};
  const tile = o.tile ?? setting('WGPT_MATMUL_TILE');
  return tile ? { ...o, tile } : o;
}

/** Whether products run llvmpipe's own kernel with vec4 loads (where the lowering slices long K and
 *  pads unaligned operands for it). */
export function llvmpipeVec4Kernel(device = getDevice()): boolean {
  const o = overrideOf(device);
  return !o.kernel && device.kernelProfile === 'software' && o.vec4 !== false;
}

/** Whether products run with their operands rounded to f16 (MatmulOverride.f16Operands). */
export function f16Operands(device = getDevice()): boolean {
  return overrides.get(device)?.f16Operands === true;
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

export const by4 = (...xs: number[]): boolean => xs.every((x) => x % 4 === 0);
export const up4 = (x: number): number => Math.ceil(x / 4) * 4;

/** A dispatch's kernel and workgroup grid. */
export interface Pick {
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
export function pickMatmul(device: Device, s: Shape, transA: boolean, transB: boolean, accumulate: boolean,
  candidate: Candidate | null, textures: boolean): Pick {
  const p = pick(device, s, transA, transB, accumulate, candidate, textures);
  if (setting('WGPT_DEBUG') === 'kernels') debugPrint(device, p);
  return p;
}

function pick(device: Device, s: Shape, transA: boolean, transB: boolean, accumulate: boolean, candidate: Candidate | null,
  textures: boolean): Pick {
  const { m: mm, n: nn, batches, lda, ldb, aBatch, bBatch, aOff, bOff } = s;
  const o = overrideOf(device);
  if (o.kernel === 'naive') {
    return {
      kernel: NAIVE_MATMUL, workgroups: [Math.ceil(nn / 32), Math.ceil(mm / 32), batches],
      constants: { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0 },
    };
  }
  const profile = device.kernelProfile;
  const forced = o.tile;
  const choice = (vecA: boolean, vecB: boolean): Candidate =>
    candidate ?? o.candidate ?? chooseCandidate(device, mm, nn, s.k, transA, transB, vecA, vecB);
  if (!o.kernel && profile === 'gpu' && !forced) {
    // A real GPU's kernel: workgroup-memory blocks, register tiles (kernels/matmul-gpu.ts).
    const vec = { a: by4(lda, aOff, aBatch), b: by4(ldb, bOff, bBatch), c: by4(s.ldc, s.cOff, s.cBatch, nn) };
    const c = choice(vec.a, vec.b);
    if (!('gpu' in c)) throw new Error(`matmul: ${c.name} is not a GPU tile`);
    return { kernel: gpuMatmulKernel(c.gpu, transA, transB, vec), workgroups: gpuMatmulGrid(c.gpu, mm, nn, batches) };
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

/** Kernels printed so far (WGPT_DEBUG=kernels), per device. */
const printed = new WeakMap<Device, Set<string>>();

/** Once per kernel variant: its name (which says the class's choice: tile, transposes, vec4
 *  operands) and the WGSL it runs, on stderr. */
function debugPrint(device: Device, p: Pick): void {
  let seen = printed.get(device);
  if (!seen) printed.set(device, (seen = new Set()));
  if (seen.has(p.kernel.name)) return;
  seen.add(p.kernel.name);
  const grid = p.workgroups.join('x');
  process.stderr.write(`wgpt kernels: matmul ${p.kernel.name} (grid ${grid} at first use)\n${p.kernel.code}\n`);
}

/** The matmul precisions a run may ask for (--matmul-precision, WGPT_MATMUL_PRECISION). */
export type MatmulPrecision = 'f16' | 'f32';

/** Dawn's feature for tensor-core (subgroup-matrix) products; listed only with allow_unsafe_apis. */
const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix';

/** Refuses, in one line that says what to do, a precision this build cannot run on the device:
 *  f16 products need a subgroup-matrix kernel, and none ships yet (one is shipped only once it has
 *  been checked on a real GPU: docs/notes-matmul.md). */
export function checkMatmulPrecision(device: Device, precision: MatmulPrecision): void {
  if (precision === 'f32') return;
  if (!device.features.includes(SUBGROUP_MATRIX)) {
    throw new WgptError(`--matmul-precision f16: ${device.adapterDescription} lists no f16 subgroup-matrix config ` +
      `(Dawn's ${SUBGROUP_MATRIX}, tensor cores); run with --matmul-precision f32 (the default)`);
  }
  throw new WgptError(`--matmul-precision f16: this build ships no subgroup-matrix kernel yet (none checked on a real GPU); ` +
    'run with --matmul-precision f32 (the default)');
}
