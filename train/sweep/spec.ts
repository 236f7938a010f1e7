// What `wgpt sweep` needs to know about a command it runs many times. Each sweepable command
// exports one of these next to its option table (bin/commands/<name>.ts), so the sweep validates
// flags against the command's real parser and never keeps a copy that could drift.
import type { ParseArgsConfig } from 'node:util';

export type OptionTable = NonNullable<ParseArgsConfig['options']>;

export interface SweepSpec {
  /** The command's parseArgs option table, exactly what its `run` parses. */
  options: OptionTable;
  /** The flag that names the run directory; the sweep sets it per run. */
  outFlag: string;
  /** The flag that continues a run from the checkpoint in its directory (null: the command
   *  cannot resume, so a stopped run starts again). */
  resumeFlag: string | null;
  /** The step of the checkpoint in a run directory, or null where there is none. */
  checkpointStep: (runDir: string) => Promise<number | null>;
  /** The final numbers of a finished run (for the report), e.g. { val_loss: 1.23 }. */
  metrics: (runDir: string) => Record<string, number>;
}

/** A grid value: a scalar flag value, or an array of them (an axis). */
export type Scalar = string | number | boolean;

/** One line of runs.jsonl. */
export interface PlannedRun {
  index: number;
  id: string;
  /** Values of the grid's axes for this run (the report groups by these). */
  params: Record<string, Scalar>;
  /** The run directory, relative to the sweep directory (runs start there). */
  dir: string;
  /** The command's full argument list, the run directory included. */
  args: string[];
}

/** DIR/sweep-plan.json: the grid as planned. */
export interface SweepPlan {
  command: string;
  grid: Record<string, Scalar | Scalar[]>;
  axes: string[];
  runs: number;
}
