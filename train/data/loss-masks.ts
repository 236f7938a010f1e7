// The loss masks (which targets the loss counts, and how its mean is taken; collate.ts applies
// them) and the check of a prompt-loss weight beside one.
import { WgptError } from '../../engine/errors.ts';

/** A loss-mask strategy. The GPU loss needs only the targets (with IGNORE_INDEX), the weights and
 *  the denominator collate() returns: loss = Σ CE(target ≠ -100) / lossDenominator, or with a
 *  prompt-loss weight Σ w·CE / Σ w (Batch.weights). */
export interface LossMask {
  description: string;
  /** Also set targets[0 .. P-2] to IGNORE_INDEX (the prompt predicts nothing). */
  maskPrompt: boolean;
  /** Count the ignored padding positions in the mean's denominator (they add 0 to the sum). */
  countPadsInMean: boolean;
}

export const LOSS_MASKS = {
  none: {
    description: 'chapter 7 default: every target except the extra pads (all but the first end token)',
    maskPrompt: false,
    countPadsInMean: false,
  },
  prompt: {
    description: 'exercise 7.2: also ignore targets inside the prompt; header, output and end token stay',
    maskPrompt: true,
    countPadsInMean: false,
  },
  'pad-in-mean': {
    description: 'same targets as none, but ignored pads count in the denominator (mean over all non-prompt slots), ' +
      'diluting the loss of short items',
    maskPrompt: false,
    countPadsInMean: true,
  },
} as const satisfies Record<string, LossMask>;

export type LossMaskName = keyof typeof LOSS_MASKS;
export const LOSS_MASK_NAMES = Object.keys(LOSS_MASKS) as LossMaskName[];

export function getLossMask(name: string): LossMask {
  if (!Object.hasOwn(LOSS_MASKS, name)) {
    throw new Error(`unknown loss mask "${name}": expected one of ${LOSS_MASK_NAMES.join(', ')}`);
  }
  return LOSS_MASKS[name as LossMaskName];
}

/** Refuses a prompt-loss weight outside [0, 1] or beside a mask other than none: --mask prompt is
 *  W = 0 already, and pad-in-mean's denominator has no meaning for a weighted mean. */
export function checkPromptLossWeight(w: number, mask: string): void {
  if (typeof w !== 'number' || !Number.isFinite(w) || w < 0 || w > 1) {
    throw new WgptError(`--prompt-loss-weight must be a number from 0 to 1 (0: the prompt mask, 1: no mask), got ${w}`);
  }
  if (mask !== 'none') {
    throw new WgptError(`--prompt-loss-weight weighs the prompt within the unmasked loss: give it with --mask none, ` +
      `not --mask ${mask} (--mask prompt is --prompt-loss-weight 0)`);
  }
}
