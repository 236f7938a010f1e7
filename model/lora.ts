// LoRA (Hu et al. 2021; the book's appendix E and exercise 7.4): a frozen linear layer plus a
// trainable low-rank update, y = x·W + b + (alpha/r)·(x·Aᵀ)·Bᵀ. A and B are held exactly as
// Hugging Face PEFT stores them (lora_A [r, in], lora_B [out, r]), so saving, loading and
// merging need no transposes. With B = 0 at the start, step 0 is the base model.
import { add, keep, matmul, param, scale, Tensor, WgptError } from '../engine/index.ts';
import type { GPTConfig } from './config.ts';
import { uniform } from './random.ts';

/** What --lora-targets names: attn = c_attn and attn.c_proj, mlp = c_fc and mlp.c_proj, head = the LM head. */
export const LORA_TARGETS = ['attn', 'mlp', 'head'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];
export const DEFAULT_LORA_TARGETS: LoraTarget[] = ['attn', 'mlp'];

export interface LoraSpec {
  rank: number;
  alpha: number;
  targets: LoraTarget[];
}

/** An adapted linear layer: its module name (`h.0.attn.c_attn`, `lm_head`) and sizes. */
export interface LoraModule {
  module: string;
  in: number;
  out: number;
}

export function parseLoraTargets(list: string): LoraTarget[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.find((n) => !(LORA_TARGETS as readonly string[]).includes(n));
  if (bad !== undefined || names.length === 0) {
    throw new WgptError(`--lora-targets "${list}": give a comma-separated list of ${LORA_TARGETS.join(', ')}`);
  }
  return LORA_TARGETS.filter((t) => names.includes(t));
}

/** A spec from the flags' values: alpha defaults to the rank, targets to attn,mlp. */
export function loraSpec(rank: number, alpha?: number, targets: LoraTarget[] = DEFAULT_LORA_TARGETS): LoraSpec {
  if (!Number.isInteger(rank) || rank <= 0) throw new WgptError(`--lora-rank must be a positive integer, got ${rank}`);
  const a = alpha ?? rank;
  if (!Number.isFinite(a) || a <= 0) throw new WgptError(`--lora-alpha must be a positive number, got ${alpha}`);
  return { rank, alpha: a, targets };
}

/** The layers a spec adapts, in the order of the model's parameters (the head last). */
export function loraModules(config: GPTConfig, targets: readonly LoraTarget[]): LoraModule[] {
  const d = config.dModel;
  const out: LoraModule[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    if (targets.includes('attn')) out.push({ module: `h.${l}.attn.c_attn`, in: d, out: 3 * d },
      { module: `h.${l}.attn.c_proj`, in: d, out: d });
    if (targets.includes('mlp')) out.push({ module: `h.${l}.mlp.c_fc`, in: d, out: 4 * d },
      { module: `h.${l}.mlp.c_proj`, in: 4 * d, out: d });
  }
  if (targets.includes('head')) out.push({ module: 'lm_head', in: d, out: config.vocabSize });
  return out;
}

/** The module a tensor name belongs to, when it is an adaptable layer (any of loraModules' names). */
export function adaptableModule(config: GPTConfig, module: string): LoraModule | null {
  const m = /^h\.(\d+)\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)$/.exec(module);
  if (m && Number(m[1]) < config.nLayers) {
    const target = m[2].startsWith('attn') ? 'attn' : 'mlp';
    return loraModules(config, [target]).find((x) => x.module === module) ?? null;
  }
  return module === 'lm_head' ? loraModules(config, ['head'])[0] : null;
}

/** r·(in + out) per adapted layer. */
export function loraParamCount(config: GPTConfig, spec: LoraSpec): number {
  return loraModules(config, spec.targets).reduce((n, m) => n + spec.rank * (m.in + m.out), 0);
}

export const loraAName = (module: string): string => `${module}.lora_A.weight`;
export const loraBName = (module: string): string => `${module}.lora_B.weight`;

