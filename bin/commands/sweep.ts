// wgpt sweep: many runs of one command over a grid of flags, handed to the scheduler people already
// have (a local pool, Slurm array jobs, Kubernetes Indexed Jobs), resumed from checkpoints when
// preempted, and gathered into one report. wgpt never grows a scheduler of its own.
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { runLocal } from '../../train/sweep/local.ts';
import { jobName, writeK8sJob } from '../../train/sweep/k8s.ts';
import { expandGrid, readGrid, readPlan, RUNS_FILE, writePlan } from '../../train/sweep/plan.ts';
import { countLine, gather, statusTable, writeSweepReport } from '../../train/sweep/report.ts';
import { submitSbatch, writeSbatch } from '../../train/sweep/slurm.ts';
import type { SweepSpec } from '../../train/sweep/spec.ts';
import { runTask, taskIndex } from '../../train/sweep/task.ts';
import { HELP, selfWgpt } from './common.ts';
import { INT, own, parseFlags, SWITCH, TEXT, usageText } from './flags.ts';

/** The commands a sweep can run; each module exports its SWEEP spec. Adding one is one line. */
const SWEEPABLE: Record<string, () => Promise<{ SWEEP: SweepSpec }>> = {
  train: () => import('./train.ts'),
  pretrain: () => import('./pretrain.ts'),
  'mask-study': () => import('./mask-study.ts'),
  dpo: () => import('./dpo.ts'),
};

/** The flags of wgpt sweep: its usage and its parser are made from them. */
export const FLAGS = [
  own('command', TEXT, 'NAME', 'plan: the command to run (train, pretrain, mask-study, dpo)'),
  own('grid', TEXT, 'FILE.json', 'plan: the grid'),
  own('out', TEXT, 'DIR', 'plan: the sweep directory'),
  own('scheduler', TEXT, 'local|slurm|k8s', 'run: where the runs go (local)', { default: 'local' }),
  own('jobs', INT, 'N', 'run: runs at once (local: 1; slurm, k8s: all)'),
  own('submit', SWITCH, null, 'run, slurm: call sbatch', { default: false }),
  own('partition', TEXT, 'P', 'run, slurm: the partition'),
  own('time', TEXT, 'T', 'run, slurm: the time limit'),
  own('gres', TEXT, 'G', 'run, slurm: generic resources (e.g. gpu:1)'),
  own('cpus-per-task', INT, 'N', 'run, slurm: CPUs per task'),
  own('image', TEXT, 'IMAGE', 'run, k8s: a container image with wgpt installed (required)'),
  own('volume', TEXT, 'CLAIM', 'run, k8s: the persistent volume claim holding the sweep directory (required)'),
  own('mount', TEXT, 'PATH', 'run, k8s: where the volume is mounted (/sweep)', { default: '/sweep' }),
  own('gpus', INT, 'N', 'run, k8s: GPUs per pod (0)'),
  own('name', TEXT, 'NAME', 'run: the job\'s name'),
  own('wgpt', TEXT, 'CMD', 'run, task: how the nodes start wgpt (default: this node and checkout; k8s: wgpt)'),
  own('index', TEXT, 'I', 'task: the line of runs.jsonl (default SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)'),
  own('over', TEXT, 'AXIS', 'report: the axis to take mean ± sd over (seed)'),
  own('metric', TEXT, 'NAME', 'report: the metric to chart'),
  HELP,
] as const;

const USAGE = usageText(`usage: wgpt sweep plan --command train|pretrain|mask-study|dpo --grid FILE.json --out DIR
       wgpt sweep run DIR [--scheduler local|slurm|k8s] [--jobs N] [options]
       wgpt sweep status DIR
       wgpt sweep report DIR [--over AXIS] [--metric NAME]
       wgpt sweep task DIR [--index I]

plan     the grid is one JSON object of the command's flags (no dashes): a list is an axis, any
         other value a flag every run gets (true: a bare flag). {"mask": ["none", "prompt"],
         "lr": [5e-5, 1e-4], "seed": [1, 2, 3], "model": "tiny"} is 12 runs. Writes DIR/runs.jsonl;
         runs start in DIR, so relative paths in the grid (--data FILE) are read from there.
run      local (default): N child processes here (--jobs, default 1: one GPU adapter per machine,
         or the software GPU); done runs are skipped, stopped ones resume from their checkpoint.
         slurm: writes DIR/sweep.sbatch (array job, %N at once, --requeue); --submit calls sbatch.
         k8s: writes DIR/sweep-job.yaml (Indexed Job) for kubectl apply. Their flags: below.
status   which runs are done, running, stopped, failed, pending
report   DIR/report.md, DIR/sweep.json and a chart: final metrics by every axis but --over
         (default seed), mean ± sd over it
task     runs one line of runs.jsonl (index from --index, SLURM_ARRAY_TASK_ID or
         JOB_COMPLETION_INDEX): what the pool, the sbatch script and the k8s Job call
`, FLAGS);

