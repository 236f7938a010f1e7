// A run directory holds one run, worked on by one process at a time (docs/run-directory.md).
//
// The lock: DIR/run.lock, created with O_EXCL ('wx') so two processes cannot both make it, holding
// the holder's pid, host, start time and command line. A second process is refused in one line
// naming the holder; a lock whose process is gone (same host: the pid no longer exists) is taken
// over with a line saying so. A lock from another host is taken on trust: its pid means nothing
// here. `wgpt sweep task` takes its run's lock before it reads the checkpoint and starts the run's
// command with WGPT_RUN_LOCK=<its pid>: a lock of that pid is then the command's own.
//
// The overwrite rule: a fresh run into a directory that holds a run (metrics, a checkpoint, a
// model, a study's results) is refused unless --overwrite; then the old run's files are moved
// into DIR/previous-run (renames, nothing copied) and removed once the new run has saved its first
// checkpoint (or, without checkpoints, its results): until then a crash or Ctrl-C of the new run
// leaves the old one whole under a name the message gave.
import {
  closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync,
  unlinkSync, writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { setting } from '../../engine/settings.ts';

export const LOCK_FILE = 'run.lock';
export const PREVIOUS_RUN = 'previous-run';
/** What makes a directory hold a run: every trainer's metrics, checkpoint and model, the studies' results. */
const RUN_FILES = ['metrics.jsonl', 'checkpoint', 'model.safetensors', 'adapter_model.safetensors', 'study.json', 'plw-run.json',
  'summary.json', PREVIOUS_RUN];
/** The directory's own files, not the run's: an overwrite leaves them (a sweep task's log and state). */
/** The sweep task's state and log in a run's directory (train/sweep/state.ts). */
export const STATE_FILE = 'sweep-state.json';
export const LOG_FILE = 'sweep.log';
const DIR_FILES = [LOCK_FILE, PREVIOUS_RUN, LOG_FILE, STATE_FILE];

export interface LockInfo {
  pid: number;
  host: string;
  since: string;
  command: string;
}

/** A second process is at work in the directory (the sweep task tells a requeued copy by this). */
export class RunDirBusy extends WgptError {
  constructor(readonly dir: string, readonly holder: LockInfo) {
    super(`${dir} is in use by pid ${holder.pid} on ${holder.host} since ${holder.since} (${holder.command}): ` +
      `wait for it to end or stop it${holder.host === hostname() ? '' : `; if that process is gone, remove ${path.join(dir, LOCK_FILE)}`}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock's holder; null when there is no lock, or it is torn (its writer died between create and write). */
function readLock(file: string): LockInfo | null | 'absent' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw e;
  }
  try {
    const l = JSON.parse(text) as LockInfo;
    return Number.isInteger(l.pid) && typeof l.host === 'string' ? l : null;
  } catch {
    return null;
  }
}

/** The files that make `dir` hold a run (an empty metrics.jsonl, of a run that failed before its
 *  first evaluation, does not). */
export function runFilesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const names = new Set(readdirSync(dir));
  return RUN_FILES.filter((f) => names.has(f) && !(f === 'metrics.jsonl' && statSync(path.join(dir, f)).size === 0));
}

/** Directories this process holds, by resolved path (the checkpoint hook finds its own). */
const held = new Map<string, RunDir>();

export class RunDir {
  private released = false;
  private readonly onExit = (): void => this.release();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    // Another handler (the training loop's stop request, a sweep task passing it on) decides: the
    // lock goes when the process ends. Alone, this keeps the default (end by the signal) and frees the lock first.
    if (process.listenerCount(signal) > 1) return;
    this.release();
    process.kill(process.pid, signal);
  };

  private constructor(readonly dir: string, readonly owned: boolean, private replaced: string | null, private readonly made: boolean) {
    held.set(path.resolve(dir), this);
    if (!owned) return;
    process.on('exit', this.onExit);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Locks `dir` (made when absent); on a fresh run (`resume` false) applies the overwrite rule. */
  static open(dir: string, o: { resume: boolean; overwrite: boolean; log?: (line: string) => void }): RunDir {
    const log = o.log ?? ((line: string) => console.error(line));
    const made = !existsSync(dir);
    mkdirSync(dir, { recursive: true });
    const owned = lock(dir, log);
    // A resumed run is the one chosen to go on: a run an --overwrite left aside goes at its first checkpoint too.
    let replaced: string | null = existsSync(path.join(dir, PREVIOUS_RUN)) ? path.join(dir, PREVIOUS_RUN) : null;
    try {
      if (!o.resume) replaced = overwriteRule(dir, o.overwrite, log);
    } catch (e) {
      if (owned) unlinkLock(dir, made);
      throw e;
    }
    return new RunDir(dir, owned, replaced, made);
  }

  /** The new run has saved what resumes it (or its results): the run it replaced goes. */
  dropReplaced(): void {
    if (this.replaced === null) return;
    rmSync(this.replaced, { recursive: true, force: true });
    this.replaced = null;
  }

  /** Frees the lock (again: nothing). A lock the sweep task holds for this run stays. */
  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(path.resolve(this.dir));
    if (!this.owned) return;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    unlinkLock(this.dir, this.made);
  }
}

/** A checkpoint of the run in `dir` is saved: where this process holds `dir`, the run it replaced goes. */
export function runCheckpointed(dir: string): void {
  held.get(path.resolve(dir))?.dropReplaced();
}

/** Frees the lock; a directory this process made and left empty (a run refused before it wrote) goes too. */
function unlinkLock(dir: string, made: boolean): void {
  try {
    unlinkSync(path.join(dir, LOCK_FILE));
    if (made && readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // already gone (removed by hand): nothing to free
  }
}

/** Takes the lock; false where a sweep task holds it for this run (WGPT_RUN_LOCK). */
function lock(dir: string, log: (line: string) => void): boolean {
  const file = path.join(dir, LOCK_FILE);
  const me: LockInfo = {
    pid: process.pid, host: hostname(), since: new Date().toISOString(), command: `wgpt ${process.argv.slice(2).join(' ')}`,
  };
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, `${JSON.stringify(me)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readLock(file);
    if (holder === 'absent') continue; // freed meanwhile: try again
    if (holder === null) {
      // Torn: its writer is between create and write, or died there. Give it a moment, then take it over.
      if (attempt < 5) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
      if (takeOver(file, null)) log(`${dir}: taking over an unreadable lock (${LOCK_FILE}) left by a process that died while making it`);
      continue;
    }
    if (holder.host !== me.host) throw new RunDirBusy(dir, holder);
    if (String(holder.pid) === setting('WGPT_RUN_LOCK')) return false;
    if (alive(holder.pid) && holder.pid !== process.pid) throw new RunDirBusy(dir, holder);
    if (takeOver(file, holder)) {
      log(`${dir}: taking over the lock of pid ${holder.pid} on ${holder.host} (since ${holder.since}), which is no longer running`);
    }
  }
  throw new WgptError(`${dir}: could not take ${LOCK_FILE} (other processes keep taking it); try again`);
}

/** Removes the stale lock `seen`, unless another process took it over first (then its fresh lock is
 *  put back); true where this process removed it. */
function takeOver(file: string, seen: LockInfo | null): boolean {
  const aside = `${file}.takeover-${process.pid}`;
  try {
    renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const got = readLock(aside);
  const same = seen === null ? got === null : got !== null && got !== 'absent' && got.pid === seen.pid && got.since === seen.since;
  if (!same) {
    try {
      linkSync(aside, file); // not over a lock a third process made meanwhile
    } catch {
      // a third holder exists: the next attempt names it
    }
  }
  unlinkSync(aside);
  return same;
}

/** A fresh run into `dir`: refused where it holds a run, unless `overwrite` (the old run moved
 *  aside); returns the aside directory, or null. */
function overwriteRule(dir: string, overwrite: boolean, log: (line: string) => void): string | null {
  const found = runFilesIn(dir);
  if (found.length === 0) return null;
  if (!overwrite) throw new WgptError(`${dir} holds a run (${found.join(', ')}): continue it with --resume ${dir}, ` +
    `replace it with --overwrite, or give another --out`);
  const aside = path.join(dir, PREVIOUS_RUN);
  // previous-run is already there: an earlier --overwrite never reached its first checkpoint, so
  // what is beside it is that unfinished run, and previous-run still holds the last finished one.
  const keep = existsSync(aside);
  if (!keep) mkdirSync(aside);
  for (const name of readdirSync(dir)) {
    if (DIR_FILES.includes(name)) continue;
    if (keep) rmSync(path.join(dir, name), { recursive: true, force: true });
    else renameSync(path.join(dir, name), path.join(aside, name));
  }
  log(`--overwrite: the previous run in ${dir} is kept in ${aside} until this run's first checkpoint, then removed`);
  return aside;
}

/** `--resume` of a run that made all its steps and saved its model: refused, saying how to go on
 *  (a run stopped after its last step but before its model resumes to write it). */
export function refuseFinished(dir: string, step: number, p: { epochs: number; maxSteps: number | null; stepsPerEpoch: number }): void {
  const total = Math.min(p.epochs * p.stepsPerEpoch, p.maxSteps ?? Infinity);
  const saved = ['model.safetensors', 'adapter_model.safetensors'].some((f) => existsSync(path.join(dir, f)));
  if (step < total || !saved) return;
  const more: string[] = [];
  if (p.epochs * p.stepsPerEpoch <= step) more.push(`--epochs N (more than its ${p.epochs}, of ${p.stepsPerEpoch} steps each)`);
  if (p.maxSteps !== null && p.maxSteps <= step) more.push(`--max-steps N (more than its ${p.maxSteps})`);
  throw new WgptError(`${dir} is complete: it made all ${total} of its steps and saved its model; ` +
    `to train it further, give --resume ${dir} with ${more.join(' and ')}`);
}
