// `wgpt sweep run DIR --scheduler local`: the embedded default, a pool of N `wgpt sweep task`
// child processes on this machine. No queue, no daemon: the run directories are the state, so a
// pool that is stopped and started again skips what is done and resumes what was stopped.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { PlannedRun } from './spec.ts';
import { currentStatus, LOG_FILE } from './state.ts';

export interface PoolOptions {
  jobs: number;
  /** How to start wgpt: [node, .../bin/wgpt.js]. */
  wgpt: string[];
  /** Progress lines go here (stderr). */
  log?: (line: string) => void;
}

export interface PoolResult {
  done: number;
  skipped: number;
  failed: { index: number; id: string; log: string }[];
  stopped: number;
}

function clock(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export async function runLocal(sweepDir: string, runs: PlannedRun[], opts: PoolOptions): Promise<PoolResult> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const todo = runs.filter((r) => currentStatus(path.join(sweepDir, r.dir)) !== 'done');
  const result: PoolResult = { done: 0, skipped: runs.length - todo.length, failed: [], stopped: 0 };
  if (result.skipped > 0) log(`${result.skipped} of ${runs.length} runs already done: skipped`);
  const started = Date.now();
  let running = 0;
  let interrupted = false;
  const children = new Set<ReturnType<typeof spawn>>();
  const progress = (): void => log(`[sweep ${clock(Date.now() - started)}] ${result.done + result.skipped}/${runs.length} done, ` +
    `${running} running, ${result.failed.length} failed, ${todo.length} queued`);

  // Ctrl-C stops the pool: each task passes it on, its run checkpoints; the next `sweep run` resumes.
  const onInt = (): void => {
    interrupted = true;
    for (const c of children) c.kill('SIGINT');
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  const worker = async (): Promise<void> => {
    for (let run = todo.shift(); run && !interrupted; run = todo.shift()) {
      running++;
      // The run's output goes to its sweep.log (the task tees it); keep the task's own stderr for
      // the case where it fails before it can write that log.
      const child = spawn(opts.wgpt[0], [...opts.wgpt.slice(1), 'sweep', 'task', sweepDir, '--index', String(run.index)],
        { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d).slice(-2000)));
      children.add(child);
      const code = await new Promise<number | null>((resolve) => {
        child.on('error', () => resolve(null));
        child.on('close', (c) => resolve(c));
      });
      children.delete(child);
      running--;
      const status = currentStatus(path.join(sweepDir, run.dir));
      if (status === 'done') result.done++;
      else if (status === 'stopped') result.stopped++;
      else {
        const logFile = path.join(sweepDir, run.dir, LOG_FILE);
        result.failed.push({ index: run.index, id: run.id, log: logFile });
        const last = stderr.trim().split('\n').pop() ?? '';
        log(`run ${run.index} (${run.id}) failed (exit ${code}); log kept in ${logFile}${last ? `: ${last}` : ''}`);
      }
      progress();
    }
  };
  progress();
  // A line every minute too, so a long run is visibly alive.
  const timer = setInterval(progress, 60_000).unref();
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.jobs, runs.length)) }, worker));
  } finally {
    clearInterval(timer);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onInt);
  }
  return result;
}
