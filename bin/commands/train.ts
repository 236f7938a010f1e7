// wgpt train: instruction finetuning (chapter 7) from the terminal, or with no arguments the
// built-in default: the tiny model from scratch on generated tasks whose answers a program checks.
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { defaultTrainOptions } from '../../train/builtin/recipes.ts';
import { SUMMARY_FILE, type BuiltinSummary } from '../../train/builtin/run.ts';
import { builtinSeedsRun } from '../../train/builtin/seeds.ts';
import { builtinMarkdown } from '../../train/builtin/table.ts';
import { DEFAULT_GEN_BATCH } from '../../train/eval/responses.ts';
import { TRAIN_BASE, TRAIN_PRESETS } from '../../train/sft/presets.ts';
import { train, type TrainOptions, type TrainResult } from '../../train/sft/trainer.ts';
import { trainMetrics } from '../../train/sweep/metrics.ts';
import { defaultOut, DEVICE_FLAGS, inRunDir, MATMUL_PRECISION, resumableSweep, resumedOptions, withDevice } from './common.ts';
import {
  applyFlags, flagsFor, INT, NUMBER, own, parseFlags, POSITIVE_INT, shown, SWITCH, TEST_LIMIT, TEXT, trainerFlags, usageText,
} from './flags.ts';

const f = flagsFor<TrainOptions>();
const B = TRAIN_BASE;

/** The flags of wgpt train and the options they set; `wgpt sweep plan` checks a grid against them. */
export const FLAGS = [
  f.set('data', 'data', TEXT, 'FILE|ch07|facts', 'Alpaca-style JSON (instruction, input, output), the chapter\'s data (fetched),\n' +
    'or the built-in run\'s questions about its fact world (train/data/facts.ts)', { nullable: true }),
  f.set('model', 'model', TEXT, 'FILE|DIR|NAME', 'weights (model.safetensors dir or file) or a size: tiny, mini, gpt2, gpt2-medium, ...'),
  f.set('from-scratch', 'fromScratch', SWITCH, null, 'random GPT-2 init for a size name (tiny and mini always are)'),
  f.set('untie', 'untie', SWITCH, null, 'give the model a separate LM head, a copy of wte (the chapter does)'),
  ...trainerFlags(B, {
    out: 'run directory (default runs/<time>)', epochs: `passes over the training data (${B.epochs}; chapter: 2)`,
    lr: `(${shown(B.lr)}; the built-in run ${shown(defaultTrainOptions('', '').lr)})`,
  }),
  f.set('dropout', 'dropout', NUMBER, 'P', '(the model\'s; 0 for presets)', { optional: true }),
  f.set('lr-schedule', 'lrSchedule', TEXT, 'constant|cosine', `(${B.lrSchedule}, as the chapter; cosine decays to lr/10 at the last step)`,
    { optional: true }),
  f.set('warmup-steps', 'warmupSteps', INT, 'N', `linear warm-up from 0 (${B.warmupSteps})`, { optional: true }),
  f.set('output-vocab', 'outputVocab', TEXT, 'all|data', 'the softmax over the whole vocabulary (all), or only over the tokens of\n' +
    'the data and <|endoftext|> (data: saved with the model, used by generate)', { optional: true }),
  f.set('mask', 'mask', TEXT, 'none|prompt|pad-in-mean', `loss mask (${B.mask})`),
  f.set('prompt-loss-weight', 'promptLossWeight', NUMBER, 'W',
    '0..1: the prompt\'s targets count W times in the loss, the response\'s once\n' +
    '(mean = sum(w·loss)/sum(w)); 0 is --mask prompt, 1 no mask, bit for bit.\nWith --mask none only; a resumed run keeps its own',
  { optional: true, nullable: true }),
  f.set('style', 'style', TEXT, 'alpaca|phi3', `prompt style (${B.style})`),
  f.set('max-new-tokens', 'maxNewTokens', INT, 'N', `test responses (${B.maxNewTokens})`),
  f.set('test-limit', 'testLimit', TEST_LIMIT, 'N', 'respond to at most N test entries at the end (all; 0: none)',
    { optional: true, nullable: true }),
  f.set('gen-batch', 'genBatch', POSITIVE_INT, 'N', `test prompts generated together (${DEFAULT_GEN_BATCH}; answers do not depend on it)`,
    { optional: true, onResume: 'change' }),
  f.set('synthetic-count', 'syntheticCount', INT, 'N',
    `entries of the built-in tasks without --data, or of --data facts (${B.syntheticCount})`),
  f.set('lora-rank', 'loraRank', INT, 'R', 'LoRA: train rank-R adapters (PEFT layout, adapter_model.safetensors) on a\n' +
    'frozen base model instead of every weight (exercise 7.4; the book uses 16)', { optional: true, nullable: true }),
  f.set('lora-alpha', 'loraAlpha', NUMBER, 'A', 'the adapters\' scale is A/R (default A = R)', { optional: true }),
  f.set('lora-targets', 'loraTargets', TEXT, 'LIST', 'layers to adapt: attn (c_attn, attn.c_proj), mlp (c_fc, mlp.c_proj), head\n' +
    '(the LM head); default attn,mlp', { optional: true }),
  f.set('merge', 'merge', SWITCH, null, 'with --lora-rank, also write the merged model.safetensors + config.json',
    { optional: true, onResume: 'change' }),
  own('seeds', POSITIVE_INT, 'N', 'the built-in run only: run it for N finetuning seeds (1), each in DIR/seed-S;\n' +
    'the table gives mean ± sd [min–max] over them'),
  own('preset', TEXT, 'ch07', 'the chapter\'s run: gpt2-medium, untied head, 2 epochs, eval every 5 over 5'),
  f.saved('scoreBefore', SWITCH),
  MATMUL_PRECISION,
  ...DEVICE_FLAGS,
] as const;

