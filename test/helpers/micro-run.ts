// The fixture of the tests that run training end to end (train, checkpoint-crash, sweep): a saved
// one-layer micro GPT-2 and 40 entries of the built-in tasks, in a fresh temp folder.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomGPT, saveGPT } from '../../model/build.ts';
import { getConfig } from '../../model/config.ts';
import { generateSyntheticData } from '../../train/data/synthetic.ts';

export interface MicroRun {
  /** The temp folder holding both. */
  dir: string;
  modelDir: string;
  dataFile: string;
}

/** Needs the GPU device open (the model is made on it). */
export async function microRun(prefix: string): Promise<MicroRun> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const modelDir = path.join(dir, 'micro');
  const micro = randomGPT(getConfig('tiny', { dModel: 32, nLayers: 1, nHeads: 2, contextLength: 96 }), 7);
  await saveGPT(micro, modelDir);
  micro.dispose();
  const dataFile = path.join(dir, 'data.json');
  writeFileSync(dataFile, JSON.stringify(generateSyntheticData({ seed: 5, count: 40 })));
  return { dir, modelDir, dataFile };
}
