// Greedy responses for instruction entries, extracted as the chapter does (prompt and response
// header removed, stripped), in the chapter's output format: each entry plus `model_response`.
import { generate } from '../model/generate.ts';
import type { GPT } from '../model/gpt.ts';
import { decode, encode } from '../model/tokenizer.ts';
import type { Entry } from './data.ts';
import { formatPrompt, responseHeader } from './prompts.ts';
import { extractResponse } from './score.ts';

/** The model's greedy answer to one entry (at most maxNewTokens, stopped at <|endoftext|>). */
export async function respond(model: GPT, entry: Entry, style: string, maxNewTokens: number): Promise<string> {
  // The inference prompt is the part before the response header; the chapter feeds the prompt
  // and lets the model write the header itself, then strips it.
  const prompt = formatPrompt(entry, style);
  const ids = encode(prompt, false).slice(-model.config.contextLength + 1);
  const out = await generate(model, ids, { maxNewTokens });
  return extractResponse(decode(out), prompt, style);
}

export async function generateResponses(model: GPT, entries: readonly Entry[], style: string, maxNewTokens: number): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const e of entries) out.push({ ...e, model_response: await respond(model, e, style, maxNewTokens) });
  return out;
}

/** The per-epoch sample: what the model writes for one entry (prompt + response header given). */
export async function sampleResponse(model: GPT, entry: Entry, style: string, maxNewTokens = 50): Promise<string> {
  return respond(model, entry, style, maxNewTokens).then((r) => r || `(empty after ${responseHeader(style).trim()})`);
}
