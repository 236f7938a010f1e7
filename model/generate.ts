// Text generation: greedy, or sampling with temperature and top-k from a seeded generator; stops
// at <|endoftext|> (not emitted); the context is cropped to the model's; a KV cache makes each new
// token cost one position instead of the whole context.
import { noGrad, slice, Tensor, tidy } from '../engine/index.ts';
import { GPT, type KVCache } from './gpt.ts';
import { uniform } from './random.ts';
import { END_OF_TEXT } from './tokenizer.ts';

export interface GenerateOptions {
  maxNewTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topK?: number;
  seed?: number;
  /** Use the KV cache (default true). */
  cache?: boolean;
  /** Stop at this id without emitting it (default <|endoftext|>; null = never stop early). */
  stopToken?: number | null;
  /** Called with each new token as soon as it is chosen (streaming). */
  onToken?: (id: number) => void;
}

/** Picks the next token from one row of logits. Greedy takes the first maximum (as torch.argmax). */
export function pickToken(logits: Float32Array, temperature: number, topK: number | undefined, random: () => number): number {
  if (!(temperature > 0)) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let ids = Array.from(logits.keys());
  if (topK && topK < ids.length) ids = ids.sort((a, b) => logits[b] - logits[a]).slice(0, topK);
  const max = Math.max(...ids.map((i) => logits[i]));
  const weights = ids.map((i) => Math.exp((logits[i] - max) / temperature));
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (let j = 0; j < ids.length; j++) {
    r -= weights[j];
    if (r <= 0) return ids[j];
  }
  return ids[ids.length - 1];
}

/** Generates up to maxNewTokens after `prompt` (token ids); returns only the new ids. */
export async function generate(model: GPT, prompt: number[], opts: GenerateOptions = {}): Promise<number[]> {
  const maxNew = opts.maxNewTokens ?? 50;
  const temperature = opts.temperature ?? 0;
  const random = uniform(opts.seed ?? 0);
  const stop = opts.stopToken === undefined ? END_OF_TEXT : opts.stopToken;
  const ctx = model.config.contextLength;
  const useCache = opts.cache ?? true;
  const tokens = [...prompt];
  const out: number[] = [];
  let cache: KVCache | null = null;
  const freeCache = (): void => {
    if (!cache) return;
    for (const t of [...cache.keys, ...cache.values]) t.dispose();
    cache = null;
  };
  try {
    for (let step = 0; step < maxNew; step++) {
      // With a cache, feed only the new token, unless the context is full: then start over
      // from the last ctx-1 tokens (the window slides, as without the cache).
      if (cache && (cache as KVCache).length >= ctx) freeCache();
      const window = cache ? tokens.slice(-1) : tokens.slice(-ctx);
      const start = cache ? (cache as KVCache).length : 0;
      if (useCache && !cache) cache = { keys: [], values: [], length: 0 };
      const last = noGrad(() => tidy(() => {
        const ids = Tensor.fromData(window, [1, window.length], 'i32');
        // Only the last position's logits are needed: slice before the LM head.
        const h = model.hidden(ids, { cache: cache ?? undefined }, start);
        return model.logits(slice(h, 1, window.length - 1, 1));
      }));
      const row = (await last.toArray()) as Float32Array;
      last.dispose();
      const next = model.tokenAt(pickToken(row, temperature, opts.topK, random));
      if (stop !== null && next === stop) break;
      tokens.push(next);
      out.push(next);
      opts.onToken?.(next);
    }
  } finally {
    freeCache();
  }
  return out;
}
