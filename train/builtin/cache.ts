// The built-in models (the base `wgpt pretrain` makes with no options, the SFT model `wgpt dpo`
// starts from) are trained once into a cache directory: $WGPT_CACHE, else ~/.cache/wgpt. Each is
// written through the atomic-dir helper, so a run stopped at any point (Ctrl-C, SIGKILL, a full
// disk) leaves the previous copy or none, never a half-trained one under the name; leftovers are
// cleaned up on the next call. A copy made by another recipe (an older wgpt) is made again.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { wgptCacheDir } from '../../engine/cache-dir.ts';
import { replaceDirAtomically } from '../run/atomic-dir.ts';

export function cacheDir(name: string): string {
  return path.join(wgptCacheDir(), name);
}

/** Beside each cached model: the JSON of the recipe that made it. */
export const RECIPE_FILE = 'recipe.json';

/** The cached model directory `name`, made by `make(dir)` first when absent or made by another
 *  recipe (any JSON value that describes how it is made). */
export async function cachedModel(name: string, recipe: unknown, make: (dir: string) => Promise<void>): Promise<string> {
  const dir = cacheDir(name);
  const want = JSON.stringify(recipe);
  const have = (): boolean => existsSync(path.join(dir, 'model.safetensors')) && existsSync(path.join(dir, RECIPE_FILE)) &&
    readFileSync(path.join(dir, RECIPE_FILE), 'utf8') === want;
  if (have()) return dir;
  await replaceDirAtomically(dir, async (tmp) => {
    await make(tmp);
    // The model, its metrics and samples stay; the run's checkpoint (optimizer state) would only take room.
    for (const f of readdirSync(tmp)) if (f.startsWith('checkpoint')) rmSync(path.join(tmp, f), { recursive: true, force: true });
    writeFileSync(path.join(tmp, RECIPE_FILE), want);
  });
  return dir;
}
