// Which kernel variant runs for each class of work on this device: the tuner's measured choice
// (engine/tune/tuner.ts, kept on disk per machine by cache.ts), else the built-in default. For a
// matmul a class is what decides the fastest variant: the transpose form, whether each operand
// loads as vec4, and a size bucket (a few rows, as in generation; medium; large); products under
// SMALL_WORK multiply-adds are not tuned: there the dispatch, not the kernel, is the cost. AdamW
// over a large parameter is one class (its operands read from storage or from textures).
//
// A class met for the first time runs the default and is marked pending; the tuner measures the
// pending classes at the device's next wait (a readback or finish(), see Device.beforeWait), so
// the first step of a run on a new machine runs the defaults and every later step the choices.
// Every candidate sums each output over K in the same order, so the switch changes no bit.
import type { Device } from '../device.ts';
import { setting } from '../settings.ts';
import { GPU_MATMUL_CANDIDATES, gpuTileName, type GpuMatmulTile } from '../../kernels/matmul-gpu.ts';
import { LLVMPIPE_CANDIDATES, llvmpipeChoiceName, type LlvmpipeChoice } from '../../kernels/matmul-llvmpipe.ts';
import { loadTuneFile, machineKey, tuneFilePath, type ClassResult, type MachineKey } from './cache.ts';

export type Form = 'nn' | 'nt' | 'tn' | 'tt';
export type Bucket = 'thin' | 'medium' | 'large';

export interface MatmulClass {
  kind: 'matmul';
  form: Form;
  /** Operand A (B) is aligned for vec4 loads (leading dimension, offset, batch stride multiples of 4). */
  vecA: boolean;
  vecB: boolean;
  bucket: Bucket;
}

/** AdamW on a parameter of at least ADAMW_TUNED floats: the embedding's, the bulk of a small
 *  model's optimizer step. */
export interface AdamwClass {
  kind: 'adamw';
}

export type TuneClass = MatmulClass | AdamwClass;

export const ADAMW_TUNED = 1 << 20;

/** Products below this many multiply-adds are not tuned (and the engine does not pad their
 *  unaligned operands): there the dispatch, not the kernel, is the cost. */
export const SMALL_WORK = 1 << 22;
/** At most this many rows of C make a 'thin' product (greedy decoding of a batch of prompts). */
export const THIN_ROWS = 32;
/** Products of more rows and fewer multiply-adds than this are 'medium' (a `tiny` or `small`
 *  model's layers), the rest 'large' (GPT-2's): the winners differ, so in one bucket the first
 *  model a machine trained would have chosen for every later one (measured: docs/measurements.md, 'The
 *  tuner's classes and rounds'). */
export const MEDIUM_WORK = 1 << 27;

/** Bumped when a kernel generator changes in a way that may change which candidate is fastest. */
const GENERATOR_VERSION = 3;

export function classKey(c: TuneClass): string {
  if (c.kind === 'adamw') return 'adamw';
  const op = (v: boolean): string => (v ? 'v' : 's');
  return `${c.form} ${op(c.vecA)}${op(c.vecB)} ${c.bucket}`;
}

export function parseClassKey(key: string): TuneClass | null {
  if (key === 'adamw') return { kind: 'adamw' };
  const m = /^(nn|nt|tn|tt) ([vs])([vs]) (thin|medium|large)$/.exec(key);
  return m ? { kind: 'matmul', form: m[1] as Form, vecA: m[2] === 'v', vecB: m[3] === 'v', bucket: m[4] as Bucket } : null;
}

/** The class of a product, and whether it is tuned (small products are not: they run their
 *  class's default). */
/** On either kernel profile an aligned operand may load as vec4 (llvmpipe's kernel, the GPU's v4
 *  tiles), so alignment splits classes; the tuner measures the standard classes under these keys. */
export function classOf(m: number, n: number, k: number, transA: boolean, transB: boolean, vecA: boolean,
  vecB: boolean): { cls: MatmulClass; tuned: boolean } {
  const form = `${transA ? 't' : 'n'}${transB ? 't' : 'n'}` as Form;
  const bucket: Bucket = m <= THIN_ROWS ? 'thin' : m * n * k < MEDIUM_WORK ? 'medium' : 'large';
  return { cls: { kind: 'matmul', form, vecA, vecB, bucket }, tuned: m * n * k >= SMALL_WORK };
}

/** One variant the tuner may time: its name and what the kernels take. */
export type Candidate = { name: string; llvmpipe: LlvmpipeChoice } | { name: string; gpu: GpuMatmulTile }
  | { name: string; adamwTextures: boolean };

const ADAMW_CANDIDATES: Candidate[] = [{ name: 'storage', adamwTextures: false }, { name: 'texture', adamwTextures: true }];

