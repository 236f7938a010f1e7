// Text generation for one prompt: greedy, or sampling with temperature and top-k from a seeded
// generator; stops at <|endoftext|> (not emitted); past the context the window slides. With the KV
// cache (default) it is generateBatch with a batch of one, so a prompt gets the same answer alone
// as in a batch; without it, every token recomputes the whole (cropped) context.
import { noGrad, Tensor, tidy } from '../engine/index.ts';
import { generateBatch } from './generate-batch.ts';
import type { GPT } from './gpt.ts';
import { uniform } from './random.ts';
import { pickToken } from './sampling.ts';
import { END_OF_TEXT } from './tokenizer.ts';

export { pickToken };

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

/** Generates up to maxNewTokens after `prompt` (token ids); returns only the new ids. */
export async function generate(model: GPT, prompt: number[], opts: GenerateOptions = {}): Promise<number[]> {
  if (opts.cache ?? true) {
    const onToken = opts.onToken;
    const [out] = await generateBatch(model, [prompt], { ...opts, batchSize: 1, onToken: onToken && ((_, id) => onToken(id)) });
    return out;
  }
  const maxNew = opts.maxNewTokens ?? 50;
  const temperature = opts.temperature ?? 0;
  const random = uniform(opts.seed ?? 0);
  const stop = opts.stopToken === undefined ? END_OF_TEXT : opts.stopToken;
  const ctx = model.config.contextLength;
  const tokens = [...prompt];
  const out: number[] = [];
  for (let step = 0; step < maxNew; step++) {
    const window = tokens.slice(-ctx);
    const last = noGrad(() => tidy(() => {
      const ids = Tensor.fromData(window, [1, window.length], 'i32');
      // Only the last position's logits are needed: the last block and the LM head run on it alone.
      return model.logits(model.hidden(ids, { lastOnly: true }));
    }));
    const row = (await last.toArray()) as Float32Array;
    last.dispose();
    const next = model.tokenAt(pickToken(row, temperature, opts.topK, random));
    if (stop !== null && next === stop) break;
    tokens.push(next);
    out.push(next);
    opts.onToken?.(next);
  }
  return out;
}
