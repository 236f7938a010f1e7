// The batch `wgpt grads --examples 0-(N-1)` collates, as ../shared/gpu/hf_check.py reads it: one
// {ids, prompt_len} per entry of an Alpaca-style JSON file, tokenized as training does (alpaca style).
//   node --import tsx scripts/gpu-toks.ts DATA.json N > toks.json       (scripts/gpu-suite.sh)
import { readFileSync } from 'node:fs';
import { encodeEntry } from '../train/data/encode.ts';

const [file, count] = process.argv.slice(2);
const entries = JSON.parse(readFileSync(file, 'utf8')).slice(0, Number(count));
console.log(JSON.stringify(entries.map((e: Parameters<typeof encodeEntry>[0]) => {
  const enc = encodeEntry(e, 'alpaca');
  return { ids: enc.ids, prompt_len: enc.promptLength };
})));
