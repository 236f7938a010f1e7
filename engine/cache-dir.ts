// Where wgpt keeps what it fetches or measures once per machine (models, data, the built-in SFT
// model, kernel tuning): $WGPT_CACHE, else ~/.cache/wgpt in Node; a storage prefix in a browser.
import { platform } from '#platform';
import { setting } from './settings.ts';

export function wgptCacheDir(): string {
  return setting('WGPT_CACHE') || platform.cacheDir();
}
