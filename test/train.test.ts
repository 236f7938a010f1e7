// The training loop end to end on a micro model: run directory contents, resume bit for bit,
// atomic checkpoint writes, clear errors for bad input.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeSafetensors } from '../model/safetensors.ts';
import { replaceDirAtomically } from '../train/run/atomic-dir.ts';
import { train, type TrainOptions } from '../train/sft/trainer.ts';
import { withDevice } from './helpers/device.ts';
import { microRun } from './helpers/micro-run.ts';

const device = await withDevice(t);
const { dir, modelDir, dataFile } = await microRun('wgpt-train-');

const base: TrainOptions = {
  data: dataFile, model: modelDir, fromScratch: false, untie: false, out: '', epochs: 3, maxSteps: null, batchSize: 4,
  lr: 1e-3, weightDecay: 0.1, mask: 'none', style: 'alpaca', evalEvery: 2, evalBatches: 2, seed: 123, maxNewTokens: 4,
  scoreBefore: false, syntheticCount: 0,
};

t.test('a run writes metrics, plot, weights, checkpoint and test responses', async (t) => {
  const out = path.join(dir, 'run');
  const r = await train({ ...base, out, maxSteps: 5 });
  t.equal(r.steps, 5);
  const rows = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(rows.map((m) => m.step), [0, 2, 4], 'evaluated at global steps 0, 2, 4');
  for (const key of ['step', 'epoch', 'tokens_seen', 'train_loss', 'val_loss']) t.ok(key in rows[0], `metrics have ${key}`);
  t.ok(rows[0].tokens_seen > 0 && rows[2].tokens_seen > rows[0].tokens_seen, 'tokens seen grow');
  for (const f of ['model.safetensors', 'config.json', 'loss-plot.svg', 'test-responses.json', 'checkpoint/state.json',
    'checkpoint/optimizer.safetensors']) {
    t.ok(existsSync(path.join(out, f)), `${f} written`);
  }
  const responses = JSON.parse(readFileSync(path.join(out, 'test-responses.json'), 'utf8'));
  t.equal(responses.length, 4, 'one response per test entry (10% of 40)');
  t.type(responses[0].model_response, 'string');
  t.ok('instruction' in responses[0] && 'output' in responses[0], 'entries keep their fields');
});

t.test('a checkpoint without its optimizer moments: one line, and nothing left on the GPU', async (t) => {
  const out = path.join(dir, 'broken');
  await train({ ...base, out, maxSteps: 1, maxNewTokens: 0 });
  await writeSafetensors(path.join(out, 'checkpoint', 'optimizer.safetensors'), []);
  const live = device.counters.liveBytes;
  await t.rejects(train({ ...base, out, maxSteps: 2, maxNewTokens: 0 }, out), /optimizer\.safetensors: missing m\./);
  t.equal(device.counters.liveBytes, live, 'the model and AdamW made for the resume were freed');
});

t.test('2 steps + resume for 2 more gives byte-identical weights to 4 straight', async (t) => {
  const straight = path.join(dir, 'straight');
  const split = path.join(dir, 'split');
  await train({ ...base, out: straight, maxSteps: 4, maxNewTokens: 0 });
  await train({ ...base, out: split, maxSteps: 2, maxNewTokens: 0 });
  const state = JSON.parse(readFileSync(path.join(split, 'checkpoint/state.json'), 'utf8'));
  t.equal(state.step, 2);
  await train({ ...base, out: split, maxSteps: 4, maxNewTokens: 0 }, split);
  const a = readFileSync(path.join(straight, 'model.safetensors'));
  const b = readFileSync(path.join(split, 'model.safetensors'));
  t.ok(a.equals(b), 'model.safetensors identical');
  const oa = readFileSync(path.join(straight, 'checkpoint/optimizer.safetensors'));
  const ob = readFileSync(path.join(split, 'checkpoint/optimizer.safetensors'));
  t.ok(oa.equals(ob), 'optimizer state identical');
});

t.test('a failed save keeps the previous checkpoint whole', async (t) => {
  const target = path.join(dir, 'atomic');
  await replaceDirAtomically(target, async (tmp) => writeFileSync(path.join(tmp, 'a.txt'), 'first'));
  await t.rejects(replaceDirAtomically(target, async (tmp) => {
    writeFileSync(path.join(tmp, 'a.txt'), 'half');
    throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
  }), /no space left on the device/);
  t.equal(readFileSync(path.join(target, 'a.txt'), 'utf8'), 'first');
  t.notOk(existsSync(`${target}.2`), 'no half-written generation left');
  t.ok(existsSync(`${target}.1`), 'the previous generation is still there');
});

t.test('bad input is one clear error', async (t) => {
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, '{ not json');
  await t.rejects(train({ ...base, data: bad, out: path.join(dir, 'bad') }), /bad\.json/);
  writeFileSync(bad, JSON.stringify([{ instruction: 'x', output: 'y' }]));
  await t.rejects(train({ ...base, data: bad, out: path.join(dir, 'bad') }), /split is empty|fewer than the batch size/);
  await t.rejects(train({ ...base, model: path.join(dir, 'missing'), out: path.join(dir, 'bad') }), /model not found/);
  const long = Array.from({ length: 20 }, () => ({ instruction: 'word '.repeat(200), input: '', output: 'x' }));
  writeFileSync(bad, JSON.stringify(long));
  await t.rejects(train({ ...base, data: bad, out: path.join(dir, 'bad') }), /longer than the model's context of 96/);
});

t.test('Ctrl-C saves a checkpoint, exits with 130 and the run resumes from it', async (t) => {
  const out = path.join(dir, 'interrupted');
  const cli = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
  const args = ['train', '--data', dataFile, '--model', modelDir, '--out', out, '--epochs', '1000', '--eval-every', '1000',
    '--max-new-tokens', '0'];
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  // The step-0 evaluation row appears once training has started.
  const metrics = path.join(out, 'metrics.jsonl');
  while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').length > 0) && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 130) t.comment(output);
  t.equal(code, 130, 'exit status 130');
  t.match(output, /interrupted at step \d+: checkpoint saved/);
  t.notMatch(output, /at .*\.ts:\d+/, 'no stack trace');
  const state = JSON.parse(readFileSync(path.join(out, 'checkpoint/state.json'), 'utf8'));
  t.ok(state.step >= 1, `checkpoint at step ${state.step}`);
  const r = await train({ ...base, out, maxSteps: state.step + 2, maxNewTokens: 0 }, out);
  t.equal(r.steps, state.step + 2, 'resumed two more steps');
});

t.test('--output-vocab data: the model predicts over the data tokens, saved with it; schedules apply', async (t) => {
  const out = path.join(dir, 'vocab');
  const r = await train({ ...base, out, maxSteps: 3, outputVocab: 'data', lrSchedule: 'cosine', warmupSteps: 1 });
  t.equal(r.steps, 3);
  const vocab = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')).wgpt_output_vocab as number[];
  t.ok(vocab.includes(50256) && vocab.length > 10 && vocab.length < 1000, `${vocab.length} output tokens`);
  t.ok(Number.isFinite(r.metrics[0].val_loss), 'losses are finite');
  await t.rejects(train({ ...base, out: path.join(dir, 'bad-vocab'), outputVocab: 'some' }),
    /unknown --output-vocab "some": use all or data/);
  await t.rejects(train({ ...base, out: path.join(dir, 'bad-sched'), lrSchedule: 'step' }), /unknown learning-rate schedule "step"/);
});
