// wgpt dpo: Direct Preference Optimization after instruction finetuning (the chapter 7 bonus
// notebook), or with no arguments the built-in run: the built-in SFT model (trained first when
// absent) on preference pairs of the built-in tasks, held-out preference accuracy before and after.
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { readTrainState } from '../../train/run/checkpoint.ts';
import { ensureBuiltinSft } from '../../train/builtin/sft.ts';
import { checkDpoOptions, dpo, type DpoOptions, type DpoResult, type DpoScores } from '../../train/dpo/trainer.ts';
import { DEFAULT_GEN_BATCH } from '../../train/eval/responses.ts';
import { dpoMetrics } from '../../train/sweep/metrics.ts';
import type { SweepSpec } from '../../train/sweep/spec.ts';
import { checkpointStepOf, DEVICE_OPTIONS, DEVICE_USAGE, intOption, numberOption, parse, positiveIntOption, withDevice } from './common.ts';

const USAGE = `usage: wgpt dpo --model SFT --data FILE|ch07-dpo [options]

Direct Preference Optimization of an instruction-finetuned model on pairs of answers (the DPO
notebook of chapter 7): the policy starts as SFT and learns to prefer each entry's "chosen" answer
over its "rejected" one, measured against a frozen copy of SFT (the reference).
With no options: the built-in run (about five minutes on 2 CPU cores, plus the built-in models
the first time): the finetuning \`wgpt train\` does with no options (trained first into
$WGPT_CACHE/builtin-sft when absent) on pairs of its fact questions (chosen: the right answer;
rejected: the SFT model's own wrong answer, or another entry's answer where it is right), with
--sft-weight 1, reporting held-out preference accuracy and exact match before and after.

  --model DIR|FILE        the SFT model (model.safetensors dir or file); the policy's start and the reference
  --data FILE|ch07-dpo    Alpaca-style JSON with "chosen" and "rejected" answers, or the notebook's
                          instruction-data-with-preference.json (fetched, sha256 checked)
  --beta X                (0.1)  strength of the pull towards the reference
  --sft-weight W          add W times the chosen answers' negative log-likelihood per token to the
                          loss (0: plain DPO; built-in run 1), so preferring the chosen answer
                          cannot come from making both answers unlikely
  --lr X                  (5e-6)                --weight-decay X  (0.01)
  --epochs N              (1)                   --max-steps N     stop at global step N
  --batch-size N          pairs per step (8)
  --eval-every N          (5)                   --eval-batches N  (5)
  --mask prompt|answer|none  tokens a sequence's log-probability averages: the response header
                          and answer (prompt, default), the answer alone (answer), or every token
                          after the first (none)
  --lora-rank R           train LoRA adapters of rank R only (saved as adapter_model.safetensors);
                          the reference is the same weights without them (no second copy)
  --lora-alpha X          (R)                   --lora-targets LIST  attn,mlp,head (attn,mlp)
  --rejected other|model  the built-in pairs' rejected answers: another entry's answer (other), or
                          the SFT model's own wrong greedy answer where it has one (model; built-in run)
  --style alpaca|phi3     prompt style (alpaca)
  --seed N                (123)                 --max-new-tokens N  test responses (256)
  --test-limit N          respond to at most N test entries at the end (all; 0: none)
  --gen-batch N           test prompts generated together (${DEFAULT_GEN_BATCH}; answers do not depend on it)
  --out DIR               run directory (default runs/dpo-<time>)
  --resume DIR            continue a run from its checkpoint, bit for bit
${DEVICE_USAGE}`;

/** The built-in run's settings (README): held-out preference accuracy 89% -> 100% and exact match
 *  89% -> 100% with --sft-weight 1; without it 96% and 0.6%, both answers made unlikely. */
export const BUILTIN: Partial<DpoOptions> = {
  data: null, rejected: 'model', beta: 0.5, sftWeight: 1, lr: 1e-4, epochs: 2, maxSteps: 400, batchSize: 8, evalEvery: 50, evalBatches: 3,
  scoreBefore: true, style: 'phi3', maxNewTokens: 20, testLimit: null, syntheticCount: 1800,
};

const BASE: DpoOptions = {
  data: null, model: '', out: '', beta: 0.1, sftWeight: 0, lr: 5e-6, weightDecay: 0.01, epochs: 1, maxSteps: null, batchSize: 8,
  evalEvery: 5, evalBatches: 5, mask: 'prompt', style: 'alpaca', seed: 123, maxNewTokens: 256, testLimit: null,
  loraRank: null, loraAlpha: null, loraTargets: null, scoreBefore: false, syntheticCount: 2000,
};

/** The flags of wgpt dpo, exported so `wgpt sweep plan` checks a grid against the real parser. */
export const OPTIONS = {
  ...DEVICE_OPTIONS,
  model: { type: 'string' }, data: { type: 'string' }, beta: { type: 'string' }, 'sft-weight': { type: 'string' }, lr: { type: 'string' },
  'weight-decay': { type: 'string' }, epochs: { type: 'string' }, 'batch-size': { type: 'string' }, 'eval-every': { type: 'string' },
  'eval-batches': { type: 'string' }, mask: { type: 'string' }, 'lora-rank': { type: 'string' }, 'lora-alpha': { type: 'string' },
  'lora-targets': { type: 'string' }, rejected: { type: 'string' }, 'max-steps': { type: 'string' }, out: { type: 'string' }, resume: { type: 'string' },
  seed: { type: 'string' }, 'max-new-tokens': { type: 'string' }, 'test-limit': { type: 'string' }, style: { type: 'string' },
  'gen-batch': { type: 'string' },
} as const;

