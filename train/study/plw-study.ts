// `wgpt mask-study --plw LIST --seeds N`: the prompt-loss-weight study as a sweep. Each (weight,
// seed) is one run of `wgpt mask-study --plw W --seed S --seeds 1` (plw-run.ts) in the
// study's directory, planned and run through `wgpt sweep`'s machinery: the local pool by default,
// or planned only, for `wgpt sweep run DIR --scheduler slurm|k8s`. Running the same command again
// skips what is done and writes the table from every finished run.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { PLW_RUN_FILE, type PlwRunResult } from './plw-run.ts';
import { expandGrid, readPlan, RUNS_FILE, writePlan } from '../sweep/plan.ts';
import type { PlannedRun, Scalar, SweepSpec } from '../sweep/spec.ts';
import { currentStatus } from '../sweep/state.ts';

/** Parses --plw: comma-separated weights, each from 0 to 1, none twice. */
export function parseWeights(list: string): number[] {
  const parts = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new WgptError('--plw needs at least one weight, e.g. --plw 0,0.01,0.1,0.5,1');
  const weights = parts.map((p) => {
    const w = Number(p);
    if (!Number.isFinite(w) || w < 0 || w > 1) throw new WgptError(
      `--plw: "${p}" is not a weight; each must be a number from 0 (the prompt mask) to 1 (no mask)`);
    return w;
  });
  if (new Set(weights).size !== weights.length) throw new WgptError(`--plw ${list}: a weight appears twice; give each once`);
  return weights;
}

/** The seeds of a study: `first`, first + 1, ... (n of them). */
export function studySeeds(first: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => first + i);
}

/** The study's grid: weights × seeds, each run one weight and one seed, the other flags fixed. */
export function studyGrid(weights: number[], seeds: number[], fixed: Record<string, Scalar>): Record<string, Scalar | Scalar[]> {
  return { plw: weights, seed: seeds, seeds: 1, ...fixed };
}

/** Plans the study in `dir` (a sweep directory), or checks that the plan already there is this
 *  study's, so that running the command again continues it instead of mixing two studies. */
export function planStudy(dir: string, grid: Record<string, Scalar | Scalar[]>, spec: SweepSpec): PlannedRun[] {
  const runs = expandGrid('mask-study', grid, spec);
  if (existsSync(path.join(dir, RUNS_FILE))) {
    const { plan } = readPlan(dir);
    if (plan.command !== 'mask-study' || JSON.stringify(plan.grid) !== JSON.stringify(grid)) {
      throw new WgptError(
        `${dir} holds another sweep (${JSON.stringify(plan.grid)}); give another --out, or the same flags to continue it`);
    }
  } else writePlan(dir, 'mask-study', grid, runs);
  return runs;
}

/** The finished runs' results (runs not done yet are left out), and how many are done. */
export function readStudyResults(dir: string, runs: readonly PlannedRun[]): { results: PlwRunResult[]; done: number } {
  const results: PlwRunResult[] = [];
  for (const r of runs) {
    const runDir = path.join(dir, r.dir);
    const file = path.join(runDir, PLW_RUN_FILE);
    if (currentStatus(runDir) !== 'done' || !existsSync(file)) continue;
    results.push(JSON.parse(readFileSync(file, 'utf8')) as PlwRunResult);
  }
  return { results, done: results.length };
}
