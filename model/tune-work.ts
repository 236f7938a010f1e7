// The work `wgpt tune` measures for a GPT model: its products at 1024 tokens and AdamW on its token
// embedding (the engine knows no model; bin/commands/tune.ts passes this to engine/tune/tuner.ts).
import type { StandardWork } from '../engine/tune/tuner.ts';
import { CONFIGS, type GPTConfig } from './config.ts';

const TOKENS = 1024;
/** Greedy decoding of this many prompts at once. */
const PROMPTS = 16;

/** A linear layer's forward, input gradient and weight gradient (the attention's QKV projection,
 *  d x 3d), and decoding: a layer, and the LM head's h·Wteᵀ. Each is clamped when timed. */
export function tuneWork(c: GPTConfig = CONFIGS.gpt2): StandardWork {
  const d = c.dModel;
  return {
    products: [
      [TOKENS, 3 * d, d, false, false],
      [TOKENS, d, 3 * d, false, true],
      [d, 3 * d, TOKENS, true, false],
      [PROMPTS, 3 * d, d, false, false],
      [PROMPTS, c.vocabSize, d, false, true],
    ],
    adamw: c.vocabSize * d,
  };
}
