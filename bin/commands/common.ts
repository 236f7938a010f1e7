// What the commands share: the device flags every GPU command takes, the model flags, opening the
// device, loading --model/--adapter, and the parts of a resumable training command (its default
// run directory, its resumed options, its sweep spec).
import path from 'node:path';
import { closeDevice, openDevice, WgptError, type Device } from '../../engine/index.ts';
import { parseBackend, setting } from '../../engine/settings.ts';
import { checkMatmulPrecision, type MatmulPrecision } from '../../engine/tune/matmul-pick.ts';
import { loadGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import { loadAdapters, readAdapterConfig } from '../../model/peft.ts';
import { readTrainState } from '../../train/run/checkpoint.ts';
import { RunDir } from '../../train/run/run-dir.ts';
import type { SweepSpec } from '../../train/sweep/spec.ts';
import { INT, own, parseArgsOptions, resumeOptions, SWITCH, TEXT, type Entry, type Kind } from './flags.ts';

/** -h/--help: every command's. */
export const HELP = own('help', SWITCH, null, 'this text', { short: 'h', default: false });

/** The flags of every GPU command (last in its table, so they close its usage). */
export const DEVICE_FLAGS = [
  own('backend', TEXT, 'auto|gpu|software|lavapipe', 'adapter to use (default auto: a real GPU, else the software GPU; env\n' +
    'WGPT_BACKEND); lavapipe: Mesa >= 24\'s Vulkan driver, a GPU\'s code path on the CPU', { default: 'auto' }),
  own('max-binding', INT, 'BYTES', 'cap storage bindings below the adapter\'s limit (exercises the sliced paths)'),
  HELP,
] as const;

const PRECISION: Kind<MatmulPrecision> = {
  type: 'string', what: 'f16 or f32', is: (v) => v === 'f16' || v === 'f32',
  parse(given, flag) {
    if (given === 'f16' || given === 'f32') return given;
    throw new WgptError(`--${flag} must be f16 or f32, got "${String(given)}"`);
  },
};

/** --matmul-precision of the commands that train or benchmark (train, pretrain, dpo, bench). */
export const MATMUL_PRECISION = own('matmul-precision', PRECISION, 'f16|f32', 'the operands of every product: f32 (default;\n' +
  'env WGPT_MATMUL_PRECISION), or f16 on tensor cores (refused: no such kernel ships yet)');

/** --model, --adapter, --from-scratch of the commands that load a model (generate, eval, grads). */
export const MODEL_FLAGS = [
  own('model', TEXT, 'FILE|DIR|NAME', 'weights (model.safetensors dir or file) or a size name'),
  own('adapter', TEXT, 'DIR', 'LoRA adapters (adapter_model.safetensors, PEFT layout) on top of --model\n' +
    '(default --model: the adapter\'s base_model_name_or_path)'),
  own('from-scratch', SWITCH, null, 'random weights for a size name'),
] as const;

/** Opens the device from --backend / --max-binding (refusing a --matmul-precision it cannot run), runs fn, always
 *  closes the device. */
export async function withDevice<T>(values: { backend?: string; 'max-binding'?: number; 'matmul-precision'?: MatmulPrecision },
  fn: (d: Device) => Promise<T>): Promise<T> {
  const device = await openDevice({ backend: parseBackend(values.backend), maxStorageBufferBindingSize: values['max-binding'] });
  try {
    checkMatmulPrecision(device, values['matmul-precision'] ?? setting('WGPT_MATMUL_PRECISION'));
    return await fn(device);
  } finally {
    closeDevice(device);
  }
}

/** --model (a directory, .safetensors file or size name), with --adapter's LoRA weights on it. */
export async function loadModelOption(values: { model?: string; adapter?: string; 'from-scratch'?: boolean }): Promise<GPT> {
  let spec = values.model;
  if (spec === undefined && values.adapter !== undefined) spec = (await readAdapterConfig(values.adapter)).base_model_name_or_path
    ?? undefined;
  if (spec === undefined) throw new WgptError('give --model (a directory with model.safetensors, a .safetensors file, or a size name)');
  const model = await loadGPT(spec, { fromScratch: values['from-scratch'] });
  if (values.adapter !== undefined) {
    try {
      await loadAdapters(values.adapter, model);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return model;
}

/** A run directory under runs/ named by the time (prefix: the command, e.g. dpo-). */
export const defaultOut = (prefix = ''): string => path.join('runs', `${prefix}${new Date().toISOString().replace(/[:.]/g, '-')}`);

/** Runs `fn` holding the run directory `dir` (docs/run-directory.md): locked against a second
 *  process, and on a fresh run refused where it holds a run, unless --overwrite. */
export async function inRunDir<T>(dir: string, values: { resume?: string; overwrite?: boolean },
  fn: (held: RunDir) => Promise<T>): Promise<T> {
  if (values.resume !== undefined && values.overwrite) throw new WgptError(
    '--resume continues the run in its directory, --overwrite replaces it: give one of them');
  const held = RunDir.open(dir, { resume: values.resume !== undefined, overwrite: values.overwrite === true });
  try {
    return await fn(held);
  } finally {
    held.release();
  }
}

/** The options a run in `dir` was started with, checked against the command's table, with the
 *  flags a resumed run may change applied; the run continues in `dir`. */
export async function resumedOptions<O extends object>(table: readonly Entry<O>[], values: Record<string, unknown>, command: string,
  dir: string): Promise<O> {
  const state = await readTrainState(dir);
  return { ...resumeOptions(table, state.options, values, { command, dir }), out: dir };
}

/** The step of the checkpoint in a run directory of train, pretrain or dpo (their sweep specs),
 *  or null where there is none yet. */
export async function checkpointStepOf(dir: string): Promise<number | null> {
  try {
    return (await readTrainState(dir)).step;
  } catch (e) {
    if (e instanceof WgptError) return null; // no checkpoint yet: start from scratch
    throw e;
  }
}

/** How `wgpt sweep` runs a command that resumes from the checkpoint in its --out (train, pretrain, dpo). */
export function resumableSweep(table: readonly Entry<never>[], metrics: SweepSpec['metrics']): SweepSpec {
  return { options: parseArgsOptions(table), outFlag: 'out', resumeFlag: 'resume', metrics, checkpointStep: checkpointStepOf };
}

/** This node's wgpt, for children (a sweep's tasks) and for Slurm nodes sharing this filesystem. */
export const selfWgpt = (): string[] => [process.execPath, path.resolve(import.meta.dirname, '..', 'wgpt.js')];
