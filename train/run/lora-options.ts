// The LoRA flags of `train` and `dpo` (--lora-rank, --lora-alpha, --lora-targets, --merge), checked
// before anything is loaded or written, and what the adapter's config names as its base model.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/index.ts';
import { isConfigName } from '../../model/config.ts';
import { HF_MODELS } from '../../model/download.ts';
import { loraSpec, parseLoraTargets, type LoraSpec } from '../../model/lora.ts';

/** The options of a run that LoRA reads (null and undefined both mean "not given"). */
export interface LoraOptions {
  model: string;
  out: string;
  fromScratch?: boolean;
  loraRank?: number | null;
  loraAlpha?: number | null;
  loraTargets?: string | null;
  merge?: boolean;
}

/** The LoRA spec of a run's options (null: full finetuning), checked before anything is loaded. */
export function loraOf(opts: LoraOptions): LoraSpec | null {
  if (opts.loraRank === undefined || opts.loraRank === null) {
    if (opts.merge) throw new WgptError('--merge needs --lora-rank: without adapters the run already saves the whole model');
    return null;
  }
  const spec = loraSpec(opts.loraRank, opts.loraAlpha ?? undefined, parseLoraTargets(opts.loraTargets ?? 'attn,mlp'));
  if (isConfigName(opts.model) && (opts.fromScratch || !(HF_MODELS as readonly string[]).includes(opts.model))) {
    throw new WgptError(`--lora-rank adapts a trained model, but --model ${opts.model}${opts.fromScratch ? ' --from-scratch' : ''} ` +
      `is random weights that the adapter could not be loaded onto later: ` +
      `give --model a checkpoint directory or a downloaded size (wgpt download gpt2)`);
  }
  if (opts.merge && path.resolve(opts.out) === path.resolve(baseDirOf(opts.model))) {
    throw new WgptError(`--merge would overwrite the base model in ${opts.out}: choose another --out`);
  }
  return spec;
}

/** The directory holding a --model given as a path (a size name is not a path). */
function baseDirOf(model: string): string {
  return model.endsWith('.safetensors') ? path.dirname(model) : model;
}

/** What adapter_config.json names as the base: a size name as is, a path made absolute. */
export function loraBaseName(opts: LoraOptions): string | null {
  if (opts.loraRank === undefined || opts.loraRank === null) return null;
  return existsSync(opts.model) ? path.resolve(opts.model) : opts.model;
}
