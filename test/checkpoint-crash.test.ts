// A real `wgpt train` killed (SIGKILL) at each point of a checkpoint save: --resume finds a whole
// checkpoint (the previous one before the atomic rename, the new one after it), cleans up what
// the save left behind and continues bit for bit. Also a run directory of the old two-rename
// layout that crashed between its renames.
import t from 'tap';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { train, type TrainOptions } from '../train/sft/trainer.ts';
import { withDevice } from './helpers/device.ts';
import { microRun } from './helpers/micro-run.ts';

await withDevice(t);
const { dir, modelDir, dataFile } = await microRun('wgpt-crash-');
const base: TrainOptions = {
  data: dataFile, model: modelDir, fromScratch: false, untie: false, out: '', epochs: 3, maxSteps: null, batchSize: 4,
  lr: 1e-3, weightDecay: 0.1, mask: 'none', style: 'alpaca', evalEvery: 100, evalBatches: 1, seed: 123, maxNewTokens: 0,
  scoreBefore: false, syntheticCount: 0,
};
const quiet = { ...base };
const cli = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
const stateStep = (run: string): number => JSON.parse(readFileSync(path.join(run, 'checkpoint', 'state.json'), 'utf8')).step;
const leftovers = (run: string): string[] => readdirSync(run).filter((n) => n.startsWith('checkpoint') && n !== 'checkpoint');

// Reference: 6 steps straight. Seed: a run stopped at step 2 with its checkpoint.
const straight = path.join(dir, 'straight');
await train({ ...quiet, out: straight, maxSteps: 6 });
const want = readFileSync(path.join(straight, 'model.safetensors'));
const seed = path.join(dir, 'seed');
await train({ ...quiet, out: seed, maxSteps: 2 });
t.ok(lstatSync(path.join(seed, 'checkpoint')).isSymbolicLink(), 'the checkpoint is a link to its generation');
t.same(leftovers(seed), ['checkpoint.1'], 'one generation beside it');

/** Resumes `run` to step 4 in a child that pauses at `point` of its final save; kills it there. */
async function killAt(run: string, point: string): Promise<string> {
  const child = spawn(process.execPath, [cli, 'train', '--resume', run, '--max-steps', '4'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WGPT_TEST_PAUSE_SAVE: point },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  while (!output.includes(`paused at save point ${point}`) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await exited;
  return output;
}

for (const [point, step] of [['written', 2], ['linked', 2], ['renamed', 4]] as const) {
  t.test(`killed at "${point}" of a save: --resume continues bit for bit`, async (t) => {
    const run = path.join(dir, `kill-${point}`);
    cpSync(seed, run, { recursive: true, verbatimSymlinks: true });
    const output = await killAt(run, point);
    t.match(output, new RegExp(`paused at save point ${point}`), 'the child reached the point and was killed there');
    t.ok(leftovers(run).length > 1, `the save left ${leftovers(run).join(', ')}`);
    t.equal(stateStep(run), step, `the checkpoint under its name is the one of step ${step}`);
    const r = await train({ ...quiet, out: run, maxSteps: 6 }, run);
    t.equal(r.steps, 6);
    t.ok(readFileSync(path.join(run, 'model.safetensors')).equals(want), 'weights byte-identical to 6 straight steps');
    t.same(leftovers(run), [readdirSync(run).find((n) => /^checkpoint\.\d+$/.test(n))], 'leftovers cleaned up: one generation');
  });
}

t.test('an old-layout run that crashed between its two renames is recovered', async (t) => {
  const run = path.join(dir, 'legacy');
  cpSync(seed, run, { recursive: true, verbatimSymlinks: true });
  const ck = path.join(run, 'checkpoint');
  rmSync(ck);
  renameSync(path.join(run, 'checkpoint.1'), path.join(run, 'checkpoint.old-4242'));
  rmSync(path.join(run, 'checkpoint.old-4242', '.complete'));
  t.notOk(existsSync(ck), 'no checkpoint under its name');
  const lines: string[] = [];
  const { readTrainState } = await import('../train/run/checkpoint.ts');
  t.equal((await readTrainState(run, (l) => lines.push(l))).step, 2);
  t.match(lines.join('\n'), /recovered .*checkpoint from checkpoint\.old-4242/);
  const r = await train({ ...quiet, out: run, maxSteps: 6 }, run);
  t.equal(r.steps, 6);
  t.ok(readFileSync(path.join(run, 'model.safetensors')).equals(want), 'weights byte-identical to 6 straight steps');
});
