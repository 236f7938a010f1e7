// LoRA adapters on disk in the layout Hugging Face PEFT documents (so that PEFT can load what wgpt
// trains, not yet run against peft itself, and wgpt loads what PEFT trains): adapter_model.safetensors with keys like
// base_model.model.transformer.h.0.attn.c_attn.lora_A.weight [r, in] / lora_B.weight [out, r], and
// adapter_config.json. Also the merged model (W + (alpha/r)·ΔW) that plain `transformers` loads.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { add, matmul, noGrad, scale, Tensor, tidy, WgptError } from '../engine/index.ts';
import { saveCheckpoint } from './checkpoint.ts';
import type { GPT } from './gpt.ts';
import { adaptableModule, LORA_TARGETS, LoraAdapters, loraAName, loraBName, loraSpec, type LoraModule, type LoraTarget } from './lora.ts';
import { readSafetensors, writeSafetensors, type WriteTensor } from './safetensors.ts';

export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const ADAPTER_CONFIG = 'adapter_config.json';
const PEFT_PREFIX = 'base_model.model.';


/** The fields of adapter_config.json that wgpt writes and reads. */
export interface AdapterConfig {
  peft_type: 'LORA';
  task_type: 'CAUSAL_LM';
  r: number;
  lora_alpha: number;
  target_modules: string[];
  /** GPT-2's Conv1D stores W as [in, out]; PEFT sets it back to false for the Linear lm_head itself. */
  fan_in_fan_out: boolean;
  bias: 'none';
  lora_dropout: number;
  base_model_name_or_path: string | null;
  inference_mode: boolean;
}

/** Our module name (h.0.attn.c_attn, lm_head) as PEFT names it inside GPT2LMHeadModel. */
function peftKey(name: string): string {
  return PEFT_PREFIX + (name.startsWith('lm_head') ? name : `transformer.${name}`);
}

/** A PEFT key as wgpt names the tensor: h.0.attn.c_attn.lora_A.weight, lm_head.lora_B.weight. */
function weightName(key: string): string {
  let n = key.startsWith(PEFT_PREFIX) ? key.slice(PEFT_PREFIX.length) : key;
  if (n.startsWith('transformer.')) n = n.slice('transformer.'.length);
  return n.replace('.lora_A.default.weight', '.lora_A.weight').replace('.lora_B.default.weight', '.lora_B.weight');
}

/** Writes DIR/adapter_model.safetensors and DIR/adapter_config.json. */
export async function saveAdapters(dir: string, adapters: LoraAdapters, baseModel: string | null): Promise<void> {
  const tensors: WriteTensor[] = [];
  for (const [name, t] of adapters.params) tensors.push({ name: peftKey(name), shape: [...t.shape],
    data: (await t.toArray()) as Float32Array });
  const config: AdapterConfig = {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', r: adapters.spec.rank, lora_alpha: adapters.spec.alpha,
    // PEFT matches these as suffixes of module names: exactly the adapted layers.
    target_modules: [...new Set(adapters.modules.map((m) => m.module.replace(/^h\.\d+\./, '')))],
    fan_in_fan_out: true, bias: 'none', lora_dropout: 0,
    base_model_name_or_path: baseModel, inference_mode: true,
  };
  await fsp.mkdir(dir, { recursive: true });
  await writeSafetensors(path.join(dir, ADAPTER_WEIGHTS), tensors);
  await fsp.writeFile(path.join(dir, ADAPTER_CONFIG), `${JSON.stringify(config, null, 2)}\n`);
}

export function hasAdapters(dir: string): boolean {
  return existsSync(path.join(dir, ADAPTER_WEIGHTS));
}

