// wgpt dpo: Direct Preference Optimization after instruction finetuning (the chapter 7 bonus
// notebook), or with no arguments the built-in run: the built-in SFT model (trained first when
// absent) on preference pairs of the built-in tasks, held-out preference accuracy before and after.
import { WgptError } from '../../engine/errors.ts';
import { BUILTIN_DPO } from '../../train/builtin/recipes.ts';
import { ensureBuiltinSft } from '../../train/builtin/sft.ts';
import { DPO_BASE as B } from '../../train/dpo/presets.ts';
import { checkDpoOptions, dpo, type DpoOptions, type DpoResult, type DpoScores } from '../../train/dpo/trainer.ts';
import { DEFAULT_GEN_BATCH } from '../../train/eval/responses.ts';
import { dpoMetrics } from '../../train/sweep/metrics.ts';
import { defaultOut, DEVICE_FLAGS, inRunDir, MATMUL_PRECISION, resumableSweep, resumedOptions, withDevice } from './common.ts';
import {
  applyFlags, flagsFor, INT, NUMBER, parseFlags, POSITIVE_INT, SWITCH, TEST_LIMIT, TEXT, trainerFlags, usageText,
} from './flags.ts';

const f = flagsFor<DpoOptions>();

/** The flags of wgpt dpo and the options they set; `wgpt sweep plan` checks a grid against them. */
export const FLAGS = [
  f.set('model', 'model', TEXT, 'DIR|FILE', 'the SFT model (model.safetensors dir or file); the policy\'s start and the reference'),
  f.set('data', 'data', TEXT, 'FILE|ch07-dpo', 'Alpaca-style JSON with "chosen" and "rejected" answers, or the notebook\'s\n' +
    'instruction-data-with-preference.json (fetched, sha256 checked)', { nullable: true }),
  ...trainerFlags(B, { out: 'run directory (default runs/dpo-<time>)', batchSize: `pairs per step (${B.batchSize})` }),
  f.set('beta', 'beta', NUMBER, 'X', `(${B.beta})  strength of the pull towards the reference`),
  f.set('sft-weight', 'sftWeight', NUMBER, 'W', 'add W times the chosen answers\' negative log-likelihood per token to the\n' +
    'loss (0: plain DPO; built-in run 1), so preferring the chosen answer\ncannot come from making both answers unlikely',
  { optional: true }),
  f.set('mask', 'mask', TEXT, 'prompt|answer|none', 'tokens a sequence\'s log-probability averages: the response header\n' +
    `and answer (prompt, default), the answer alone (answer), or every token\nafter the first (none)`),
  f.set('lora-rank', 'loraRank', INT, 'R', 'train LoRA adapters of rank R only (saved as adapter_model.safetensors);\n' +
    'the reference is the same weights without them (no second copy)', { nullable: true }),
  f.set('lora-alpha', 'loraAlpha', NUMBER, 'X', '(R)', { optional: true, nullable: true }),
  f.set('lora-targets', 'loraTargets', TEXT, 'LIST', 'attn,mlp,head (attn,mlp)', { optional: true, nullable: true }),
  f.set('rejected', 'rejected', TEXT, 'other|model', 'the built-in pairs\' rejected answers: another entry\'s answer (other), or\n' +
    'the SFT model\'s own wrong greedy answer where it has one (model; built-in run)', { optional: true }),
  f.set('style', 'style', TEXT, 'alpaca|phi3', `prompt style (${B.style})`),
  f.set('max-new-tokens', 'maxNewTokens', INT, 'N', `test responses (${B.maxNewTokens})`),
  f.set('test-limit', 'testLimit', TEST_LIMIT, 'N', 'respond to at most N test entries at the end (all; 0: none)', { nullable: true }),
  f.set('gen-batch', 'genBatch', POSITIVE_INT, 'N', `test prompts generated together (${DEFAULT_GEN_BATCH}; answers do not depend on it)`,
    { optional: true, onResume: 'change' }),
  f.saved('scoreBefore', SWITCH),
  f.saved('syntheticCount', INT),
  MATMUL_PRECISION,
  ...DEVICE_FLAGS,
] as const;

