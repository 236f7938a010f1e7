// The built-in base model: `tiny` pretrained on biographies of the fact world (train/data/facts.ts), each
// fact stated in several phrasings and orders, made once into the cache ($WGPT_CACHE/builtin-base)
// by `wgpt pretrain` with no options or by the first `wgpt train` default run that needs it.
import { WgptError } from '../../engine/errors.ts';
import { cachedModel } from './cache.ts';
import { factWorld } from '../data/facts.ts';
import { BUILTIN_PRETRAIN } from './recipes.ts';
import { pretrain } from '../pretrain/trainer.ts';
import { BUILTIN_RENDERINGS, builtinText, builtinPretrainOptions } from './text.ts';

export { builtinText };

/** The built-in base model's directory, pretrained first when the cache has none of this recipe. */
export async function ensureBuiltinBase(log: (line: string) => void = console.error): Promise<string> {
  const options = builtinPretrainOptions();
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
