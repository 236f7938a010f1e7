// A run directory holds one run (docs/run-directory.md), through the real CLI: a fresh run into a
// finished one is refused and leaves it byte for byte; --overwrite replaces it (the old run kept
// aside until the new one's first checkpoint); two processes at once: one refused, the other's run
// whole after its Ctrl-C; a stale lock taken over; a SIGKILLed lock holder then a resume; a finished run's resume;
// a pretrain on random bytes; the sweep's plan and task. Plus the small messages.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Progress } from '../train/run/progress.ts';
import { LOCK_FILE, PREVIOUS_RUN, RunDir, RunDirBusy } from '../train/run/run-dir.ts';
import { readPlan } from '../train/sweep/plan.ts';
import { LOG_FILE, STATE_FILE } from '../train/sweep/state.ts';
import { runTask } from '../train/sweep/task.ts';
import { SWEEP } from '../bin/commands/train.ts';
import { withDevice } from './helpers/device.ts';
import { microRun } from './helpers/micro-run.ts';

await withDevice(t);
const { dir, modelDir, dataFile } = await microRun('wgpt-rundir-');
const cli = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
const args = ['--data', dataFile, '--model', modelDir, '--batch-size', '4', '--eval-every', '100', '--eval-batches', '1',
  '--max-new-tokens', '0'];

interface Ran { code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }

/** A wgpt child; `until` (a stderr text) resolves `reached` when seen. */
function wgpt(argv: string[], env: Record<string, string> = {}, until?: string): {
  pid: number; done: Promise<Ran>; reached: Promise<void>; kill: (s: NodeJS.Signals) => void;
} {
  const child = spawn(process.execPath, [cli, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  let reach: () => void = () => {};
  const reached = new Promise<void>((r) => (reach = r));
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
    if (until !== undefined && stderr.includes(until)) reach();
  });
  const done = new Promise<Ran>((resolve) => child.on('close', (code, signal) => {
    reach();
    resolve({ code, signal, stderr, stdout });
  }));
  return { pid: child.pid!, done, reached, kill: (s) => child.kill(s) };
}
const run = (argv: string[]): Promise<Ran> => wgpt(argv).done;
/** The error line of a failed command (Dawn's adapter warnings aside). */
const errorLine = (r: Ran): string[] => r.stderr.split('\n').filter((l) => l.startsWith('wgpt '));