/** DIR/adapter_config.json, checked for what wgpt can use. */
export async function readAdapterConfig(dir: string): Promise<AdapterConfig> {
  const file = path.join(dir, ADAPTER_CONFIG);
  if (!existsSync(file)) throw new WgptError(
    `no LoRA adapter in ${dir}: expected ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS} (written by wgpt train --lora-rank or PEFT)`);
  let cfg: AdapterConfig;
  try {
    cfg = JSON.parse(await fsp.readFile(file, 'utf8')) as AdapterConfig;
  } catch (e) {
    throw new WgptError(`${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (cfg.peft_type !== 'LORA') throw new WgptError(
    `${file}: peft_type is ${JSON.stringify(cfg.peft_type)}; wgpt loads LORA adapters only`);
  if (cfg.bias !== undefined && cfg.bias !== 'none') throw new WgptError(
    `${file}: bias "${cfg.bias}" adapters train biases too; wgpt loads bias "none" only`);
  const extra = cfg as unknown as Record<string, unknown>;
  for (const key of ['use_rslora', 'use_dora']) if (extra[key]) throw new WgptError(
    `${file}: ${key} adapters are not supported; wgpt loads plain LoRA`);
  if (!Number.isInteger(cfg.r) || cfg.r <= 0 || !(cfg.lora_alpha > 0)) {
    throw new WgptError(`${file}: r must be a positive integer and lora_alpha positive, got r=${cfg.r}, lora_alpha=${cfg.lora_alpha}`);
  }
  return cfg;
}

/** Loads DIR's adapters for `model` (shape-checked against it) and attaches them. */
export async function loadAdapters(dir: string, model: GPT): Promise<LoraAdapters> {
  const cfg = await readAdapterConfig(dir);
  const file = path.join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(file)) throw new WgptError(`${dir}: ${ADAPTER_CONFIG} without ${ADAPTER_WEIGHTS}`);
  const host = await readSafetensors(file);
  const tensors = new Map<string, Tensor>();
  const modules = new Map<string, LoraModule>();
  const targets = new Set<LoraTarget>();
  for (const [key, t] of host) {
    const name = weightName(key);
    const module = name.replace(/\.lora_[AB]\.weight$/, '');
    const m = adaptableModule(model.config, module);
    if (!m || module === name) {
      for (const u of tensors.values()) u.dispose();
      throw new WgptError(`${file}: ${key} is not a LoRA weight of a layer of this model ` +
        `(c_attn, c_proj, c_fc or lm_head of ${model.config.nLayers} layers)`);
    }
    modules.set(module, m);
    targets.add(module === 'lm_head' ? 'head' : module.includes('.attn.') ? 'attn' : 'mlp');
    tensors.set(name, Tensor.fromData(t.data, t.shape));
  }
  const spec = loraSpec(cfg.r, cfg.lora_alpha, LORA_TARGETS.filter((t) => targets.has(t)));
  const adapters = new LoraAdapters(spec, model.config, tensors, file, [...modules.values()]);
  model.useAdapters(adapters);
  return adapters;
}

/** The base weights with every adapter folded in, by parameter name (host arrays). A tied head
 *  that is adapted becomes a separate lm_head (wte keeps its own weights), so the config unties. */
export async function mergedWeights(model: GPT): Promise<{ tiedHead: boolean; tensors: WriteTensor[] }> {
  const lora = model.lora;
  if (!lora) throw new WgptError('mergedWeights: the model has no adapters');
  const headAdapted = lora.has('lm_head');
  const tiedHead = model.config.tiedHead && !headAdapted;
  const names = [...model.params.keys()];
  if (model.config.tiedHead && headAdapted) names.push('lm_head.weight');
  const tensors: WriteTensor[] = [];
  for (const name of names) {
    const module = name.slice(0, -'.weight'.length);
    const w = name === 'lm_head.weight' ? model.head : model.p(name);
    const merged = !lora.has(module) ? w : noGrad(() => tidy(() => {
      const a = lora.params.get(loraAName(module))!;
      const b = lora.params.get(loraBName(module))!;
      // Conv1D W [in, out] gains Aᵀ·Bᵀ; the Linear head W [V, D] gains B·A.
      const delta = module === 'lm_head' ? matmul(b, a) : matmul(a, b, { transA: true, transB: true });
      return add(w, scale(delta, lora.scale));
    }));
    tensors.push({ name, shape: [...w.shape], data: (await merged.toArray()) as Float32Array });
    if (merged !== w) merged.dispose();
  }
  return { tiedHead, tensors };
}

/** Writes DIR/model.safetensors + config.json of the merged model (loads in plain transformers). */
export async function saveMerged(model: GPT, dir: string): Promise<void> {
  const { tiedHead, tensors } = await mergedWeights(model);
  await saveCheckpoint(dir, { ...model.config, tiedHead }, tensors);
}
