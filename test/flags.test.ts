// The flag tables (bin/commands/flags.ts): each command's usage names every flag its parser takes,
// a flag sets the option its entry names with the value of its kind, and a resumed run's saved
// options are checked against the same table (a missing or mistyped one is one line naming it).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyFlags, flagValues, parseArgsOptions, resumeOptions, type Entry, type RawValues } from '../bin/commands/flags.ts';
import { FLAGS as DPO_FLAGS } from '../bin/commands/dpo.ts';
import { FLAGS as PRETRAIN_FLAGS } from '../bin/commands/pretrain.ts';
import { FLAGS as TRAIN_FLAGS } from '../bin/commands/train.ts';
import { BUILTIN_DPO, BUILTIN_PRETRAIN, controlTrainOptions, defaultTrainOptions } from '../train/builtin/recipes.ts';
import { DPO_BASE } from '../train/dpo/presets.ts';
import { PRETRAIN_BASE } from '../train/pretrain/presets.ts';
import { TRAIN_BASE, TRAIN_PRESETS } from '../train/sft/presets.ts';
import type { TrainOptions } from '../train/sft/trainer.ts';

const cli = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
const wgpt = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const COMMANDS = ['train', 'pretrain', 'dpo', 'mask-study', 'generate', 'eval', 'grads', 'sweep', 'tune', 'bench', 'download', 'info'];

t.test('every command: --help names every flag its parser takes, and nothing else', async (t) => {
  for (const command of COMMANDS) {
    const { FLAGS } = (await import(`../bin/commands/${command}.ts`)) as { FLAGS: readonly Entry<never>[] };
    const r = wgpt(command, '--help');
    t.equal(r.code, 0, `${command} --help`);
    const lines = [...r.stdout.matchAll(/^ {2}(?:-\w, )?--([a-z][a-z-]*)/gm)].map((m) => m[1]);
    const shown = new Set(lines);
    t.equal(lines.length, shown.size, `wgpt ${command}: no flag listed twice`);
    const flags = FLAGS.flatMap((e) => (e.flag ? [e.flag] : []));
    t.equal(new Set(flags).size, flags.length, `wgpt ${command}: no flag twice in its table`);
    t.notMatch(r.stdout, /^ +--[a-z-]+ [A-Z]+ +--[a-z]/m, `wgpt ${command}: no prose line of flags beside the table`);
    t.same([...shown].sort(), Object.keys(parseArgsOptions(FLAGS)).sort(), `wgpt ${command}: the usage lists exactly the parser's flags`);
  }
});

/** The values of an argument list under a table, as a command sees them. */
const valuesOf = (table: readonly Entry<never>[], args: RawValues): Record<string, unknown> => flagValues(table, args);

t.test('a flag sets the option its entry names, with the value of its kind', async (t) => {
  const given = { lr: '1e-4', 'lora-rank': '4', 'prompt-loss-weight': '0.5', 'from-scratch': true, out: '/tmp/x', 'gen-batch': '3' };
  const values = valuesOf(TRAIN_FLAGS, given);
  const opts = applyFlags<TrainOptions>(TRAIN_FLAGS, values, { ...TRAIN_BASE, out: 'given' });
  t.equal(opts.lr, 1e-4);
  t.equal(opts.loraRank, 4);
  t.equal(opts.promptLossWeight, 0.5);
  t.equal(opts.fromScratch, true);
  t.equal(opts.genBatch, 3);
  t.equal(opts.out, 'given', '--out is the command\'s own flag, not an option the table sets');
  t.equal(opts.batchSize, TRAIN_BASE.batchSize, 'what is not given keeps the base');
  t.throws(() => valuesOf(TRAIN_FLAGS, { lr: 'fast' }), /^--lr must be a number, got "fast"$/);
  t.throws(() => valuesOf(TRAIN_FLAGS, { 'batch-size': '2.5' }), /^--batch-size must be an integer, got "2\.5"$/);
  t.throws(() => valuesOf(TRAIN_FLAGS, { 'gen-batch': '0' }), /^--gen-batch must be at least 1, got 0$/);
  t.throws(() => valuesOf(DPO_FLAGS, { 'test-limit': '-2' }), /^--test-limit must be 0 \(no test responses\) or more, got -2$/);
  const prompts = valuesOf(PRETRAIN_FLAGS, { prompt: ['Once', 'The'] });
  t.same(applyFlags(PRETRAIN_FLAGS, prompts, PRETRAIN_BASE).prompts, ['Once', 'The'], '--prompt, repeated, is the prompts list');
});

