// config.json as a file (Node): model/hf-names.ts holds the format itself, so a browser build
// reads and writes the same JSON without node:fs.
import { promises as fsp } from 'node:fs';
import type { GPTConfig } from './config.ts';
import { parseHFConfig, toHFConfig, type HFGPT2Config } from './hf-names.ts';

export async function readHFConfig(file: string): Promise<HFGPT2Config> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseHFConfig(text, file);
}

/** Writes config.json atomically (temp file + rename). */
export async function writeHFConfig(file: string, cfg: GPTConfig): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await fsp.writeFile(tmp, JSON.stringify(toHFConfig(cfg), null, 2) + '\n');
  await fsp.rename(tmp, file);
}
