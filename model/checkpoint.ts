// Loading and saving a GPT-2 checkpoint in Hugging Face form: a directory holding
// model.safetensors and (optionally, when loading) config.json. Ties safetensors.ts (bytes) to
// hf-names.ts (what the bytes must be) so the engine only sees canonical names and a GPTConfig.
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import type { GPTConfig } from './config.ts';
import { readHFConfig, writeHFConfig } from './hf-config-file.ts';
import { canonicalName, hfTensorSpecs, inferConfig, isSkippedBuffer, validateShapes } from './hf-names.ts';
import type { HFGPT2Config } from './hf-names.ts';
import type { LoadedTensor, WriteTensor } from './safetensors.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors.ts';

export interface LoadCheckpointOptions {
  /** Streams each parameter (canonical name, f32) instead of returning them all. */
  onTensor?: (t: LoadedTensor) => void | Promise<void>;
  onProgress?: (doneBytes: number, totalBytes: number, tensorName: string) => void;
}

export interface LoadedCheckpoint {
  config: GPTConfig;
  /** Where the weights came from (the .safetensors file). */
  file: string;
  /** Parameters by canonical HF name; empty when `onTensor` was given. */
  tensors: Map<string, LoadedTensor>;
}

/** stat, with "does not exist" as undefined and any other failure (permission, a link loop) an
 *  error that says so and keeps its cause: only a missing file is "not found". */
async function statIfExists(p: string, what: string): Promise<Stats | undefined> {
  try {
    return await fsp.stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${what} ${p}: ${(e as Error).message}`, { cause: e });
  }
}

async function resolveFile(p: string): Promise<string> {
  const st = await statIfExists(p, 'checkpoint');
  if (!st) throw new Error(`checkpoint not found: ${p}`);
  return st.isDirectory() ? path.join(p, 'model.safetensors') : p;
}

/**
 * Loads `dir/model.safetensors` (or a given .safetensors file). The config comes from a
 * config.json beside the file when there is one, else it is inferred from the tensor shapes;
 * names and shapes are validated before any tensor data is read.
 */
export async function loadCheckpoint(p: string, opts: LoadCheckpointOptions = {}): Promise<LoadedCheckpoint> {
  const file = await resolveFile(p);
  const header = await readSafetensorsHeader(file);
  const shapes = new Map<string, number[]>();
  for (const t of header.tensors) {
    const name = canonicalName(t.name);
    if (shapes.has(name)) throw new Error(`${file}: tensor ${name} appears twice (with and without 'transformer.')`);
    shapes.set(name, t.shape);
  }
  const cfgFile = path.join(path.dirname(file), 'config.json');
  let hf: HFGPT2Config | undefined;
  if (await statIfExists(cfgFile, 'config')) hf = await readHFConfig(cfgFile);
  const config = inferConfig(shapes, hf, hf ? cfgFile : file);
  validateShapes(config, shapes, file);

  const wanted = new Set(hfTensorSpecs(config).map((s) => s.name));
  const tensors = await readSafetensors(file, {
    filter: (n) => !isSkippedBuffer(n) && wanted.has(canonicalName(n)),
    onProgress: opts.onProgress,
    onTensor: opts.onTensor
      ? (t) => opts.onTensor!({ ...t, name: canonicalName(t.name) })
      : undefined,
  });
  const renamed = new Map<string, LoadedTensor>();
  for (const t of tensors.values()) renamed.set(canonicalName(t.name), { ...t, name: canonicalName(t.name) });
  return { config, file, tensors: renamed };
}

/**
 * Writes `dir/model.safetensors` + `dir/config.json` (creating dir). Tensors must be exactly the
 * parameters of `config` under canonical names (lm_head.weight only when untied).
 */
export async function saveCheckpoint(dir: string, config: GPTConfig, tensors: WriteTensor[]): Promise<void> {
  const shapes = new Map(tensors.map((t) => [t.name, t.shape]));
  if (config.tiedHead && shapes.has('lm_head.weight')) {
    throw new Error('saveCheckpoint: tied config but an lm_head.weight was given');
  }
  validateShapes(config, shapes, `saveCheckpoint(${dir})`);
  await fsp.mkdir(dir, { recursive: true });
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  await writeHFConfig(path.join(dir, 'config.json'), config);
}
