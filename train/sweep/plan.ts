// `wgpt sweep plan`: a JSON grid of flag values -> DIR/runs.jsonl, one run per line. Every flag is
// checked against the command's own option table here, so a typo fails in a second at plan time
// instead of in every task of an array job an hour later.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WgptError } from '../../engine/errors.ts';
import type { OptionTable, PlannedRun, Scalar, SweepPlan, SweepSpec } from './spec.ts';

export const RUNS_FILE = 'runs.jsonl';
export const PLAN_FILE = 'sweep-plan.json';
/** Flags the sweep owns: it sets the run directory and resumes by itself. */
const RESERVED = ['help', 'resume', 'overwrite'];

/** Reads and checks a grid file: one JSON object of flag -> value or array of values. */
export function readGrid(file: string): Record<string, Scalar | Scalar[]> {
  if (!existsSync(file)) throw new WgptError(`grid file ${file} not found: give a JSON object of flag names to values`);
  let grid: unknown;
  try {
    grid = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new WgptError(`grid file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (grid === null || typeof grid !== 'object' || Array.isArray(grid)) {
    throw new WgptError(`grid file ${file} must hold one JSON object, e.g. {"lr": [1e-4, 3e-4], "model": "tiny"}`);
  }
  return grid as Record<string, Scalar | Scalar[]>;
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/** The argv of one flag value: `true` is a bare flag, `false` leaves it out. */
function flagArgs(options: OptionTable, key: string, value: Scalar): string[] {
  const type = options[key].type;
  if (type === 'boolean') {
    if (typeof value !== 'boolean') throw new WgptError(`grid: --${key} is a bare flag: give true or false, not ${JSON.stringify(value)}`);
    return value ? [`--${key}`] : [];
  }
  if (typeof value === 'boolean') throw new WgptError(`grid: --${key} takes a value, not ${value}`);
  return [`--${key}`, String(value)];
}

function checkKeys(grid: Record<string, unknown>, spec: SweepSpec, command: string): void {
  for (const [key, value] of Object.entries(grid)) {
    if (key === spec.outFlag || RESERVED.includes(key)) {
      throw new WgptError(`grid: "${key}" is set by the sweep (each run gets its own directory and resumes by itself); remove it`);
    }
    if (!(key in spec.options)) {
      const known = Object.keys(spec.options).filter((k) => k !== spec.outFlag && !RESERVED.includes(k));
      throw new WgptError(`grid: "${key}" is not a flag of wgpt ${command}; its flags are ${known.join(', ')}`);
    }
    const values = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) && value.length === 0) throw new WgptError(`grid: "${key}" is an empty list; give at least one value`);
    for (const v of values) if (!isScalar(v)) throw new WgptError(
      `grid: "${key}" has ${JSON.stringify(v)}; values are strings, numbers or true/false`);
  }
}

/** A readable, stable id: the axis values, then a short hash of the whole argument list (so two
 *  grids that differ only in a fixed flag still get different ids). Same grid, same ids. */
export function runId(params: Record<string, Scalar>, args: readonly string[]): string {
  const slug = Object.entries(params).map(([k, v]) => `${k}-${String(v)}`).join('_').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 80);
  const hash = createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 8);
  return slug ? `${slug}_${hash}` : hash;
}

/** Expands the grid: the first key varies slowest. */
export function expandGrid(command: string, grid: Record<string, Scalar | Scalar[]>, spec: SweepSpec): PlannedRun[] {
  checkKeys(grid, spec, command);
  const axes = Object.keys(grid).filter((k) => Array.isArray(grid[k]));
  let combos: Record<string, Scalar>[] = [{}];
  for (const axis of axes) combos = combos.flatMap((c) => (grid[axis] as Scalar[]).map((v) => ({ ...c, [axis]: v })));
  return combos.map((params, index) => {
    const args: string[] = [];
    for (const [key, value] of Object.entries(grid)) args.push(...flagArgs(spec.options, key, Array.isArray(value) ? params[key] : value));
    const id = runId(params, args);
    const dir = path.posix.join('runs', id);
    const full = [...args, `--${spec.outFlag}`, dir];
    // The command's own parser, strict: whatever it would refuse, refuse now.
    try {
      parseArgs({ args: full, options: spec.options, allowPositionals: false, strict: true });
    } catch (e) {
      throw new WgptError(`grid: run ${index} (${id}) would not parse: ${(e as Error).message}`);
    }
    return { index, id, params, dir, args: full };
  });
}

/** Writes DIR/runs.jsonl and DIR/sweep-plan.json. */
export function writePlan(out: string, command: string, grid: Record<string, Scalar | Scalar[]>, runs: PlannedRun[]): void {
  const ids = new Set(runs.map((r) => r.id));
  if (ids.size !== runs.length) throw new WgptError('grid: two runs have the same arguments; remove repeated values from the lists');
  const plan: SweepPlan = { command, grid, axes: Object.keys(grid).filter((k) => Array.isArray(grid[k])), runs: runs.length };
  const planText = `${JSON.stringify(plan, null, 2)}\n`;
  const runsText = runs.map((r) => JSON.stringify(r)).join('\n') + '\n';
  // The same grid again is planned again (its done runs are kept); another grid would mix two sweeps' runs.
  const planFile = path.join(out, PLAN_FILE);
  if (existsSync(planFile) && (readFileSync(planFile, 'utf8') !== planText ||
    !existsSync(path.join(out, RUNS_FILE)) || readFileSync(path.join(out, RUNS_FILE), 'utf8') !== runsText)) {
    throw new WgptError(`${out} holds the sweep of another grid (${PLAN_FILE}): plan this one into another --out, or remove ${out}`);
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(planFile, planText);
  writeFileSync(path.join(out, RUNS_FILE), runsText);
}

/** Reads a planned sweep back. */
export function readPlan(dir: string): { plan: SweepPlan; runs: PlannedRun[] } {
  const runsFile = path.join(dir, RUNS_FILE);
  const planFile = path.join(dir, PLAN_FILE);
  if (!existsSync(runsFile) || !existsSync(planFile)) {
    throw new WgptError(`${dir} is not a planned sweep (no ${RUNS_FILE}); run wgpt sweep plan --out ${dir} first`);
  }
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as SweepPlan;
  const runs = readFileSync(runsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as PlannedRun);
  return { plan, runs };
}
