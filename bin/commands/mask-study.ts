// wgpt mask-study: every loss mask side by side on the same model and data, with a report.
import path from 'node:path';
import { maskStudy, type StudyOptions } from '../../train/mask-study.ts';
import { LOSS_MASK_NAMES } from '../../train/collate.ts';
import { maskStudyMetrics } from '../../train/sweep/metrics.ts';
import type { SweepSpec } from '../../train/sweep/spec.ts';
import { DEFAULT_GEN_BATCH } from '../../train/responses.ts';
import { DEVICE_OPTIONS, DEVICE_USAGE, intOption, numberOption, parse, positiveIntOption, withDevice } from './common.ts';

const USAGE = `usage: wgpt mask-study [--model FILE|DIR|NAME] [--data FILE|ch07] [options]

With no options: the tiny model (random init) on the built-in tasks, about five minutes on 2 CPU
cores (30 steps of 4 per strategy; unmasked steps cost ~5x masked ones: every position goes
through the 50257-wide LM head).

  --strategies LIST   comma-separated loss masks (default ${LOSS_MASK_NAMES.join(',')})
  --steps N           training steps per strategy (default 30)
  --out DIR           where report.md, study.json and the charts go (default runs/mask-study-<time>)
  --batches N         train batches for the gradient comparison (2)
  --batch-size N      (4 on the built-in tasks, else the chapter's 8)
  --lr X              (3e-3 from scratch, else 5e-5)   --held-out N  entries scored after training (27)
  --eval-batches N    val batches for the comparable loss (3)
  --max-new-tokens N  (8 on the built-in tasks, else 64)     --style alpaca|phi3    --seed N (123)   --from-scratch
  --gen-batch N       held-out prompts generated together (${DEFAULT_GEN_BATCH}; answers do not depend on it)
${DEVICE_USAGE}`;

/** The flags of wgpt mask-study, exported so `wgpt sweep plan` checks a grid against the real parser. */
export const OPTIONS = {
  ...DEVICE_OPTIONS,
  model: { type: 'string' }, data: { type: 'string' }, strategies: { type: 'string' }, steps: { type: 'string' }, out: { type: 'string' },
  batches: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' }, 'held-out': { type: 'string' },
  'max-new-tokens': { type: 'string' }, style: { type: 'string', default: 'alpaca' }, seed: { type: 'string' },
  'from-scratch': { type: 'boolean' }, 'eval-batches': { type: 'string' }, 'gen-batch': { type: 'string' },
} as const;

/** How `wgpt sweep` runs a study: it has no checkpoint, so a stopped study starts again. */
export const SWEEP: SweepSpec = { options: OPTIONS, outFlag: 'out', resumeFlag: null, checkpointStep: async () => null, metrics: maskStudyMetrics };

export async function run(argv: string[]): Promise<void> {
  const { values } = parse(argv, OPTIONS, USAGE);
  const model = values.model ?? 'tiny';
  const fromScratch = values['from-scratch'] || values.model === undefined;
  const builtInData = values.data === undefined;
  const opts: StudyOptions = {
    model, fromScratch, data: values.data ?? null,
    strategies: (values.strategies ?? LOSS_MASK_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean),
    steps: intOption(values.steps, 'steps', 30),
    out: values.out ?? path.join('runs', `mask-study-${new Date().toISOString().replace(/[:.]/g, '-')}`),
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
