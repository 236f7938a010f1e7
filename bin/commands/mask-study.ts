// wgpt mask-study: every loss mask side by side on the same model and data, with a report.
import path from 'node:path';
import { maskStudy, type StudyOptions } from '../../train/mask-study.ts';
import { LOSS_MASK_NAMES } from '../../train/collate.ts';
import { DEVICE_OPTIONS, DEVICE_USAGE, intOption, numberOption, parse, withDevice } from './common.ts';

const USAGE = `usage: wgpt mask-study [--model FILE|DIR|NAME] [--data FILE|ch07] [options]

With no options: the tiny model (random init) on the built-in tasks, a few minutes here.

  --strategies LIST   comma-separated loss masks (default ${LOSS_MASK_NAMES.join(',')})
  --steps N           training steps per strategy (default 40)
  --out DIR           where report.md, study.json and the charts go (default runs/mask-study-<time>)
  --batches N         train batches for the gradient comparison (2)   --batch-size N (8)
  --lr X              (1e-3 from scratch, else 5e-5)   --held-out N  entries scored after training (30)
  --max-new-tokens N  (16)    --style alpaca|phi3    --seed N (123)   --from-scratch
${DEVICE_USAGE}`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    ...DEVICE_OPTIONS,
    model: { type: 'string' }, data: { type: 'string' }, strategies: { type: 'string' }, steps: { type: 'string' }, out: { type: 'string' },
    batches: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' }, 'held-out': { type: 'string' },
    'max-new-tokens': { type: 'string' }, style: { type: 'string', default: 'alpaca' }, seed: { type: 'string' },
    'from-scratch': { type: 'boolean' }, 'eval-batches': { type: 'string' },
  }, USAGE);
  const model = values.model ?? 'tiny';
  const fromScratch = values['from-scratch'] || values.model === undefined;
  const opts: StudyOptions = {
    model, fromScratch, data: values.data ?? null,
    strategies: (values.strategies ?? LOSS_MASK_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean),
    steps: intOption(values.steps, 'steps', 40),
    out: values.out ?? path.join('runs', `mask-study-${new Date().toISOString().replace(/[:.]/g, '-')}`),
    style: values.style!, seed: intOption(values.seed, 'seed', 123), batchSize: intOption(values['batch-size'], 'batch-size', 8),
    batches: intOption(values.batches, 'batches', 2), lr: numberOption(values.lr, 'lr', fromScratch ? 1e-3 : 5e-5), weightDecay: 0.1,
    evalBatches: intOption(values['eval-batches'], 'eval-batches', 5), heldOut: intOption(values['held-out'], 'held-out', 30),
    maxNewTokens: intOption(values['max-new-tokens'], 'max-new-tokens', 16), syntheticCount: 2000,
  };
  await withDevice(values, async () => {
    await maskStudy(opts);
    console.log(`report: ${path.join(opts.out, 'report.md')}`);
  });
}