/** The adapters of one model: A and B of every adapted layer, as trainable parameters. */
export class LoraAdapters {
  /** alpha / r: the factor on the low-rank branch. */
  readonly scale: number;
  /** lora_A [r, in] and lora_B [out, r] by their PEFT names (module + `.lora_A.weight`). */
  readonly params = new Map<string, Tensor>();
  readonly modules: LoraModule[];

  /** Takes ownership of `tensors` (A and B of every one of `modules`, by PEFT name), shape-checked. */
  constructor(readonly spec: LoraSpec, config: GPTConfig, tensors: Map<string, Tensor>, source = 'adapter',
    modules: LoraModule[] = loraModules(config, spec.targets)) {
    this.scale = spec.alpha / spec.rank;
    this.modules = modules;
    try {
      if (modules.some((m) => m.module === 'lm_head') && config.outputVocab) {
        throw new WgptError(
          '--lora-targets head does not combine with a model that has an output vocabulary (--output-vocab data): adapt attn,mlp only');
      }
      for (const m of modules) {
        for (const [name, shape] of [[loraAName(m.module), [spec.rank, m.in]], [loraBName(m.module), [m.out, spec.rank]]] as const) {
          const t = tensors.get(name);
          if (!t) throw new WgptError(`${source}: no ${name}; the adapter does not fit this model`);
          if (t.shape.join() !== shape.join()) {
            throw new WgptError(`${source}: ${name} has shape [${t.shape.join(', ')}], this model needs [${shape.join(', ')}]: ` +
              `the adapter was made for another base model`);
          }
          this.params.set(name, keep(param(t)));
        }
      }
      const extra = [...tensors.keys()].find((n) => !this.params.has(n));
      if (extra !== undefined) throw new WgptError(`${source}: ${extra} is not a layer of this model that LoRA adapts`);
    } catch (e) {
      for (const t of tensors.values()) t.dispose();
      throw e;
    }
  }

  has(module: string): boolean {
    return this.params.has(loraAName(module));
  }

  /** The branch of `module` for x [..., in]: see loraDelta. */
  delta(x: Tensor, module: string): Tensor {
    return loraDelta(x, this.params.get(loraAName(module))!, this.params.get(loraBName(module))!, this.scale);
  }

  parameterCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  dispose(): void {
    for (const t of this.params.values()) {
      t.grad?.dispose();
      t.dispose();
    }
    this.params.clear();
  }
}

/** s·(x·Aᵀ)·Bᵀ for x [..., in], A [r, in], B [out, r]; the scale goes on the narrow [..., r]
 *  product, where it costs r columns instead of `out`. */
export function loraDelta(x: Tensor, a: Tensor, b: Tensor, s: number): Tensor {
  return matmul(scale(matmul(x, a, { transB: true }), s), b, { transB: true });
}

/** x·W + (alpha/r)·(x·Aᵀ)·Bᵀ for a Conv1D weight W [in, out] (no bias): the adapted product. */
export function loraMatmul(x: Tensor, w: Tensor, adapters: LoraAdapters | null, module: string): Tensor {
  const y = matmul(x, w);
  return adapters?.has(module) ? add(y, adapters.delta(x, module)) : y;
}

/** New adapters as PEFT initialises them: A Kaiming-uniform (a = √5, i.e. U(±1/√in)), B zero. */
export function initLora(config: GPTConfig, spec: LoraSpec, seed = 0): LoraAdapters {
  const tensors = new Map<string, Tensor>();
  loraModules(config, spec.targets).forEach((m, i) => {
    const next = uniform((seed * 7919 + i * 104729 + 17) >>> 0);
    const bound = 1 / Math.sqrt(m.in);
    const a = new Float32Array(spec.rank * m.in);
    for (let j = 0; j < a.length; j++) a[j] = (2 * next() - 1) * bound;
    tensors.set(loraAName(m.module), Tensor.fromData(a, [spec.rank, m.in]));
    tensors.set(loraBName(m.module), Tensor.fromData(new Float32Array(m.out * spec.rank), [m.out, spec.rank]));
  });
  return new LoraAdapters(spec, config, tensors, 'initLora');
}
