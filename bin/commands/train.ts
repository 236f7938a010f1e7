// wgpt train: instruction finetuning (chapter 7) from the terminal, or with no arguments the
// built-in default: the tiny model from scratch on generated tasks whose answers a program checks.
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { readTrainState } from '../../train/run/checkpoint.ts';
import { checkPromptLossWeight } from '../../train/data/collate.ts';
import { train, type TrainOptions, type TrainResult } from '../../train/sft/trainer.ts';
import { trainMetrics } from '../../train/sweep/metrics.ts';
import type { SweepSpec } from '../../train/sweep/spec.ts';
import { DEFAULT_GEN_BATCH } from '../../train/eval/responses.ts';
import { builtinRun, SUMMARY_FILE, type BuiltinSummary } from '../../train/builtin/run.ts';
import { TRAIN_BASE as BASE, TRAIN_PRESETS as PRESETS } from '../../train/sft/presets.ts';
import type { ScoreGroup } from '../../train/eval/score.ts';
import { checkpointStepOf, DEVICE_OPTIONS, DEVICE_USAGE, intOption, numberOption, parse, positiveIntOption, withDevice } from './common.ts';

const USAGE = `usage: wgpt train [options]

With no options: the built-in run. The built-in base model (tiny, pretrained on biographies of
made-up people; \`wgpt pretrain\` makes it into the cache when absent) is finetuned on questions
about half of those people and answers questions about the other half, whose facts it saw only as
text; a model that was never pretrained gets the same finetuning as the control. Held-out exact
match per task for both, and summary.json in the run directory. Takes only --out and --gen-batch.

  --data FILE|ch07|facts  Alpaca-style JSON (instruction, input, output), the chapter's data (fetched),
                          or the built-in run's questions about its fact world (train/facts.ts)
  --model FILE|DIR|NAME   weights (model.safetensors dir or file) or a size: tiny, mini, gpt2, gpt2-medium, ...
  --from-scratch          random GPT-2 init for a size name (tiny and mini always are)
  --untie                 give the model a separate LM head, a copy of wte (the chapter does)
  --out DIR               run directory (default runs/<time>)
  --epochs N              (chapter: 2)          --max-steps N     stop at global step N
  --batch-size N          (8)                   --lr X            (5e-5; default run 3e-3)
  --weight-decay X        (0.1)                 --dropout P       (the model's; 0 for presets)
  --lr-schedule constant|cosine  (constant, as the chapter; cosine decays to lr/10 at the last step)
  --warmup-steps N        linear warm-up from 0 (0)
  --output-vocab all|data the softmax over the whole vocabulary (all), or only over the tokens of
                          the data and <|endoftext|> (data: saved with the model, used by generate)
  --mask none|prompt|pad-in-mean  loss mask (none)
  --prompt-loss-weight W  0..1: the prompt's targets count W times in the loss, the response's once
                          (mean = sum(w·loss)/sum(w)); 0 is --mask prompt, 1 no mask, bit for bit.
                          With --mask none only; a resumed run keeps its own
  --style alpaca|phi3     prompt style (alpaca)
  --eval-every N          (5)                   --eval-batches N  (5)
  --seed N                (123)                 --max-new-tokens N  test responses (256)
  --test-limit N          respond to at most N test entries at the end (all; 0: none)
  --gen-batch N           test prompts generated together (${DEFAULT_GEN_BATCH}; answers do not depend on it)
  --lora-rank R           LoRA: train rank-R adapters (PEFT layout, adapter_model.safetensors) on a
                          frozen base model instead of every weight (exercise 7.4; the book uses 16)
  --lora-alpha A          the adapters' scale is A/R (default A = R)
  --lora-targets LIST     layers to adapt: attn (c_attn, attn.c_proj), mlp (c_fc, mlp.c_proj), head
                          (the LM head); default attn,mlp
  --merge                 with --lora-rank, also write the merged model.safetensors + config.json
  --resume DIR            continue a run from its checkpoint, bit for bit
  --preset ch07           the chapter's run: gpt2-medium, untied head, 2 epochs, eval every 5 over 5
${DEVICE_USAGE}`;

/** The flags of wgpt train, exported so `wgpt sweep plan` checks a grid against the real parser. */
export const OPTIONS = {
  ...DEVICE_OPTIONS,
  data: { type: 'string' }, model: { type: 'string' }, 'from-scratch': { type: 'boolean' }, untie: { type: 'boolean' },
  out: { type: 'string' }, epochs: { type: 'string' }, 'max-steps': { type: 'string' }, 'batch-size': { type: 'string' },
  lr: { type: 'string' }, 'weight-decay': { type: 'string' }, dropout: { type: 'string' }, mask: { type: 'string' },
  style: { type: 'string' }, 'eval-every': { type: 'string' }, 'eval-batches': { type: 'string' }, seed: { type: 'string' },
  'max-new-tokens': { type: 'string' }, resume: { type: 'string' }, preset: { type: 'string' }, 'synthetic-count': { type: 'string' },
  'test-limit': { type: 'string' }, 'lr-schedule': { type: 'string' }, 'warmup-steps': { type: 'string' }, 'output-vocab': { type: 'string' },
  'gen-batch': { type: 'string' }, 'lora-rank': { type: 'string' }, 'lora-alpha': { type: 'string' }, 'lora-targets': { type: 'string' },
  merge: { type: 'boolean' }, 'prompt-loss-weight': { type: 'string' },
} as const;

