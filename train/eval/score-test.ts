// The test split answered and scored, before and after training, its answers written to
// test-responses.json: what train and dpo report (responses.ts stays free of files for the browser).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { GPT } from '../../model/gpt.ts';
import type { Entry } from '../data/entries.ts';
import { generateResponses } from './responses.ts';
import { scoreResponses, type ScoreReport } from './score.ts';

/** Greedy answers to test entries, scored: what train and dpo report before and after training;
 *  with `out`, the answers are written to test-responses.json there (after training). */
export async function scoreTest(model: GPT, entries: readonly Entry[], o: { style: string; maxNewTokens: number; genBatch?: number },
  label: string, out?: string): Promise<ScoreReport> {
  const responses = await generateResponses(model, entries, o.style, o.maxNewTokens, { batchSize: o.genBatch, label });
  if (out !== undefined) writeFileSync(path.join(out, 'test-responses.json'), JSON.stringify(responses, null, 2));
  return scoreResponses(responses);
}

