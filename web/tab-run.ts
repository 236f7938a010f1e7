// The built-in run (`wgpt train` with no options) in a browser tab: pretrain the base on the fact
// world's biographies, finetune it on questions about half of its people, the same finetuning of a
// never-pretrained model as control, and the held-out answers of all three. The recipe and every
// piece (data, batches, loop, loss, optimizer, scoring, summary) are the CLI's own; what the CLI
// does with files (checkpoints, metrics.jsonl, plots, the cached base) is left out, the models
// stay in the tab.
import { Tensor } from '../engine/index.ts';
import { getConfig, type GPTConfig } from '../model/config.ts';
import { GPT } from '../model/gpt.ts';
import { randomGPT } from '../model/init.ts';
import { baseCloze, baseExamples, summarize, unseenAnswers, type BuiltinSummary } from '../train/builtin/summary.ts';
import { builtinPretrainOptions, builtinText } from '../train/builtin/text.ts';
import { controlTrainOptions, defaultTrainOptions } from '../train/builtin/recipes.ts';
import { collate } from '../train/data/collate.ts';
import { encodeEntry, encodeSplit, outputVocabOf, type EncodedEntry } from '../train/data/encode.ts';
import { getLossMask } from '../train/data/loss-masks.ts';
import { splitData, type Entry } from '../train/data/entries.ts';
import { generateFactData } from '../train/data/facts.ts';
import { evaluateLoss } from '../train/eval/loss.ts';
import { generateResponses } from '../train/eval/responses.ts';
import { scoreResponses, type ScoreReport } from '../train/eval/score.ts';
import { blockBatch, blockCount, splitTokens, streamLoss, textVocab } from '../train/pretrain/blocks.ts';
import type { PretrainOptions } from '../train/pretrain/trainer.ts';
import { DataLoader, trainLoader } from '../train/run/loader.ts';
import { trainingLoop, type LoopRow } from '../train/run/loop.ts';
import type { MetricsLog } from '../train/run/metrics-log.ts';
import { AdamW } from '../train/run/optim.ts';
import { Progress } from '../train/run/progress.ts';
import { lossStep } from '../train/run/step.ts';
import type { TrainOptions, TrainResult } from '../train/sft/trainer.ts';

export type Phase = 'pretrain' | 'finetune' | 'control';

/** What the page hears while a run goes. */
export interface TabEvents {
  /** A phase starts, with its steps in all. */
  phase(phase: Phase, totalSteps: number): void;
  /** One optimizer step's loss (the live plot). */
  step(phase: Phase, step: number, loss: number): void;
  /** An evaluation row (the loop's, as metrics.jsonl holds it). */
  row(phase: Phase, row: LoopRow): void;
  /** Long work without steps: generating answers, done of total. */
  progress(label: string, done: number, total: number): void;
  log(line: string): void;
}

/** The recipes a tab runs: the CLI's own ('builtin'), or the same run scaled down ('small'; the
 *  preset the page names where the adapter is slow, SwiftShader on a CPU). */
export const TAB_PRESETS = ['builtin', 'small'] as const;
export type TabPreset = (typeof TAB_PRESETS)[number];

export interface TabRecipe {
  pretrain: PretrainOptions;
  finetune: TrainOptions;
  control: TrainOptions;
  /** Changes to the models' config (opts.model's): none in the CLI's recipe. */
  shape: Partial<GPTConfig>;
}

export function tabRecipe(preset: TabPreset): TabRecipe {
  const cli = { pretrain: builtinPretrainOptions(), finetune: defaultTrainOptions('', ''), control: controlTrainOptions(''), shape: {} };
  if (preset === 'builtin') return cli;
  // Minutes on SwiftShader, where a step of `tiny` takes tens of seconds: a one-layer model of
  // width 64, a few steps of each training, 4 held-out questions. It shows the run, not the result.
  const sft = { maxSteps: 6, evalEvery: 5, evalBatches: 1, batchSize: 4, testLimit: 4, maxNewTokens: 6, warmupSteps: 1 };
  return {
    pretrain: { ...cli.pretrain, maxSteps: 8, evalEvery: 5, evalBatches: 1, blockSize: 64, batchSize: 4, warmupSteps: 1 },
    finetune: { ...cli.finetune, ...sft },
    control: { ...cli.control, ...sft },
    shape: { nLayers: 1, dModel: 64, nHeads: 2, contextLength: 128 },
  };
}

/** The loop's progress line, written to the page's log (the CLI's goes to stderr). */
function pageProgress(events: TabEvents): Progress {
  const stream = { isTTY: false, write: (text: string) => events.log(text.trimEnd()) };
  return new Progress(0, stream as unknown as NodeJS.WriteStream, 30_000);
}

