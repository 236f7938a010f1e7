// wgpt dpo: Direct Preference Optimization (the chapter 7 bonus notebook) after `wgpt train`. The
// policy starts as the SFT model and the reference is a frozen copy of it (with LoRA: the policy
// itself with its adapters off); DPO's step is step.ts. The run is every trainer's (run/training-run.ts):
// the shared loop, eval every N steps over M batches (the chapter's 0-based rule), metrics.jsonl,
// plots, Ctrl-C/SIGTERM checkpoints that resume bit for bit, the weights and the test split's
// responses in the run directory.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/index.ts';
import { loadGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import { allowedMaxLengthFor } from '../data/collate.ts';
import { encodeSplit } from '../data/encode.ts';
import { requireNonEmpty, splitData } from '../data/entries.ts';
import { checkStyle } from '../data/prompts.ts';
import { scoreTest } from '../eval/score-test.ts';
import type { ScoreReport } from '../eval/score.ts';
import { trainLoader } from '../run/loader.ts';
import { loraBaseName, loraOf } from '../run/lora-options.ts';
import { TrainingRun } from '../run/training-run.ts';
import { checkDpoMask, collatePairs, encodePair, type EncodedPair } from './collate.ts';
import { loadPreferences, type PreferenceEntry } from './data.ts';
import { syntheticPreferences, withModelMistakes } from './pairs.ts';
import { writeRewardMarginPlot } from './plots.ts';
import { disposeReference, dpoStep, evaluatePairs, preferenceAccuracy, type PreferenceAccuracy, type Reference } from './step.ts';

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

/** Tokens of the SFT model's greedy answers that become rejected answers, with --max-new-tokens 0
 *  (no test responses): the built-in tasks' answers are a few tokens long. */
const DEFAULT_MISTAKE_TOKENS = 8;

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

async function loadPairs(opts: DpoOptions): Promise<PreferenceEntry[]> {
  return opts.data === null ? syntheticPreferences(opts.seed, opts.syntheticCount) : loadPreferences(opts.data);
}

/** Checks every option that can be checked before anything is loaded or written. */
export function checkDpoOptions(opts: DpoOptions): void {
  checkStyle(opts.style);
  checkDpoMask(opts.mask);
  if (!(opts.beta > 0)) throw new WgptError(`--beta must be above 0, got ${opts.beta}`);
  if (!((opts.sftWeight ?? 0) >= 0)) throw new WgptError(`--sft-weight must be 0 (plain DPO) or more, got ${opts.sftWeight}`);
  if (!(opts.lr > 0)) throw new WgptError(`--lr must be above 0, got ${opts.lr}`);
  loraOf(opts);
  if (!['other', 'model'].includes(opts.rejected ?? 'other')) throw new WgptError(
    `unknown --rejected "${opts.rejected}": use other or model`);
  if (opts.data !== null && (opts.rejected ?? 'other') !== 'other') throw new WgptError(
    '--rejected chooses the built-in pairs\' rejected answers; a --data file has its own');
}

export async function dpo(opts: DpoOptions, resumeDir: string | null = null): Promise<DpoResult> {
  checkDpoOptions(opts);
  let entries = await loadPairs(opts);
  const checked = splitData(entries);
  requireNonEmpty(checked.train, 'train');
  requireNonEmpty(checked.val, 'validation');
  const run: DpoRun = await TrainingRun.start({
    out: opts.out, options: opts, resumeDir, lora: loraOf(opts), seed: opts.seed, lr: opts.lr, weightDecay: opts.weightDecay,
    loadModel: () => loadGPT(opts.model),
  });
  let ref: Reference | null = null;
  try {
    if (opts.data === null && opts.rejected === 'model') entries = await builtinPairs(opts, run.model, entries, run.resumed);
    const splits = splitData(entries) as PairSplits;
    ref = run.model.lora ? { baseOf: run.model } : await loadGPT(opts.model);
    return await prefer(opts, splits, run, ref);
  } finally {
    if (ref) disposeReference(ref);
    run.dispose();
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
  const tokens = opts.maxNewTokens || DEFAULT_MISTAKE_TOKENS;
  const { pairs, mistakes } = await withModelMistakes(model, entries, opts.style, tokens, opts.genBatch);
  console.error(`built-in pairs: ${mistakes} of ${pairs.length} reject the SFT model's own wrong answer, the rest another entry's answer`);
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(file, JSON.stringify(pairs, null, 1));
  return pairs;
}

type PairSplits = { train: PreferenceEntry[]; test: PreferenceEntry[]; val: PreferenceEntry[] };
type DpoRun = TrainingRun<EncodedPair, DpoMetricsRow>;

/** The run on the shared loop: DPO's step (pairs against the reference) and its evaluation rows
 *  (losses, rewards and their margins, the chosen answers' NLL), scored before and after. */
async function prefer(opts: DpoOptions, splits: PairSplits, run: DpoRun, ref: Reference): Promise<DpoResult> {
  const { model } = run;
  const ctx = model.config.contextLength;
  const allowedMaxLength = allowedMaxLengthFor(ctx);
  const [trainItems, valItems, testItems] = (['train', 'val', 'test'] as const).map((split) =>
    encodeSplit(splits[split], (e) => encodePair(e, opts.style), ctx, split === 'val' ? 'validation' : split));
  // Every selected token must be one the model can predict (an output vocabulary of the data's tokens).
  for (const item of [...trainItems, ...valItems, ...testItems]) model.targetColumns([...item.chosen, ...item.rejected]);
  run.begin(trainLoader(trainItems, opts.batchSize, opts.seed), opts);
  if (model.lora) run.logTrainable('the reference is the base without them');
  const testLimited = opts.testLimit === null ? splits.test : splits.test.slice(0, opts.testLimit);

  const summaryFile = path.join(opts.out, SUMMARY_FILE);
  const before: DpoScores = run.resumed && existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, 'utf8')).before ?? {} : {};
  if (opts.scoreBefore && !run.resumed && testItems.length > 0) {
    before.preference = await preferenceAccuracy(model, testItems, opts.batchSize, opts.mask, allowedMaxLength);
    const p = before.preference;
    run.log(`before DPO: held-out preference accuracy ${pct(p.accuracy)} (${p.correct}/${p.n})`);
    if (opts.maxNewTokens > 0 && testLimited.length > 0) {
      const exact = await scoreTest(model, testLimited, opts, 'before DPO: test responses');
      before.exact = exact;
      run.log(`before DPO: held-out exact match ${pct(exact.accuracy)} (${exact.correct}/${exact.n})`);
    }
    writeFileSync(summaryFile, JSON.stringify({ before }, null, 2));
    run.restartProgress();
  }

  const evalCache = { train: [] as Float32Array[], val: [] as Float32Array[] };
  const r = await run.loop({
    schedule: opts, evalEvery: opts.evalEvery,
    step: async (items) => {
      const batch = collatePairs(items, { mask: opts.mask, allowedMaxLength });
      const l = await dpoStep(model, ref, run.opt, batch, opts.beta, opts.sftWeight ?? 0);
      return { loss: l.loss, tokens: batch.tokens };
    },
    evaluate: async () => {
      const tr = await evaluatePairs(model, ref, trainItems, opts, allowedMaxLength, evalCache.train);
      const va = await evaluatePairs(model, ref, valItems, opts, allowedMaxLength, evalCache.val);
      return {
        train_loss: tr.loss, val_loss: va.loss, train_reward_margin: tr.margin, val_reward_margin: va.margin,
        train_chosen_reward: tr.chosen, train_rejected_reward: tr.rejected, val_chosen_reward: va.chosen, val_rejected_reward: va.rejected,
        train_sft_loss: tr.sft, val_sft_loss: va.sft,
      };
    },
    describe: (row) => `, train reward margin ${row.train_reward_margin.toFixed(3)}, ` +
      `val reward margin ${row.val_reward_margin.toFixed(3)}, val chosen NLL ${row.val_sft_loss.toFixed(3)}`,
  });
  const after: DpoScores = {};
  const result = { steps: r.step, metrics: run.metrics.rows, before, after, secondsPerStep: r.secondsPerStep };
  if (r.interrupted) return { ...result, interrupted: true };
  await run.saveModel(loraBaseName(opts));
  await run.plotLosses('DPO loss');
  if (run.metrics.rows.length > 0) await writeRewardMarginPlot(opts.out, run.metrics.rows);
  if (testItems.length > 0) {
    after.preference = await preferenceAccuracy(model, testItems, opts.batchSize, opts.mask, allowedMaxLength);
  }
  if (testLimited.length > 0 && opts.maxNewTokens > 0) after.exact = await scoreTest(model, testLimited, opts, 'test responses', opts.out);
  writeFileSync(summaryFile, JSON.stringify({ before, after }, null, 2));
  return { ...result, interrupted: false };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
