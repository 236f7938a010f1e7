// The built-in base model: `tiny` pretrained on biographies of the fact world (train/data/facts.ts), each
// fact stated in several phrasings and orders, made once into the cache ($WGPT_CACHE/builtin-base)
// by `wgpt pretrain` with no options or by the first `wgpt train` default run that needs it.
import { WgptError } from '../../engine/errors.ts';
import { cachedModel } from './cache.ts';
import { encodeEntry } from '../data/encode.ts';
import { biographies, factPools, factWorld, statementPrompt } from '../data/facts.ts';
import { BUILTIN_PRETRAIN } from './recipes.ts';
import { STYLES } from '../data/prompts.ts';
import { pretrain, type PretrainText } from '../pretrain/trainer.ts';

/** How many biographies of each person the text holds (each a fresh draw of phrasings and order). */
const BUILTIN_RENDERINGS = 40;

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

/** The built-in base model's directory, pretrained first when the cache has none of this recipe. */
export async function ensureBuiltinBase(log: (line: string) => void = console.error): Promise<string> {
  // Sampled before and after: two held-out people's statements, to see the facts arrive.
  const prompts = factWorld().filter((p) => p.heldOut).slice(0, 2).map((p) => statementPrompt({ instruction: p.name, task: 'birth-city' }));
  const options = { ...BUILTIN_PRETRAIN, prompts };
  // The facts are part of the recipe: a base pretrained on another world is made again.
  const facts = factWorld().map((p) => [p.name, ...Object.values(p.facts)]);
  return cachedModel('builtin-base', { ...options, renderings: BUILTIN_RENDERINGS, facts,
    validation: 'held-out statements' }, async (dir) => {
    log(`no built-in base model in the cache: pretraining it on the built-in biographies first ` +
      `(${BUILTIN_PRETRAIN.maxSteps} steps, about five minutes on 2 CPU cores)`);
    const r = await pretrain({ ...options, out: dir }, builtinText);
    if (r.interrupted) throw new WgptError('interrupted while pretraining the built-in base model; run the command again to start it over');
    log(`built-in base model pretrained (val loss ${r.metrics.at(-1)?.val_loss.toFixed(3)})`);
  });
}
