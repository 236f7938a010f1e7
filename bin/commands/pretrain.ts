// wgpt pretrain: next-token training of a GPT-2 on plain text (nanoGPT's main job), or with no
// arguments the built-in base model: the one `wgpt train`'s default run finetunes, built into the
// cache when absent and reported.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { readTrainState } from '../../train/run/checkpoint.ts';
import { ensureBuiltinBase } from '../../train/builtin/base.ts';
import { CORPUS_NAMES } from '../../train/pretrain/corpus.ts';
import type { LoopRow } from '../../train/run/loop.ts';
import { checkPretrainOptions, pretrain, textOf, type PretrainOptions, type PretrainResult, type Sample } from '../../train/pretrain/trainer.ts';
import { PRETRAIN_BASE } from '../../train/pretrain/presets.ts';
import type { SweepSpec } from '../../train/sweep/spec.ts';
import { pretrainMetrics } from '../../train/sweep/metrics.ts';
import { checkpointStepOf, DEVICE_OPTIONS, DEVICE_USAGE, intOption, numberOption, parse, withDevice } from './common.ts';

const USAGE = `usage: wgpt pretrain --data FILE.txt|DIR|NAME [options]

Next-token training on plain text, as nanoGPT does it: the text is tokenized with the GPT-2 BPE
(documents joined with <|endoftext|>), packed into blocks, and a GPT-2 is trained to predict each
next token; a validation split is held out. The run directory holds a model that wgpt train
--model, wgpt generate and Hugging Face transformers load.
With no options: builds the built-in base model (the one \`wgpt train\` finetunes by default;
pretrained on built-in biographies into $WGPT_CACHE/builtin-base when absent) and reports it.

  --data FILE|DIR|NAME    a .txt file, a directory of .txt files (each a document; a literal
                          <|endoftext|> also separates documents), or a corpus: ${CORPUS_NAMES.join(', ')}
  --model NAME|DIR        a size (tiny, mini: always from scratch; gpt2... with --from-scratch) or
                          weights to continue from (default tiny)
  --config FILE           a Hugging Face GPT-2 config.json: a from-scratch model of that shape
  --from-scratch          random GPT-2 init for a GPT-2 size name
  --out DIR               run directory (default runs/pretrain-<time>)
  --block-size N          tokens per training sequence (${PRETRAIN_BASE.blockSize}; at most the model's context)
  --batch-size N          (${PRETRAIN_BASE.batchSize})                 --epochs N  (${PRETRAIN_BASE.epochs})   --max-steps N  stop at global step N
  --lr X                  (${PRETRAIN_BASE.lr})             --weight-decay X  (${PRETRAIN_BASE.weightDecay})
  --lr-schedule constant|cosine  (${PRETRAIN_BASE.lrSchedule}: to lr/10 at the last step)   --warmup-steps N  (${PRETRAIN_BASE.warmupSteps})
  --eval-every N          (${PRETRAIN_BASE.evalEvery})                --eval-batches N  (${PRETRAIN_BASE.evalBatches})
  --sample-every N        sampled continuations of the prompts every N steps (0: before and after only)
  --prompt TEXT           a prompt to sample (repeatable; default "${PRETRAIN_BASE.prompts[0]}")
  --sample-tokens N       tokens per sample (${PRETRAIN_BASE.sampleTokens})
  --output-vocab all|data the whole vocabulary (all), or only the tokens of the text (data)
  --dropout P             (0)                   --seed N  (${PRETRAIN_BASE.seed})
  --resume DIR            continue a run from its checkpoint, bit for bit
${DEVICE_USAGE}`;

/** The flags of wgpt pretrain, exported so `wgpt sweep plan` checks a grid against the real parser. */
export const OPTIONS = {
  ...DEVICE_OPTIONS,
  data: { type: 'string' }, model: { type: 'string' }, config: { type: 'string' }, 'from-scratch': { type: 'boolean' },
  out: { type: 'string' }, 'block-size': { type: 'string' }, 'batch-size': { type: 'string' }, epochs: { type: 'string' },
  'max-steps': { type: 'string' }, lr: { type: 'string' }, 'weight-decay': { type: 'string' }, 'lr-schedule': { type: 'string' },
  'warmup-steps': { type: 'string' }, 'eval-every': { type: 'string' }, 'eval-batches': { type: 'string' },
  'sample-every': { type: 'string' }, prompt: { type: 'string', multiple: true }, 'sample-tokens': { type: 'string' },
  'output-vocab': { type: 'string' }, dropout: { type: 'string' }, seed: { type: 'string' }, resume: { type: 'string' },
} as const;

