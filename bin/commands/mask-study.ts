// wgpt mask-study: every loss mask side by side on the same model and data, with a report; with
// --plw, the prompt-loss-weight study: weights × seeds as a sweep, one table with the seed spread.
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { maskStudy, type StudyOptions } from '../../train/study/mask-study.ts';
import { LOSS_MASK_NAMES } from '../../train/data/collate.ts';
import { checkResponseLength, RESPONSE_LENGTHS } from '../../train/data/fact-responses.ts';
import { plwRun, type PlwRunOptions } from '../../train/study/plw-run.ts';
import { writePlwReport } from '../../train/study/plw-report.ts';
import { parseWeights, planStudy, readStudyResults, studyGrid, studySeeds } from '../../train/study/plw-study.ts';
import { ensureBuiltinBase } from '../../train/builtin/base.ts';
import { maskStudyMetrics } from '../../train/sweep/metrics.ts';
import { runLocal } from '../../train/sweep/local.ts';
import type { Scalar, SweepSpec } from '../../train/sweep/spec.ts';
import { DEFAULT_GEN_BATCH } from '../../train/eval/responses.ts';
import { DEVICE_OPTIONS, DEVICE_USAGE, intOption, numberOption, parse, positiveIntOption, selfWgpt, withDevice } from './common.ts';

const USAGE = `usage: wgpt mask-study [--model FILE|DIR|NAME] [--data FILE|ch07] [options]
       wgpt mask-study --plw 0,0.01,0.1,0.5,1 --seeds N [--data facts|ch07|FILE] [options]

With no options: the tiny model (random init) on the built-in tasks, about five minutes on 2 CPU
cores (30 steps of 4 per strategy; unmasked steps cost ~5x masked ones: every position goes
through the 50257-wide LM head).

  --strategies LIST   comma-separated loss masks (default ${LOSS_MASK_NAMES.join(',')})
  --steps N           training steps per strategy (default 30; --plw: 100 per run)
  --out DIR           where report.md, study.json and the charts go (default runs/mask-study-<time>)
  --batches N         train batches for the gradient comparison (2; --plw: 4)
  --batch-size N      (4 on the built-in tasks, else the chapter's 8; --plw: 8)
  --lr X              (3e-3 from scratch, else 5e-5; --plw on the built-in base: 1e-3)
  --held-out N        entries scored after training (27; --plw: the whole test split)
  --eval-batches N    val batches for the comparable loss (3; --plw: the whole val split)
  --max-new-tokens N  (8 on the built-in tasks, else 64; --plw on facts: the longest answer + 4)
  --style alpaca|phi3    --seed N (123)   --from-scratch
  --gen-batch N       held-out prompts generated together (${DEFAULT_GEN_BATCH}; answers do not depend on it)

The prompt-loss-weight study (Huerta-Enochian & Ko 2024; Shi et al. 2024): each weight W trains
with the prompt's targets weighted W (wgpt train --prompt-loss-weight), from the same model, on
each seed; per run the response-only val loss, held-out exact match and ROUGE-L, the gradient
norms of the prompt's and the response's loss; one table (mean ± sd [min-max] over seeds, whether
the differences exceed the seed spread) and one plot, plw-study.md/.json/.png in --out. Default
data: the fact world's questions, finetuned from the built-in base model (made when absent).
  --plw LIST          prompt-loss weights, each 0..1 (0: the prompt mask, 1: no mask)
  --seeds N           seeds per weight: --seed, --seed + 1, ... (3); one weight and one seed is
                      one run, in this process (plw-run.json in --out)
  --data facts|ch07|FILE  (facts)     --model builtin|DIR|NAME  (builtin on facts, else tiny from scratch)
  --response-length short|plain|long  the fact world's answers: the value and the word before it
                      ("in Paris."), a sentence (plain, as generated), or the sentence and two
                      biographies of the person (longer than the prompts)
  --jobs N            runs at once in the local pool (1: one adapter)
  --plan-only         plan the runs in --out and stop: start them with wgpt sweep run DIR
                      --scheduler slurm|k8s, then run this command again for the table
${DEVICE_USAGE}`;

