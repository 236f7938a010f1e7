// A model's first weights, made where it runs (Node or a browser tab): no files.
import { Tensor } from '../engine/index.ts';
import type { GPTConfig } from './config.ts';
import { GPT } from './gpt.ts';
import { hfTensorSpecs } from './hf-names.ts';
import { uniform } from './random.ts';

/** Deterministic N(0, 1) samples (mulberry32 + Box-Muller), so a seed gives the same model anywhere. */
function normalFill(out: Float32Array, std: number, seed: number): void {
  // Shifted by half a step so log() never sees 0 (the generator can return exactly 0).
  const next = uniform(seed);
  const u = (): number => next() + 0.5 / 4294967296;
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const a = 2 * Math.PI * u();
    out[i] = std * r * Math.cos(a);
    if (i + 1 < out.length) out[i + 1] = std * r * Math.sin(a);
  }
}

/** GPT-2's initialisation: weights N(0, 0.02), residual projections N(0, 0.02/sqrt(2·layers)),
 *  biases 0, LayerNorm gains 1. */
export function randomGPT(config: GPTConfig, seed = 0): GPT {
  const tensors = new Map<string, Tensor>();
  hfTensorSpecs(config).forEach((spec, i) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const leaf = spec.name.split('.').slice(-2).join('.');
    if (spec.name.endsWith('.bias')) {
      // zeros
    } else if (spec.name.includes('ln_')) data.fill(1);
    else if (leaf === 'c_proj.weight') normalFill(data, 0.02 / Math.sqrt(2 * config.nLayers), seed * 1000 + i);
    else normalFill(data, 0.02, seed * 1000 + i);
    tensors.set(spec.name, Tensor.fromData(data, spec.shape));
  });
  return new GPT(config, tensors);
}

