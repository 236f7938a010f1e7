// The built-in SFT model: the model `wgpt dpo` with no arguments starts from. It is `wgpt train`'s
// default finetuning of the built-in base model, trained once into the cache ($WGPT_CACHE/builtin-sft)
// when absent, the base first when that is absent too.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { train } from '../sft/trainer.ts';
import { ensureBuiltinBase } from './base.ts';
import { cachedModel, RECIPE_FILE } from './cache.ts';
import { defaultTrainOptions } from './recipes.ts';

/** The built-in SFT model's directory ($WGPT_CACHE/builtin-sft): `wgpt train`'s default finetuning
 *  of the built-in base model (both made first when the cache has none of this recipe). */
export async function ensureBuiltinSft(log: (line: string) => void = console.error): Promise<string> {
  const base = await ensureBuiltinBase(log);
  // The default run exactly, minus its before/after answers (they change no weight).
  const opts = { ...defaultTrainOptions('', base), scoreBefore: false, maxNewTokens: 0, testLimit: 0 };
  // The base's own recipe is part of this one: a new base makes a new SFT model.
  const baseRecipe: unknown = JSON.parse(readFileSync(path.join(base, RECIPE_FILE), 'utf8'));
  return cachedModel('builtin-sft', { ...opts, out: null, model: baseRecipe }, async (dir) => {
    log('no built-in SFT model in the cache: training it first with wgpt train\'s default finetuning of the built-in base model');
    const r = await train({ ...opts, out: dir });
    if (r.interrupted) throw new WgptError('interrupted while training the built-in SFT model; run wgpt dpo again to start it over');
    log(`built-in SFT model trained (final val loss ${r.metrics.at(-1)?.val_loss.toFixed(3)})`);
  });
}