const USAGE = usageText(`usage: wgpt dpo --model SFT --data FILE|ch07-dpo [options]

Direct Preference Optimization of an instruction-finetuned model on pairs of answers (the DPO
notebook of chapter 7): the policy starts as SFT and learns to prefer each entry's "chosen" answer
over its "rejected" one, measured against a frozen copy of SFT (the reference).
With no options: the built-in run (about five minutes on 2 CPU cores, plus the built-in models
the first time): the finetuning \`wgpt train\` does with no options (trained first into
$WGPT_CACHE/builtin-sft when absent) on pairs of its fact questions (chosen: the right answer;
rejected: the SFT model's own wrong answer, or another entry's answer where it is right), with
--sft-weight 1, reporting held-out preference accuracy and exact match before and after.
`, FLAGS);

/** How `wgpt sweep` runs, resumes and reads a dpo run. */
export const SWEEP = resumableSweep(FLAGS, dpoMetrics);

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS, USAGE);
  const builtin = values.resume === undefined && values.data === undefined && values.model === undefined;
  if (values.resume === undefined && !builtin && (values.data === undefined || values.model === undefined)) {
    throw new WgptError('dpo needs both --model SFT and --data FILE (or neither, for the built-in run)');
  }
  const out = values.resume ?? values.out ?? defaultOut('dpo-');
  const fresh = values.resume === undefined ? freshOptions(values, builtin, out) : null;
  if (fresh) checkDpoOptions(fresh); // before the directory is touched
  return inRunDir(out, values, async () => {
    const opts = fresh ?? await resumedOptions(FLAGS, values, 'dpo', out);
    return dpoRun(values, opts, builtin);
  });
}

function freshOptions(values: Values, builtin: boolean, out: string): DpoOptions {
  const opts = applyFlags<DpoOptions>(FLAGS, values, { ...B, ...(builtin ? BUILTIN_DPO : {}), out });
  if (opts.loraRank === null && (opts.loraAlpha !== null || opts.loraTargets !== null)) throw new WgptError(
    '--lora-alpha and --lora-targets need --lora-rank');
  return opts;
}

async function dpoRun(values: Values, opts: DpoOptions, builtin: boolean): Promise<number> {
  opts.genBatch ??= DEFAULT_GEN_BATCH;

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

function scoreLine(what: string, b: DpoScores, a: DpoScores,
  pick: (s: DpoScores) => { accuracy: number; correct: number; n: number } | undefined): string | null {
  const after = pick(a);
  if (!after) return null;
  const before = pick(b);
  return `held-out ${what} ${before ? `${pct(before.accuracy)} (${before.correct}/${before.n}) -> ` : ''}` +
    `${pct(after.accuracy)} (${after.correct}/${after.n})`;
}

function report(opts: DpoOptions, r: DpoResult, seconds: number): void {
  console.log(`\n${r.steps} steps, ${r.secondsPerStep.toFixed(3)} s/step, ${seconds.toFixed(0)} s in all; run directory ${opts.out}`);
  if (r.interrupted) return;
  const first = r.metrics[0];
  const last = r.metrics[r.metrics.length - 1];
  if (first && last) {
    console.log(`val loss ${first.val_loss.toFixed(3)} -> ${last.val_loss.toFixed(3)}, ` +
      `val reward margin ${first.val_reward_margin.toFixed(3)} -> ${last.val_reward_margin.toFixed(3)}`);
  }
  for (const line of [scoreLine('preference accuracy', r.before, r.after, (s) => s.preference),
    scoreLine('exact match', r.before, r.after, (s) => s.exact)]) {
    if (line) console.log(line);
  }
}