/** How `wgpt sweep` runs, resumes and reads a dpo run. */
export const SWEEP: SweepSpec = {
  options: OPTIONS, outFlag: 'out', resumeFlag: 'resume', metrics: dpoMetrics,
  checkpointStep: checkpointStepOf,
};

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS, USAGE);
  let opts: DpoOptions;
  let builtin = false;
  if (values.resume) {
    const state = await readTrainState(values.resume);
    opts = { ...(state.options as unknown as DpoOptions), out: values.resume };
  } else {
    builtin = values.data === undefined && values.model === undefined;
    if (!builtin && (values.data === undefined || values.model === undefined)) {
      throw new WgptError('dpo needs both --model SFT and --data FILE (or neither, for the built-in run)');
    }
    opts = { ...BASE, ...(builtin ? BUILTIN : {}) };
    if (values.data !== undefined) opts.data = values.data;
    if (values.model !== undefined) opts.model = values.model;
    opts.out = values.out ?? path.join('runs', `dpo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    opts.beta = numberOption(values.beta, 'beta', opts.beta);
    opts.sftWeight = numberOption(values['sft-weight'], 'sft-weight', opts.sftWeight ?? 0);
    opts.lr = numberOption(values.lr, 'lr', opts.lr);
    opts.weightDecay = numberOption(values['weight-decay'], 'weight-decay', opts.weightDecay);
    opts.batchSize = intOption(values['batch-size'], 'batch-size', opts.batchSize);
    opts.evalEvery = intOption(values['eval-every'], 'eval-every', opts.evalEvery);
    opts.evalBatches = intOption(values['eval-batches'], 'eval-batches', opts.evalBatches);
    opts.mask = values.mask ?? opts.mask;
    opts.rejected = values.rejected ?? opts.rejected;
    opts.style = values.style ?? opts.style;
    opts.seed = intOption(values.seed, 'seed', opts.seed);
    opts.maxNewTokens = intOption(values['max-new-tokens'], 'max-new-tokens', opts.maxNewTokens);
    if (values['test-limit'] !== undefined) opts.testLimit = intOption(values['test-limit'], 'test-limit', 0);
    if ((opts.testLimit ?? 0) < 0) throw new WgptError(`--test-limit must be 0 (no test responses) or more, got ${opts.testLimit}`);
    if (values['lora-rank'] !== undefined) opts.loraRank = intOption(values['lora-rank'], 'lora-rank', 0);
    if (values['lora-alpha'] !== undefined) opts.loraAlpha = numberOption(values['lora-alpha'], 'lora-alpha', 0);
    if (values['lora-targets'] !== undefined) opts.loraTargets = values['lora-targets'];
    if (opts.loraRank === null && (opts.loraAlpha !== null || opts.loraTargets !== null)) throw new WgptError('--lora-alpha and --lora-targets need --lora-rank');
  }
  opts.epochs = intOption(values.epochs, 'epochs', opts.epochs);
  opts.genBatch = positiveIntOption(values['gen-batch'], 'gen-batch', opts.genBatch ?? DEFAULT_GEN_BATCH);
  if (values['max-steps'] !== undefined) opts.maxSteps = intOption(values['max-steps'], 'max-steps', 0);

  // Every flag is checked before the built-in SFT model is trained or anything is loaded.
  checkDpoOptions(opts);
  const started = performance.now();
  const result = await withDevice(values, async () => {
    if (builtin) opts.model = await ensureBuiltinSft();
    return dpo(opts, values.resume ?? null);
  });
  report(opts, result, (performance.now() - started) / 1000);
  return result.interrupted ? 130 : 0;
}

const pct = (x: number | undefined): string => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);

function scoreLine(what: string, b: DpoScores, a: DpoScores, pick: (s: DpoScores) => { accuracy: number; correct: number; n: number } | undefined): string | null {
  const after = pick(a);
  if (!after) return null;
  const before = pick(b);
  return `held-out ${what} ${before ? `${pct(before.accuracy)} (${before.correct}/${before.n}) -> ` : ''}${pct(after.accuracy)} (${after.correct}/${after.n})`;
}

function report(opts: DpoOptions, r: DpoResult, seconds: number): void {
  console.log(`\n${r.steps} steps, ${r.secondsPerStep.toFixed(3)} s/step, ${seconds.toFixed(0)} s in all; run directory ${opts.out}`);
  if (r.interrupted) return;
  const first = r.metrics[0];
  const last = r.metrics[r.metrics.length - 1];
  if (first && last) {
    console.log(`val loss ${first.val_loss.toFixed(3)} -> ${last.val_loss.toFixed(3)}, val reward margin ${first.val_reward_margin.toFixed(3)} -> ${last.val_reward_margin.toFixed(3)}`);
  }
  for (const line of [scoreLine('preference accuracy', r.before, r.after, (s) => s.preference), scoreLine('exact match', r.before, r.after, (s) => s.exact)]) {
    if (line) console.log(line);
  }
}
