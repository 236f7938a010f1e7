// `wgpt bench generate`: greedy generation tokens/s with and without the KV cache, for random
// weights of the gpt2 (124M) and tiny shapes: an 8-token prompt, 16 new tokens (no early stop).
import type { Device } from '../engine/index.ts';
import { randomGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';
import { generate } from '../model/generate.ts';
import { logRow, timeRuns, type BenchRow } from './common.ts';

const PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262, 16931];
const NEW_TOKENS = 16;

export async function generateSuite(device: Device, quick: boolean): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const name of ['tiny', 'gpt2']) {
    const model = randomGPT(getConfig(name), 1);
    const runs = name === 'gpt2' ? (quick ? 2 : 3) : 5;
    const measured: Record<string, number> = {};
    try {
      for (const cache of [true, false]) {
        // Warm-up: compiles the prompt and the one-token paths.
        await generate(model, PROMPT, { maxNewTokens: 2, cache, stopToken: null });
        let out: number[] = [];
        const t = await timeRuns(async () => {
          out = await generate(model, PROMPT, { maxNewTokens: NEW_TOKENS, cache, stopToken: null });
        }, runs, 0);
        const row: BenchRow = {
          name: `generate/${name}`, impl: 'wgpt', variant: `${cache ? 'KV cache' : 'no cache'}, ${PROMPT.length}+${NEW_TOKENS} tokens`,
          ...t, tokens_per_s: out.length / (t.ms / 1000), note: `${(t.ms / out.length).toFixed(1)} ms/token`,
        };
        measured[cache ? 'cache' : 'none'] = t.ms;
        rows.push(row);
        logRow(row);
      }
      const cached = rows[rows.length - 2];
      cached.ratio = measured.none / measured.cache;
      cached.ratio_baseline = `generate/${name} without the KV cache`;
    } finally {
      model.dispose();
      device.releasePooled();
    }
  }
  return rows;
}
