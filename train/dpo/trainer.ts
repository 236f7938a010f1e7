// wgpt dpo: Direct Preference Optimization (the chapter 7 bonus notebook) after `wgpt train`. The
// policy starts as the SFT model and the reference is a frozen copy of it (with LoRA: the policy
// itself with its adapters off); each step runs one
// forward of the batch's chosen and rejected answers together, reads each sequence's mean
// log-probability back, takes the loss and its gradient per sequence on the host (loss.ts) and
// seeds the backward of that same graph with it. The loop mirrors train(): eval every N steps
// over M batches (the chapter's 0-based rule), metrics.jsonl, plots, Ctrl-C/SIGTERM checkpoints
// that resume bit for bit, the weights and the test split's responses in the run directory.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { backward, keep, noGrad, Tensor, tidy, tidyAsync, WgptError } from '../../engine/index.ts';
import { loadGPT, saveGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import { initLora } from '../../model/lora.ts';
import { saveAdapters } from '../../model/peft.ts';
import { loadTrainingCheckpoint, saveTrainingCheckpoint, type TrainState } from '../run/checkpoint.ts';
import { loraBaseName, loraOf } from '../run/lora-options.ts';
import { requireNonEmpty, splitData } from '../data/entries.ts';
import { DataLoader, trainLoader } from '../run/loader.ts';
import { AdamW } from '../run/optim.ts';
import { Progress } from '../run/progress.ts';
import { checkStyle } from '../data/prompts.ts';
import { generateResponses } from '../eval/responses.ts';
import { scoreResponses, type ScoreReport } from '../eval/score.ts';
import { syntheticPreferences, withModelMistakes } from './pairs.ts';
import { checkDpoMask, collatePairs, encodePair, type DpoBatch, type EncodedPair } from './collate.ts';
import { encodeSplit } from '../data/collate.ts';
import { loadPreferences, type PreferenceEntry } from './data.ts';
import { dpoLoss, type DpoLoss } from './loss.ts';
import { batchIds, sequenceLogProbs } from './logprobs.ts';
import { writeDpoPlots } from './plots.ts';
import { MetricsLog } from '../run/metrics-log.ts';
import { StopSignals } from '../run/stop-signals.ts';

export interface DpoOptions {
  /** A preference JSON file, 'ch07-dpo' (fetched), or null for the built-in synthetic pairs. */
  data: string | null;
  /** The SFT model: the policy's start and the reference. */
  model: string;
  out: string;
  beta: number;
  /** W of the chosen answers' NLL added to the loss (0: plain DPO; absent in older runs). */
  sftWeight?: number;
  lr: number;
  weightDecay: number;
  epochs: number;
  maxSteps: number | null;
  batchSize: number;
  evalEvery: number;
  evalBatches: number;
  mask: string;
  style: string;
  seed: number;
  maxNewTokens: number;
  /** Respond to at most this many test entries (null = all; 0 = none). */
  testLimit: number | null;
  genBatch?: number;
  /** LoRA: train adapters only; the reference is the same weights with the adapters off. */
  loraRank: number | null;
  loraAlpha?: number | null;
  loraTargets?: string | null;
  /** Score the test split before training too (preference accuracy, exact match). */
  scoreBefore: boolean;
  /** Pairs of the built-in synthetic data (data = null). */
  syntheticCount: number;
  /** The built-in pairs' rejected answers: 'other' (another entry's answer) or 'model' (the SFT
   *  model's own wrong greedy answer where it has one; see withModelMistakes). Absent: 'other'. */
  rejected?: string;
}

/** The built-in pairs a run trained on (with `rejected: model` they depend on the SFT model), kept
 *  in the run directory so a resumed run reads them instead of generating them again. */
export const PAIRS_FILE = 'preference-pairs.json';

export interface DpoMetricsRow {
  step: number;
  epoch: number;
  tokens_seen: number;
  train_loss: number;
  val_loss: number;
  train_reward_margin: number;
  val_reward_margin: number;
  train_chosen_reward: number;
  train_rejected_reward: number;
  val_chosen_reward: number;
  val_rejected_reward: number;
  /** The chosen answers' NLL per token (the --sft-weight term before its weight). */
  train_sft_loss: number;
  val_sft_loss: number;
  elapsed_s: number;
}

export interface PreferenceAccuracy {
  correct: number;
  n: number;
  accuracy: number;
}

export interface DpoScores {
  preference?: PreferenceAccuracy;
  exact?: ScoreReport;
}

export interface DpoResult {
  steps: number;
  metrics: DpoMetricsRow[];
  before: DpoScores;
  after: DpoScores;
  secondsPerStep: number;
  interrupted: boolean;
}

/** The file with the before/after scores, beside metrics.jsonl (the sweep reads it). */
export const SUMMARY_FILE = 'dpo-summary.json';

// ---- the reference --------------------------------------------------------------------------

/** The frozen reference: a second copy of the SFT weights, only ever run under noGrad; or, with
 *  LoRA, `{ baseOf: policy }`: the policy itself with its adapters off (no second copy). */
export type Reference = GPT | { baseOf: GPT };

const referenceModel = (ref: Reference): GPT => ('baseOf' in ref ? ref.baseOf : ref);

function disposeReference(ref: Reference): void {
  if (!('baseOf' in ref)) ref.dispose();
}

// ---- log-probabilities, loss and evaluation ----------------------------------------------------

/** Mean log-prob per row (chosen rows then rejected) without a graph, of the policy or a reference. */
async function logProbsNoGrad(model: Reference, batch: DpoBatch): Promise<Float32Array> {
  const m = referenceModel(model);
  const forward = (): Tensor | null => noGrad(() => tidy(() => {
    const p = sequenceLogProbs(m, batchIds(batch), batch.targets);
    return p ? keep(p) : null;
  }));
  const pi = 'baseOf' in model ? m.withoutAdapters(forward) : forward();
  if (!pi) return new Float32Array(2 * batch.pairs);
  const values = (await pi.toArray()) as Float32Array;
  pi.dispose();
  return values;
}

const sides = (v: Float32Array, b: number): [Float32Array, Float32Array] => [v.subarray(0, b), v.subarray(b, 2 * b)];

/** The loss of one batch and, where anything is selected, its gradient in every parameter's .grad
 *  (graded). The reference's log-probs come first (no graph); the policy's graph stays open across
 *  the readback of its log-probs, and the host's dL/dπ seeds its backward. */
export async function dpoBackward(model: GPT, ref: Reference, batch: DpoBatch, beta: number, sftWeight = 0): Promise<{ loss: DpoLoss; graded: boolean }> {
  const [rc, rr] = sides(await logProbsNoGrad(ref, batch), batch.pairs);
  const loss = await tidyAsync(async () => {
    const pi = sequenceLogProbs(model, batchIds(batch), batch.targets);
    if (!pi) return null;
    const [pc, pr] = sides((await pi.toArray()) as Float32Array, batch.pairs);
    const l = dpoLoss(pc, pr, rc, rr, beta, sftWeight);
    backward(pi, Tensor.fromData([...l.gradChosen, ...l.gradRejected], [2 * batch.pairs]));
    return l;
  });
  if (loss) return { loss, graded: true };
  // Nothing selected in the whole batch (every answer truncated away): π = 0 for every row.
  const zero = new Float32Array(batch.pairs);
  return { loss: dpoLoss(zero, zero, rc, rr, beta, sftWeight), graded: false };
}

/** One optimizer step on one batch; returns its loss and rewards. A batch without a gradient
 *  skips the update, so weight decay and momentum move nothing either (as train does). */
async function dpoStep(model: GPT, ref: Reference, opt: AdamW, batch: DpoBatch, beta: number, sftWeight: number): Promise<DpoLoss> {
  const { loss, graded } = await dpoBackward(model, ref, batch, beta, sftWeight);
  if (graded) opt.update();
  else opt.zeroGrad();
  return loss;
}

interface EvalResult { loss: number; chosen: number; rejected: number; margin: number; sft: number }

/** Mean over the first `maxBatches` batches of the per-batch means (the notebook's
 *  compute_dpo_loss_loader). Reference log-probs of these fixed batches are cached. */
async function evaluate(model: GPT, ref: Reference, items: readonly EncodedPair[], opts: DpoOptions, allowedMaxLength: number,
  cache: Float32Array[]): Promise<EvalResult> {
  const loader = new DataLoader(items, { batchSize: opts.batchSize });
  const n = Math.min(opts.evalBatches, loader.length);
  const sum = { loss: 0, chosen: 0, rejected: 0, margin: 0, sft: 0 };
  for (let i = 0; i < n; i++) {
    const batch = collatePairs(loader.nextBatch()!, { mask: opts.mask, allowedMaxLength });
    cache[i] ??= await logProbsNoGrad(ref, batch);
    const [pc, pr] = sides(await logProbsNoGrad(model, batch), batch.pairs);
    const [rc, rr] = sides(cache[i], batch.pairs);
    const l = dpoLoss(pc, pr, rc, rr, opts.beta);
    sum.loss += l.loss;
    sum.chosen += l.chosenReward;
    sum.rejected += l.rejectedReward;
    sum.margin += l.margin;
    sum.sft += l.sft;
  }
  if (n === 0) return { loss: NaN, chosen: NaN, rejected: NaN, margin: NaN, sft: NaN };
  return { loss: sum.loss / n, chosen: sum.chosen / n, rejected: sum.rejected / n, margin: sum.margin / n, sft: sum.sft / n };
}

/** Pairs where the model's mean log-prob of the chosen answer exceeds the rejected one's. */
export async function preferenceAccuracy(model: GPT, items: readonly EncodedPair[], batchSize: number, mask: string,
  allowedMaxLength: number): Promise<PreferenceAccuracy> {
  let correct = 0;
  for (let i = 0; i < items.length; i += batchSize) {
    const batch = collatePairs(items.slice(i, i + batchSize), { mask, allowedMaxLength });
    const [pc, pr] = sides(await logProbsNoGrad(model, batch), batch.pairs);
    for (let k = 0; k < batch.pairs; k++) if (pc[k] > pr[k]) correct++;
  }
  return { correct, n: items.length, accuracy: items.length ? correct / items.length : NaN };
}

// ---- the run -------------------------------------------------------------------------------------

export async function loadPairs(opts: DpoOptions): Promise<PreferenceEntry[]> {
  return opts.data === null ? syntheticPreferences(opts.seed, opts.syntheticCount) : loadPreferences(opts.data);
}

/** Checks every option that can be checked before anything is loaded or written. */
export function checkDpoOptions(opts: DpoOptions): void {
  checkStyle(opts.style);
  checkDpoMask(opts.mask);
  if (!(opts.beta > 0)) throw new WgptError(`--beta must be above 0, got ${opts.beta}`);
  if (!((opts.sftWeight ?? 0) >= 0)) throw new WgptError(`--sft-weight must be 0 (plain DPO) or more, got ${opts.sftWeight}`);
  if (!(opts.lr > 0)) throw new WgptError(`--lr must be above 0, got ${opts.lr}`);
  if (opts.batchSize < 1 || opts.epochs < 1 || opts.evalEvery < 1 || opts.evalBatches < 1) {
    throw new WgptError('--batch-size, --epochs, --eval-every and --eval-batches must be at least 1');
  }
  loraOf(opts);
  if (!['other', 'model'].includes(opts.rejected ?? 'other')) throw new WgptError(`unknown --rejected "${opts.rejected}": use other or model`);
  if (opts.data !== null && (opts.rejected ?? 'other') !== 'other') throw new WgptError('--rejected chooses the built-in pairs\' rejected answers; a --data file has its own');
}

export async function dpo(opts: DpoOptions, resumeDir: string | null = null): Promise<DpoResult> {
  checkDpoOptions(opts);
  let entries = await loadPairs(opts);
  const checked = splitData(entries);
  requireNonEmpty(checked.train, 'train');
  requireNonEmpty(checked.val, 'validation');
  const lora = loraOf(opts);
  // Only what trains gets optimizer state: every parameter, or the adapters' A and B.
  const makeOpt = (m: GPT): AdamW => new AdamW([...m.trainable().values()], { lr: opts.lr, weightDecay: opts.weightDecay });
  let model: GPT;
  let opt: AdamW;
  let state: TrainState | null = null;
  if (resumeDir) ({ model, opt, state } = await loadTrainingCheckpoint(resumeDir, makeOpt, () => loadGPT(opts.model)));
  else {
    model = await loadGPT(opts.model);
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
  let ref: Reference | null = null;
  try {
    if (opts.data === null && opts.rejected === 'model') entries = await builtinPairs(opts, model, entries, state !== null);
    const splits = splitData(entries) as { train: PreferenceEntry[]; test: PreferenceEntry[]; val: PreferenceEntry[] };
    ref = model.lora ? { baseOf: model } : await loadGPT(opts.model);
    return await run(opts, splits, model, ref, opt, state);
  } finally {
    if (ref) disposeReference(ref);
    model.dispose();
    opt.dispose();
  }
}

/** The built-in pairs with the SFT model's mistakes as rejected answers: made before the first step
 *  (the policy is still the SFT model) and saved in the run directory; a resumed run reads them. */
async function builtinPairs(opts: DpoOptions, model: GPT, entries: PreferenceEntry[], resumed: boolean): Promise<PreferenceEntry[]> {
  const file = path.join(opts.out, PAIRS_FILE);
  if (resumed) {
    if (!existsSync(file)) throw new WgptError(`${file} is missing: the run's built-in pairs cannot be rebuilt from a trained policy`);
    return loadPreferences(file);
  }
  const { pairs, mistakes } = await withModelMistakes(model, entries, opts.style, opts.maxNewTokens || 8, opts.genBatch);
  console.error(`built-in pairs: ${mistakes} of ${pairs.length} reject the SFT model's own wrong answer, the rest another entry's answer`);
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(file, JSON.stringify(pairs, null, 1));
  return pairs;
}

async function run(opts: DpoOptions, splits: { train: PreferenceEntry[]; test: PreferenceEntry[]; val: PreferenceEntry[] },
  model: GPT, ref: Reference, opt: AdamW, state: TrainState | null): Promise<DpoResult> {
  const ctx = model.config.contextLength;
  const allowedMaxLength = Math.min(1024, ctx);
  const trainItems = encodeSplit(splits.train, (e) => encodePair(e, opts.style), ctx, 'train');
  const valItems = encodeSplit(splits.val, (e) => encodePair(e, opts.style), ctx, 'validation');
  const testItems = encodeSplit(splits.test, (e) => encodePair(e, opts.style), ctx, 'test');
  // Every selected token must be one the model can predict (an output vocabulary of the data's tokens).
  for (const item of [...trainItems, ...valItems, ...testItems]) model.targetColumns([...item.chosen, ...item.rejected]);
  const loader = trainLoader(trainItems, opts.batchSize, opts.seed);
  if (state) loader.setState(state.loader);

  mkdirSync(opts.out, { recursive: true });
  const metricsLog = new MetricsLog<DpoMetricsRow>(opts.out, state !== null);
  const metrics = metricsLog.rows;
  let step = state?.step ?? 0;
  let tokensSeen = state?.tokensSeen ?? 0;
  const totalSteps = Math.min(opts.epochs * loader.length, opts.maxSteps ?? Infinity);
  let progress = new Progress(step);
  const log = (s: string): void => progress.log(s);
  if (model.lora) {
    log(`trainable parameters: ${model.lora.parameterCount().toLocaleString('en-US')} of ${(model.parameterCount() + model.lora.parameterCount()).toLocaleString('en-US')} ` +
      `(LoRA rank ${model.lora.spec.rank}, alpha ${model.lora.spec.alpha}, ${model.lora.spec.targets.join(',')}; the reference is the base without them)`);
  }
  const testLimited = opts.testLimit === null ? splits.test : splits.test.slice(0, opts.testLimit);
  const respond = (label: string): Promise<PreferenceEntry[]> =>
    generateResponses(model, testLimited, opts.style, opts.maxNewTokens, { batchSize: opts.genBatch, label }) as Promise<PreferenceEntry[]>;

  const summaryFile = path.join(opts.out, SUMMARY_FILE);
  const before: DpoScores = state && existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, 'utf8')).before ?? {} : {};
  if (opts.scoreBefore && !state && testItems.length > 0) {
    before.preference = await preferenceAccuracy(model, testItems, opts.batchSize, opts.mask, allowedMaxLength);
    log(`before DPO: held-out preference accuracy ${pct(before.preference.accuracy)} (${before.preference.correct}/${before.preference.n})`);
    if (opts.maxNewTokens > 0 && testLimited.length > 0) {
      const exact = scoreResponses(await respond('before DPO: test responses'));
      before.exact = exact;
      log(`before DPO: held-out exact match ${pct(exact.accuracy)} (${exact.correct}/${exact.n})`);
    }
    writeFileSync(summaryFile, JSON.stringify({ before }, null, 2));
    progress = new Progress(step);
  }

  const stop = new StopSignals();
  const checkpoint = (): Promise<void> => saveTrainingCheckpoint(opts.out, model, opt, {
    step, tokensSeen, loader: loader.getState(), options: opts as unknown as Record<string, unknown>,
  });
  const evalCache = { train: [] as Float32Array[], val: [] as Float32Array[] };
  const started = performance.now();
  const startStep = step;
  let stepTokens = 0;
  try {
    while (step < totalSteps && !stop.requested) {
      const items = loader.nextBatch();
      if (!items) {
        loader.nextEpoch();
        if (loader.epoch >= opts.epochs) break;
        await checkpoint();
        continue;
      }
      const batch = collatePairs(items, { mask: opts.mask, allowedMaxLength });
      const l = await dpoStep(model, ref, opt, batch, opts.beta, opts.sftWeight ?? 0);
      if (!Number.isFinite(l.loss)) throw new WgptError(`the loss became ${l.loss} at step ${step}; lower --lr`);
      tokensSeen += batch.tokens;
      stepTokens += batch.tokens;
      step++;
      const elapsed = (performance.now() - started) / 1000;
      progress.update({ step, totalSteps, loss: l.loss, epoch: loader.epoch, tokensPerSecond: stepTokens / elapsed });
      if ((step - 1) % opts.evalEvery === 0) {
        const tr = await evaluate(model, ref, trainItems, opts, allowedMaxLength, evalCache.train);
        const va = await evaluate(model, ref, valItems, opts, allowedMaxLength, evalCache.val);
        const row: DpoMetricsRow = {
          step: step - 1, epoch: loader.epoch + loader.cursor / loader.length, tokens_seen: tokensSeen,
          train_loss: tr.loss, val_loss: va.loss, train_reward_margin: tr.margin, val_reward_margin: va.margin,
          train_chosen_reward: tr.chosen, train_rejected_reward: tr.rejected, val_chosen_reward: va.chosen, val_rejected_reward: va.rejected,
          train_sft_loss: tr.sft, val_sft_loss: va.sft, elapsed_s: elapsed,
        };
        metricsLog.append(row);
        log(`ep ${loader.epoch + 1} (step ${String(row.step).padStart(6, '0')}): train loss ${row.train_loss.toFixed(3)}, val loss ${row.val_loss.toFixed(3)}, ` +
          `train reward margin ${row.train_reward_margin.toFixed(3)}, val reward margin ${row.val_reward_margin.toFixed(3)}, val chosen NLL ${row.val_sft_loss.toFixed(3)}`);
      }
    }
  } finally {
    stop.dispose();
    progress.done();
  }
  const seconds = (performance.now() - started) / 1000;
  const secondsPerStep = seconds / Math.max(step - startStep, 1);
  await checkpoint();
  const after: DpoScores = {};
  const interrupted = stop.requested;
  if (interrupted) {
    log(`interrupted at step ${step}: checkpoint saved in ${path.join(opts.out, 'checkpoint')}; continue with --resume ${opts.out}`);
    return { steps: step, metrics, before, after, secondsPerStep, interrupted };
  }
  if (model.lora) await saveAdapters(opts.out, model.lora, loraBaseName(opts));
  else await saveGPT(model, opts.out);
  if (metrics.length > 0) await writeDpoPlots(opts.out, metrics);
  if (testItems.length > 0) {
    after.preference = await preferenceAccuracy(model, testItems, opts.batchSize, opts.mask, allowedMaxLength);
  }
  if (testLimited.length > 0 && opts.maxNewTokens > 0) {
    const responses = await respond('test responses');
    writeFileSync(path.join(opts.out, 'test-responses.json'), JSON.stringify(responses, null, 2));
    after.exact = scoreResponses(responses);
  }
  writeFileSync(summaryFile, JSON.stringify({ before, after }, null, 2));
  return { steps: step, metrics, before, after, secondsPerStep, interrupted };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