/** How `wgpt sweep` runs, resumes and reads a train run. */
export const SWEEP: SweepSpec = {
  options: OPTIONS, outFlag: 'out', resumeFlag: 'resume', metrics: trainMetrics,
  checkpointStep: checkpointStepOf,
};

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS, USAGE);
  if (values.resume === undefined && values.data === undefined && values.model === undefined && values.preset === undefined) return runBuiltin(values);

  let opts: TrainOptions;
  if (values.resume) {
    // A resumed run keeps its options; only how far to go may change.
    const state = await readTrainState(values.resume);
    opts = { ...(state.options as unknown as TrainOptions), out: values.resume };
    if (values['prompt-loss-weight'] !== undefined) {
      const asked = numberOption(values['prompt-loss-weight'], 'prompt-loss-weight', 0);
      const saved = opts.promptLossWeight ?? null;
      if (asked !== saved) {
        throw new WgptError(`--prompt-loss-weight ${values['prompt-loss-weight']}: ${values.resume} was trained with ${saved === null ? 'no prompt-loss weight' : `--prompt-loss-weight ${saved}`} and resumes with it; leave the flag out`);
      }
    }
  } else {
    const presetName = values.preset;
    if (presetName !== undefined && (presetName === 'default' || !PRESETS[presetName])) throw new WgptError(`unknown preset "${presetName}": use ch07`);
    opts = { ...BASE, ...(presetName ? PRESETS[presetName] : {}) };
    if (values.data !== undefined) opts.data = values.data;
    if (values.model !== undefined) opts.model = values.model;
    if (values['from-scratch']) opts.fromScratch = true;
    if (values.untie) opts.untie = true;
    opts.out = values.out ?? path.join('runs', new Date().toISOString().replace(/[:.]/g, '-'));
    opts.batchSize = intOption(values['batch-size'], 'batch-size', opts.batchSize);
    opts.lr = numberOption(values.lr, 'lr', opts.lr);
    opts.lrSchedule = values['lr-schedule'] ?? opts.lrSchedule;
    opts.outputVocab = values['output-vocab'] ?? opts.outputVocab;
    opts.warmupSteps = intOption(values['warmup-steps'], 'warmup-steps', opts.warmupSteps ?? 0);
    opts.weightDecay = numberOption(values['weight-decay'], 'weight-decay', opts.weightDecay);
    if (values.dropout !== undefined) opts.dropout = numberOption(values.dropout, 'dropout', 0);
    opts.mask = values.mask ?? opts.mask;
    if (values['prompt-loss-weight'] !== undefined) {
      opts.promptLossWeight = numberOption(values['prompt-loss-weight'], 'prompt-loss-weight', 0);
      checkPromptLossWeight(opts.promptLossWeight, opts.mask);
    }
    opts.style = values.style ?? opts.style;
    opts.evalEvery = intOption(values['eval-every'], 'eval-every', opts.evalEvery);
    opts.evalBatches = intOption(values['eval-batches'], 'eval-batches', opts.evalBatches);
    opts.seed = intOption(values.seed, 'seed', opts.seed);
    opts.maxNewTokens = intOption(values['max-new-tokens'], 'max-new-tokens', opts.maxNewTokens);
    opts.syntheticCount = intOption(values['synthetic-count'], 'synthetic-count', opts.syntheticCount);
    if (values['test-limit'] !== undefined) opts.testLimit = intOption(values['test-limit'], 'test-limit', 0);
    if (values['lora-rank'] !== undefined) opts.loraRank = intOption(values['lora-rank'], 'lora-rank', 0);
    if (values['lora-alpha'] !== undefined) opts.loraAlpha = numberOption(values['lora-alpha'], 'lora-alpha', 0);
    if (values['lora-targets'] !== undefined) opts.loraTargets = values['lora-targets'];
    if ((values['lora-alpha'] !== undefined || values['lora-targets'] !== undefined) && opts.loraRank === undefined) {
      throw new WgptError('--lora-alpha and --lora-targets need --lora-rank');
    }
    if ((opts.testLimit ?? 0) < 0) throw new WgptError(`--test-limit must be 0 (no test responses) or more, got ${opts.testLimit}`);
  }
  opts.epochs = intOption(values.epochs, 'epochs', opts.epochs);
  // How many test prompts run together changes speed only, so a resumed run may change it too.
  opts.genBatch = positiveIntOption(values['gen-batch'], 'gen-batch', opts.genBatch ?? DEFAULT_GEN_BATCH);
  // The merged model is only an extra output, so a resumed run may ask for it too.
  if (values.merge) opts.merge = true;
  if (values['max-steps'] !== undefined) opts.maxSteps = intOption(values['max-steps'], 'max-steps', 0);
  if (opts.batchSize < 1 || opts.epochs < 1 || opts.evalEvery < 1) throw new WgptError('--batch-size, --epochs and --eval-every must be at least 1');

  const result = await withDevice(values, () => train(opts, values.resume ?? null));
  report(opts, result);
  return result.interrupted ? 130 : 0;
}

