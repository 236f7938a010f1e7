// wgpt mask-study: every loss mask side by side on the same model and data, with a report; with
// --plw, the prompt-loss-weight study: weights × seeds as a sweep, one table with the seed spread
// and a paired test of the differences (train/study/compare.ts).
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { ensureBuiltinBase } from '../../train/builtin/base.ts';
import { LOSS_MASK_NAMES } from '../../train/data/loss-masks.ts';
import { checkResponseLength } from '../../train/data/fact-responses.ts';
import { DEFAULT_GEN_BATCH } from '../../train/eval/responses.ts';
import { maskStudy, type StudyOptions } from '../../train/study/mask-study.ts';
import { writePlwReport } from '../../train/study/plw-report.ts';
import { plwRun, type PlwRunOptions } from '../../train/study/plw-run.ts';
import { parseWeights, planStudy, readStudyResults, studyGrid, studySeeds } from '../../train/study/plw-study.ts';
import { runLocal } from '../../train/sweep/local.ts';
import { maskStudyMetrics } from '../../train/sweep/metrics.ts';
import type { Scalar, SweepSpec } from '../../train/sweep/spec.ts';
import { defaultOut, DEVICE_FLAGS, inRunDir, selfWgpt, withDevice } from './common.ts';
import { INT, NUMBER, own, OVERWRITE, parseArgsOptions, parseFlags, POSITIVE_INT, SWITCH, TEXT, usageText } from './flags.ts';

/** Flags of both studies (the defaults in brackets: the prompt-loss-weight study's). */
const STUDY_FLAGS = [
  own('model', TEXT, 'FILE|DIR|NAME', 'the model (tiny from scratch; --plw: builtin on facts, else tiny from scratch)'),
  own('data', TEXT, 'FILE|ch07', 'the data (the built-in tasks; --plw: facts, the fact world\'s questions)'),
  own('strategies', TEXT, 'LIST', `comma-separated loss masks (default ${LOSS_MASK_NAMES.join(',')})`),
  own('steps', INT, 'N', 'training steps per strategy (default 30; --plw: 100 per run)'),
  own('out', TEXT, 'DIR', 'where report.md, study.json and the charts go (default runs/mask-study-<time>;\n' +
    '--plw: the study\'s sweep directory, runs/plw-study-<time>)'),
  OVERWRITE,
  own('batches', INT, 'N', 'train batches for the gradient comparison (2; --plw: 4)'),
  own('batch-size', INT, 'N', '(4 on the built-in tasks, else the chapter\'s 8; --plw: 8)'),
  own('lr', NUMBER, 'X', '(3e-3 from scratch, else 5e-5; --plw on the built-in base: 1e-3)'),
  own('held-out', INT, 'N', 'entries scored after training (27; --plw: the whole test split)'),
  own('eval-batches', INT, 'N', 'val batches for the comparable loss (3; --plw: the whole val split)'),
  own('max-new-tokens', INT, 'N', '(8 on the built-in tasks, else 64; --plw on facts: the longest answer + 4)'),
  own('style', TEXT, 'alpaca|phi3', 'prompt style (alpaca)', { default: 'alpaca' }),
  own('seed', INT, 'N', '(123)'),
  own('from-scratch', SWITCH, null, 'random GPT-2 init for a size name'),
  own('gen-batch', POSITIVE_INT, 'N', `held-out prompts generated together (${DEFAULT_GEN_BATCH}; answers do not depend on it)`),
] as const;

/** Flags only the prompt-loss-weight study takes (--plw with the rest). */
const PLW_FLAGS = [
  own('plw', TEXT, 'LIST', 'prompt-loss weights, each 0..1 (0: the prompt mask, 1: no mask)'),
  own('seeds', POSITIVE_INT, 'N', 'seeds per weight: --seed, --seed + 1, ... (3); one weight and one seed is\n' +
    'one run, in this process (plw-run.json in --out)'),
  own('response-length', TEXT, 'short|plain|long', 'the fact world\'s answers: the value and the word before it\n' +
    '("in Paris."), a sentence (plain, as generated), or the sentence and two\nbiographies of the person (longer than the prompts)'),
  own('jobs', POSITIVE_INT, 'N', 'runs at once in the local pool (1: one adapter)'),
  own('plan-only', SWITCH, null, 'plan the runs in --out and stop: start them with wgpt sweep run DIR\n' +
    '--scheduler slurm|k8s, then run this command again for the table'),
] as const;

