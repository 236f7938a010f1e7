// `wgpt train`: the instruction finetuning of chapter 7 on every trainer's run (run/training-run.ts):
// AdamW over shuffled, collated batches; train and val loss every few steps; a greedy sample after
// each epoch; checkpoints that resume bit for bit; the run directory with metrics, the loss plot,
// the weights and the test split's responses.
import { WgptError } from '../../engine/index.ts';
import { loadGPT } from '../../model/build.ts';
import { allowedMaxLengthFor, collate } from '../data/collate.ts';
import { encodeEntry, encodeSplit, outputVocabOf, type EncodedEntry } from '../data/encode.ts';
import { checkPromptLossWeight, getLossMask } from '../data/loss-masks.ts';
import { requireNonEmpty, splitData, type Splits } from '../data/entries.ts';
import { loadEntries } from '../data/load.ts';
import { checkStyle } from '../data/prompts.ts';
import { evaluateLoss } from '../eval/loss.ts';
import { sampleResponse } from '../eval/responses.ts';
import { scoreTest } from '../eval/score-test.ts';
import type { ScoreReport } from '../eval/score.ts';
import { trainLoader } from '../run/loader.ts';
import type { LoopRow } from '../run/loop.ts';
import { loraBaseName, loraOf } from '../run/lora-options.ts';
import { checkSchedule } from '../run/schedule.ts';
import { TrainingRun } from '../run/training-run.ts';
import { lossStep } from '../run/step.ts';

export interface TrainOptions {
  /** A JSON file, 'ch07' (the chapter's data, fetched), 'facts' (questions about the built-in fact
   *  world, train/data/facts.ts), or null for the built-in synthetic tasks. */
  data: string | null;
  model: string;
  fromScratch: boolean;
  untie: boolean;
  dropout?: number;
  out: string;
  epochs: number;
  maxSteps: number | null;
  batchSize: number;
  lr: number;
  /** 'constant' (the chapter) or 'cosine' (to lr/10 at the run's last step); absent in old checkpoints. */
  lrSchedule?: string;
  /** Linear warm-up steps from 0 to lr. */
  warmupSteps?: number;
  weightDecay: number;
  mask: string;
  /** The prompt's targets weigh this much in the loss (0..1, with mask 'none'; absent or null: no
   *  weighting, absent in older checkpoints). */
  promptLossWeight?: number | null;
  style: string;
  evalEvery: number;
  evalBatches: number;
  seed: number;
  /** Greedy responses for the test split at the end (at most this many new tokens each). */
  maxNewTokens: number;
  /** Score the test split before training too (the built-in default does). */
  scoreBefore: boolean;
  /** Entries of synthetic data to generate (data = null). */
  syntheticCount: number;
  /** Respond to at most this many test entries (null = the whole test split). */
  testLimit?: number | null;
  /** Test prompts generated together (absent in old checkpoints: DEFAULT_GEN_BATCH). */
  genBatch?: number;
  /** 'all' (default): the softmax spans the whole vocabulary. 'data': only the tokens that occur
   *  in the data (all splits) and <|endoftext|>; see outputVocabOf. */
  outputVocab?: string;
  /** LoRA (absent or null: full finetuning): the adapters' rank, alpha (default rank) and targets
   *  (comma-separated attn, mlp, head; default attn,mlp). The base model stays frozen. */
  loraRank?: number | null;
  loraAlpha?: number;
  loraTargets?: string;
  /** With LoRA: also write the merged model (model.safetensors + config.json) into the run directory. */
  merge?: boolean;
}

/** A row of metrics.jsonl. */
export type MetricsRow = LoopRow;

export interface TrainResult {
  steps: number;
  metrics: MetricsRow[];
  before?: ScoreReport;
  after?: ScoreReport;
  secondsPerStep: number;
  tokensPerSecond: number;
  interrupted: boolean;
}

