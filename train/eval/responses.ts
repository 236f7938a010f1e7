// Greedy responses for instruction entries, extracted as the chapter does (prompt and response
// header removed, stripped), in the chapter's output format: each entry plus `model_response`.
import { generate } from '../../model/generate.ts';
import { DEFAULT_GEN_BATCH, generateBatch } from '../../model/generate-batch.ts';
import type { GPT } from '../../model/gpt.ts';
import { decode, encode } from '../../model/tokenizer.ts';
import type { Entry } from '../data/entries.ts';
import { formatPrompt, responseHeader } from '../data/prompts.ts';
import { GenerationProgress } from '../run/progress.ts';
import { extractResponse } from './score.ts';

export { DEFAULT_GEN_BATCH };

export interface ResponseOptions {
  /** Prompts generated together (DEFAULT_GEN_BATCH). */
  batchSize?: number;
  /** Names the progress line (done/total prompts, tokens/s, time left) on stderr; none without it. */
  label?: string;
  /** Called as prompts finish (a page's progress bar). */
  onProgress?: (done: number, total: number) => void;
}

/** The model's greedy answer to one entry (at most maxNewTokens, stopped at <|endoftext|>). */
export async function respond(model: GPT, entry: Entry, style: string, maxNewTokens: number): Promise<string> {
  // The inference prompt is the part before the response header; the chapter feeds the prompt
  // and lets the model write the header itself, then strips it.
  const prompt = formatPrompt(entry, style);
  const out = await generate(model, promptIds(model, prompt), { maxNewTokens });
  return extractResponse(decode(out), prompt, style);
}

function promptIds(model: GPT, prompt: string): number[] {
  return encode(prompt, false).slice(-model.config.contextLength + 1);
}

/** Greedy responses for every entry, batchSize prompts at a time (each answer is the one its
 *  prompt gets alone), with a progress line when `label` is given. */
export async function generateResponses(model: GPT, entries: readonly Entry[], style: string, maxNewTokens: number,
  opts: ResponseOptions = {}): Promise<Entry[]> {
  const prompts = entries.map((e) => formatPrompt(e, style));
  const progress = opts.label ? new GenerationProgress(opts.label) : null;
  try {
    const outs = await generateBatch(model, prompts.map((p) => promptIds(model, p)), {
      maxNewTokens, batchSize: opts.batchSize ?? DEFAULT_GEN_BATCH, onProgress: (c) => {
        progress?.update(c);
        opts.onProgress?.(c.done, c.total);
      },
    });
    return entries.map((e, i) => ({ ...e, model_response: extractResponse(decode(outs[i]), prompts[i], style) }));
  } finally {
    progress?.done();
  }
}

/** The per-epoch sample: what the model writes for one entry (prompt + response header given). */
export async function sampleResponse(model: GPT, entry: Entry, style: string, maxNewTokens = 50): Promise<string> {
  return respond(model, entry, style, maxNewTokens).then((r) => r || `(empty after ${responseHeader(style).trim()})`);
}