/** The flags of wgpt mask-study: its usage and its parser are made from them. */
export const FLAGS = [...STUDY_FLAGS, ...PLW_FLAGS, ...DEVICE_FLAGS] as const;

const USAGE = usageText(`usage: wgpt mask-study [--model FILE|DIR|NAME] [--data FILE|ch07] [options]
       wgpt mask-study --plw 0,0.01,0.1,0.5,1 --seeds N [--data facts|ch07|FILE] [options]

With no options: the tiny model (random init) on the built-in tasks, about five minutes on 2 CPU
cores (30 steps of 4 per strategy; unmasked steps cost ~5x masked ones: every position goes
through the 50257-wide LM head).
`, STUDY_FLAGS, `
The prompt-loss-weight study (Huerta-Enochian & Ko 2024; Shi et al. 2024): each weight W trains
with the prompt's targets weighted W (wgpt train --prompt-loss-weight), from the same model, on
each seed; per run the response-only val loss, held-out exact match and ROUGE-L, the gradient
norms of the prompt's and the response's loss; one table (mean ± sd [min-max] over seeds, the best
weight against the worst by a paired test over seeds and questions) and one plot, plw-study.md/.json/.png in --out. Default
data: the fact world's questions, finetuned from the built-in base model (made when absent).`, PLW_FLAGS, '', DEVICE_FLAGS);

/** How `wgpt sweep` runs a study: it has no checkpoint, so a stopped study starts again. */
export const SWEEP: SweepSpec = {
  options: parseArgsOptions(FLAGS), outFlag: 'out', resumeFlag: null, checkpointStep: async () => null, metrics: maskStudyMetrics,
};

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];
type Raw = ReturnType<typeof parseFlags<typeof FLAGS>>['raw'];

export async function run(argv: string[]): Promise<void> {
  const { values, raw } = parseFlags(argv, FLAGS, USAGE);
  if (values.plw !== undefined) return plwStudy(values, raw);
  const stray = PLW_FLAGS.map((e) => e.flag).find((k) => values[k] !== undefined);
  if (stray) throw new WgptError(`--${stray} belongs to the prompt-loss-weight study: give --plw too (e.g. --plw 0,0.01,0.1,0.5,1)`);
  const model = values.model ?? 'tiny';
  const fromScratch = values['from-scratch'] || values.model === undefined;
  const builtInData = values.data === undefined;
  const opts: StudyOptions = {
    model, fromScratch, data: values.data ?? null,
    strategies: (values.strategies ?? LOSS_MASK_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean),
    steps: values.steps ?? 30, out: values.out ?? defaultOut('mask-study-'),
    style: values.style!, seed: values.seed ?? 123, batchSize: values['batch-size'] ?? (builtInData ? 4 : 8),
    batches: values.batches ?? 2, lr: values.lr ?? (fromScratch ? 3e-3 : 5e-5), weightDecay: 0.1,
    evalBatches: values['eval-batches'] ?? 3, heldOut: values['held-out'] ?? 27,
    maxNewTokens: values['max-new-tokens'] ?? (builtInData ? 8 : 64), syntheticCount: 2000,
    genBatch: values['gen-batch'] ?? DEFAULT_GEN_BATCH,
  };
  // No checkpoint: a replaced study's files go once this one has written its report.
  await inRunDir(opts.out, values, (held) => withDevice(values, async () => {
    await maskStudy(opts);
    held.dropReplaced();
    console.log(`report: ${path.join(opts.out, 'report.md')}`);
  }));
}