/** The candidates for a class on a kernel profile, the built-in default first. AdamW reads from
 *  textures only on llvmpipe (on a GPU its storage loads are coalesced and cheap). */
export function candidatesFor(profile: 'gpu' | 'software', c: TuneClass): Candidate[] {
  if (c.kind === 'adamw') return profile === 'gpu' ? ADAMW_CANDIDATES.slice(0, 1) : ADAMW_CANDIDATES;
  if (profile === 'gpu') return GPU_MATMUL_CANDIDATES.map((t) => ({ name: gpuTileName(t), gpu: t }));
  const list = !c.vecA && !c.vecB ? 'scalar' : c.bucket === 'thin' ? 'thin' : 'large';
  return LLVMPIPE_CANDIDATES[list].map((x) => ({ name: llvmpipeChoiceName(x), llvmpipe: x }));
}

/** The candidate set's fingerprint in the machine key: a new candidate or kernel version means
 *  measuring again. */
function variantSet(profile: 'gpu' | 'software'): string {
  const names = profile === 'gpu' ? GPU_MATMUL_CANDIDATES.map(gpuTileName)
    : Object.values(LLVMPIPE_CANDIDATES).flat().map(llvmpipeChoiceName);
  const adamw = candidatesFor(profile, { kind: 'adamw' }).map((c) => `adamw ${c.name}`);
  return `v${GENERATOR_VERSION}: ${[...new Set(names), ...adamw].join(', ')}`;
}

/** A class met but not measured yet, with the first shape seen (a product's m, n, k; AdamW's
 *  parameter size as n, m = k = 1). */
export interface Pending {
  cls: TuneClass;
  m: number;
  n: number;
  k: number;
}

/** The tuning state of one device. */
export interface Tuning {
  /** WGPT_TUNE=off: the defaults, nothing measured or read. */
  enabled: boolean;
  key: MachineKey;
  file: string;
  /** Measured results, from the file or this process, by class key. */
  results: Map<string, ClassResult>;
  /** Classes met but not measured yet, by class key, with the first shape seen. */
  pending: Map<string, Pending>;
  /** Milliseconds this process has spent tuning (bounded by the tuner's budget). */
  spentMs: number;
  warnings: string[];
  /** The candidates of a class on this device, the default first: candidatesFor the device's
   *  kernel profile (a test may give a device others). */
  candidates: (cls: TuneClass) => Candidate[];
}

const states = new WeakMap<Device, Tuning>();

/** The device's tuning state, made at first use: the cache file for this machine read once. */
export function tuningOf(device: Device): Tuning {
  let s = states.get(device);
  if (!s) {
    const key = machineKey(device.adapterDescription, `${device.backend} (${device.featureLevel})`, device.kernelProfile,
      variantSet(device.kernelProfile));
    const file = tuneFilePath(key);
    const enabled = setting('WGPT_TUNE');
    const profile = device.kernelProfile;
    s = { enabled, key, file, results: new Map(), pending: new Map(), spentMs: 0, warnings: [],
      candidates: (cls) => candidatesFor(profile, cls) };
    if (enabled) {
      const warnings = s.warnings;
      for (const [k, r] of Object.entries(loadTuneFile(file, key, (msg) => {
        warnings.push(msg);
        console.warn(msg);
      }))) s.results.set(k, r);
    }
    states.set(device, s);
  }
  return s;
}

/** The candidate to run for a product: the measured choice for its class, else the default (the
 *  class then marked for the tuner). */
export function chooseCandidate(device: Device, m: number, n: number, k: number, transA: boolean, transB: boolean,
  vecA: boolean, vecB: boolean): Candidate {
  const { cls, tuned } = classOf(m, n, k, transA, transB, vecA, vecB);
  return choose(device, cls, tuned, { cls, m, n, k });
}

/** AdamW's variant for a parameter of `size` floats. */
export function chooseAdamw(device: Device, size: number): Candidate {
  const cls: AdamwClass = { kind: 'adamw' };
  return choose(device, cls, size >= ADAMW_TUNED, { cls, m: 1, n: size, k: 1 });
}

/** The measured choice for a class, else its default, the class then marked for the tuner (where
 *  there is something to choose between). */
function choose(device: Device, cls: TuneClass, tuned: boolean, pending: Pending): Candidate {
  const s = tuningOf(device);
  const all = s.candidates(cls);
  if (tuned && s.enabled && all.length > 1) {
    const key = classKey(cls);
    const chosen = s.results.get(key)?.choice;
    const found = all.find((x) => x.name === chosen);
    if (found) return found;
    if (!s.pending.has(key)) s.pending.set(key, pending);
  }
  return all[0];
}
