// Tokenizing and batching preference pairs as the DPO notebook does (its PreferenceDataset and
// custom_collate_fn), in the shape one forward wants: chosen rows then rejected rows, padded with
// <|endoftext|> to one common length, inputs and targets shifted by one, and the targets a
// sequence's log-probability averages over (the selection) kept, every other target -100.
//
// Semantics: the text is prompt + response header + answer (formatResponse with the answer as
// output), no end token; the common padded length is the batch's max of len + 1, truncated to
// allowedMaxLength; target t predicts token t + 1. Selected: with mask 'prompt' the targets that
// predict tokens at index >= promptLength (response header and answer), with 'answer' the answer's
// tokens alone (the header, the same in both, left out: with mean log-probs of answers of different
// lengths it would otherwise be pushed up or down), with 'none' every real token after the first;
// never padding. The one deliberate difference from the notebook: it masks
// the first promptLength + 2 tokens (mask[:prompt_len + 2]); we mask exactly the prompt, as
// `wgpt train --mask prompt` does, so the response header is scored in both.
import { WgptError } from '../../engine/errors.ts';
import { encode, END_OF_TEXT } from '../../model/tokenizer.ts';
import { IGNORE_INDEX } from '../data/collate.ts';
import { formatPrompt, formatResponse, responseHeader } from '../data/prompts.ts';
import type { PreferenceEntry } from './data.ts';

export const DPO_MASKS = ['prompt', 'answer', 'none'] as const;

export function checkDpoMask(mask: string): void {
  if (!(DPO_MASKS as readonly string[]).includes(mask)) throw new WgptError(`unknown --mask "${mask}" for dpo: use prompt, answer or none`);
}

export interface EncodedPair {
  chosen: number[];
  rejected: number[];
  /** Tokens of formatPrompt(entry) encoded alone. */
  promptLength: number;
  /** Tokens the response header adds after the prompt (masked too with --mask answer). */
  headerLength: number;
}

export function encodePair(entry: PreferenceEntry, style: string): EncodedPair {
  const prompt = formatPrompt(entry, style);
  const text = (answer: string): number[] => encode(prompt + formatResponse({ ...entry, output: answer }, style), false);
  const promptLength = encode(prompt, false).length;
  const headerLength = encode(prompt + responseHeader(style), false).length - promptLength;
  return { chosen: text(entry.chosen), rejected: text(entry.rejected), promptLength, headerLength };
}

export interface DpoBatch {
  /** Pairs in the batch (B); the batch holds 2B rows: chosen 0..B-1, rejected B..2B-1. */
  pairs: number;
  seqLen: number;
  /** 2B x seqLen, row-major. */
  inputs: Int32Array;
  /** 2B x seqLen: the next token where selected, IGNORE_INDEX elsewhere. */
  targets: Int32Array;
  /** Selected targets per row (2B). */
  counts: number[];
  /** Token count of all rows (padding included), for tokens_seen. */
  tokens: number;
}

export function collatePairs(items: readonly EncodedPair[],
  opts: { mask: string; allowedMaxLength: number; padTokenId?: number }): DpoBatch {
  if (items.length === 0) throw new WgptError('collatePairs: empty batch');
  checkDpoMask(opts.mask);
  const pad = opts.padTokenId ?? END_OF_TEXT;
  const skip = (p: EncodedPair): number => (opts.mask === 'prompt' ? p.promptLength
    : opts.mask === 'answer' ? p.promptLength + p.headerLength : 1);
  const rows = [...items.map((p) => ({ ids: p.chosen, first: skip(p) })), ...items.map((p) => ({ ids: p.rejected, first: skip(p) }))];
  const padded = Math.min(Math.max(...rows.map((r) => r.ids.length + 1)), opts.allowedMaxLength);
  const seqLen = padded - 1;
  if (seqLen < 1) throw new WgptError('collatePairs: sequences are empty after truncation');
  const inputs = new Int32Array(rows.length * seqLen).fill(pad);
  const targets = new Int32Array(rows.length * seqLen).fill(IGNORE_INDEX);
  const counts = rows.map(({ ids, first }, r) => {
    let n = 0;
    for (let t = 0; t < seqLen; t++) {
      if (t < ids.length) inputs[r * seqLen + t] = ids[t];
      const j = t + 1;
      if (j >= first && j < ids.length) {
        targets[r * seqLen + t] = ids[j];
        n++;
      }
    }
    return n;
  });
  return { pairs: items.length, seqLen, inputs, targets, counts, tokens: rows.length * seqLen };
}
