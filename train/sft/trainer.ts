// The finetuning loop of chapter 7: AdamW over shuffled, collated batches; train and val loss
// every few steps; a greedy sample after each epoch; checkpoints that resume bit for bit; the run
// directory with metrics, the loss plot, the weights and the test split's responses.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/index.ts';
import { loadGPT, saveGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import { initLora } from '../../model/lora.ts';
import { saveAdapters, saveMerged } from '../../model/peft.ts';
import { checkPromptLossWeight, collate, encodeEntry, encodeSplit, getLossMask, outputVocabOf } from '../data/collate.ts';
import { requireNonEmpty, splitData } from '../data/entries.ts';
import { loadEntries } from '../data/load.ts';
import { checkStyle } from '../data/prompts.ts';
import { evaluateLoss } from '../eval/loss.ts';
import { generateResponses, sampleResponse } from '../eval/responses.ts';
import { scoreResponses, type ScoreReport } from '../eval/score.ts';
import { loadTrainingCheckpoint, saveTrainingCheckpoint, type TrainState } from '../run/checkpoint.ts';
import { trainLoader } from '../run/loader.ts';
import { trainingLoop, type LoopRow } from '../run/loop.ts';
import { loraBaseName, loraOf } from '../run/lora-options.ts';
import { MetricsLog } from '../run/metrics-log.ts';
import { AdamW } from '../run/optim.ts';
import { writeLossPlot } from '../run/plot.ts';
import { Progress } from '../run/progress.ts';
import { checkSchedule } from '../run/schedule.ts';

export interface TrainOptions {
  /** A JSON file, 'ch07' (the chapter's data, fetched), 'facts' (questions about the built-in fact
   *  world, train/facts.ts), or null for the built-in synthetic tasks. */
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
  const plw = opts.promptLossWeight ?? null;
  if (plw !== null) checkPromptLossWeight(plw, opts.mask);
  checkSchedule(opts.lrSchedule ?? 'constant');
  if (!['all', 'data'].includes(opts.outputVocab ?? 'all')) throw new WgptError(`unknown --output-vocab "${opts.outputVocab}": use all or data`);
  const entries = await loadEntries(opts.data, opts.seed, opts.syntheticCount);
  const splits = splitData(entries);
  // 0 means no test entries (it once meant all, as a falsy limit); null or absent means all.
  if (opts.testLimit !== undefined && opts.testLimit !== null) splits.test = splits.test.slice(0, opts.testLimit);
  requireNonEmpty(splits.train, 'train');
  requireNonEmpty(splits.val, 'validation');

  const lora = loraOf(opts);
  const baseModel = loraBaseName(opts);
  // Only what trains gets optimizer state: every parameter, or the adapters' A and B.
  const makeOpt = (m: GPT): AdamW => new AdamW([...m.trainable().values()], { lr: opts.lr, weightDecay: opts.weightDecay });
  const loadBase = (): Promise<GPT> => loadGPT(opts.model, {
    fromScratch: opts.fromScratch, seed: opts.seed, untie: opts.untie, dropout: opts.dropout,
    outputVocab: opts.outputVocab === 'data' ? outputVocabOf(entries, opts.style) : undefined,
  });
  let model: GPT;
  let opt: AdamW;
  let state: TrainState | null = null;
  if (resumeDir) ({ model, opt, state } = await loadTrainingCheckpoint(resumeDir, makeOpt, loadBase));
  else {
    model = await loadBase();
    if (lora) {
      try {
        model.useAdapters(initLora(model.config, lora, opts.seed));
      } catch (e) {
        model.dispose();
        throw e;
      }
    }
    opt = makeOpt(model);
  }
  const ctx = model.config.contextLength;
  const allowedMaxLength = Math.min(1024, ctx);
  const trainItems = encodeSplit(splits.train, (e) => encodeEntry(e, opts.style), ctx, 'train');
  const valItems = encodeSplit(splits.val, (e) => encodeEntry(e, opts.style), ctx, 'validation');
  const loader = trainLoader(trainItems, opts.batchSize, opts.seed);
  if (state) loader.setState(state.loader);

  mkdirSync(opts.out, { recursive: true });
  const metricsLog = new MetricsLog<MetricsRow>(opts.out, state !== null);
  const metrics = metricsLog.rows;
  const startStep = state?.step ?? 0;
  const totalSteps = Math.min(opts.epochs * loader.length, opts.maxSteps ?? Infinity);
  let progress = new Progress(startStep);
  const log = (s: string): void => progress.log(s);

  let before: ScoreReport | undefined;
  if (opts.scoreBefore && !state && splits.test.length > 0) {
    before = scoreResponses(await generateResponses(model, splits.test, opts.style, opts.maxNewTokens,
      { batchSize: opts.genBatch, label: 'before training: test responses' }));
    log(`before training: held-out exact match ${(100 * before.accuracy).toFixed(1)}% (${before.correct}/${before.n})`);
    progress = new Progress(startStep); // time left counts training only
  }

  const trainable = model.lora ? model.lora.parameterCount() : model.parameterCount();
  log(`trainable parameters: ${trainable.toLocaleString('en-US')} of ${(model.parameterCount() + (model.lora?.parameterCount() ?? 0)).toLocaleString('en-US')}${
    lora ? ` (LoRA rank ${lora.rank}, alpha ${lora.alpha}, ${lora.targets.join(',')}; the base model is frozen)` : ''}`);
  const checkpoint = (step: number, tokensSeen: number): Promise<void> => saveTrainingCheckpoint(opts.out, model, opt, {
    step, tokensSeen, loader: loader.getState(), options: opts as unknown as Record<string, unknown>,
  });
  const r = await trainingLoop({
    model, opt, loader, epochs: opts.epochs, totalSteps, step: startStep, tokensSeen: state?.tokensSeen ?? 0,
    schedule: opts, evalEvery: opts.evalEvery, progress, metrics: metricsLog,
    makeBatch: (items) => collate(items, { mask: opts.mask, allowedMaxLength, promptLossWeight: plw }),
    evaluate: async () => ({
      train_loss: await evaluateLoss(model, trainItems, opts.batchSize, opts.evalBatches, opts.mask, allowedMaxLength, plw),
      val_loss: await evaluateLoss(model, valItems, opts.batchSize, opts.evalBatches, opts.mask, allowedMaxLength, plw),
    }),
    onEpochEnd: async () => {
      const sample = await sampleResponse(model, splits.val[0], opts.style);
      progress.log(`epoch ${loader.epoch + 1} sample: ${JSON.stringify(sample)}`);
    },
    checkpoint,
  });
  const step = r.step;
  await checkpoint(r.step, r.tokensSeen);
  const timing = { secondsPerStep: r.seconds / Math.max(step - startStep, 1), tokensPerSecond: r.stepTokens / r.seconds };
  if (r.interrupted) {
    log(`interrupted at step ${step}: checkpoint saved in ${path.join(opts.out, 'checkpoint')}; continue with --resume ${opts.out}`);
    model.dispose();
    opt.dispose();
    return { steps: step, metrics, before, ...timing, interrupted: true };
  }
  if (model.lora) {
    await saveAdapters(opts.out, model.lora, baseModel);
    if (opts.merge) await saveMerged(model, opts.out);
  } else await saveGPT(model, opts.out);
  if (metrics.length > 0) {
    await writeLossPlot(path.join(opts.out, 'loss-plot.svg'), {
      epochsSeen: metrics.map((m) => m.epoch), tokensSeen: metrics.map((m) => m.tokens_seen),
      trainLosses: metrics.map((m) => m.train_loss), valLosses: metrics.map((m) => m.val_loss),
    });
  }
  let after: ScoreReport | undefined;
  if (splits.test.length > 0 && opts.maxNewTokens > 0) {
    const responses = await generateResponses(model, splits.test, opts.style, opts.maxNewTokens, { batchSize: opts.genBatch, label: 'test responses' });
    writeFileSync(path.join(opts.out, 'test-responses.json'), JSON.stringify(responses, null, 2));
    after = scoreResponses(responses);
  }
  model.dispose();
  opt.dispose();
  return { steps: step, metrics, before, after, ...timing, interrupted: false };
}

