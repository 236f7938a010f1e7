// The Hugging Face GPT-2 checkpoint layout: tensor names and shapes, config.json, and deriving a
// GPTConfig from a checkpoint. Weights use HF's Conv1D layout, i.e. [in, out] with y = x·W + b
// (the transpose of torch.nn.Linear), so the engine can use them without transposing.
import type { GPTConfig } from './config.ts';
import { validateConfig } from './config.ts';

export interface TensorSpec {
  name: string;
  shape: number[];
}

/** HF wraps the same names in `transformer.` inside GPT2LMHeadModel state dicts. */
export const HF_PREFIX = 'transformer.';

/** Heads of the four released sizes, used when there is no config.json to say. */
export const STANDARD_HEADS: Record<number, number> = { 768: 12, 1024: 16, 1280: 20, 1600: 25 };

/** Drops an optional `transformer.` prefix so names from either HF export style compare equal. */
export function canonicalName(name: string): string {
  return name.startsWith(HF_PREFIX) ? name.slice(HF_PREFIX.length) : name;
}

/** The causal-mask buffers older exports store (`h.N.attn.bias`, `h.N.attn.masked_bias`):
 *  not parameters, so skipped when loading. Note `h.N.attn.c_attn.bias` is a real parameter. */
export function isSkippedBuffer(name: string): boolean {
  return /^h\.\d+\.attn\.(bias|masked_bias)$/.test(canonicalName(name));
}

/** Every parameter name and shape for a config, in the order HF's model defines them. */
export function hfTensorSpecs(cfg: GPTConfig): TensorSpec[] {
  const d = cfg.dModel;
  const specs: TensorSpec[] = [
    { name: 'wte.weight', shape: [cfg.vocabSize, d] },
    { name: 'wpe.weight', shape: [cfg.contextLength, d] },
  ];
  for (let i = 0; i < cfg.nLayers; i++) {
    const p = `h.${i}.`;
    specs.push(
      { name: p + 'ln_1.weight', shape: [d] },
      { name: p + 'ln_1.bias', shape: [d] },
      { name: p + 'attn.c_attn.weight', shape: [d, 3 * d] },
      { name: p + 'attn.c_attn.bias', shape: [3 * d] },
      { name: p + 'attn.c_proj.weight', shape: [d, d] },
      { name: p + 'attn.c_proj.bias', shape: [d] },
      { name: p + 'ln_2.weight', shape: [d] },
      { name: p + 'ln_2.bias', shape: [d] },
      { name: p + 'mlp.c_fc.weight', shape: [d, 4 * d] },
      { name: p + 'mlp.c_fc.bias', shape: [4 * d] },
      { name: p + 'mlp.c_proj.weight', shape: [4 * d, d] },
      { name: p + 'mlp.c_proj.bias', shape: [d] },
    );
  }
  specs.push({ name: 'ln_f.weight', shape: [d] }, { name: 'ln_f.bias', shape: [d] });
  if (!cfg.tiedHead) specs.push({ name: 'lm_head.weight', shape: [cfg.vocabSize, d] });
  return specs;
}

/** The subset of HF's GPT2Config we read and write. */
export interface HFGPT2Config {
  model_type?: string;
  architectures?: string[];
  vocab_size?: number;
  n_positions?: number;
  n_ctx?: number;
  n_embd?: number;
  n_layer?: number;
  n_head?: number;
  layer_norm_epsilon?: number;
  resid_pdrop?: number;
  embd_pdrop?: number;
  attn_pdrop?: number;
  tie_word_embeddings?: boolean;
  [key: string]: unknown;
}

/** config.json as transformers writes it for GPT2LMHeadModel (loadable by from_pretrained). */
export function toHFConfig(cfg: GPTConfig): HFGPT2Config {
  return {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    activation_function: 'gelu_new',
    vocab_size: cfg.vocabSize,
    n_positions: cfg.contextLength,
    n_ctx: cfg.contextLength,
    n_embd: cfg.dModel,
    n_layer: cfg.nLayers,
    n_head: cfg.nHeads,
    n_inner: null,
    layer_norm_epsilon: cfg.layerNormEps,
    resid_pdrop: cfg.dropout,
    embd_pdrop: cfg.dropout,
    attn_pdrop: cfg.dropout,
    initializer_range: 0.02,
    bos_token_id: 50256,
    eos_token_id: 50256,
    scale_attn_weights: true,
    tie_word_embeddings: cfg.tiedHead,
    // Not a transformers field (it ignores it): the ids a restricted-output model predicts over.
    ...(cfg.outputVocab ? { wgpt_output_vocab: cfg.outputVocab } : {}),
  };
}

/**
 * GPTConfig from a config.json object. Missing fields come from HF's GPT2Config defaults
 * (tie_word_embeddings defaults to true there); dropout is taken from resid_pdrop as stored
 * (0.1 in OpenAI's files), so callers who want none must override it.
 */