const USAGE = usageText(`usage: wgpt train [options]

With no options: the built-in run. The built-in base model (tiny, pretrained on biographies of
made-up people; \`wgpt pretrain\` makes it into the cache when absent) is finetuned on questions
about half of those people and answers questions about the other half, whose facts it saw only as
text; a model that was never pretrained gets the same finetuning as the control. Held-out exact
match per task for both, and summary.json in the run directory. Takes only --out, --overwrite, --seeds,
--gen-batch, --matmul-precision and the device flags (--backend, --max-binding).
`, FLAGS);

/** How `wgpt sweep` runs, resumes and reads a train run. */
export const SWEEP = resumableSweep(FLAGS, trainMetrics);

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

export async function run(argv: string[]): Promise<number> {
  const { values, raw } = parseFlags(argv, FLAGS, USAGE);
  const builtin = values.resume === undefined && values.data === undefined && values.model === undefined && values.preset === undefined;
  if (builtin) return runBuiltin(values, raw);
  if (values.seeds !== undefined) throw new WgptError('--seeds is for the built-in run (no --data, --model, --preset or --resume); ' +
    'for other runs give --seed S per run, or plan them with wgpt sweep');
  const out = values.resume ?? values.out ?? defaultOut();
  const fresh = values.resume === undefined ? freshOptions(values, out) : null; // checked before the directory is touched
  return inRunDir(out, values, async () => {
    const opts = fresh ?? await resumedOptions(FLAGS, values, 'train', out);
    // How many test prompts run together changes speed only, so a resumed run may change it too.
    opts.genBatch ??= DEFAULT_GEN_BATCH;
    const result = await withDevice(values, () => train(opts, values.resume ?? null));
    report(opts, result);
    return result.interrupted ? 130 : 0;
  });
}

/** A new run's options: the base, a preset over it, the flags over both. */
function freshOptions(values: Values, out: string): TrainOptions {
  const preset = values.preset;
  if (preset !== undefined && !Object.hasOwn(TRAIN_PRESETS, preset)) {
    throw new WgptError(`unknown preset "${preset}": use ${Object.keys(TRAIN_PRESETS).join(', ')}`);
  }
  const base = { ...TRAIN_BASE, ...(preset ? TRAIN_PRESETS[preset] : {}), out };
  const opts = applyFlags<TrainOptions>(FLAGS, values, base);
  if ((values['lora-alpha'] !== undefined || values['lora-targets'] !== undefined) && opts.loraRank === undefined) {
    throw new WgptError('--lora-alpha and --lora-targets need --lora-rank');
  }
  return opts;
}