async function specOf(command: string | undefined): Promise<SweepSpec> {
  if (command === undefined) throw new WgptError(`sweep plan needs --command: one of ${Object.keys(SWEEPABLE).join(', ')}`);
  const load = SWEEPABLE[command];
  if (!load) throw new WgptError(`unknown --command "${command}": use one of ${Object.keys(SWEEPABLE).join(', ')}`);
  return (await load()).SWEEP;
}

function needDir(dir: string | undefined, sub: string): string {
  if (!dir) throw new WgptError(`sweep ${sub} needs the sweep directory: wgpt sweep ${sub} DIR`);
  return dir;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS, USAGE);
  const [sub, dirArg, extra] = positionals;
  if (extra !== undefined) throw new WgptError(`sweep: unexpected argument "${extra}"; see wgpt sweep --help`);
  const wgpt = values.wgpt?.trim().split(/\s+/);
  switch (sub) {
    case 'plan': {
      if (dirArg !== undefined) throw new WgptError(`sweep plan takes --out DIR, not "${dirArg}"`);
      const spec = await specOf(values.command);
      if (!values.grid || !values.out) throw new WgptError('sweep plan needs --grid FILE.json and --out DIR');
      const grid = readGrid(values.grid);
      const runs = expandGrid(values.command!, grid, spec);
      writePlan(values.out, values.command!, grid, runs);
      console.log(`${runs.length} runs of wgpt ${values.command} planned in ${path.join(values.out, RUNS_FILE)}`);
      return 0;
    }
    case 'run': {
      const dir = needDir(dirArg, 'run');
      const { plan, runs } = readPlan(dir);
      await specOf(plan.command); // a plan made by another version must still name a sweepable command
      const jobs = values.jobs ?? (values.scheduler === 'local' ? 1 : runs.length);
      if (jobs < 1) throw new WgptError('--jobs must be at least 1');
      if (values.scheduler === 'local') {
        if (jobs > availableParallelism()) console.error(`note: ${jobs} jobs on ${availableParallelism()} CPU cores share one GPU adapter`);
        const r = await runLocal(dir, runs, { jobs, wgpt: wgpt ?? selfWgpt() });
        console.log(`${r.done} run now, ${r.skipped} already done, ${r.stopped} stopped, ${r.failed.length} failed` +
          `${r.failed.length ? `: ${r.failed.map((f) => f.log).join(', ')}` : ''}`);
        return r.failed.length > 0 || r.stopped > 0 ? 1 : 0;
      }
      if (values.scheduler === 'slurm') {
        const file = writeSbatch(dir, {
          runs: runs.length, maxParallel: jobs, wgpt: wgpt ?? selfWgpt(), jobName: values.name ?? 'wgpt-sweep', partition: values.partition,
          time: values.time, gres: values.gres, cpusPerTask: values['cpus-per-task'],
        });
        if (!values.submit) {
          console.log(`wrote ${file}: submit with sbatch ${file} (or add --submit)`);
          return 0;
        }
        console.log(`submitted ${file}: job ${submitSbatch(file)}`);
        return 0;
      }
      if (values.scheduler === 'k8s') {
        const file = writeK8sJob(dir, {
          runs: runs.length, maxParallel: jobs, name: values.name ?? jobName(dir), image: values.image ?? '', claim: values.volume ?? '',
          mountPath: values.mount!, wgpt: wgpt ?? ['wgpt'], gpus: values.gpus ?? 0,
        });
        console.log(`wrote ${file}: copy ${dir} onto volume ${values.volume} and run kubectl apply -f ${file}`);
        return 0;
      }
      throw new WgptError(`unknown --scheduler "${values.scheduler}": use local, slurm or k8s`);
    }
    case 'task': {
      const dir = needDir(dirArg, 'task');
      const { plan } = readPlan(dir);
      return runTask(dir, taskIndex(values.index), await specOf(plan.command), { wgpt: wgpt ?? selfWgpt() });
    }
    case 'status': {
      const dir = needDir(dirArg, 'status');
      const { plan } = readPlan(dir);
      const { axes, rows } = gather(dir, await specOf(plan.command));
      console.log(`${statusTable(rows, axes)}\n\n${countLine(rows)}`);
      return 0;
    }
    case 'report': {
      const dir = needDir(dirArg, 'report');
      const { plan } = readPlan(dir);
      console.log(await writeSweepReport(dir, await specOf(plan.command), { over: values.over, metric: values.metric }));
      console.error(`wrote ${path.join(dir, 'report.md')} and ${path.join(dir, 'sweep.json')}`);
      return 0;
    }
    default:
      throw new WgptError(sub === undefined ? `sweep needs a subcommand: plan, run, status, report or task (wgpt sweep --help)`
        : `unknown sweep subcommand "${sub}": use plan, run, status, report or task`);
  }
}