/** Every file under `d` (links followed) and its bytes, by relative path. */
function snapshot(d: string, rel = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(path.join(d, rel)).sort()) {
    const p = path.join(rel, name);
    if (lstatSync(path.join(d, p)).isSymbolicLink()) out.set(p, Buffer.from(`-> ${readFileSync(path.join(d, p, 'state.json'))}`));
    else if (lstatSync(path.join(d, p)).isDirectory()) for (const [k, v] of snapshot(d, p)) out.set(k, v);
    else out.set(p, readFileSync(path.join(d, p)));
  }
  return out;
}
const sameFiles = (a: Map<string, Buffer>, b: Map<string, Buffer>): boolean =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k)?.equals(v) === true);
const lockPid = (d: string): number => JSON.parse(readFileSync(path.join(d, LOCK_FILE), 'utf8')).pid;
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
const stateStep = (d: string): number => JSON.parse(readFileSync(path.join(d, 'checkpoint', 'state.json'), 'utf8')).step;
const metricsRows = (d: string): { step: number }[] =>
  readFileSync(path.join(d, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

const finished = path.join(dir, 'finished');
const first = await run(['train', ...args, '--max-steps', '2', '--out', finished]);
t.equal(first.code, 0, first.stderr);
const before = snapshot(finished);

t.test('a fresh run into a finished one is refused in one line; its files stay byte for byte', async (t) => {
  const r = await run(['train', ...args, '--max-steps', '1', '--out', finished]);
  t.equal(r.code, 1);
  t.same(errorLine(r).length, 1);
  t.match(errorLine(r)[0], /holds a run \(metrics\.jsonl, checkpoint, model\.safetensors\).*--resume .*--overwrite/);
  t.ok(sameFiles(snapshot(finished), before), 'every file of the first run byte-identical');
});

t.test('--resume of a finished run says it is complete and how to go on', async (t) => {
  const r = await run(['train', '--resume', finished]);
  t.equal(r.code, 1);
  t.match(errorLine(r)[0], /is complete: it made all 2 of its steps and saved its model; .*--resume .* --max-steps N \(more than its 2\)/);
  t.notMatch(r.stdout, /steps, .* s\/step/, 'no step report');
  t.ok(sameFiles(snapshot(finished), before), 'nothing written');
});

t.test('--overwrite replaces the run; the old one waits aside until the first checkpoint', async (t) => {
  const d = path.join(dir, 'overwritten');
  cpSync(finished, d, { recursive: true, verbatimSymlinks: true });
  const old = snapshot(d);
  // Paused in its first checkpoint's save: the old run whole in previous-run; killed there.
  const paused = wgpt(['train', ...args, '--max-steps', '1', '--out', d, '--overwrite'], { WGPT_TEST_PAUSE_SAVE: 'renamed' },
    'paused at save point renamed');
  await paused.reached;
  t.ok(sameFiles(snapshot(path.join(d, PREVIOUS_RUN)), old), 'the old run byte for byte in previous-run while the new one saves');
  const holder = lockPid(d);
  paused.kill('SIGKILL');
  await paused.done;
  while (alive(holder)) await new Promise((r) => setTimeout(r, 50));
  // Again, to the end: its first checkpoint removes the old run.
  const r = await run(['train', ...args, '--max-steps', '1', '--out', d, '--overwrite']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, new RegExp(`taking over the lock of pid ${holder}`), 'the killed run\'s lock taken over');
  t.match(r.stderr, /--overwrite: the previous run in .* is kept in .*previous-run until this run's first checkpoint/);
  t.notOk(existsSync(path.join(d, PREVIOUS_RUN)), 'the old run gone after the first checkpoint');
  t.equal(stateStep(d), 1, 'the new run\'s checkpoint');
  t.same(metricsRows(d).map((m) => m.step), [0], 'one run\'s rows');
  t.notOk(existsSync(path.join(d, LOCK_FILE)), 'the lock freed');
  t.same(errorLine(await run(['train', ...args, '--resume', d, '--overwrite'])),
    ['wgpt train: --resume continues the run in its directory, --overwrite replaces it: give one of them']);
});

t.test('two processes in one directory: the second is refused naming the first; the first run whole', async (t) => {
  const d = path.join(dir, 'twice');
  const a = wgpt(['train', ...args, '--max-steps', '50', '--out', d], {}, 'trainable parameters');
  await a.reached;
  const holder = lockPid(d);
  const b = await run(['train', ...args, '--max-steps', '3', '--out', d]);
  t.equal(b.code, 1);
  t.equal(errorLine(b).length, 1);
  t.match(errorLine(b)[0], new RegExp(`in use by pid ${holder} on ${hostname()} since \\d{4}-\\d\\d-\\d\\dT.*wgpt train .*: wait for it`));
  // Ctrl-C of the first: it saves its checkpoint, frees the lock, exits 130.
  a.kill('SIGINT');
  const ra = await a.done;
  t.equal(ra.code, 130, ra.stderr);
  t.match(ra.stderr, /interrupted at step \d+: checkpoint saved/);
  t.same(metricsRows(d).map((m) => m.step), [0], 'one step-0 row');
  t.ok(stateStep(d) >= 1, 'its checkpoint');
  t.notOk(existsSync(path.join(d, LOCK_FILE)), 'the lock freed after Ctrl-C');
});

t.test('SIGKILL of the lock holder, then --resume takes the lock over and continues', async (t) => {
  const d = finished; // its 2 steps, resumed to 4 and killed in the last save
  const k = wgpt(['train', '--resume', d, '--max-steps', '4'], { WGPT_TEST_PAUSE_SAVE: 'renamed' }, 'paused at save point renamed');
  await k.reached;
  const holder = lockPid(d);
  k.kill('SIGKILL'); // the launcher; the CLI in its child follows it (bin/wgpt.js)
  t.equal((await k.done).signal, 'SIGKILL');
  while (alive(holder)) await new Promise((r) => setTimeout(r, 50));
  t.equal(lockPid(d), holder, 'a stale lock left behind');
  const r = await run(['train', '--resume', d, '--max-steps', '5']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, new RegExp(`taking over the lock of pid ${holder} on ${hostname()} \\(since .*\\), which is no longer running`));
  t.equal(stateStep(d), 5);
  t.notOk(existsSync(path.join(d, LOCK_FILE)));
});

t.test('the lock: another host\'s is refused, a live process\'s refused, a dead one\'s taken over', async (t) => {
  const d = path.join(dir, 'locks');
  mkdirSync(d);
  const lockFile = path.join(d, LOCK_FILE);
  writeFileSync(lockFile, JSON.stringify({ pid: 1, host: 'elsewhere', since: '2026-01-01T00:00:00.000Z', command: 'wgpt train' }));
  t.throws(() => RunDir.open(d, { resume: false, overwrite: false }),
    /in use by pid 1 on elsewhere since 2026-01-01T00:00:00.000Z \(wgpt train\).*if that process is gone, remove .*run\.lock/);
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  t.teardown(() => sleeper.kill());
  writeFileSync(lockFile, JSON.stringify({ pid: sleeper.pid, host: hostname(), since: 'x', command: 'wgpt train' }));
  t.throws(() => RunDir.open(d, { resume: true, overwrite: false }), RunDirBusy);
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(lockFile, JSON.stringify({ pid: Number(gone.stdout), host: hostname(), since: 'y', command: 'wgpt train' }));
  const lines: string[] = [];
  const held = RunDir.open(d, { resume: true, overwrite: false, log: (l) => lines.push(l) });
  t.match(lines.join('\n'), new RegExp(`taking over the lock of pid ${gone.stdout} .*no longer running`));
  t.equal(JSON.parse(readFileSync(lockFile, 'utf8')).pid, process.pid, 'the lock is this process\'s now');
  held.release();
  t.notOk(existsSync(lockFile));
});

t.test('a requeued sweep task whose run is locked by a live process leaves it and exits', async (t) => {
  const sweep = path.join(dir, 'sweep');
  const grid = path.join(dir, 'grid.json');
  writeFileSync(grid, JSON.stringify({ data: dataFile, model: modelDir, 'max-steps': 1, lr: [1e-3, 2e-3] }));
  const plan = ['sweep', 'plan', '--command', 'train', '--grid', grid, '--out', sweep];
  t.equal((await run(plan)).code, 0);
  t.equal((await run(plan)).code, 0, 'the same grid planned again');
  writeFileSync(grid, JSON.stringify({ data: dataFile, model: modelDir, 'max-steps': 1, lr: [1e-3, 3e-3] }));
  t.match(errorLine(await run(plan))[0], /holds the sweep of another grid \(sweep-plan\.json\): plan this one into another --out/);
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  t.teardown(() => sleeper.kill());
  const { runs } = readPlan(sweep);
  const target = path.join(sweep, runs[0].dir);
  mkdirSync(target, { recursive: true });
  writeFileSync(path.join(target, LOCK_FILE), JSON.stringify({ pid: sleeper.pid, host: hostname(), since: 'z', command: 'wgpt train' }));
  let said = '';
  const code = await runTask(sweep, 0, SWEEP, { wgpt: [process.execPath, cli], out: { write: (s: string) => (said += s) } as never });
  t.equal(code, 0);
  t.match(said, new RegExp(`is being run by pid ${sleeper.pid} on .*: this copy leaves it to that process and exits`));
  t.same(readdirSync(target), [LOCK_FILE], `no ${LOG_FILE} or ${STATE_FILE} written`);
});

t.test('pretrain on random bytes is refused in one line', async (t) => {
  const bin = path.join(dir, 'random.bin');
  writeFileSync(bin, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 2654435761) >>> 24)));
  const r = await run(['pretrain', '--data', bin, '--model', 'tiny', '--from-scratch', '--max-steps', '1', '--out', path.join(dir, 'p')]);
  t.equal(r.code, 1);
  t.match(errorLine(r), [/^wgpt pretrain: --data .*random\.bin is not UTF-8 text \(\d+% of its characters do not decode\): give a UTF-8/]);
  t.notOk(existsSync(path.join(dir, 'p')), 'no run directory left behind');
});

t.test('the small messages: an empty prompt, a negative --max-steps, the first step\'s time left', async (t) => {
  t.same(errorLine(await run(['generate', '--model', modelDir, '--prompt', ''])),
    ['wgpt generate: --prompt is empty: give the text to continue']);
  t.same(errorLine(await run(['train', ...args, '--max-steps', '-3', '--out', path.join(dir, 'neg')])),
    ['wgpt train: --max-steps must be at least 1, got -3']);
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  const p = new Progress(0, stream, 0);
  p.update({ step: 1, totalSteps: 100, epoch: 0 });
  p.update({ step: 2, totalSteps: 100, epoch: 0 });
  t.match(lines[0], /step 1\/100 .* elapsed, estimating\n$/, 'the first step (compiles, tuning) gives no time left');
  t.match(lines[1], /step 2\/100 .* elapsed, \d+:\d\d left\n$/, 'from the second step on');
});