/** The evaluation rows, kept in memory (the CLI appends them to metrics.jsonl). */
function rowsOf(phase: Phase, events: TabEvents): MetricsLog<LoopRow> & { rows: LoopRow[] } {
  const rows: LoopRow[] = [];
  return { rows, append: (row: LoopRow) => {
    rows.push(row);
    events.row(phase, row);
  } } as unknown as MetricsLog<LoopRow> & { rows: LoopRow[] };
}

async function loop<T>(phase: Phase, model: GPT, events: TabEvents, o: {
  loader: DataLoader<T>; epochs: number; maxSteps: number | null; lr: number; weightDecay: number; lrSchedule?: string;
  warmupSteps?: number; evalEvery: number; batch: (items: T[]) => ReturnType<Parameters<typeof lossStep<T>>[2]>;
  evaluate: () => Promise<{ train_loss: number; val_loss: number }>;
}): Promise<{ steps: number; rows: LoopRow[]; seconds: number; tokens: number }> {
  const opt = new AdamW([...model.trainable().values()], { lr: o.lr, weightDecay: o.weightDecay });
  const totalSteps = Math.min(o.epochs * o.loader.length, o.maxSteps ?? Infinity);
  events.phase(phase, totalSteps);
  const metrics = rowsOf(phase, events);
  const step = lossStep(model, opt, o.batch);
  try {
    const r = await trainingLoop({
      opt, loader: o.loader, epochs: o.epochs, totalSteps, startStep: 0, tokensSeen: 0, schedule: o, evalEvery: o.evalEvery,
      progress: pageProgress(events), metrics, checkpoint: async () => {}, evaluate: o.evaluate,
      step, onLoss: (i, loss) => events.step(phase, i, loss),
    });
    return { steps: r.step, rows: metrics.rows, seconds: r.seconds, tokens: r.stepTokens };
  } finally {
    opt.dispose();
  }
}

/** Pretraining as `wgpt pretrain` with no options (train/pretrain/trainer.ts): a model of the
 *  text's output vocabulary, trained on packed blocks; the last step is evaluated too. */
export async function pretrainInTab(o: PretrainOptions, events: TabEvents, shape: Partial<GPTConfig> = {}): Promise<{ model: GPT; rows: LoopRow[] }> {
  const text = builtinText();
  const splits = splitTokens(text.documents, o.blockSize, text.valDocuments);
  const vocab = o.outputVocab === 'data' ? textVocab(splits, text.extraVocab) : undefined;
  const model = randomGPT(getConfig(o.model, { ...shape, tiedHead: true, dropout: o.dropout ?? 0, ...(vocab ? { outputVocab: vocab } : {}) }),
    o.seed);
  const blocks = Array.from({ length: blockCount(splits.train, o.blockSize) }, (_, i) => i);
  const loader = new DataLoader(blocks, { batchSize: o.batchSize, shuffle: true, dropLast: true, seed: o.seed });
  const losses = async (): Promise<{ train_loss: number; val_loss: number }> => ({
    train_loss: await streamLoss(model, splits.train, o, o.evalBatches), val_loss: await streamLoss(model, splits.val, o, o.evalBatches),
  });
  events.log(`${text.source}: ${splits.train.length} training tokens (${blocks.length} blocks of ${o.blockSize}); ` +
    `${model.parameterCount()} parameters`);
  const r = await loop('pretrain', model, events, { ...o, loader, batch: (items) => blockBatch(splits.train, items, o.blockSize),
    evaluate: losses });
  if (r.rows.at(-1)?.step !== r.steps - 1) {
    const row = { step: r.steps - 1, epoch: loader.epoch + loader.cursor / loader.length, tokens_seen: r.tokens, ...(await losses()),
      elapsed_s: r.seconds };
    r.rows.push(row);
    events.row('pretrain', row);
  }
  return { model, rows: r.rows };
}

export interface FinetuneResult extends TrainResult {
  model: GPT;
  responses: Entry[];
}

/** Instruction finetuning as `wgpt train` (train/sft/trainer.ts) of `base`, or with no base of a
 *  fresh model of opts.model; `entries` default to the recipe's data (the fact world's questions). */
