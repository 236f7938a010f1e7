// The state of one run, kept in its own directory (sweep-state.json) so that any scheduler, any
// node and `wgpt sweep status` agree on it without a database: whoever runs the task writes it.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

// The sweep task's two files in a run directory, named where the run directory's rules live (run/run-dir.ts).
export { LOG_FILE, STATE_FILE } from '../run/run-dir.ts';
import { STATE_FILE } from '../run/run-dir.ts';

/** done: exited 0. failed: exited with an error (see its log). stopped: interrupted or killed
 *  (preempted); it resumes from its checkpoint next time. pending: never started. */
export type RunStatus = 'pending' | 'running' | 'done' | 'failed' | 'stopped';

export interface RunState {
  status: RunStatus;
  attempts: number;
  host: string;
  pid: number;
  started: string;
  finished?: string;
  exitCode?: number | null;
  signal?: string | null;
  /** The checkpoint step this attempt resumed from (absent: started from scratch). */
  resumedFrom?: number;
}

export function readState(runDir: string): RunState | null {
  const file = path.join(runDir, STATE_FILE);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunState;
  } catch {
    return null; // a torn write from a killed node: treat as never started, the checkpoint decides
  }
}

/** Written whole then renamed, so a reader never sees half a file. */
export function writeState(runDir: string, state: RunState): void {
  const file = path.join(runDir, STATE_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The status as seen now: a "running" run on this host whose process is gone was killed
 *  (SIGKILL, a lost node), which is "stopped". On another host the state file is taken on trust. */
export function currentStatus(runDir: string): RunStatus {
  const s = readState(runDir);
  if (!s) return 'pending';
  if (s.status === 'running' && s.host === hostname() && !alive(s.pid)) return 'stopped';
  return s.status;
}
