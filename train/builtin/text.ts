// The built-in base model's text and pretraining options, with no files: the CLI (base.ts) and the
// browser page (web/tab-run.ts) pretrain the same base on them.
import { encodeEntry } from '../data/encode.ts';
import { biographies, factPools, factWorld, statementPrompt } from '../data/facts.ts';
import { STYLES } from '../data/prompts.ts';
import type { PretrainOptions, PretrainText } from '../pretrain/trainer.ts';
import { BUILTIN_PRETRAIN } from './recipes.ts';

/** How many biographies of each person the text holds (each a fresh draw of phrasings and order). */
export const BUILTIN_RENDERINGS = 40;

/** The built-in pretraining text: biographies only, never a question. The validation text is
 *  biographies of the same people written in each relation's validation statement, a wording the
 *  training text never uses, so no validation sentence is one the model read.
 *  The output vocabulary also holds the tokens of every fact question in every prompt style, so
 *  that instruction finetuning of this base can predict its response header. */
export function builtinText(): PretrainText {
  const pools = factPools();
  const extra = new Set<number>();
  for (const e of [...pools.train.flat(), ...pools.heldOut.flat()]) for (const style of STYLES)
    for (const id of encodeEntry(e, style).ids) extra.add(id);
  return {
    source: 'built-in biographies',
    documents: biographies(BUILTIN_RENDERINGS, 1),
    valDocuments: biographies(2, 2, factWorld(), true),
    extraVocab: [...extra],
  };
}

/** The base's pretraining options: the recipe, sampled before and after on two held-out people's
 *  statements, to see the facts arrive. */
export function builtinPretrainOptions(): PretrainOptions {
  const prompts = factWorld().filter((p) => p.heldOut).slice(0, 2).map((p) => statementPrompt({ instruction: p.name, task: 'birth-city' }));
  return { ...BUILTIN_PRETRAIN, prompts };
}
