// wgpt sweep end to end: a grid planned against the command's real flags, a local pool of tiny
// runs (one failing, one stopped and resumed), the k8s manifest and sbatch script, and a real
// one-node Slurm cluster started here, where a task is requeued mid-run and resumes.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { run as sweepCli } from '../bin/commands/sweep.ts';
import { SWEEP as TRAIN } from '../bin/commands/train.ts';
import { SWEEP as MASK_STUDY } from '../bin/commands/mask-study.ts';
import { SWEEP as DPO } from '../bin/commands/dpo.ts';
import { SWEEP as PRETRAIN } from '../bin/commands/pretrain.ts';
import { indexedJobYaml } from '../train/sweep/k8s.ts';
import { expandGrid } from '../train/sweep/plan.ts';
import { sbatchScript } from '../train/sweep/slurm.ts';
import { withDevice } from './helpers/device.ts';
import { microRun } from './helpers/micro-run.ts';
import { slurmMissing, startSlurm } from './helpers/slurm.ts';

await withDevice(t);
const { dir, modelDir, dataFile } = await microRun('wgpt-sweep-');
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const CLI = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
/** Fixed flags of a fast run: the micro model, the data's own output vocabulary, no answers. */
const FAST = { model: modelDir, data: dataFile, epochs: 100, 'eval-batches': 1, 'batch-size': 4, 'output-vocab': 'data',
  'max-new-tokens': 0 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function wgpt(args: string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function plan(name: string, grid: object, command = 'train'): string {
  const out = path.join(dir, name);
  writeFileSync(`${out}.json`, JSON.stringify(grid));
  const r = wgpt(['sweep', 'plan', '--command', command, '--grid', `${out}.json`, '--out', out]);
  if (r.code !== 0) throw new Error(r.out);
  return out;
}

const lines = (file: string): Record<string, any>[] => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const json = (file: string): any => JSON.parse(readFileSync(file, 'utf8'));

async function until(what: string, ok: () => boolean, seconds: number): Promise<void> {
  for (let i = 0; !ok(); i++) {
    if (i > seconds * 5) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await sleep(200);
  }
}

t.test('plan: a grid is the product of its lists, ids are stable, bad grids are one-line errors', async (t) => {
  const grid = { mask: ['none', 'prompt'], lr: [5e-5, 1e-4], seed: [1, 2, 3], model: 'tiny', 'max-steps': 200, 'from-scratch': true };
  const runs = expandGrid('train', grid, TRAIN);
  t.equal(runs.length, 12, '2 x 2 x 3 runs');
  t.same(runs[0].params, { mask: 'none', lr: 5e-5, seed: 1 });
  t.same(runs[11].params, { mask: 'prompt', lr: 1e-4, seed: 3 });
  t.same(runs[1].args, ['--mask', 'none', '--lr', '0.00005', '--seed', '2', '--model', 'tiny', '--max-steps', '200', '--from-scratch',
    '--out', runs[1].dir]);
  t.equal(new Set(runs.map((r) => r.id)).size, 12, 'ids are unique');
  t.same(expandGrid('train', { ...grid }, TRAIN).map((r) => r.id), runs.map((r) => r.id), 're-planning keeps the ids');
  t.not(expandGrid('train', { ...grid, 'max-steps': 300 }, TRAIN)[0].id, runs[0].id, 'a different fixed flag, a different id');
  t.match(runs[0].id, /^mask-none_lr-0\.00005_seed-1_[0-9a-f]{8}$/, 'readable id');
  t.equal(expandGrid('mask-study', { strategies: ['none,prompt', 'prompt'] }, MASK_STUDY).length, 2);

  t.throws(() => expandGrid('train', { lrr: [1] }, TRAIN), /"lrr" is not a flag of wgpt train; its flags are .*lr/);
  t.throws(() => expandGrid('train', { out: 'x' }, TRAIN), /"out" is set by the sweep/);
  t.throws(() => expandGrid('train', { resume: 'x' }, TRAIN), /"resume" is set by the sweep/);
  t.throws(() => expandGrid('train', { 'from-scratch': 'yes' }, TRAIN), /--from-scratch is a bare flag: give true or false/);
  t.throws(() => expandGrid('train', { lr: [] }, TRAIN), /"lr" is an empty list/);
  t.throws(() => expandGrid('train', { lr: [{ a: 1 } as never] }, TRAIN), /values are strings, numbers or true\/false/);
  t.throws(() => expandGrid('mask-study', { mask: ['none'] }, MASK_STUDY), /"mask" is not a flag of wgpt mask-study/);
  // dpo is sweepable: its own flags, checked by its own parser.
  const dpoRuns = expandGrid('dpo', { beta: [0.1, 0.5], lr: [1e-4, 3e-4], model: 'sft', data: 'ch07-dpo', 'max-steps': 40 }, DPO);
  t.equal(dpoRuns.length, 4, 'dpo: 2 x 2 runs');
  t.same(dpoRuns[0].args, ['--beta', '0.1', '--lr', '0.0001', '--model', 'sft', '--data', 'ch07-dpo', '--max-steps', '40',
    '--out', dpoRuns[0].dir]);
  t.throws(() => expandGrid('dpo', { 'output-vocab': ['data'] }, DPO), /"output-vocab" is not a flag of wgpt dpo/);
  // pretrain too; --prompt may be given more than once, so a grid gives it once per run.
  const pre = expandGrid('pretrain', { lr: [1e-3, 3e-3], data: 'brown', prompt: 'The' }, PRETRAIN);
  t.same(pre.map((r) => r.args.slice(0, 6)),
    [['--lr', '0.001', '--data', 'brown', '--prompt', 'The'], ['--lr', '0.003', '--data', 'brown', '--prompt', 'The']]);
  t.throws(() => expandGrid('pretrain', { mask: ['none'] }, PRETRAIN), /"mask" is not a flag of wgpt pretrain/);
  writeFileSync(path.join(dir, 'g.json'), '{"beta": [0.1, 0.5], "model": "sft", "data": "pairs.json"}');
  await sweepCli(['plan', '--command', 'dpo', '--grid', path.join(dir, 'g.json'), '--out', path.join(dir, 'p-dpo')]);
  t.equal(lines(path.join(dir, 'p-dpo', 'runs.jsonl')).length, 2, 'wgpt sweep plan --command dpo writes its runs');
  writeFileSync(path.join(dir, 'g.json'), '{"lr": [1]}');
  await t.rejects(sweepCli(['plan', '--command', 'eval', '--grid', path.join(dir, 'g.json'), '--out', path.join(dir, 'p')]),
    /unknown --command "eval": use one of train, pretrain, mask-study, dpo/);
  await t.rejects(sweepCli(['status', path.join(dir, 'nowhere')]), /is not a planned sweep \(no runs.jsonl\)/);
  await t.rejects(sweepCli(['run', path.join(dir, 'nowhere')]), /is not a planned sweep/);
  writeFileSync(path.join(dir, 'g.json'), '[1, 2]');
  await t.rejects(sweepCli(['plan', '--command', 'train', '--grid', path.join(dir, 'g.json'), '--out', path.join(dir, 'p')]),
    /must hold one JSON object/);
});

t.test('the Kubernetes Indexed Job and the sbatch script carry what the schedulers need', async (t) => {
  const y = parseYaml(indexedJobYaml({ runs: 8, maxParallel: 3, name: 'wgpt-sweep-a', image: 'ghcr.io/me/wgpt:1', claim: 'sweeps',
    mountPath: '/sweep', wgpt: ['wgpt'], gpus: 1 }));
  t.equal(y.apiVersion, 'batch/v1');
  t.equal(y.kind, 'Job');
  t.equal(y.spec.completionMode, 'Indexed');
  t.equal(y.spec.completions, 8);
  t.equal(y.spec.parallelism, 3);
  const pod = y.spec.template.spec;
  t.equal(pod.restartPolicy, 'Never');
  t.equal(pod.containers[0].image, 'ghcr.io/me/wgpt:1');
  t.same(pod.containers[0].command, ['wgpt', 'sweep', 'task', '/sweep'], 'the index comes from JOB_COMPLETION_INDEX');
  t.same(pod.containers[0].volumeMounts, [{ name: 'sweep', mountPath: '/sweep' }]);
  t.same(pod.volumes, [{ name: 'sweep', persistentVolumeClaim: { claimName: 'sweeps' } }]);
  t.equal(pod.containers[0].resources.limits['nvidia.com/gpu'], 1);
  const planned = plan('k8s', { seed: [1, 2, 3], ...FAST, 'max-steps': 1 });
  t.equal(wgpt(['sweep', 'run', planned, '--scheduler', 'k8s', '--volume', 'v']).out.trim(),
    'wgpt sweep: --scheduler k8s needs --image IMAGE: a container image with wgpt installed');
  const r = wgpt(['sweep', 'run', planned, '--scheduler', 'k8s', '--image', 'img', '--volume', 'v', '--jobs', '2']);
  t.equal(r.code, 0, r.out);
  const written = parseYaml(readFileSync(path.join(planned, 'sweep-job.yaml'), 'utf8'));
  t.equal(written.metadata.name, 'wgpt-sweep-k8s');
  t.same([written.spec.completions, written.spec.parallelism], [3, 2]);

  const s = sbatchScript('/data/sw', { runs: 8, maxParallel: 4, wgpt: ['/usr/bin/node', '/opt/wgpt/bin/wgpt.js'], gres: 'gpu:1' });
  t.match(s, /^#!\/bin\/bash\n/);
  for (const line of ['#SBATCH --array=0-7%4', '#SBATCH --requeue', '#SBATCH --output=/data/sw/logs/%A_%a.out',
    '#SBATCH --open-mode=append', '#SBATCH --gres=gpu:1']) {
    t.ok(s.split('\n').includes(line), line);
  }
  t.match(s, /\nexec '\/usr\/bin\/node' '\/opt\/wgpt\/bin\/wgpt.js' sweep task '\/data\/sw' --index "\$SLURM_ARRAY_TASK_ID"\n/);
});

t.test('local pool: runs in parallel, a failed run is reported with its log, done runs are skipped', async (t) => {
  const sw = plan('local', { ...FAST, data: [dataFile, 'missing.json'], mask: ['none', 'prompt'], 'max-steps': 3, 'eval-every': 2 });
  const first = wgpt(['sweep', 'run', sw, '--jobs', '2']);
  t.equal(first.code, 1, 'exit 1: some runs failed');
  t.match(first.out, /\[sweep \d+:\d\d\] 2\/4 done, 0 running, 2 failed, 0 queued/, 'the progress line counts them');
  t.match(first.out, /2 run now, 0 already done, 0 stopped, 2 failed: .*sweep\.log/);
  const runs = lines(path.join(sw, 'runs.jsonl'));
  for (const r of runs) {
    const state = json(path.join(sw, r.dir, 'sweep-state.json'));
    const log = readFileSync(path.join(sw, r.dir, 'sweep.log'), 'utf8');
    if (r.params.data === 'missing.json') {
      t.equal(state.status, 'failed', `${r.id} failed`);
      t.match(log, /missing\.json/, 'its log says why');
    } else {
      t.equal(state.status, 'done', `${r.id} done`);
      t.equal(json(path.join(sw, r.dir, 'checkpoint', 'state.json')).step, 3, 'trained 3 steps');
    }
  }
  const status = wgpt(['sweep', 'status', sw]);
  t.match(status.out, /4 runs: 2 done, 0 running, 0 stopped \(resume with sweep run\), 2 failed, 0 pending/);

  const report = wgpt(['sweep', 'report', sw]);
  t.equal(report.code, 0, report.out);
  const sj = json(path.join(sw, 'sweep.json'));
  t.same(sj.axes, ['data', 'mask']);
  t.equal(sj.groups.length, 4);
  for (const r of sj.runs.filter((x: any) => x.status === 'done')) {
    const last = lines(path.join(sw, runs[r.index].dir, 'metrics.jsonl')).at(-1)!;
    t.equal(r.metrics.val_loss, last.val_loss, 'the report reads the final val loss of the run');
    const g = sj.groups.find((x: any) => x.params.mask === r.params.mask && x.params.data === r.params.data);
    t.same(g.stats.val_loss, [last.val_loss, 0], 'one seed: mean is the run, spread 0');
  }
  const md = readFileSync(path.join(sw, 'report.md'), 'utf8');
  t.match(md, /\| data \| mask \| done\/runs \| val_loss \(mean ± sd\) \|/);
  t.match(md, /\| missing\.json \| none \| 0\/1 \| - \|/);
  t.match(md, /## Failed runs/);
  t.ok(existsSync(path.join(sw, 'sweep-val_loss.svg')), 'chart written');
  await t.rejects(sweepCli(['report', sw, '--over', 'lr']), /--over lr: not an axis of this sweep; its axes are data, mask/);
  await t.rejects(sweepCli(['report', sw, '--metric', 'bleu']),
    /--metric bleu: no finished run has it; metrics here: val_loss, train_loss, eval_step/);

  const again = wgpt(['sweep', 'run', sw, '--jobs', '2']);
  t.match(again.out, /2 of 4 runs already done: skipped/);
  t.match(again.out, /0 run now, 2 already done, 0 stopped, 2 failed/, 'failed runs are tried again, done ones are not');
});

t.test('a task stopped by SIGTERM checkpoints, and the next sweep run resumes it', async (t) => {
  const sw = plan('stop', { seed: [1], ...FAST, 'max-steps': 40, 'eval-every': 1000 });
  const [run] = lines(path.join(sw, 'runs.jsonl'));
  const runDir = path.join(sw, run.dir);
  const task = spawn(process.execPath, [CLI, 'sweep', 'task', sw, '--index', '0'], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => task.on('exit', r));
  await until('training to start', () => existsSync(path.join(runDir, 'metrics.jsonl')) &&
    readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8') !== '', 60);
  task.kill('SIGTERM');
  t.equal(await exited, 130, 'the task exits as the run did: interrupted');
  const stoppedAt = json(path.join(runDir, 'checkpoint', 'state.json')).step;
  t.ok(stoppedAt >= 1 && stoppedAt < 40, `checkpoint at step ${stoppedAt}`);
  t.equal(json(path.join(runDir, 'sweep-state.json')).status, 'stopped');

  const r = wgpt(['sweep', 'run', sw]);
  t.equal(r.code, 0, r.out);
  const log = readFileSync(path.join(runDir, 'sweep.log'), 'utf8');
  t.match(log, /received SIGTERM: asking the run to save its checkpoint and stop/);
  t.match(log, new RegExp(`interrupted at step ${stoppedAt}: checkpoint saved`));
  t.match(log, new RegExp(`attempt 2 on .*: resuming from its checkpoint at step ${stoppedAt}\\n`));
  t.match(log, new RegExp(`wgpt train .* --resume ${run.dir}\\n`));
  t.equal(json(path.join(runDir, 'checkpoint', 'state.json')).step, 40, 'finished all 40 steps');
  t.match(json(path.join(runDir, 'sweep-state.json')), { status: 'done', attempts: 2, resumedFrom: stoppedAt });
});

const missing = slurmMissing();
t.test('Slurm: an array job on a one-node cluster; a requeued task resumes from its checkpoint', { skip: missing ?? false }, async (t) => {
  const cluster = await startSlurm();
  const onExit = (): void => cluster.stopNow();
  process.once('exit', onExit);
  t.teardown(async () => {
    process.off('exit', onExit);
    await cluster.stop();
  });
  const sw = plan('slurm', { seed: [1, 2], ...FAST, 'max-steps': 40, 'eval-every': 1000 });
  const runs = lines(path.join(sw, 'runs.jsonl'));
  const sub = wgpt(['sweep', 'run', sw, '--scheduler', 'slurm', '--jobs', '2', '--submit'], cluster.env);
  t.equal(sub.code, 0, sub.out);
  const job = /job (\d+)/.exec(sub.out)?.[1];
  t.ok(job, `submitted: ${sub.out.trim()}`);
  t.match(readFileSync(path.join(sw, 'sweep.sbatch'), 'utf8'), /#SBATCH --array=0-1%2\n/);

  // Preempt task 0 once it is training: Slurm sends SIGTERM, the run checkpoints, the task is requeued.
  const run0 = path.join(sw, runs[0].dir);
  await until('task 0 to start training', () => existsSync(path.join(run0, 'metrics.jsonl')) &&
    readFileSync(path.join(run0, 'metrics.jsonl'), 'utf8') !== '', 120);
  cluster.scontrol('requeue', `${job}_0`);
  await until('task 0 to stop', () => json(path.join(run0, 'sweep-state.json')).status === 'stopped', 60);
  // A requeued job waits out a begin-time delay (about two minutes); once it is back in the queue,
  // let it start now, as the scheduler would later.
  // squeue's answer, or null when it failed (a busy controller prints nothing and exits non-zero:
  // never read that as "the queue is empty").
  const squeue = (...args: string[]): string | null => {
    const r = spawnSync('squeue', ['-h', ...args], { env: cluster.env, encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const queued = (): string | null => squeue('-j', `${job}_0`, '-o', '%T %r');
  await until('task 0 to be pending again', () => queued() === 'PENDING BeginTime', 60);
  cluster.scontrol('update', `JobId=${job}_0`, 'StartTime=now');
  // Seen in CI, on a loaded machine: the requeued task left the queue without running again (its
  // state still 'stopped'). Every 10 s: a pending task is asked again to start now (and released,
  // should it be held); a stopped task that left the queue is requeued again, as an operator would.
  let polls = 0;
  let requeues = 1;
  const stopped = (): boolean => json(path.join(run0, 'sweep-state.json')).status === 'stopped';
  const tryScontrol = (...args: string[]): void => {
    try {
      cluster.scontrol(...args);
    } catch {
      // the task moved on meanwhile: nothing to do
    }
  };
  const finished = (): boolean => {
    if (++polls % 50 === 0) {
      const q = queued();
      if (q?.startsWith('PENDING')) {
        tryScontrol('update', `JobId=${job}_0`, 'StartTime=now');
        tryScontrol('release', `${job}_0`);
      } else if (q === '' && stopped()) {
        requeues++;
        tryScontrol('requeue', `${job}_0`);
        tryScontrol('update', `JobId=${job}_0`, 'StartTime=now');
      }
    }
    return squeue('-j', job!) === '' && !stopped();
  };
  await until('the array job to finish', finished, 240).catch((e: Error) => {
    const log0 = path.join(sw, 'logs', `${job}_0.out`);
    const tail = existsSync(log0) ? readFileSync(log0, 'utf8').split('\n').slice(-8).join(' | ') : '(no log)';
    throw new Error(`${e.message}; squeue: ${squeue('-o', '%i %T %r') ?? '(failed)'}; ` +
      `task 0 state ${JSON.stringify(json(path.join(run0, 'sweep-state.json')))}; log: ${tail}`);
  });

  t.comment(`task 0 requeued ${requeues} time(s)`);
  const logs = readdirSync(path.join(sw, 'logs'));
  t.same(logs.sort(), [`${job}_0.out`, `${job}_1.out`], 'one output file per task');
  const out0 = readFileSync(path.join(sw, 'logs', `${job}_0.out`), 'utf8');
  const stoppedAt = /interrupted at step (\d+): checkpoint saved/.exec(out0)?.[1];
  t.ok(stoppedAt, 'the run saved a checkpoint when preempted');
  t.comment(out0.split('\n').filter((l) => /\[sweep|interrupted|CANCELLED|steps,/.test(l)).join('\n'));
  t.match(out0, /received SIGTERM: asking the run to save its checkpoint and stop/);
  t.match(out0, new RegExp(`attempt \\d+ on .*: resuming from its checkpoint at step ${stoppedAt}\\n`));
  const state0 = json(path.join(run0, 'sweep-state.json'));
  t.match(state0, { status: 'done', resumedFrom: Number(stoppedAt) });
  t.ok(state0.attempts >= 2, `attempts ${state0.attempts} (requeued ${requeues} time(s))`);
  for (const r of runs) t.equal(json(path.join(sw, r.dir, 'checkpoint', 'state.json')).step, 40, `${r.id}: 40 steps`);
  t.match(json(path.join(sw, runs[1].dir, 'sweep-state.json')), { status: 'done', attempts: 1 });

  const report = wgpt(['sweep', 'report', sw]);
  t.equal(report.code, 0, report.out);
  t.match(report.out, /2 runs: 2 done/);
  t.equal(json(path.join(sw, 'sweep.json')).groups[0].done, 2, 'both seeds in the one group');
});
