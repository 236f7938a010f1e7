// Collating encoded entries into (inputs, targets) batches, exactly as chapter 7's
// `custom_collate_fn` does, under a loss mask (loss-masks.ts) and a prompt-loss weight: every
// masking decision lives here, so the training loop and the GPU loss never special-case a strategy.
import { IGNORE_INDEX } from '../../engine/index.ts';
import { END_OF_TEXT } from '../../model/tokenizer.ts';
import type { Batch } from '../run/step.ts';
import type { EncodedEntry } from './encode.ts';
import { getLossMask } from './loss-masks.ts';

// train/ reads the engine's ignore_index through here, beside the masks that set it.
export { IGNORE_INDEX };
/** The chapter's allowed_max_length: a row longer than this is cut (or the model's context, if shorter). */
export const DEFAULT_ALLOWED_MAX_LENGTH = 1024;
/** The length rows are cut to for a model of this context: the chapter's 1024, or the context if shorter. */
export const allowedMaxLengthFor = (contextLength: number): number => Math.min(DEFAULT_ALLOWED_MAX_LENGTH, contextLength);

export interface CollateOptions {
  mask?: string;
  /** Truncate inputs/targets to this many positions, after padding and pad masking. null = never. */
  allowedMaxLength?: number | null;
  padTokenId?: number;
  /** Pad every row to at least this many positions (studies of how padding affects the loss). */
  padToLength?: number;
  /** The prompt-loss weight W in [0, 1] (mask none only): the prompt's targets (those the prompt
   *  mask ignores) count with weight W, every other counted target with 1; null/absent: no weights.
   *  W = 0 gives the prompt mask's loss and gradients, W = 1 the unmasked ones, bit for bit. */
  promptLossWeight?: number | null;
}

type Item = readonly number[] | EncodedEntry;
const idsOf = (item: Item): readonly number[] => (Array.isArray(item) ? item : (item as EncodedEntry).ids);

export function collate(items: readonly Item[], options: CollateOptions = {}): Batch {
  if (items.length === 0) throw new Error('collate: empty batch');
  const mask = getLossMask(options.mask ?? 'none');
  // Checked where it enters (the trainer's options); W = null: no weights.
  const promptLossWeight = options.promptLossWeight ?? null;
  const pad = options.padTokenId ?? END_OF_TEXT;
  const allowed = options.allowedMaxLength === undefined ? DEFAULT_ALLOWED_MAX_LENGTH : options.allowedMaxLength;
  // Longest item + 1 (its own end token); inputs/targets are one shorter than the padded row.
  const paddedLen = Math.max(...items.map((it) => idsOf(it).length + 1), (options.padToLength ?? 0) + 1);
  const fullLen = paddedLen - 1;
  const seqLen = allowed === null ? fullLen : Math.min(fullLen, allowed);
  if (seqLen < 1) throw new Error('collate: sequences are empty after truncation');
  const batch = items.length;
  const inputs = new Int32Array(batch * seqLen);
  const targets = new Int32Array(batch * seqLen);
  const weights = promptLossWeight === null ? undefined : new Float32Array(batch * seqLen).fill(1);
  // Summed in f64 from the f32 weights the kernel multiplies by (W = 0.1 is 0.100000001 there).
  const w32 = promptLossWeight === null ? 1 : Math.fround(promptLossWeight);
  let weightSum = 0;
  let padTargets = 0;
  let counted = 0;

  items.forEach((item, b) => {
    const ids = idsOf(item);
    const padded = new Array<number>(paddedLen).fill(pad);
    for (let i = 0; i < ids.length; i++) padded[i] = ids[i];
    const inRow = padded.slice(0, -1);
    const tgRow = padded.slice(1);
    // Keep the first pad-valued target (the end token the model must learn) and ignore the rest.
    // Like the chapter, "first" is the first pad id anywhere in the targets.
    let seen = false;
    const isPad = new Array<boolean>(fullLen).fill(false);
    for (let t = 0; t < fullLen; t++) {
      if (tgRow[t] !== pad) continue;
      if (seen) {
        tgRow[t] = IGNORE_INDEX;
        isPad[t] = true;
      }
      seen = true;
    }
    // Targets 0..P-2 predict the prompt's tokens 1..P-1: the prompt mask's targets, W's here.
    const promptTargets = mask.maskPrompt || weights
      ? promptTargetCount(item, mask.maskPrompt ? 'prompt masking needs' : 'the prompt-loss weight needs')
      : 0;
    if (mask.maskPrompt) {
      // Target P-1 is the first header token: it stays.
      for (let t = 0; t < Math.min(promptTargets, fullLen); t++) {
        tgRow[t] = IGNORE_INDEX;
        isPad[t] = false;
      }
    }
    for (let t = 0; t < seqLen; t++) {
      inputs[b * seqLen + t] = inRow[t];
      targets[b * seqLen + t] = tgRow[t];
      if (weights && t < promptTargets) weights[b * seqLen + t] = w32;
      if (tgRow[t] !== IGNORE_INDEX) {
        counted++;
        weightSum += t < promptTargets && weights ? w32 : 1;
      } else if (isPad[t]) padTargets++;
    }
  });
  const lossDenominator = weights ? weightSum : counted + (mask.countPadsInMean ? padTargets : 0);
  return { inputs, targets, batch, seqLen, lossDenominator, padTargets, ...(weights ? { weights } : {}) };
}

/** How many leading targets of an item predict its prompt (P - 1). */
function promptTargetCount(item: Item, what: string): number {
  if (Array.isArray(item)) throw new Error(`collate: ${what} encodeEntry() items (with promptLength)`);
  return Math.max(0, (item as EncodedEntry).promptLength - 1);
}

export const REGIONS = ['prompt', 'header', 'response', 'end', 'pad'] as const;
export type Region = (typeof REGIONS)[number];

/** Which part of the training text each target position predicts (row-major, batch × seqLen), using
 *  the same padding and truncation as collate(). Target t predicts token t+1 of the padded row. */
export function targetRegions(items: readonly EncodedEntry[], allowedMaxLength: number | null = DEFAULT_ALLOWED_MAX_LENGTH): Region[] {
  if (items.length === 0) throw new Error('targetRegions: empty batch');
  const fullLen = Math.max(...items.map((it) => it.ids.length));
  const seqLen = allowedMaxLength === null ? fullLen : Math.min(fullLen, allowedMaxLength);
  const out: Region[] = [];
  for (const { ids, promptLength: P, headerLength: H } of items) {
    for (let t = 0; t < seqLen; t++) {
      const j = t + 1;
      out.push(j < P ? 'prompt' : j < P + H ? 'header' : j < ids.length ? 'response' : j === ids.length ? 'end' : 'pad');
    }
  }
  return out;
}
