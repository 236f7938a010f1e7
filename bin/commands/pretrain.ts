// wgpt pretrain: next-token training of a GPT-2 on plain text (nanoGPT's main job), or with no
// arguments the built-in base model: the one `wgpt train`'s default run finetunes, built into the
// cache when absent and reported.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { ensureBuiltinBase } from '../../train/builtin/base.ts';
import { CORPUS_NAMES } from '../../train/pretrain/corpus.ts';
import { PRETRAIN_BASE as B } from '../../train/pretrain/presets.ts';
import {
  checkPretrainOptions, pretrain, textOf, type PretrainOptions, type PretrainResult, type Sample
} from '../../train/pretrain/trainer.ts';
import type { LoopRow } from '../../train/run/loop.ts';
import { pretrainMetrics } from '../../train/sweep/metrics.ts';
import { defaultOut, DEVICE_FLAGS, inRunDir, MATMUL_PRECISION, resumableSweep, resumedOptions, withDevice } from './common.ts';
import {
  applyFlags, flagsFor, intAtLeast, NUMBER, parseFlags, POSITIVE_INT, SWITCH, TEXT, TEXTS, trainerFlags, usageText,
} from './flags.ts';

const f = flagsFor<PretrainOptions>();

/** The flags of wgpt pretrain and the options they set; `wgpt sweep plan` checks a grid against them. */
export const FLAGS = [
  f.set('data', 'data', TEXT, 'FILE|DIR|NAME', 'a .txt file, a directory of .txt files (each a document; a literal\n' +
    `<|endoftext|> also separates documents), or a corpus: ${CORPUS_NAMES.join(', ')}`, { nullable: true }),
  f.set('model', 'model', TEXT, 'NAME|DIR', 'a size (tiny, mini: always from scratch; gpt2... with --from-scratch) or\n' +
    `weights to continue from (default ${B.model})`),
  f.set('config', 'config', TEXT, 'FILE', 'a Hugging Face GPT-2 config.json: a from-scratch model of that shape', { nullable: true }),
  f.set('from-scratch', 'fromScratch', SWITCH, null, 'random GPT-2 init for a GPT-2 size name'),
  ...trainerFlags(B, { out: 'run directory (default runs/pretrain-<time>)' }),
  f.set('block-size', 'blockSize', POSITIVE_INT, 'N', `tokens per training sequence (${B.blockSize}; at most the model's context)`),
  f.set('lr-schedule', 'lrSchedule', TEXT, 'constant|cosine', `(${B.lrSchedule}: to lr/10 at the last step)`),
  f.set('warmup-steps', 'warmupSteps', intAtLeast(0), 'N', `(${B.warmupSteps})`),
  f.set('sample-every', 'sampleEvery', intAtLeast(0, '0 (before and after only)'), 'N',
    'sampled continuations of the prompts every N steps (0: before and after only)'),
  f.set('prompt', 'prompts', TEXTS, 'TEXT', `a prompt to sample (repeatable; default "${B.prompts[0]}")`),
  f.set('sample-tokens', 'sampleTokens', intAtLeast(0), 'N', `tokens per sample (${B.sampleTokens})`),
  f.set('output-vocab', 'outputVocab', TEXT, 'all|data', 'the whole vocabulary (all), or only the tokens of the text (data)'),
  f.set('dropout', 'dropout', NUMBER, 'P', '(0)', { optional: true }),
  MATMUL_PRECISION,
  ...DEVICE_FLAGS,
] as const;

const USAGE = usageText(`usage: wgpt pretrain --data FILE.txt|DIR|NAME [options]

Next-token training on plain text, as nanoGPT does it: the text is tokenized with the GPT-2 BPE
(documents joined with <|endoftext|>), packed into blocks, and a GPT-2 is trained to predict each
next token; a validation split is held out. The run directory holds a model that wgpt train
--model, wgpt generate and Hugging Face transformers load.
With no options: builds the built-in base model (the one \`wgpt train\` finetunes by default;
pretrained on built-in biographies into $WGPT_CACHE/builtin-base when absent) and reports it.
`, FLAGS);

/** How `wgpt sweep` runs, resumes and reads a pretrain run. */
export const SWEEP = resumableSweep(FLAGS, pretrainMetrics);

export async function run(argv: string[]): Promise<number> {
  const { values, raw } = parseFlags(argv, FLAGS, USAGE);
  const device = new Set([MATMUL_PRECISION.flag, ...DEVICE_FLAGS.map((e) => e.flag)] as string[]);
  if (Object.keys(raw).every((k) => device.has(k))) {
    // The built-in base: cached, so this reports it (and builds it the first time).
    const dir = await withDevice(values, () => ensureBuiltinBase());
    reportBuiltin(dir);
    return 0;
  }
  if (values.resume === undefined) {
    if (values.data === undefined) throw new WgptError(
      `pretrain needs --data FILE.txt|DIR|${CORPUS_NAMES.join('|')} (or no options at all, for the built-in base model)`);
    if (values.config !== undefined && values.model !== undefined) throw new WgptError('give --model or --config, not both');
  }
  const out = values.resume ?? values.out ?? defaultOut('pretrain-');
  const fresh = values.resume === undefined ? applyFlags<PretrainOptions>(FLAGS, values, { ...B, out }) : null;
  if (fresh) checkPretrainOptions(fresh); // before the directory is touched
  return inRunDir(out, values, async () => {
    const opts = fresh ?? await resumedOptions<PretrainOptions>(FLAGS, values, 'pretrain', out);
    checkPretrainOptions(opts);
    const result = await withDevice(values, () => pretrain(opts, textOf(opts.data!), values.resume ?? null));
    report(opts, result);
    return result.interrupted ? 130 : 0;
  });
}

/** What the cached built-in base model learned: its losses and samples, first and last. */
function reportBuiltin(dir: string): void {
  const lines = (f: string): Record<string, unknown>[] =>
    readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const metrics = lines('metrics.jsonl') as unknown as LoopRow[];
  const samples = lines('samples.jsonl') as unknown as Sample[];
  console.log(`built-in base model: ${dir}`);
  const first = metrics[0];
  const last = metrics.at(-1);
  if (first && last) console.log(`val loss ${first.val_loss.toFixed(3)} (step ${first.step}) -> ` +
    `${last.val_loss.toFixed(3)} (step ${last.step}) on biographies it was not trained on`);
  const end = samples.at(-1)?.step;
  for (const s of samples.filter((x) => x.step === 0 || x.step === end)) console.log(
    `  step ${String(s.step).padStart(4)}: ${JSON.stringify(s.prompt + s.text)}`);
}

function report(o: PretrainOptions, r: PretrainResult): void {
  console.log(
    `\n${r.steps} steps, ${r.secondsPerStep.toFixed(3)} s/step, ${Math.round(r.tokensPerSecond)} tokens/s; run directory ${o.out}`);
  if (r.interrupted) return;
  const first = r.metrics[0];
  const last = r.metrics.at(-1);
  if (first && last) console.log(`val loss ${first.val_loss.toFixed(3)} (step ${first.step}) -> ` +
    `${last.val_loss.toFixed(3)} (step ${last.step}), train loss ${last.train_loss.toFixed(3)}`);
}
