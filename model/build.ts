// Making a GPT: GPT-2's random initialisation, or weights from a checkpoint (a directory or
// .safetensors file, or a downloaded size name), streamed to the GPU one tensor at a time.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Tensor, WgptError } from '../engine/index.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { getConfig, isConfigName, validateConfig, type GPTConfig } from './config.ts';
import { defaultModelDir, HF_MODELS } from './download.ts';
import { GPT } from './gpt.ts';
import { randomGPT } from './init.ts';

export { randomGPT };

/** Resolves --model: a directory or .safetensors file, or a size name (downloaded weights, or a
 *  random init when `fromScratch`; `tiny` and `mini` are always from scratch). */
export async function loadGPT(spec: string, opts: { fromScratch?: boolean; seed?: number; untie?: boolean; dropout?: number;
  outputVocab?: number[]; onProgress?: (done: number, total: number) => void } = {}): Promise<GPT> {
  if (isConfigName(spec) && (opts.fromScratch || !(HF_MODELS as readonly string[]).includes(spec))) {
    return randomGPT(getConfig(spec, { tiedHead: !opts.untie, dropout: opts.dropout ?? 0,
      ...(opts.outputVocab ? { outputVocab: opts.outputVocab } : {}) }), opts.seed ?? 0);
  }
  let where = spec;
  if (isConfigName(spec)) {
    where = defaultModelDir(spec);
    if (!existsSync(path.join(where, 'model.safetensors'))) {
      throw new WgptError(`no downloaded weights for ${spec} in ${where}: run \`wgpt download ${spec}\`, or pass --from-scratch`);
    }
  }
  if (!existsSync(where)) throw new WgptError(
    `model not found: ${where} (give a directory with model.safetensors, a .safetensors file, or a size name)`);
  const tensors = new Map<string, Tensor>();
  let config: GPTConfig;
  try {
    ({ config } = await loadCheckpoint(where, {
      onTensor: (t) => void tensors.set(t.name, Tensor.fromData(t.data, t.shape)),
      onProgress: opts.onProgress,
    }));
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    // Engine errors (out of memory, a lost device, a shape) keep their class; a reader's plain
    // Error becomes a WgptError (one line at the CLI) that keeps it as its cause.
    if (e instanceof WgptError) throw e;
    throw new WgptError((e as Error).message, { cause: e });
  }
  if (opts.dropout !== undefined) config = { ...config, dropout: opts.dropout };
  if (opts.outputVocab) {
    config = { ...config, outputVocab: opts.outputVocab };
    validateConfig(config);
  }
  if (opts.untie && config.tiedHead) {
    // The chapter's finetuning unties the head: a separate copy of wte, trained on its own.
    const wte = tensors.get('wte.weight')!;
    tensors.set('lm_head.weight', Tensor.fromData(await wte.toArray(), wte.shape));
    config = { ...config, tiedHead: false };
  }
  return new GPT(config, tensors);
}

/** Writes model.safetensors + config.json (Hugging Face layout) into dir. */
export async function saveGPT(model: GPT, dir: string): Promise<void> {
  const tensors = [];
  for (const [name, t] of model.params) tensors.push({ name, shape: [...t.shape], data: (await t.toArray()) as Float32Array });
  await saveCheckpoint(dir, model.config, tensors);
}