/** The built-in run: only where it writes and how many answers it generates at once may change. */
async function runBuiltin(values: Values, raw: Record<string, unknown>): Promise<number> {
  const allowed = new Set(['out', 'overwrite', 'seeds', 'gen-batch', MATMUL_PRECISION.flag, ...DEVICE_FLAGS.map((e) => e.flag)]);
  const other = Object.keys(raw).filter((k) => !allowed.has(k));
  if (other.length > 0) {
    throw new WgptError(`--${other[0]} needs --data and --model: the built-in run (no --data, --model or --preset) ` +
      `takes only --out, --overwrite, --seeds, --gen-batch, --matmul-precision, --backend and --max-binding`);
  }
  const out = values.out ?? defaultOut();
  const seeds = values.seeds ?? 1;
  const r = await inRunDir(out, values, () => withDevice(values, () => builtinSeedsRun(out, seeds, console.error, values['gen-batch'])));
  if (r.interrupted) {
    console.log(`\ninterrupted: run wgpt train again to start the built-in run over (${out}` +
      `${seeds > 1 ? '; the seeds that finished are kept' : ''})`);
    return 130;
  }
  if (seeds === 1) reportBuiltin(out, r.summaries[0]);
  else reportSeeds(out, r.summaries);
  return 0;
}

const LEGEND = [
  '  (base cloze: the base model continues the fact\'s statement ("X was born in") with the value; base: the',
  '   pretrained model answers the question before finetuning; control: the same finetuning without pretraining;',
  '   unseen phrasing / answer-form: held-out questions in a phrasing, or asking for an answer form, never finetuned on;',
  '   copied answer share: of the wrong answers, those that are the answer of a finetuning person sharing a fact with',
  '   the asker, against that share by chance; finetuned on base-known / base-unknown facts: split by base cloze)',
];

function reportSeeds(out: string, summaries: BuiltinSummary[]): void {
  console.log(`\nheld-out exact match over ${summaries.length} finetuning seeds (${summaries.map((s) => s.seed).join(', ')}): ` +
    'mean ± sd [min–max]');
  console.log(builtinMarkdown(summaries));
  for (const line of LEGEND) console.log(line);
  console.log(`\n${path.join(out, SUMMARY_FILE)}; each seed's run in ${path.join(out, 'seed-S')}`);
}

function reportBuiltin(out: string, s: BuiltinSummary): void {
  console.log('\nheld-out exact match: questions about people the finetuning never asked about');
  console.log(builtinMarkdown([s]));
  for (const line of LEGEND) console.log(line);
  const c = s.copied_answer_share;
  console.log(`  (${c.finetuned.copied} of ${c.finetuned.wrong} wrong finetuned answers copied, ${c.control.copied} of ` +
    `${c.control.wrong} of the control's; no held-out person shares more than ${s.fact_world.max_shared_facts} fact ` +
    'with a finetuning person)');
  console.log('\nthe base model continues text; the finetuned model answers:');
  for (const e of s.base_examples) {
    console.log(`  Q: ${e.question}  (${e.answer})`);
    console.log(`     base, the question's prompt -> ${JSON.stringify(e.base_continuation)}`);
    console.log(`     base, "${e.base_statement}" -> ${JSON.stringify(e.base_statement_continuation)}`);
    console.log(`     finetuned -> ${JSON.stringify(e.finetuned_answer)}    control -> ${JSON.stringify(e.control_answer)}`);
  }
  const t = s.seconds;
  console.log(`\n${Math.round(t.total)} s in all ` +
    `(base pretraining ${Math.round(t.base_pretraining)} s${t.base_pretraining < 5 ? ', cached' : ''}, ` +
    `finetuning ${Math.round(t.finetuning)} s, control ${Math.round(t.control)} s); ${path.join(out, SUMMARY_FILE)}`);
}

function report(opts: TrainOptions, r: TrainResult): void {
  console.log(
    `\n${r.steps} steps, ${r.secondsPerStep.toFixed(3)} s/step, ${Math.round(r.tokensPerSecond)} tokens/s; run directory ${opts.out}`);
  if (r.interrupted) return;
  const last = r.metrics[r.metrics.length - 1];
  if (last) console.log(`final train loss ${last.train_loss.toFixed(3)}, val loss ${last.val_loss.toFixed(3)}`);
  if (r.after) {
    const tasks = Object.keys(r.after.perTask);
    if (tasks.length > 0) {
      console.log('\nheld-out exact match per task (before -> after)');
      for (const task of tasks) {
        const b = r.before?.perTask[task];
        const a = r.after.perTask[task];
        console.log(`  ${task.padEnd(12)} ${b ? `${(100 * b.accuracy).toFixed(0).padStart(3)}%` : '   -'} -> ` +
          `${(100 * a.accuracy).toFixed(0).padStart(3)}%  (${a.n} items)`);
      }
    }
    console.log(`overall exact match ${r.before ? `${(100 * r.before.accuracy).toFixed(1)}% -> ` : ''}` +
      `${(100 * r.after.accuracy).toFixed(1)}%, ROUGE-L ${r.after.rougeL.toFixed(3)}`);
  }
}
