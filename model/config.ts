// GPT-2 model shapes. One plain record describes every size so that the engine, the checkpoint
// reader (hf-names.ts) and the parameter counter all agree on the same numbers.

export interface GPTConfig {
  vocabSize: number;
  contextLength: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  layerNormEps: number;
  /** Dropout probability on embeddings, attention weights and residual branches (0 = off). */
  dropout: number;
  /** True when the output head reuses wte (GPT-2 as released by OpenAI); false adds lm_head. */
  tiedHead: boolean;
  /** The token ids the model predicts over, ascending (its softmax has these columns only);
   *  absent: the whole vocabulary. See GPT.loss. */
  outputVocab?: number[];
}

export const GPT2_VOCAB_SIZE = 50257;

// Dropout is 0 in the presets: these are the shapes of the released checkpoints, which are
// finetuned/evaluated without dropout by default; a training run can set it explicitly.
function preset(dModel: number, nLayers: number, nHeads: number, contextLength = 1024): GPTConfig {
  return {
    vocabSize: GPT2_VOCAB_SIZE,
    contextLength,
    dModel,
    nLayers,
    nHeads,
    layerNormEps: 1e-5,
    dropout: 0,
    tiedHead: true,
  };
}

export const CONFIGS = {
  'gpt2': preset(768, 12, 12),
  'gpt2-medium': preset(1024, 24, 16),
  'gpt2-large': preset(1280, 36, 20),
  'gpt2-xl': preset(1600, 48, 25),
  // Small models for tests and quick CPU-free experiments; full vocabulary so the real
  // tokenizer works with them.
  'tiny': preset(128, 4, 4, 256),
  'mini': preset(256, 6, 8, 512),
} as const satisfies Record<string, GPTConfig>;

export type ConfigName = keyof typeof CONFIGS;

export function isConfigName(name: string): name is ConfigName {
  return Object.hasOwn(CONFIGS, name);
}

/** A fresh copy of a named preset, with optional overrides (e.g. `{ dropout: 0.1 }`). */
export function getConfig(name: string, overrides: Partial<GPTConfig> = {}): GPTConfig {
  if (!isConfigName(name)) {
    throw new Error(`unknown model config '${name}'; known: ${Object.keys(CONFIGS).join(', ')}`);
  }
  const cfg = { ...CONFIGS[name], ...overrides };
  validateConfig(cfg);
  return cfg;
}

/** Throws on a shape the engine could not run (heads must split dModel evenly, etc.). */
export function validateConfig(cfg: GPTConfig): void {
  const ints: (keyof GPTConfig)[] = ['vocabSize', 'contextLength', 'dModel', 'nLayers', 'nHeads'];
  for (const k of ints) {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new Error(`GPTConfig.${k} must be a positive integer, got ${String(v)}`);
    }
  }
  if (cfg.dModel % cfg.nHeads !== 0) {
    throw new Error(`GPTConfig: dModel=${cfg.dModel} is not divisible by nHeads=${cfg.nHeads}`);
  }
  if (!(cfg.layerNormEps > 0)) throw new Error(`GPTConfig.layerNormEps must be > 0, got ${cfg.layerNormEps}`);
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) {
    throw new Error(`GPTConfig.dropout must be in [0, 1), got ${cfg.dropout}`);
  }
  const ov = cfg.outputVocab;
  if (ov && !(ov.length > 0 && ov.every((id, i) => Number.isInteger(id) && id >= 0 && id < cfg.vocabSize && (i === 0 || id > ov[i - 1])))) {
    throw new Error(`GPTConfig.outputVocab must be ascending distinct token ids below ${cfg.vocabSize}`);
  }
}

/** Parameters of one transformer block: two LayerNorms, attention (qkv + proj), MLP (4x). */
export function blockParamCount(d: number): number {
  const ln = 2 * d;
  const attn = d * 3 * d + 3 * d + d * d + d;
  const mlp = d * 4 * d + 4 * d + 4 * d * d + d;
  return 2 * ln + attn + mlp; // = 12 d^2 + 13 d
}

/**
 * Trainable parameter count. A tied head shares wte, so it adds nothing; an untied head adds a
 * [vocab, d] matrix with no bias (as HF's lm_head). gpt2 tied = 124,439,808;
 * gpt2-medium untied = 406,286,336.
 */
export function paramCount(cfg: GPTConfig): number {
  const d = cfg.dModel;
  const embeddings = cfg.vocabSize * d + cfg.contextLength * d;
  const head = cfg.tiedHead ? 0 : cfg.vocabSize * d;
  return embeddings + cfg.nLayers * blockParamCount(d) + 2 * d + head;
}