/** One run's options from the flags (every run of a study parses the same flags plus its W and seed). */
function runOptions(values: Values, weight: number, out: string): PlwRunOptions {
  const data = values.data ?? 'facts';
  const model = values.model ?? (data === 'facts' ? 'builtin' : 'tiny');
  if (model === 'builtin' && values['from-scratch']) throw new WgptError(
    '--model builtin is the pretrained built-in base; --from-scratch would drop it: give --model tiny --from-scratch instead');
  // tiny and mini have no weights to load: they are always a random init (over the data's tokens here).
  const fromScratch = values['from-scratch'] || model === 'tiny' || model === 'mini';
  if (values['response-length'] !== undefined && data !== 'facts') throw new WgptError(
    `--response-length applies to the fact world (--data facts), not to --data ${data}`);
  const responseLength = values['response-length'] ?? (data === 'facts' ? 'plain' : null);
  if (responseLength !== null) checkResponseLength(responseLength);
  // The mask study takes these as integers; a run of the weight study needs at least 1 of each.
  const positive = (v: number | undefined, flag: string): number | undefined => (v === undefined ? v : POSITIVE_INT.parse(String(v), flag));
  return {
    model, fromScratch, data, responseLength, promptLossWeight: weight, seed: values.seed ?? 123,
    steps: positive(values.steps, 'steps') ?? 100, batchSize: positive(values['batch-size'], 'batch-size') ?? 8,
    lr: values.lr ?? (model === 'builtin' ? 1e-3 : fromScratch ? 3e-3 : 5e-5), warmupSteps: 10, weightDecay: 0.1,
    style: values.style!, evalBatches: positive(values['eval-batches'], 'eval-batches') ?? null,
    gradBatches: positive(values.batches, 'batches') ?? 4,
    heldOut: values['held-out'] ?? null, maxNewTokens: values['max-new-tokens'] ?? null,
    syntheticCount: 1800, genBatch: values['gen-batch'] ?? DEFAULT_GEN_BATCH, out,
  };
}

async function plwStudy(values: Values, raw: Raw): Promise<void> {
  if (values.strategies !== undefined) throw new WgptError(
    '--strategies compares the loss masks; --plw studies the prompt-loss weight: give one of them');
  const weights = parseWeights(values.plw!);
  const nSeeds = values.seeds ?? 3;
  const out = values.out ?? defaultOut('plw-study-');
  const probe = runOptions(values, weights[0], out); // checks every flag before anything starts
  if (weights.length === 1 && nSeeds === 1) {
    await inRunDir(out, values, (held) => withDevice(values, async () => {
      await plwRun(probe);
      held.dropReplaced();
      console.log(`result: ${path.join(out, 'plw-run.json')}`);
    }));
    return;
  }
  if (values.overwrite) throw new WgptError(`--overwrite replaces one run; a study of ${weights.length * nSeeds} runs plans the same ` +
    `grid again and skips its done runs: to start it over, remove ${out} or give another --out`);
  // Every other flag the user gave goes to each run as given; the study sets W, the seed and --out.
  const ours = new Set(['plw', 'seeds', 'seed', 'out', 'jobs', 'plan-only', 'help']);
  const fixed = Object.fromEntries(Object.entries(raw).filter(([k, v]) => !ours.has(k) && v !== undefined)) as Record<string, Scalar>;
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
  const pool = await runLocal(out, runs, { jobs: values.jobs ?? 1, wgpt: selfWgpt() });
  const { results, done } = readStudyResults(out, runs);
  const data = probe.data === 'facts' ? `the fact world's questions (${probe.responseLength} answers)` : `\`${probe.data}\``;
  const md = await writePlwReport(out, results, {
    setup: `Model \`${probe.model}\`${probe.fromScratch ? ' (random init)' : ''}, data ${data}, style ${probe.style}; ` +
      `${probe.steps} steps of ${probe.batchSize} per run (AdamW, lr ${probe.lr}, ` +
      `warm-up ${probe.warmupSteps} steps then cosine to lr/10, weight decay ${probe.weightDecay}); ` +
      `weights ${weights.join(', ')}; seeds ${seeds.join(', ')} ` +
      `(data order${probe.data === 'facts' ? ', data draw' : ''}${probe.fromScratch ? ', initial weights' : ''}).`,
    command, runs: { done, planned: runs.length, ranNow: pool.done }, wallSeconds: (performance.now() - started) / 1000,
  });
  console.log(md);
  console.log(`report: ${path.join(out, 'plw-study.md')}` +
    `${pool.failed.length ? `; ${pool.failed.length} run(s) failed: ${pool.failed.map((f) => f.log).join(', ')}` : ''}`);
  if (pool.failed.length > 0 || pool.stopped > 0) process.exitCode = 1;
}
