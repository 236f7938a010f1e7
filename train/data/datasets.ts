// `--data ch07` and `--data ch07-dpo`: downloads the chapter 7 data sets on demand into a cache.
// The project does not ship those files; each one's sha256 pins its exact bytes so a changed or
// corrupted download is refused instead of silently training on other data. One table, one fetch:
// a new data set is one row.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { wgptCacheDir } from '../../engine/cache-dir.ts';
import { WgptError } from '../../engine/errors.ts';
import { setting } from '../../engine/settings.ts';
import { loadInstructionData } from './entries-file.ts';
import type { Entry } from './entries.ts';

export interface Dataset {
  /** What error messages call it. */
  title: string;
  url: string;
  sha256: string;
  /** The cached file's name under the data cache. */
  filename: string;
  /** An environment variable that overrides the URL (tests point it at a local server). */
  urlEnv: 'WGPT_CH07_URL' | 'WGPT_CH07_DPO_URL';
}

const RASBT = 'https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch07';

export const DATASETS = {
  ch07: {
    title: 'the chapter 7 data', url: `${RASBT}/01_main-chapter-code/instruction-data.json`,
    sha256: '7e09a9af353722ca15c18bc580f093f9c39d3178335a75177319cb1e1d163944', filename: 'instruction-data.json', urlEnv: 'WGPT_CH07_URL',
  },
  // The DPO notebook's preference pairs: the 1100 entries with `chosen` and `rejected` answers.
  'ch07-dpo': {
    title: 'the chapter 7 preference data', url: `${RASBT}/04_preference-tuning-with-dpo/instruction-data-with-preference.json`,
    sha256: '305315abf14f65fa42c01a0877572f832606571c2a7d49f152ac1d758b16756e', filename: 'instruction-data-with-preference.json',
    urlEnv: 'WGPT_CH07_DPO_URL',
  },
} as const satisfies Record<string, Dataset>;

export type DatasetName = keyof typeof DATASETS;

export const CH07_SHA256 = DATASETS.ch07.sha256;

export interface FetchOptions {
  /** Where the file is cached. Default: $WGPT_CACHE/data, else ~/.cache/wgpt/data. */
  cacheDir?: string;
  /** Source URL. Default: the data set's environment override, else its public URL. */
  url?: string;
}
/** The old name, kept for callers of fetchCh07. */
export type FetchCh07Options = FetchOptions;

/** WGPT_CACHE names the wgpt cache root (shared with other cached things); data lives in data/. */
export function defaultDataCacheDir(): string {
  const root = wgptCacheDir();
  return join(root, 'data');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function isDatasetName(name: string): name is DatasetName {
  return Object.hasOwn(DATASETS, name);
}

/** Returns the path of the verified cached file, downloading it first if needed. A cached file
 *  with the wrong hash (e.g. truncated by a crash) is downloaded again. */
export async function fetchDataset(name: DatasetName, options: FetchOptions = {}): Promise<string> {
  const ds: Dataset = DATASETS[name];
  if (!ds) throw new WgptError(`unknown data set "${name}": use one of ${Object.keys(DATASETS).join(', ')}`);
  const dir = options.cacheDir ?? defaultDataCacheDir();
  const url = options.url ?? (setting(ds.urlEnv) || ds.url);
  const dest = join(dir, ds.filename);
  if (existsSync(dest) && sha256(readFileSync(dest)) === ds.sha256) return dest;

  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new WgptError(`cannot download ${ds.title} from ${url}: ${cause}`);
  }
  if (!res.ok) throw new WgptError(`cannot download ${ds.title} from ${url}: HTTP ${res.status} ${res.statusText}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const got = sha256(bytes);
  if (got !== ds.sha256) {
    throw new WgptError(
      `sha256 mismatch for ${ds.title} from ${url}: expected ${ds.sha256}, got ${got} (${bytes.length} bytes); nothing was saved`);
  }
  // Write under a unique temporary name in the same directory, then rename: a reader never sees a
  // half-written file and two concurrent downloads cannot interleave.
  mkdirSync(dir, { recursive: true });
  const tmp = `${dest}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, dest);
  } finally {
    rmSync(tmp, { force: true });
  }
  return dest;
}

export function fetchCh07(options: FetchOptions = {}): Promise<string> {
  return fetchDataset('ch07', options);
}

/** Fetches (if needed) and loads the chapter 7 entries. */
export async function loadCh07(options: FetchOptions = {}): Promise<Entry[]> {
  return loadInstructionData(await fetchCh07(options));
}
