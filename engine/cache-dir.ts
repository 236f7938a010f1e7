// Where wgpt keeps what it fetches or measures once per machine (models, data, the built-in SFT
// model, kernel tuning): $WGPT_CACHE, else ~/.cache/wgpt.
import os from 'node:os';
import path from 'node:path';
import { setting } from './settings.ts';

export function wgptCacheDir(): string {
  return setting('WGPT_CACHE') || path.join(os.homedir(), '.cache', 'wgpt');
}