/** The flags of wgpt mask-study, exported so `wgpt sweep plan` checks a grid against the real parser. */
export const OPTIONS = {
  ...DEVICE_OPTIONS,
  model: { type: 'string' }, data: { type: 'string' }, strategies: { type: 'string' }, steps: { type: 'string' }, out: { type: 'string' },
  batches: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' }, 'held-out': { type: 'string' },
  'max-new-tokens': { type: 'string' }, style: { type: 'string', default: 'alpaca' }, seed: { type: 'string' },
  'from-scratch': { type: 'boolean' }, 'eval-batches': { type: 'string' }, 'gen-batch': { type: 'string' },
  plw: { type: 'string' }, seeds: { type: 'string' }, 'response-length': { type: 'string' }, jobs: { type: 'string' },
  'plan-only': { type: 'boolean' },
} as const;

/** How `wgpt sweep` runs a study: it has no checkpoint, so a stopped study starts again. */
export const SWEEP: SweepSpec = { options: OPTIONS, outFlag: 'out', resumeFlag: null, checkpointStep: async () => null, metrics: maskStudyMetrics };

type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];
const stamp = (): string => new Date().toISOString().replace(/[:.]/g, '-');
/** Flags only the prompt-loss-weight study takes. */
const PLW_ONLY = ['seeds', 'response-length', 'jobs', 'plan-only'] as const;

export async function run(argv: string[]): Promise<void> {
  const { values } = parse(argv, OPTIONS, USAGE);
  if (values.plw !== undefined) return plwStudy(values);
  const stray = PLW_ONLY.find((k) => values[k] !== undefined);
  if (stray) throw new WgptError(`--${stray} belongs to the prompt-loss-weight study: give --plw too (e.g. --plw 0,0.01,0.1,0.5,1)`);
  const model = values.model ?? 'tiny';
  const fromScratch = values['from-scratch'] || values.model === undefined;
  const builtInData = values.data === undefined;
  const opts: StudyOptions = {
    model, fromScratch, data: values.data ?? null,
    strategies: (values.strategies ?? LOSS_MASK_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean),
    steps: intOption(values.steps, 'steps', 30),
    out: values.out ?? path.join('runs', `mask-study-${stamp()}`),
    style: values.style!, seed: intOption(values.seed, 'seed', 123), batchSize: intOption(values['batch-size'], 'batch-size', builtInData ? 4 : 8),
    batches: intOption(values.batches, 'batches', 2), lr: numberOption(values.lr, 'lr', fromScratch ? 3e-3 : 5e-5), weightDecay: 0.1,
    evalBatches: intOption(values['eval-batches'], 'eval-batches', 3), heldOut: intOption(values['held-out'], 'held-out', 27),
    maxNewTokens: intOption(values['max-new-tokens'], 'max-new-tokens', builtInData ? 8 : 64), syntheticCount: 2000,
    genBatch: positiveIntOption(values['gen-batch'], 'gen-batch', DEFAULT_GEN_BATCH),
  };
  await withDevice(values, async () => {
    await maskStudy(opts);
    console.log(`report: ${path.join(opts.out, 'report.md')}`);
  });
}

/** One run's options from the flags (every run of a study parses the same flags plus its W and seed). */
function runOptions(values: Values, weight: number, out: string): PlwRunOptions {
  const data = values.data ?? 'facts';
  const model = values.model ?? (data === 'facts' ? 'builtin' : 'tiny');
  if (model === 'builtin' && values['from-scratch']) throw new WgptError('--model builtin is the pretrained built-in base; --from-scratch would drop it: give --model tiny --from-scratch instead');
  // tiny and mini have no weights to load: they are always a random init (over the data's tokens here).
  const fromScratch = values['from-scratch'] || model === 'tiny' || model === 'mini';
  if (values['response-length'] !== undefined && data !== 'facts') throw new WgptError(`--response-length applies to the fact world (--data facts), not to --data ${data}`);
  const responseLength = values['response-length'] ?? (data === 'facts' ? 'plain' : null);
  if (responseLength !== null) checkResponseLength(responseLength);
  const optional = (v: string | undefined, name: string): number | null => (v === undefined ? null : positiveIntOption(v, name, 1));
  return {
    model, fromScratch, data, responseLength, promptLossWeight: weight, seed: intOption(values.seed, 'seed', 123),
    steps: positiveIntOption(values.steps, 'steps', 100), batchSize: positiveIntOption(values['batch-size'], 'batch-size', 8),
    lr: numberOption(values.lr, 'lr', model === 'builtin' ? 1e-3 : fromScratch ? 3e-3 : 5e-5), warmupSteps: 10, weightDecay: 0.1,
    style: values.style!, evalBatches: optional(values['eval-batches'], 'eval-batches'), gradBatches: positiveIntOption(values.batches, 'batches', 4),
    heldOut: values['held-out'] === undefined ? null : intOption(values['held-out'], 'held-out', 0),
    maxNewTokens: values['max-new-tokens'] === undefined ? null : intOption(values['max-new-tokens'], 'max-new-tokens', 0),
    syntheticCount: 1800, genBatch: positiveIntOption(values['gen-batch'], 'gen-batch', DEFAULT_GEN_BATCH), out,
  };
}

