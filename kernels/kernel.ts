// A kernel is WGSL text plus the entry point to run; binding 0 is always the u32 parameter block
// (shapes, offsets, scalars), bindings 1.. the storage buffers in the order the shader uses them.
// Kernels know nothing of tensors: the engine decides what to bind and how many workgroups to run.
import { readFileSync } from 'node:fs';

export interface Kernel {
  /** Unique per (file, entry): the pipeline cache key, and the name in error messages. */
  name: string;
  code: string;
  entry?: string;
}

const sources = new Map<string, string>();

/** Loads `kernels/<file>.wgsl` once and returns the kernel for one of its entry points. */
export function wgsl(file: string, entry = 'main'): Kernel {
  let code = sources.get(file);
  if (code === undefined) {
    code = readFileSync(new URL(`./${file}.wgsl`, import.meta.url), 'utf8');
    sources.set(file, code);
  }
  return { name: `${file}.${entry}`, code, entry };
}

/** Texels per row of an operand texture (a power of 2), for kernels that read a buffer's copy as an
 *  rgba32float texture (Device.operandTexture): vec4 i of the window sits at texel
 *  (i % TEXTURE_ROW, i / TEXTURE_ROW), so any window up to TEXTURE_ROW x maxTextureDimension2D
 *  texels fits one texture and a kernel's addressing stays a running offset. */
export const TEXTURE_ROW = 4096;

/** A one-workgroup-per-row kernel in its two builds: its file after rows.wgsl (workgroup reductions
 *  as trees in workgroup memory) and after rows-subgroups.wgsl (the same functions on subgroup
 *  operations, for a device with the `subgroups` feature). */
export interface RowKernel {
  tree: Kernel;
  subgroups: Kernel;
}

export function rowKernel(file: string, entry = 'main'): RowKernel {
  const own = wgsl(file, entry);
  const build = (prelude: string, suffix: string): Kernel =>
    ({ name: own.name + suffix, code: `${wgsl(prelude).code}\n${own.code}`, entry });
  return { tree: build('rows', ''), subgroups: build('rows-subgroups', '+subgroups') };
}

/** Default invocations per workgroup for 1-D kernels (all kernels take it as override WG). */
export const WG = 64;

/** Workgroups for n invocations of a 1-D kernel, folded into 2-D past the per-dimension limit.
 *  Shaders recover the linear index as (wid.y * nwg.x + wid.x) * WG + lid.x. */
export function grid1d(n: number, wg = WG, maxPerDim = 65535): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y];
}