/** The built-in run: only where it writes and how many answers it generates at once may change. */
async function runBuiltin(values: ReturnType<typeof parse<typeof OPTIONS>>['values']): Promise<number> {
  const allowed = new Set(['out', 'gen-batch', ...Object.keys(DEVICE_OPTIONS)]);
  const other = Object.keys(values).filter((k) => !allowed.has(k));
  if (other.length > 0) {
    throw new WgptError(`--${other[0]} needs --data and --model: the built-in run (no --data, --model or --preset) takes only --out and --gen-batch`);
  }
  if (values['gen-batch'] !== undefined) positiveIntOption(values['gen-batch'], 'gen-batch', 1);
  const out = values.out ?? path.join('runs', new Date().toISOString().replace(/[:.]/g, '-'));
  const r = await withDevice(values, () => builtinRun(out, console.error, values['gen-batch'] === undefined ? undefined : Number(values['gen-batch'])));
  if (r.summary) reportBuiltin(out, r.summary);
  else console.log(`\ninterrupted: run wgpt train again to start the built-in run over (${out})`);
  return r.finetuned.interrupted || r.control?.interrupted ? 130 : 0;
}

const pct = (x: number): string => `${(100 * x).toFixed(0)}%`.padStart(4);

function reportBuiltin(out: string, s: BuiltinSummary): void {
  console.log('\nheld-out exact match: questions about people the finetuning never asked about');
  console.log(`  ${'task'.padEnd(12)} ${'base'.padStart(6)} ${'finetuned'.padStart(10)} ${'control'.padStart(8)} ${'nearest'.padStart(8)}`);
  const near = s.nearest_answer_share.finetuned;
  const row = (name: string, b: ScoreGroup | undefined, f: ScoreGroup, c: ScoreGroup | undefined, n: ScoreGroup | undefined): void =>
    console.log(`  ${name.padEnd(12)} ${(b ? pct(b.accuracy) : '-').padStart(6)} ${pct(f.accuracy).padStart(10)} ` +
      `${(c ? pct(c.accuracy) : '-').padStart(8)} ${(n ? pct(n.accuracy) : '-').padStart(8)}  (${f.n} questions)`);
  for (const [task, f] of Object.entries(s.heldout_exact_match.per_task)) {
    row(task, s.base_exact_match?.per_task[task], f, s.control_exact_match.per_task[task], near.per_task[task]);
  }
  row('overall', s.base_exact_match ?? undefined, s.heldout_exact_match, s.control_exact_match, near);
  console.log('  (base: the pretrained model before finetuning; control: the same finetuning without pretraining;');
  console.log("   nearest: the finetuned model gave the answer of the finetuning person who shares most of the asker's other");
  console.log(`   facts, ${pct(s.nearest_answer_share.chance).trim()} by chance; no held-out person shares more than ${s.fact_world.max_shared_facts} fact with a finetuning person)`);
  console.log('\nthe base model continues text; the finetuned model answers:');
  for (const e of s.base_examples) {
    console.log(`  Q: ${e.question}  (${e.answer})`);
    console.log(`     base, the question's prompt -> ${JSON.stringify(e.base_continuation)}`);
    console.log(`     base, "${e.base_statement}" -> ${JSON.stringify(e.base_statement_continuation)}`);
    console.log(`     finetuned -> ${JSON.stringify(e.finetuned_answer)}    control -> ${JSON.stringify(e.control_answer)}`);
  }
  const t = s.seconds;
  console.log(`\n${Math.round(t.total)} s in all (base pretraining ${Math.round(t.base_pretraining)} s${t.base_pretraining < 5 ? ', cached' : ''}, ` +
    `finetuning ${Math.round(t.finetuning)} s, control ${Math.round(t.control)} s); ${path.join(out, SUMMARY_FILE)}`);
}

function report(opts: TrainOptions, r: TrainResult): void {
  console.log(`\n${r.steps} steps, ${r.secondsPerStep.toFixed(3)} s/step, ${Math.round(r.tokensPerSecond)} tokens/s; run directory ${opts.out}`);
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
        console.log(`  ${task.padEnd(12)} ${b ? `${(100 * b.accuracy).toFixed(0).padStart(3)}%` : '   -'} -> ${(100 * a.accuracy).toFixed(0).padStart(3)}%  (${a.n} items)`);
      }
    }
    console.log(`overall exact match ${r.before ? `${(100 * r.before.accuracy).toFixed(1)}% -> ` : ''}${(100 * r.after.accuracy).toFixed(1)}%, ROUGE-L ${r.after.rougeL.toFixed(3)}`);
  }
}
