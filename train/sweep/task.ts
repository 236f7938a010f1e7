// `wgpt sweep task DIR --index I`: runs line I of runs.jsonl. The local pool, the Slurm array job
// and the Kubernetes Indexed Job all call this, so skipping done runs, resuming from a checkpoint
// and recording the outcome live in one place.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { RunDir, RunDirBusy, runFilesIn } from '../run/run-dir.ts';
import { readPlan } from './plan.ts';
import type { PlannedRun, SweepSpec } from './spec.ts';
import { currentStatus, LOG_FILE, readState, writeState, type RunState } from './state.ts';

/** Exit status of a command stopped by SIGINT/SIGTERM after saving its checkpoint (train's 130). */
const INTERRUPTED = 130;

export interface TaskOptions {
  /** How to start wgpt: [node, .../bin/wgpt.js]. */
  wgpt: string[];
  /** Where the task's own lines go (stdout: the scheduler's per-task output file). */
  out?: NodeJS.WritableStream;
}

/** The index from --index, else the scheduler's: Slurm arrays and Kubernetes Indexed Jobs. */
export function taskIndex(value: string | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const raw = value ?? env.SLURM_ARRAY_TASK_ID ?? env.JOB_COMPLETION_INDEX;
  if (raw === undefined) throw new WgptError('sweep task: give --index I (or run it as a Slurm array task or a Kubernetes Indexed Job)');
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new WgptError(`sweep task: the index must be a whole number from 0, got "${raw}"`);
  return n;
}

/** Runs one run to its end; returns the exit status for the scheduler (0 done, else not done). */
export async function runTask(sweepDir: string, index: number, spec: SweepSpec, opts: TaskOptions): Promise<number> {
  const { plan, runs } = readPlan(sweepDir);
  const run = runs[index];
  if (!run) throw new WgptError(`sweep task: index ${index} is out of range; ${sweepDir} has ${runs.length} runs (0-${runs.length - 1})`);
  const runDir = path.join(sweepDir, run.dir);
  mkdirSync(runDir, { recursive: true });
  const logFile = path.join(runDir, LOG_FILE);
  const out = opts.out ?? process.stdout;
  const say = (line: string): void => {
    const stamped = `[sweep ${new Date().toISOString()}] ${line}\n`;
    out.write(stamped);
    appendFileSync(logFile, stamped);
  };
  if (currentStatus(runDir) === 'done') {
    say(`run ${index} (${run.id}) is already done; nothing to do`);
    return 0;
  }
  // The run's lock, before its checkpoint is read (a save may be under way): a second copy of this
  // task (a requeue whose first copy still runs) leaves the run alone and exits, writing nothing there.
  let held: RunDir;
  try {
    held = RunDir.open(runDir, { resume: true, overwrite: false, log: (line) => say(line) });
  } catch (e) {
    if (!(e instanceof RunDirBusy)) throw e;
    const line = `[sweep ${new Date().toISOString()}] run ${index} (${run.id}) is being run by pid ${e.holder.pid} on ` +
      `${e.holder.host} since ${e.holder.since}: this copy leaves it to that process and exits\n`;
    out.write(line);
    process.stderr.write(line);
    return 0;
  }
  try {
    return await runLocked(sweepDir, index, run, plan.command, spec, opts, say);
  } finally {
    held.release();
  }
}

/** The run, its directory locked by this task (its command, a child, runs under that lock). */
async function runLocked(sweepDir: string, index: number, run: PlannedRun, command: string, spec: SweepSpec, opts: TaskOptions,
  say: (line: string) => void): Promise<number> {
  const runDir = path.join(sweepDir, run.dir);
  const logFile = path.join(runDir, LOG_FILE);
  const out = opts.out ?? process.stdout;
  const step = await spec.checkpointStep(runDir);
  const resume = step !== null && spec.resumeFlag !== null;
  // Starting again over an earlier attempt's files (never a finished run: that one is done).
  const overwrite = !resume && 'overwrite' in spec.options && runFilesIn(runDir).length > 0;
  const args = [command, ...run.args, ...(resume ? [`--${spec.resumeFlag}`, run.dir] : []), ...(overwrite ? ['--overwrite'] : [])];
  const previous = readState(runDir);
  const state: RunState = {
    status: 'running', attempts: (previous?.attempts ?? 0) + 1, host: hostname(), pid: process.pid,
    started: new Date().toISOString(), ...(resume ? { resumedFrom: step! } : {}),
  };
  writeState(runDir, state);
  say(`run ${index} (${run.id}) attempt ${state.attempts} on ${state.host}: ${resume ? `resuming from its checkpoint at step ${step}`
    : step !== null ? 'a checkpoint exists but the command cannot resume: starting again' : 'starting'}`);
  say(`wgpt ${args.join(' ')}`);

  const child = spawn(opts.wgpt[0], [...opts.wgpt.slice(1), ...args], {
    cwd: sweepDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WGPT_RUN_LOCK: String(process.pid) },
  });
  const tee = (chunk: Buffer): void => {
    out.write(chunk);
    appendFileSync(logFile, chunk);
  };
  child.stdout.on('data', tee);
  child.stderr.on('data', tee);
  // Preemption (Slurm requeue, a Kubernetes eviction) sends SIGTERM and kills a grace period
  // later: pass it on as Ctrl-C, so the run saves a checkpoint to resume from, and wait for it.
  let stopping = false;
  const stop = (signal: string): void => {
    stopping = true;
    say(`received ${signal}: asking the run to save its checkpoint and stop`);
    child.kill('SIGINT');
  };
  const onTerm = (): void => stop('SIGTERM');
  const onInt = (): void => stop('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve([c, s]));
  }).finally(() => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  });

  const status = code === 0 ? 'done' : stopping || code === INTERRUPTED || signal !== null ? 'stopped' : 'failed';
  writeState(runDir, { ...state, status, finished: new Date().toISOString(), exitCode: code, signal });
  say(`run ${index} (${run.id}) ${status}${code !== 0 ? ` (exit ${code ?? signal}); log ${logFile}` : ''}`);
  return code === 0 ? 0 : code ?? 1;
}