export function fromHFConfig(hf: HFGPT2Config, source = 'config.json'): GPTConfig {
  if (hf.model_type !== undefined && hf.model_type !== 'gpt2') {
    throw new Error(`${source}: model_type is '${hf.model_type}', expected 'gpt2'`);
  }
  const need = (k: 'n_embd' | 'n_layer' | 'n_head'): number => {
    const v = hf[k];
    if (typeof v !== 'number') throw new Error(`${source}: missing ${k}`);
    return v;
  };
  const cfg: GPTConfig = {
    vocabSize: hf.vocab_size ?? 50257,
    contextLength: hf.n_positions ?? hf.n_ctx ?? 1024,
    dModel: need('n_embd'),
    nLayers: need('n_layer'),
    nHeads: need('n_head'),
    layerNormEps: hf.layer_norm_epsilon ?? 1e-5,
    dropout: hf.resid_pdrop ?? 0,
    tiedHead: hf.tie_word_embeddings ?? true,
  };
  if (Array.isArray(hf.wgpt_output_vocab)) cfg.outputVocab = hf.wgpt_output_vocab as number[];
  validateConfig(cfg);
  return cfg;
}

/** config.json's text parsed (`source` names it in the message). */
export function parseHFConfig(text: string, source: string): HFGPT2Config {
  try {
    return JSON.parse(text) as HFGPT2Config;
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Derives a config from the shapes in a checkpoint (names already canonical). With `hf`
 * (config.json) its values win and the shapes are only checked later by validateShapes; without
 * it, sizes come from wte/wpe/the highest h.N and the head count from STANDARD_HEADS.
 * A checkpoint without lm_head.weight is tied.
 */
export function inferConfig(shapes: Map<string, number[]>, hf?: HFGPT2Config, source = 'checkpoint'): GPTConfig {
  const hasHead = shapes.has('lm_head.weight');
  if (hf) {
    const cfg = fromHFConfig(hf, source);
    // HF ties whenever the config says so, ignoring a stored lm_head; an untied config needs one.
    if (!cfg.tiedHead && !hasHead) {
      throw new Error(`${source}: tie_word_embeddings=false but the checkpoint has no lm_head.weight`);
    }
    return cfg;
  }
  const wte = shapes.get('wte.weight');
  const wpe = shapes.get('wpe.weight');
  if (wte?.length !== 2) throw new Error(`${source}: missing wte.weight [vocab, d]; cannot infer n_embd / vocab_size`);
  if (wpe?.length !== 2) throw new Error(`${source}: missing wpe.weight [ctx, d]; cannot infer n_positions`);
  let maxLayer = -1;
  for (const name of shapes.keys()) {
    const m = /^h\.(\d+)\./.exec(name);
    if (m) maxLayer = Math.max(maxLayer, Number(m[1]));
  }
  if (maxLayer < 0) throw new Error(`${source}: no h.N.* tensors; cannot infer n_layer`);
  const d = wte[1];
  const heads = STANDARD_HEADS[d];
  if (heads === undefined) {
    throw new Error(`n_head: cannot infer from n_embd=${d}; put config.json beside the file (${source})`);
  }
  const cfg: GPTConfig = {
    vocabSize: wte[0],
    contextLength: wpe[0],
    dModel: d,
    nLayers: maxLayer + 1,
    nHeads: heads,
    layerNormEps: 1e-5,
    dropout: 0,
    tiedHead: !hasHead,
  };
  validateConfig(cfg);
  return cfg;
}

/**
 * Checks a checkpoint's names/shapes against what `cfg` needs. Every problem is listed (missing,
 * wrong shape, unexpected), each naming the tensor and both shapes. Skipped buffers and, for a
 * tied config, a stored lm_head.weight are allowed.
 */
export function validateShapes(cfg: GPTConfig, shapes: Map<string, number[]>, source = 'checkpoint'): void {
  const problems: string[] = [];
  const expected = hfTensorSpecs(cfg);
  const known = new Set(expected.map((s) => s.name));
  for (const spec of expected) {
    const got = shapes.get(spec.name);
    if (!got) problems.push(`missing tensor ${spec.name} (expected shape [${spec.shape}])`);
    else if (got.length !== spec.shape.length || got.some((v, i) => v !== spec.shape[i])) {
      problems.push(`tensor ${spec.name} has shape [${got}], expected [${spec.shape}]`);
    }
  }
  for (const [name, shape] of shapes) {
    if (known.has(name) || isSkippedBuffer(name) || (cfg.tiedHead && name === 'lm_head.weight')) continue;
    problems.push(`unexpected tensor ${name} [${shape}]`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('\n  ');
    const more = problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : '';
    throw new Error(`${source} does not match the GPT-2 config ` +
      `(d=${cfg.dModel}, layers=${cfg.nLayers}, vocab=${cfg.vocabSize}, ctx=${cfg.contextLength}, ` +
      `${cfg.tiedHead ? 'tied' : 'untied'}):\n  ${shown}${more}`);
  }
}