export async function finetuneInTab(opts: TrainOptions, base: GPT | null, events: TabEvents, phase: Phase = 'finetune',
  entries: Entry[] = generateFactData({ seed: opts.seed, count: opts.syntheticCount }), shape: Partial<GPTConfig> = {}): Promise<FinetuneResult> {
  getLossMask(opts.mask);
  const splits = splitData(entries);
  if (opts.testLimit !== undefined && opts.testLimit !== null) splits.test = splits.test.slice(0, opts.testLimit);
  const model = base ?? randomGPT(getConfig(opts.model, { ...shape, tiedHead: !opts.untie, dropout: opts.dropout ?? 0,
    ...(opts.outputVocab === 'data' ? { outputVocab: outputVocabOf(entries, opts.style) } : {}) }), opts.seed);
  const ctx = model.config.contextLength;
  const allowedMaxLength = Math.min(1024, ctx);
  const encode = (e: Entry): EncodedEntry => encodeEntry(e, opts.style);
  const trainItems = encodeSplit(splits.train, encode, ctx, 'train');
  const valItems = encodeSplit(splits.val, encode, ctx, 'validation');
  const answers = async (label: string): Promise<Entry[]> => generateResponses(model, splits.test, opts.style, opts.maxNewTokens,
    { batchSize: opts.genBatch, onProgress: (done, total) => events.progress(label, done, total) });
  let before: ScoreReport | undefined;
  if (opts.scoreBefore && splits.test.length > 0) before = scoreResponses(await answers(`${phase}: held-out answers before training`));
  const loss = (items: readonly EncodedEntry[]): Promise<number> =>
    evaluateLoss(model, items, opts.batchSize, opts.evalBatches, opts.mask, allowedMaxLength, opts.promptLossWeight ?? null);
  const r = await loop(phase, model, events, {
    ...opts, loader: trainLoader(trainItems, opts.batchSize, opts.seed),
    batch: (items) => collate(items, { mask: opts.mask, allowedMaxLength, promptLossWeight: opts.promptLossWeight ?? null }),
    evaluate: async () => ({ train_loss: await loss(trainItems), val_loss: await loss(valItems) }),
  });
  const responses = splits.test.length > 0 && opts.maxNewTokens > 0 ? await answers(`${phase}: held-out answers`) : [];
  return {
    model, responses, steps: r.steps, metrics: r.rows, before, after: responses.length > 0 ? scoreResponses(responses) : undefined,
    secondsPerStep: r.seconds / Math.max(1, r.steps), tokensPerSecond: r.tokens / r.seconds, interrupted: false,
  };
}

/** A copy of a model's weights on the GPU (the base stays as it was for its own answers). */
export async function copyGPT(model: GPT): Promise<GPT> {
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of model.params) tensors.set(name, Tensor.fromData(await t.toArray(), [...t.shape]));
  return new GPT({ ...model.config }, tensors);
}

export interface TabRunResult {
  summary: BuiltinSummary;
  /** The finetuned model, for the prompt box. */
  finetuned: GPT;
  style: string;
}

/** The three trainings and the summary, as `wgpt train` with no options makes summary.json. */
export async function tabRun(preset: TabPreset, events: TabEvents): Promise<TabRunResult> {
  const recipe = tabRecipe(preset);
  const started = performance.now();
  const seconds = (since: number): number => (performance.now() - since) / 1000;
  events.log(`== pretraining the base model on the built-in biographies (${preset} preset) ==`);
  const { model: base } = await pretrainInTab(recipe.pretrain, events, recipe.shape);
  const baseSeconds = seconds(started);
  events.log('== instruction finetuning of the base model on questions about half of its people ==');
  const t1 = performance.now();
  const finetuned = await finetuneInTab(recipe.finetune, await copyGPT(base), events);
  const finetuneSeconds = seconds(t1);
  events.log('== control: the same finetuning of a model that was never pretrained ==');
  const t2 = performance.now();
  const control = await finetuneInTab(recipe.control, null, events, 'control', undefined, recipe.shape);
  const controlSeconds = seconds(t2);
  // The unseen instructions, as many as the preset asks held-out questions (all of them: the CLI's).
  const { style, maxNewTokens, testLimit } = recipe.finetune;
  const unseen = (model: GPT) => unseenAnswers(model, style, maxNewTokens, undefined, testLimit ?? undefined);
  events.log('== the base model\'s knowledge as text, and instructions never used in finetuning ==');
  const controlUnseen = await unseen(control.model);
  control.model.dispose();
  const examples = await baseExamples(base, finetuned.responses, control.responses, style);
  const cloze = await baseCloze(base);
  const baseUnseen = await unseen(base);
  base.dispose();
  const summary = summarize({
    finetuned, control, finetunedResponses: finetuned.responses, controlResponses: control.responses, baseExamples: examples,
    cloze, seed: recipe.finetune.seed,
    unseen: { finetuned: await unseen(finetuned.model), control: controlUnseen, base: baseUnseen },
    seconds: { base_pretraining: baseSeconds, finetuning: finetuneSeconds, control: controlSeconds, total: seconds(started) },
    baseModel: `pretrained in this tab (${preset} preset)`,
  });
  return { summary, finetuned: finetuned.model, style: recipe.finetune.style };
}