t.test('every option a command or a recipe sets has an entry, so every run it makes resumes', async (t) => {
  const here = { command: 'x', dir: 'run' };
  const cases: [string, readonly Entry<never>[], object][] = [
    ['train', TRAIN_FLAGS, { ...TRAIN_BASE, out: 'r' }],
    ['train --preset ch07', TRAIN_FLAGS, { ...TRAIN_BASE, ...TRAIN_PRESETS.ch07, out: 'r', genBatch: 16 }],
    ['the built-in finetuning', TRAIN_FLAGS, defaultTrainOptions('r', 'base')],
    ['its control', TRAIN_FLAGS, controlTrainOptions('r')],
    ['dpo', DPO_FLAGS, { ...DPO_BASE, out: 'r', genBatch: 16 }],
    ['the built-in dpo', DPO_FLAGS, { ...DPO_BASE, ...BUILTIN_DPO, out: 'r' }],
    ['pretrain', PRETRAIN_FLAGS, { ...PRETRAIN_BASE, data: 'x.txt', out: 'r' }],
    ['the built-in base', PRETRAIN_FLAGS, { ...BUILTIN_PRETRAIN, out: 'r' }],
  ];
  for (const [what, table, saved] of cases) {
    t.same(resumeOptions(table, saved as Record<string, unknown>, {}, here), saved, `${what}: resumes as saved`);
    const keys = new Set(table.flatMap((e) => (e.key ? [e.key as string] : [])));
    t.same(Object.keys(saved).filter((k) => k !== 'out' && !keys.has(k)), [], `${what}: no option outside the table`);
  }
});

t.test('resumed options: checked entry by entry; how far to go may change, the rest is kept', async (t) => {
  const saved = { ...TRAIN_BASE, out: 'r', promptLossWeight: 0.1 } as unknown as Record<string, unknown>;
  const here = { command: 'train', dir: 'runs/a' };
  const { lr: _lr, ...noLr } = saved;
  t.throws(() => resumeOptions(TRAIN_FLAGS, noLr, {}, here),
    new RegExp('^runs/a: its checkpoint\'s options lack "lr" \\(--lr\\), which every wgpt train run saves: ' +
      'resume it with the command that made it, or start the run again without --resume$'));
  t.throws(() => resumeOptions(TRAIN_FLAGS, { ...saved, batchSize: '8' }, {}, here),
    /"batchSize" \(--batch-size\) = "8", not an integer of at least 1:/);
  t.throws(() => resumeOptions(TRAIN_FLAGS, { ...saved, data: 3 }, {}, here), /"data" \(--data\) = 3, not a string or null:/);
  t.throws(() => resumeOptions(TRAIN_FLAGS, { ...saved, scoreBefore: 'no' }, {}, here), /"scoreBefore" = "no", not true or false:/,
    'an option no flag sets');
  t.equal(resumeOptions<TrainOptions>(TRAIN_FLAGS, { ...saved, warmupSteps: undefined }, {}, here).warmupSteps, undefined,
    'an option older checkpoints lack is optional');
  const values = valuesOf(TRAIN_FLAGS, { epochs: '5', 'max-steps': '40', lr: '5e-5', 'prompt-loss-weight': '0.1' });
  const opts = resumeOptions<TrainOptions>(TRAIN_FLAGS, saved, values, here);
  t.equal(opts.epochs, 5, '--epochs changes');
  t.equal(opts.maxSteps, 40, '--max-steps changes');
  t.equal(opts.lr, 5e-5, 'a kept option given again with its value is accepted (a sweep task passes every flag again)');
  t.throws(() => resumeOptions(TRAIN_FLAGS, saved, valuesOf(TRAIN_FLAGS, { lr: '1e-3' }), here),
    /^--lr 0\.001: runs\/a was trained with --lr 0\.00005 and resumes with it; leave the flag out$/);
  t.throws(() => resumeOptions(TRAIN_FLAGS, saved, valuesOf(TRAIN_FLAGS, { untie: true }), here),
    /^--untie: runs\/a was trained with no --untie/);
});

t.test('wgpt train --resume of a checkpoint with a broken option: one line, before any device or data', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wgpt-flags-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = path.join(dir, 'run');
  mkdirSync(path.join(run, 'checkpoint'), { recursive: true });
  const { maxNewTokens: _m, ...options } = { ...TRAIN_BASE, out: run };
  writeFileSync(path.join(run, 'checkpoint', 'state.json'), JSON.stringify({ step: 3, tokensSeen: 0, loader: {}, options }));
  for (const command of ['train', 'dpo', 'pretrain'] as const) {
    const r = wgpt(command, '--resume', run);
    t.equal(r.code, 1, `wgpt ${command}`);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    // The first entry of each table the saved train options lack.
    const missing = { train: '"maxNewTokens" \\(--max-new-tokens\\)', dpo: '"beta" \\(--beta\\)', pretrain: '"config" \\(--config\\)' };
    t.match(r.stderr, new RegExp(`^wgpt ${command}: .*run: its checkpoint's options lack ${missing[command]}, ` +
      `which every wgpt ${command} run saves: resume it with the command that made it, or start the run again without --resume\\n$`));
  }
});

t.test('wgpt train --seeds: the built-in run only, at least 1, refused before any work', async (t) => {
  for (const [args, message] of [
    [['train', '--seeds', '0'], /--seeds must be at least 1, got 0/],
    [['train', '--data', 'none.json', '--seeds', '2'], /--seeds is for the built-in run \(no --data, --model, --preset or --resume\)/],
  ] as const) {
    const r = wgpt(...args);
    t.equal(r.code, 1, args.join(' '));
    t.match(r.stderr, message);
  }
  t.match(wgpt('train', '--help').stdout, /--seeds N +the built-in run only: run it for N finetuning seeds/);
});