export async function train(opts: TrainOptions, resumeDir: string | null = null): Promise<TrainResult> {
  checkStyle(opts.style);
  getLossMask(opts.mask);
  // The one check of the prompt-loss weight (the CLI's, a resumed run's and a caller's options).
  const promptLossWeight = opts.promptLossWeight ?? null;
  if (promptLossWeight !== null) checkPromptLossWeight(promptLossWeight, opts.mask);
  checkSchedule(opts.lrSchedule ?? 'constant');
  if (!['all', 'data'].includes(opts.outputVocab ?? 'all')) throw new WgptError(
    `unknown --output-vocab "${opts.outputVocab}": use all or data`);
  const entries = await loadEntries(opts.data, opts.seed, opts.syntheticCount);
  const splits = splitData(entries);
  // 0 means no test entries (it once meant all, as a falsy limit); null or absent means all.
  if (opts.testLimit !== undefined && opts.testLimit !== null) splits.test = splits.test.slice(0, opts.testLimit);
  requireNonEmpty(splits.train, 'train');
  requireNonEmpty(splits.val, 'validation');

  const run = await TrainingRun.start<EncodedEntry, MetricsRow>({
    out: opts.out, options: opts, resumeDir, lora: loraOf(opts), seed: opts.seed, lr: opts.lr, weightDecay: opts.weightDecay,
    loadModel: () => loadGPT(opts.model, {
      fromScratch: opts.fromScratch, seed: opts.seed, untie: opts.untie, dropout: opts.dropout,
      outputVocab: opts.outputVocab === 'data' ? outputVocabOf(entries, opts.style) : undefined,
    }),
  });
  try {
    return await finetune(opts, run, splits);
  } finally {
    run.dispose();
  }
}

async function finetune(opts: TrainOptions, run: TrainingRun<EncodedEntry, MetricsRow>, splits: Splits): Promise<TrainResult> {
  const { model } = run;
  const promptLossWeight = opts.promptLossWeight ?? null;
  const ctx = model.config.contextLength;
  const allowedMaxLength = allowedMaxLengthFor(ctx);
  const trainItems = encodeSplit(splits.train, (e) => encodeEntry(e, opts.style), ctx, 'train');
  const valItems = encodeSplit(splits.val, (e) => encodeEntry(e, opts.style), ctx, 'validation');
  const loader = trainLoader(trainItems, opts.batchSize, opts.seed);
  run.begin(loader, opts);

  let before: ScoreReport | undefined;
  if (opts.scoreBefore && !run.resumed && splits.test.length > 0) {
    before = await scoreTest(model, splits.test, opts, 'before training: test responses');
    run.log(`before training: held-out exact match ${(100 * before.accuracy).toFixed(1)}% (${before.correct}/${before.n})`);
    run.restartProgress();
  }
  run.logTrainable('the base model is frozen');
  const loss = (items: readonly EncodedEntry[]): Promise<number> =>
    evaluateLoss(model, items, opts.batchSize, opts.evalBatches, opts.mask, allowedMaxLength, promptLossWeight);
  const r = await run.loop({
    schedule: opts, evalEvery: opts.evalEvery,
    step: lossStep(model, run.opt, (items) => collate(items, { mask: opts.mask, allowedMaxLength, promptLossWeight })),
    evaluate: async () => ({ train_loss: await loss(trainItems), val_loss: await loss(valItems) }),
    onEpochEnd: async () => {
      const sample = await sampleResponse(model, splits.val[0], opts.style);
      run.log(`epoch ${loader.epoch + 1} sample: ${JSON.stringify(sample)}`);
    },
  });
  const result = { steps: r.step, metrics: run.metrics.rows, before, secondsPerStep: r.secondsPerStep, tokensPerSecond: r.tokensPerSecond };
  if (r.interrupted) return { ...result, interrupted: true };
  await run.saveModel(loraBaseName(opts), opts.merge);
  await run.plotLosses();
  let after: ScoreReport | undefined;
  if (splits.test.length > 0 && opts.maxNewTokens > 0) after = await scoreTest(model, splits.test, opts, 'test responses', opts.out);
  return { ...result, after, interrupted: false };
}
