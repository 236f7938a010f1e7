// Tokenizing instruction entries for training: prompt and response encoded as chapter 7 does, the
// prompt's and the response header's lengths kept (the loss masks need them), whole splits checked
// against the model's context, and the output vocabulary of a data set.
import { WgptError } from '../../engine/errors.ts';
import { encode, END_OF_TEXT } from '../../model/tokenizer.ts';
import type { Entry } from './entries.ts';
import { formatPrompt, formatResponse, responseHeader } from './prompts.ts';

export interface EncodedEntry {
  /** Tokens of prompt + response header + output (no end token: collate appends it). */
  ids: number[];
  /** P: token count of formatPrompt(entry) encoded alone. */
  promptLength: number;
  /** Tokens the response header adds: encode(prompt + header).length - P. */
  headerLength: number;
}

/** Data text is encoded with special tokens disabled (as tiktoken refuses them by default in the
 *  chapter): a literal "<|endoftext|>" inside an entry must not become a real end token. */
function encodeText(text: string): number[] {
  return encode(text, false);
}

export function encodeEntry(entry: Entry, style: string): EncodedEntry {
  const prompt = formatPrompt(entry, style);
  const promptLength = encodeText(prompt).length;
  const withHeader = encodeText(prompt + responseHeader(style)).length;
  return { ids: encodeText(prompt + formatResponse(entry, style)), promptLength, headerLength: withHeader - promptLength };
}

/** The sorted token ids of every entry's training text plus <|endoftext|>: the output vocabulary
 *  of `--output-vocab data`. A from-scratch model then learns in a softmax of a few hundred
 *  tokens instead of 50257: every unused token no longer pulls the shared head (Adam moves even
 *  a tiny gradient by ~lr), and the LM head's work shrinks by the same factor. */
export function outputVocabOf(entries: readonly Entry[], style: string): number[] {
  const ids = new Set<number>([END_OF_TEXT]);
  for (const e of entries) for (const id of encodeEntry(e, style).ids) ids.add(id);
  return [...ids].sort((a, b) => a - b);
}

/** Encodes every entry of a split (`encode`: encodeEntry, or a preference pair's encodePair),
 *  refusing one whose prompt alone fills the model's context: it would have no target to learn. */
export function encodeSplit<E, R extends { promptLength: number }>(entries: readonly E[], encode: (e: E) => R, contextLength: number,
  split: string): R[] {
  return entries.map((e, i) => {
    const enc = encode(e);
    if (enc.promptLength >= contextLength) {
      throw new WgptError(
        `${split} entry ${i}: its prompt is ${enc.promptLength} tokens, longer than the model's context of ${contextLength}; ` +
          'shorten it or use a model with a longer context');
    }
    return enc;
  });
}
