// Options every GPU command shares, and helpers for parsing them.
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closeDevice, openDevice, WgptError, type Device } from '../../engine/index.ts';
import { parseBackend } from '../../engine/adapter.ts';
import { loadGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import { loadAdapters, readAdapterConfig } from '../../model/peft.ts';
import { readTrainState } from '../../train/run/checkpoint.ts';

export const DEVICE_OPTIONS = {
  backend: { type: 'string', default: 'auto' },
  'max-binding': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, usage: string) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages span lines ("... is ambiguous.\nDid you forget ..."): one line, as every error.
    throw new WgptError(`${(e as Error).message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ')} (see --help)`);
  }
  if ((parsed.values as Record<string, unknown>).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed;
}

export function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new WgptError(`--${name} must be an integer, got "${value}"`);
  return n;
}

export function positiveIntOption(value: string | undefined, name: string, fallback: number): number {
  const n = intOption(value, name, fallback);
  if (n < 1) throw new WgptError(`--${name} must be at least 1, got ${n}`);
  return n;
}

export function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new WgptError(`--${name} must be a number, got "${value}"`);
  return n;
}

/** Opens the device from --backend / --max-binding, runs fn, always closes the device. */
export async function withDevice<T>(values: { backend?: string; 'max-binding'?: string }, fn: (d: Device) => Promise<T>): Promise<T> {
  const device = await openDevice({
    backend: parseBackend(values.backend),
    maxStorageBufferBindingSize: values['max-binding'] ? intOption(values['max-binding'], 'max-binding', 0) : undefined,
  });
  try {
    return await fn(device);
  } finally {
    closeDevice(device);
  }
}

export const DEVICE_USAGE = `  --backend auto|gpu|software|lavapipe
                                adapter to use (default auto: a real GPU, else the software GPU; env
                                WGPT_BACKEND); lavapipe: Mesa >= 24's Vulkan driver, a GPU's code path on the CPU
  --max-binding BYTES           cap storage bindings below the adapter's limit (exercises the sliced paths)`;

export const MODEL_OPTIONS = {
  model: { type: 'string' }, adapter: { type: 'string' }, 'from-scratch': { type: 'boolean' },
} as const;

export const ADAPTER_USAGE = `  --adapter DIR        LoRA adapters (adapter_model.safetensors, PEFT layout) on top of --model
                       (default --model: the adapter's base_model_name_or_path)`;

/** --model (a directory, .safetensors file or size name), with --adapter's LoRA weights on it. */
export async function loadModelOption(values: { model?: string; adapter?: string; 'from-scratch'?: boolean }): Promise<GPT> {
  let spec = values.model;
  if (spec === undefined && values.adapter !== undefined) spec = (await readAdapterConfig(values.adapter)).base_model_name_or_path ?? undefined;
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

/** This node's wgpt, for children (a sweep's tasks) and for Slurm nodes sharing this filesystem. */
export const selfWgpt = (): string[] => [process.execPath, path.resolve(import.meta.dirname, '..', 'wgpt.js')];