async function plwStudy(values: Values): Promise<void> {
  if (values.strategies !== undefined) throw new WgptError('--strategies compares the loss masks; --plw studies the prompt-loss weight: give one of them');
  const weights = parseWeights(values.plw!);
  const nSeeds = positiveIntOption(values.seeds, 'seeds', 3);
  const out = values.out ?? path.join('runs', `plw-study-${stamp()}`);
  const probe = runOptions(values, weights[0], out); // checks every flag before anything starts
  if (weights.length === 1 && nSeeds === 1) {
    await withDevice(values, async () => {
      await plwRun(probe);
      console.log(`result: ${path.join(out, 'plw-run.json')}`);
    });
    return;
  }
  // Every other flag the user gave goes to each run as given; the study sets W, the seed and --out.
  const own = new Set(['plw', 'seeds', 'seed', 'out', 'jobs', 'plan-only', 'help']);
  const fixed = Object.fromEntries(Object.entries(values).filter(([k, v]) => !own.has(k) && v !== undefined)) as Record<string, Scalar>;
  const seeds = studySeeds(probe.seed, nSeeds);
  const runs = planStudy(out, studyGrid(weights, seeds, fixed), SWEEP);
  const command = `wgpt mask-study ${process.argv.slice(3).join(' ')}`;
  if (values['plan-only']) {
    console.log(`${runs.length} runs planned in ${out}: start them with wgpt sweep run ${out} --scheduler slurm|k8s ... (as any sweep); ` +
      `when they are done, run this command again without --plan-only for the table (done runs are skipped)`);
    return;
  }
  const started = performance.now();
  // The built-in base is made once here, not by the first runs at the same time.
  if (probe.model === 'builtin') await withDevice(values, () => ensureBuiltinBase());
  const pool = await runLocal(out, runs, { jobs: positiveIntOption(values.jobs, 'jobs', 1), wgpt: selfWgpt() });
  const { results, done } = readStudyResults(out, runs);
  const data = probe.data === 'facts' ? `the fact world's questions (${probe.responseLength} answers)` : `\`${probe.data}\``;
  const md = await writePlwReport(out, results, {
    setup: `Model \`${probe.model}\`${probe.fromScratch ? ' (random init)' : ''}, data ${data}, style ${probe.style}; ${probe.steps} steps of ` +
      `${probe.batchSize} per run (AdamW, lr ${probe.lr}, warm-up ${probe.warmupSteps} steps then cosine to lr/10, weight decay ${probe.weightDecay}); ` +
      `weights ${weights.join(', ')}; seeds ${seeds.join(', ')} (data order${probe.data === 'facts' ? ', data draw' : ''}${probe.fromScratch ? ', initial weights' : ''}).`,
    command, runs: { done, planned: runs.length }, wallSeconds: (performance.now() - started) / 1000,
  });
  console.log(md);
  console.log(`report: ${path.join(out, 'plw-study.md')}${pool.failed.length ? `; ${pool.failed.length} run(s) failed: ${pool.failed.map((f) => f.log).join(', ')}` : ''}`);
  if (pool.failed.length > 0 || pool.stopped > 0) process.exitCode = 1;
}