/** How `wgpt sweep` runs, resumes and reads a pretrain run. */
export const SWEEP: SweepSpec = {
  options: OPTIONS, outFlag: 'out', resumeFlag: 'resume', metrics: pretrainMetrics,
  checkpointStep: checkpointStepOf,
};

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS, USAGE);
  const given = Object.keys(values).filter((k) => !(k in DEVICE_OPTIONS));
  if (given.length === 0) {
    // The built-in base: cached, so this reports it (and builds it the first time).
    const dir = await withDevice(values, () => ensureBuiltinBase());
    reportBuiltin(dir);
    return 0;
  }
  let opts: PretrainOptions;
  if (values.resume) {
    const state = await readTrainState(values.resume);
    opts = { ...(state.options as unknown as PretrainOptions), out: values.resume };
  } else {
    if (values.data === undefined) throw new WgptError(`pretrain needs --data FILE.txt|DIR|${CORPUS_NAMES.join('|')} (or no options at all, for the built-in base model)`);
    if (values.config !== undefined && values.model !== undefined) throw new WgptError('give --model or --config, not both');
    const b = PRETRAIN_BASE;
    opts = {
      ...b, data: values.data, model: values.model ?? b.model, config: values.config ?? null, fromScratch: values['from-scratch'] ?? false,
      out: values.out ?? path.join('runs', `pretrain-${new Date().toISOString().replace(/[:.]/g, '-')}`),
      blockSize: intOption(values['block-size'], 'block-size', b.blockSize), batchSize: intOption(values['batch-size'], 'batch-size', b.batchSize),
      lr: numberOption(values.lr, 'lr', b.lr), weightDecay: numberOption(values['weight-decay'], 'weight-decay', b.weightDecay),
      lrSchedule: values['lr-schedule'] ?? b.lrSchedule, warmupSteps: intOption(values['warmup-steps'], 'warmup-steps', b.warmupSteps),
      evalEvery: intOption(values['eval-every'], 'eval-every', b.evalEvery), evalBatches: intOption(values['eval-batches'], 'eval-batches', b.evalBatches),
      sampleEvery: intOption(values['sample-every'], 'sample-every', b.sampleEvery), prompts: values.prompt ?? b.prompts,
      sampleTokens: intOption(values['sample-tokens'], 'sample-tokens', b.sampleTokens), outputVocab: values['output-vocab'] ?? b.outputVocab,
      seed: intOption(values.seed, 'seed', b.seed), epochs: b.epochs, maxSteps: b.maxSteps,
      ...(values.dropout !== undefined ? { dropout: numberOption(values.dropout, 'dropout', 0) } : {}),
    };
  }
  // How far to go may change on --resume.
  opts.epochs = intOption(values.epochs, 'epochs', opts.epochs);
  if (values['max-steps'] !== undefined) opts.maxSteps = intOption(values['max-steps'], 'max-steps', 0);
  checkPretrainOptions(opts);
  const result = await withDevice(values, () => pretrain(opts, textOf(opts.data!), values.resume ?? null));
  report(opts, result);
  return result.interrupted ? 130 : 0;
}

/** What the cached built-in base model learned: its losses and samples, first and last. */
function reportBuiltin(dir: string): void {
  const lines = (f: string): Record<string, unknown>[] => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const metrics = lines('metrics.jsonl') as unknown as LoopRow[];
  const samples = lines('samples.jsonl') as unknown as Sample[];
  console.log(`built-in base model: ${dir}`);
  const first = metrics[0];
  const last = metrics.at(-1);
  if (first && last) console.log(`val loss ${first.val_loss.toFixed(3)} (step ${first.step}) -> ${last.val_loss.toFixed(3)} (step ${last.step}) on biographies it was not trained on`);
  const end = samples.at(-1)?.step;
  for (const s of samples.filter((x) => x.step === 0 || x.step === end)) console.log(`  step ${String(s.step).padStart(4)}: ${JSON.stringify(s.prompt + s.text)}`);
}

function report(o: PretrainOptions, r: PretrainResult): void {
  console.log(`\n${r.steps} steps, ${r.secondsPerStep.toFixed(3)} s/step, ${Math.round(r.tokensPerSecond)} tokens/s; run directory ${o.out}`);
  if (r.interrupted) return;
  const first = r.metrics[0];
  const last = r.metrics.at(-1);
  if (first && last) console.log(`val loss ${first.val_loss.toFixed(3)} (step ${first.step}) -> ${last.val_loss.toFixed(3)} (step ${last.step}), train loss ${last.train_loss.toFixed(3)}`);
}
