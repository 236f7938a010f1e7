// Next-token training data as nanoGPT lays it out: documents tokenized with the GPT-2 BPE and
// joined with <|endoftext|> into one stream, cut into blocks of block-size inputs whose targets
// are the same tokens shifted by one (so consecutive blocks share one token). Every target
// counts: the end-of-text tokens between documents are text the model must learn to predict,
// which is why this does not go through collate() (it ignores every <|endoftext|> target but one).
import { WgptError } from '../../engine/errors.ts';
import type { GPT } from '../../model/gpt.ts';
import { encode, END_OF_TEXT } from '../../model/tokenizer.ts';
import { meanLoss } from '../eval/loss.ts';
import type { Batch } from '../run/step.ts';

export interface TokenSplits {
  train: Int32Array;
  val: Int32Array;
  /** How the validation split was taken, for the log. */
  valRule: string;
}

/** One stream of documents, each followed by <|endoftext|> (special tokens inside the text are
 *  encoded as plain text). */
export function tokenStream(documents: readonly string[]): Int32Array {
  const ids: number[] = [];
  for (const d of documents) {
    for (const id of encode(d, false)) ids.push(id);
    ids.push(END_OF_TEXT);
  }
  return Int32Array.from(ids);
}

/** The validation split: every tenth document where there are ten or more (so it samples every
 *  part of a corpus laid out by genre, as Brown is), else the last 10% of the tokens (nanoGPT's
 *  split of one text file). `valDocuments` gives a separate validation text instead. */
export function splitTokens(documents: readonly string[], blockSize: number, valDocuments?: readonly string[]): TokenSplits {
  let split: TokenSplits;
  if (valDocuments) split = { train: tokenStream(documents), val: tokenStream(valDocuments), valRule: 'a separate text' };
  else if (documents.length >= 10) {
    split = {
      train: tokenStream(documents.filter((_, i) => i % 10 !== 9)),
      val: tokenStream(documents.filter((_, i) => i % 10 === 9)),
      valRule: `every tenth of ${documents.length} documents`,
    };
  } else {
    const all = tokenStream(documents);
    const cut = Math.floor(all.length * 0.9);
    split = { train: all.subarray(0, cut), val: all.subarray(cut), valRule: 'the last 10% of the tokens' };
  }
  for (const [name, s] of [['train', split.train], ['validation', split.val]] as const) {
    if (blockCount(s, blockSize) === 0) {
      throw new WgptError(`the ${name} split has ${s.length} tokens, too few for one block of ${blockSize} (+1 target): ` +
        `give more text or a smaller --block-size`);
    }
  }
  return split;
}

/** Whole blocks in a stream: block i is inputs stream[i·B .. i·B+B), targets one further. */
export function blockCount(stream: Int32Array, blockSize: number): number {
  return Math.max(0, Math.floor((stream.length - 1) / blockSize));
}

/** The batch of blocks `indices` (every target counted). */
export function blockBatch(stream: Int32Array, indices: readonly number[], blockSize: number): Batch {
  const inputs = new Int32Array(indices.length * blockSize);
  const targets = new Int32Array(indices.length * blockSize);
  indices.forEach((b, r) => {
    inputs.set(stream.subarray(b * blockSize, (b + 1) * blockSize), r * blockSize);
    targets.set(stream.subarray(b * blockSize + 1, (b + 1) * blockSize + 1), r * blockSize);
  });
  return { inputs, targets, batch: indices.length, seqLen: blockSize, lossDenominator: indices.length * blockSize, padTargets: 0 };
}

/** The output vocabulary of `--output-vocab data`: every token of the text's splits, <|endoftext|>
 *  and `extra`, sorted. */
export function textVocab(splits: TokenSplits, extra: readonly number[] = []): number[] {
  return [...new Set([...splits.train, ...splits.val, END_OF_TEXT, ...extra])].sort((a, b) => a - b);
}

/** Mean loss over `batches` fixed batches spread evenly over a stream's blocks. */
export function streamLoss(model: GPT, stream: Int32Array, o: { blockSize: number; batchSize: number },
  batches: number): Promise<number> {
  const n = blockCount(stream, o.blockSize);
  const count = Math.min(n, batches * o.batchSize);
  const indices = Array.from({ length: count }, (_, i) => Math.floor((i * n) / count));
  return meanLoss(model, Math.ceil(count / o.batchSize),
    (b) => blockBatch(stream, indices.slice(b * o.batchSize, (b + 1) * o.batchSize), o.blockSize));
}
