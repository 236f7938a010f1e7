// The entries a --data value names, for every command that reads instruction data: a JSON file
// (Alpaca-style), ch07 (the chapter's data, fetched), facts (questions about the built-in fact
// world) or none (the built-in synthetic tasks).
import { loadCh07 } from './datasets.ts';
import { loadInstructionData } from './entries-file.ts';
import type { Entry } from './entries.ts';
import { generateFactData } from './facts.ts';
import { generateSyntheticData } from './synthetic.ts';

export async function loadEntries(data: string | null, seed: number, syntheticCount: number): Promise<Entry[]> {
  if (data === null) return generateSyntheticData({ seed, count: syntheticCount });
  if (data === 'ch07') return loadCh07();
  if (data === 'facts') return generateFactData({ seed, count: syntheticCount });
  return loadInstructionData(data);
}
