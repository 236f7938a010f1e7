// `--data ch07`: downloads the chapter 7 instruction data (1100 entries) on demand into a cache.
// The project does not ship that file; the sha256 pins the exact bytes so a changed or corrupted
// download is refused instead of silently training on other data.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadInstructionData, type Entry } from './data.ts';

export const CH07_URL =
  'https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch07/01_main-chapter-code/instruction-data.json';
export const CH07_SHA256 = '7e09a9af353722ca15c18bc580f093f9c39d3178335a75177319cb1e1d163944';
export const CH07_FILENAME = 'instruction-data.json';

export interface FetchCh07Options {
  /** Where the file is cached. Default: $WGPT_CACHE/data, else ~/.cache/wgpt/data. */
  cacheDir?: string;
  /** Source URL. Default: $WGPT_CH07_URL, else CH07_URL (tests point it at a local server). */
  url?: string;
}

/** WGPT_CACHE names the wgpt cache root (shared with other cached things); data lives in data/. */
export function defaultDataCacheDir(): string {
  const root = process.env.WGPT_CACHE || join(homedir(), '.cache', 'wgpt');
  return join(root, 'data');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Returns the path of the verified cached file, downloading it first if needed. A cached file
 *  with the wrong hash (e.g. truncated by a crash) is downloaded again. */
export async function fetchCh07(options: FetchCh07Options = {}): Promise<string> {
  const dir = options.cacheDir ?? defaultDataCacheDir();
  const url = options.url ?? (process.env.WGPT_CH07_URL || CH07_URL);
  const dest = join(dir, CH07_FILENAME);
  if (existsSync(dest) && sha256(readFileSync(dest)) === CH07_SHA256) return dest;

  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new Error(`cannot download the chapter 7 data from ${url}: ${cause}`);
  }
  if (!res.ok) throw new Error(`cannot download the chapter 7 data from ${url}: HTTP ${res.status} ${res.statusText}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const got = sha256(bytes);
  if (got !== CH07_SHA256) {
    throw new Error(
      `sha256 mismatch for the chapter 7 data from ${url}: expected ${CH07_SHA256}, got ${got} (${bytes.length} bytes); nothing was saved`,
    );
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

/** Fetches (if needed) and loads the chapter 7 entries. */
export async function loadCh07(options: FetchCh07Options = {}): Promise<Entry[]> {
  return loadInstructionData(await fetchCh07(options));
}
