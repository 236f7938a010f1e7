// `wgpt sweep run DIR --scheduler slurm`: DIR/sweep.sbatch, one array task per line of runs.jsonl.
// Slurm does the queueing, the throttling (%MAX) and the requeueing; each task is
// `wgpt sweep task DIR` with the array index, which resumes the run from its checkpoint.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';

export const SBATCH_FILE = 'sweep.sbatch';

export interface SlurmOptions {
  runs: number;
  /** At most this many tasks at once (the array's %MAX). */
  maxParallel: number;
  /** How a node starts wgpt, e.g. ['/usr/bin/node', '/home/me/wgpt/bin/wgpt.js']. */
  wgpt: string[];
  jobName?: string;
  partition?: string;
  time?: string;
  gres?: string;
  cpusPerTask?: number;
}

/** Single-quoted for bash: paths with spaces or $ stay one word. */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function sbatchScript(sweepDir: string, o: SlurmOptions): string {
  const dir = path.resolve(sweepDir);
  const lines = [
    '#!/bin/bash',
    `# Written by \`wgpt sweep run --scheduler slurm\`: task i runs line i of ${path.join(dir, 'runs.jsonl')}.`,
    '# Submit with: sbatch ' + path.join(dir, SBATCH_FILE),
    `#SBATCH --job-name=${o.jobName ?? 'wgpt-sweep'}`,
    `#SBATCH --array=0-${o.runs - 1}%${o.maxParallel}`,
    // Per-task output, appended across requeues so a preempted attempt's lines are kept.
    `#SBATCH --output=${path.join(dir, 'logs', '%A_%a.out')}`,
    '#SBATCH --open-mode=append',
    // A preempted or requeued task runs again; `sweep task` resumes it from its checkpoint.
    '#SBATCH --requeue',
    '#SBATCH --ntasks=1',
  ];
  if (o.cpusPerTask) lines.push(`#SBATCH --cpus-per-task=${o.cpusPerTask}`);
  if (o.partition) lines.push(`#SBATCH --partition=${o.partition}`);
  if (o.time) lines.push(`#SBATCH --time=${o.time}`);
  if (o.gres) lines.push(`#SBATCH --gres=${o.gres}`);
  // Ask for SIGTERM (to the task, B:) a minute before a time limit too, so the run checkpoints before it is killed.
  lines.push('#SBATCH --signal=B:TERM@60', '', 'set -eu', `cd ${q(dir)}`,
    // exec: the task is the job's main process and gets Slurm's signals first-hand.
    `exec ${o.wgpt.map(q).join(' ')} sweep task ${q(dir)} --index "$SLURM_ARRAY_TASK_ID"`, '');
  return lines.join('\n');
}

/** Writes DIR/sweep.sbatch (and DIR/logs, which Slurm does not create). */
export function writeSbatch(sweepDir: string, o: SlurmOptions): string {
  if (o.runs < 1) throw new WgptError('the sweep has no runs to submit');
  mkdirSync(path.join(sweepDir, 'logs'), { recursive: true });
  const file = path.join(sweepDir, SBATCH_FILE);
  writeFileSync(file, sbatchScript(sweepDir, o), { mode: 0o755 });
  return file;
}

/** `sbatch --parsable FILE`; returns the job id. */
export function submitSbatch(file: string, env: NodeJS.ProcessEnv = process.env): string {
  let out: string;
  try {
    out = execFileSync('sbatch', ['--parsable', file], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new WgptError(`sbatch not found: run this on a Slurm login node, or submit ${file} yourself`);
    const last = (err.stderr || err.message).trim().split('\n').pop(); // sbatch's last line says why
    throw new WgptError(`sbatch refused ${file}: ${last}`);
  }
  return out.trim().split(';')[0];
}
