// `wgpt train --seeds N` (the built-in run only): the run once per finetuning seed, each in
// DIR/seed-S, and DIR/summary.json with every column's mean, sd and range over the seeds
// (table.ts). One seed is the built-in run as it always was, in DIR itself. Seeds change the
// finetuning data's draw and order and the control's initialisation, not the base or the questions.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultTrainOptions } from './recipes.ts';
import { builtinRun, SUMMARY_FILE, type BuiltinSummary } from './run.ts';
import { builtinMarkdown, spreadOver, type Spread } from './table.ts';

export interface SeedsSummary {
  seeds: number[];
  /** Each seed's run directory (its own summary.json), relative to this one. */
  runs: string[];
  spread: Record<string, Spread>;
  table: string;
}

export interface SeedsResult {
  summaries: BuiltinSummary[];
  interrupted: boolean;
}

/** The seeds of `n` runs: the default's own first, so one seed is today's run. */
export function builtinSeeds(n: number): number[] {
  const first = defaultTrainOptions('', '').seed;
  return Array.from({ length: n }, (_, i) => first + i);
}

/** Runs the built-in run for each of `n` seeds; a seed whose directory already holds a
 *  summary.json (a finished run) is read, not run again. */
export async function builtinSeedsRun(out: string, n: number, log: (line: string) => void = console.error,
  genBatch?: number): Promise<SeedsResult> {
  if (n === 1) {
    const r = await builtinRun(out, log, genBatch);
    return { summaries: r.summary ? [r.summary] : [], interrupted: r.summary === null };
  }
  const seeds = builtinSeeds(n);
  const runs = seeds.map((s) => `seed-${s}`);
  const summaries: BuiltinSummary[] = [];
  for (const [i, seed] of seeds.entries()) {
    const dir = path.join(out, runs[i]);
    const done = path.join(dir, SUMMARY_FILE);
    if (existsSync(done)) summaries.push(JSON.parse(readFileSync(done, 'utf8')) as BuiltinSummary);
    else {
      log(`\n=== seed ${seed} (${i + 1} of ${n}) ===`);
      const r = await builtinRun(dir, log, genBatch, seed);
      if (!r.summary) return { summaries, interrupted: true };
      summaries.push(r.summary);
    }
  }
  const summary: SeedsSummary = { seeds, runs, spread: spreadOver(summaries), table: builtinMarkdown(summaries) };
  writeFileSync(path.join(out, SUMMARY_FILE), JSON.stringify(summary, null, 2));
  return { summaries, interrupted: false };
}
