// wgpt dpo end to end on a micro model: policy = reference gives ln 2 and zero margins, a run
// writes its metrics, plots, weights, summary and responses, an interrupted run resumes to the
// same bits as one that was not, bad input is one line with nothing written, and with LoRA only the
// adapters train against the base itself as the reference.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { keep, noGrad, tidy } from '../engine/index.ts';
import { loadGPT } from '../model/build.ts';
import { syntheticPreferences, withModelMistakes } from '../train/dpo/pairs.ts';
import { generateSyntheticData } from '../train/data/synthetic.ts';
import { generateResponses } from '../train/eval/responses.ts';
import { collatePairs, encodePair } from '../train/dpo/collate.ts';
import { dpoLoss } from '../train/dpo/loss.ts';
import { batchIds, sequenceLogProbs } from '../train/dpo/logprobs.ts';
import { dpoBackward } from '../train/dpo/step.ts';
import { dpo, PAIRS_FILE, type DpoOptions } from '../train/dpo/trainer.ts';
import { initLora, loraSpec } from '../model/lora.ts';
import { loadAdapters } from '../model/peft.ts';
import { withDevice } from './helpers/device.ts';
import { microRun } from './helpers/micro-run.ts';

await withDevice(t);
const { dir, modelDir } = await microRun('wgpt-dpo-');
const dataFile = path.join(dir, 'pairs.json');
// Pairs of the skill tasks (short answers): a micro model's margin moves within a few steps.
writeFileSync(dataFile, JSON.stringify(syntheticPreferences(5, 40, generateSyntheticData({ seed: 5, count: 40 }))));

const base: DpoOptions = {
  data: dataFile, model: modelDir, out: '', beta: 0.5, lr: 1e-3, weightDecay: 0.01, epochs: 3, maxSteps: null, batchSize: 2,
  evalEvery: 2, evalBatches: 2, mask: 'prompt', style: 'alpaca', seed: 123, maxNewTokens: 0, testLimit: null,
  loraRank: null, scoreBefore: false, syntheticCount: 0,
};
const KEYS = ['step', 'epoch', 'tokens_seen', 'train_loss', 'val_loss', 'train_reward_margin', 'val_reward_margin',
  'train_chosen_reward', 'train_rejected_reward', 'val_chosen_reward', 'val_rejected_reward', 'train_sft_loss', 'val_sft_loss',
  'elapsed_s'];
const rows = (out: string): Record<string, number>[] =>
  readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const timeless = (r: Record<string, number>[]): Record<string, number>[] => r.map(({ elapsed_s: _, ...rest }) => rest);

t.test('policy = reference: loss ln 2, rewards and margin 0, and log-probs are mean token log-probs', async (t) => {
  const model = await loadGPT(modelDir);
  const pairs = syntheticPreferences(5, 40).slice(0, 3).map((e) => encodePair(e, 'alpaca'));
  const batch = collatePairs(pairs, { mask: 'prompt', allowedMaxLength: 96 });
  const pi = noGrad(() => tidy(() => keep(sequenceLogProbs(model, batchIds(batch), batch.targets)!)));
  const v = await pi.toArray();
  pi.dispose();
  t.equal(v.length, 6);
  t.ok(Array.from(v).every((x) => x < 0 && x > -12), `mean log-probs ${Array.from(v).map((x) => x.toFixed(3))}`);
  const l = dpoLoss(v.subarray(0, 3), v.subarray(3), v.subarray(0, 3), v.subarray(3), 0.1);
  t.ok(Math.abs(l.loss - Math.LN2) < 1e-6, `loss ${l.loss} = ln 2`);
  t.equal(l.margin, 0);
  t.equal(l.chosenReward, 0);
  // π of one row by hand: the mean over its selected targets of log softmax, from the full logits.
  const logits = await noGrad(() => tidy(() => keep(model.forward(batchIds(batch))))).toArray();
  const V = 50257;
  const T = batch.seqLen;
  let sum = 0;
  let n = 0;
  for (let t0 = 0; t0 < T; t0++) {
    const target = batch.targets[t0];
    if (target === -100) continue;
    const rowL = logits.subarray(t0 * V, (t0 + 1) * V);
    let m = -Infinity;
    for (const x of rowL) m = Math.max(m, x);
    let s = 0;
    for (const x of rowL) s += Math.exp(x - m);
    sum += rowL[target] - m - Math.log(s);
    n++;
  }
  t.equal(n, batch.counts[0]);
  t.ok(Math.abs(sum / n - v[0]) < 1e-4, `row 0: ${v[0]} vs ${sum / n} by hand`);
  model.dispose();
});

t.test('a run writes metrics with every key, plots, weights, checkpoint, summary and test responses', async (t) => {
  const out = path.join(dir, 'run');
  const r = await dpo({ ...base, out, maxSteps: 5, maxNewTokens: 3, scoreBefore: true });
  t.equal(r.steps, 5);
  const m = rows(out);
  t.same(m.map((x) => x.step), [0, 2, 4], 'evaluated at global steps 0, 2, 4');
  t.same(Object.keys(m[0]).sort(), [...KEYS].sort(), 'metrics keys');
  t.ok(m.every((x) => KEYS.every((k) => Number.isFinite(x[k]))), 'all finite');
  t.ok(Math.abs(m[0].train_reward_margin - (m[0].train_chosen_reward - m[0].train_rejected_reward)) < 1e-9, 'margin = chosen - rejected');
  t.ok(m[2].val_reward_margin > m[0].val_reward_margin, `val margin grows ${m[0].val_reward_margin} -> ${m[2].val_reward_margin}`);
  for (const f of ['model.safetensors', 'config.json', 'loss-plot.svg', 'loss-plot.png', 'reward-margin-plot.svg', 'reward-margin-plot.png',
    'test-responses.json', 'dpo-summary.json', 'checkpoint/state.json', 'checkpoint/optimizer.safetensors']) {
    t.ok(existsSync(path.join(out, f)), `${f} written`);
  }
  const responses = JSON.parse(readFileSync(path.join(out, 'test-responses.json'), 'utf8'));
  t.equal(responses.length, 4, 'one response per test entry (10% of 40)');
  t.type(responses[0].model_response, 'string');
  t.ok('chosen' in responses[0] && 'rejected' in responses[0], 'entries keep their fields');
  const summary = JSON.parse(readFileSync(path.join(out, 'dpo-summary.json'), 'utf8'));
  t.equal(summary.before.preference.n, 4);
  t.equal(summary.after.preference.n, 4);
  t.equal(summary.after.exact.n, 4);
  t.equal(r.after.preference?.n, 4);
});

t.test('--mask none runs too; nothing else differs', async (t) => {
  const r = await dpo({ ...base, out: path.join(dir, 'none'), maxSteps: 1, mask: 'none', evalBatches: 1 });
  t.ok(Number.isFinite(r.metrics[0].val_loss));
});

t.test('Ctrl-C saves a checkpoint, exits 130, and --resume gives the bits of a run never stopped', async (t) => {
  const out = path.join(dir, 'interrupted');
  const cli = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
  const args = ['dpo', '--data', dataFile, '--model', modelDir, '--out', out, '--epochs', '1000', '--eval-every', '1',
    '--eval-batches', '1', '--batch-size', '2', '--lr', '1e-3', '--beta', '0.5', '--max-new-tokens', '0'];
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  const metrics = path.join(out, 'metrics.jsonl');
  while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 2) && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 130) t.comment(output);
  t.equal(code, 130, 'exit status 130');
  t.match(output, /interrupted at step \d+: checkpoint saved/);
  t.notOk(existsSync(path.join(out, 'model.safetensors')), 'no final model for an interrupted run');
  const stopped = JSON.parse(readFileSync(path.join(out, 'checkpoint/state.json'), 'utf8')).step as number;
  t.ok(stopped >= 2, `checkpoint at step ${stopped}`);
  const opts = { ...base, epochs: 1000, evalEvery: 1, evalBatches: 1, maxSteps: stopped + 2 };
  await dpo({ ...opts, out }, out);
  const straight = path.join(dir, 'straight');
  await dpo({ ...opts, out: straight });
  t.same(timeless(rows(out)), timeless(rows(straight)), `metrics of steps 0..${stopped + 1} identical`);
  t.ok(readFileSync(path.join(out, 'model.safetensors')).equals(readFileSync(path.join(straight, 'model.safetensors'))),
    'model.safetensors identical');
  t.ok(readFileSync(path.join(out, 'checkpoint/optimizer.safetensors'))
    .equals(readFileSync(path.join(straight, 'checkpoint/optimizer.safetensors'))), 'optimizer state identical');
});

t.test('bad input is one clear line and nothing is written', async (t) => {
  const bad = path.join(dir, 'bad.json');
  const out = path.join(dir, 'bad-run');
  const check = async (opts: Partial<DpoOptions>, re: RegExp): Promise<void> => {
    await t.rejects(dpo({ ...base, out, ...opts }), re);
    t.notOk(existsSync(out), `nothing written for ${re}`);
  };
  writeFileSync(bad, JSON.stringify([{ instruction: 'x', input: '', output: 'y' }]));
  await check({ data: bad }, /bad\.json: entry 0: "chosen" must be a string, got nothing \(missing\)/);
  writeFileSync(bad, '{ not json');
  await check({ data: bad }, /bad\.json: malformed JSON/);
  await check({ data: path.join(dir, 'missing.json') }, /missing\.json: cannot read preference data \(ENOENT\)/);
  await check({ model: path.join(dir, 'no-model') }, /model not found/);
  await check({ mask: 'pad-in-mean' }, /unknown --mask "pad-in-mean" for dpo: use prompt, answer or none/);
  await check({ beta: 0 }, /--beta must be above 0/);
  await check({ loraRank: 0 }, /--lora-rank must be a positive integer, got 0/);
  const long = Array.from({ length: 20 }, () => ({ instruction: 'word '.repeat(200), input: '', chosen: 'a', rejected: 'b' }));
  writeFileSync(bad, JSON.stringify(long));
  await check({ data: bad }, /longer than the model's context of 96/);
  t.same(readdirSync(dir).filter((f) => f.startsWith('bad-run')), [], 'no run directory at all');
});

t.test('LoRA: adapters only, the reference is the base (ln 2 at step 0), the SFT file untouched', async (t) => {
  const out = path.join(dir, 'lora');
  const sft = readFileSync(path.join(modelDir, 'model.safetensors'));
  const r = await dpo({ ...base, out, loraRank: 4, loraAlpha: 8, maxSteps: 3, evalEvery: 1 });
  t.equal(r.steps, 3);
  t.same(Object.keys(rows(out)[0]), KEYS, 'the metrics keys of a full run');
  t.ok(readFileSync(path.join(modelDir, 'model.safetensors')).equals(sft), 'the SFT model file is byte-identical');
  t.ok(existsSync(path.join(out, 'adapter_model.safetensors')) && existsSync(path.join(out, 'adapter_config.json')),
    'PEFT adapters written');
  t.notOk(existsSync(path.join(out, 'model.safetensors')), 'no copy of the model');
  const cfg = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
  t.match(cfg, { r: 4, lora_alpha: 8, peft_type: 'LORA' });
  const pairs = syntheticPreferences(5, 40).slice(0, 4).map((e) => encodePair(e, 'alpaca'));
  const batch = collatePairs(pairs, { mask: 'prompt', allowedMaxLength: 96 });
  const fresh = await loadGPT(modelDir);
  fresh.useAdapters(initLora(fresh.config, loraSpec(4), 1));
  const start = (await dpoBackward(fresh, { baseOf: fresh }, batch, 0.5)).loss;
  t.ok(Math.abs(start.loss - Math.LN2) < 1e-6, `B = 0: the policy is its reference, loss ${start.loss} = ln 2`);
  t.equal(start.margin, 0);
  fresh.dispose();
  const policy = await loadGPT(modelDir);
  await loadAdapters(out, policy);
  const { loss } = await dpoBackward(policy, { baseOf: policy }, batch, 0.5);
  t.not(loss.margin, 0, 'the trained adapters move the policy away from its base');
  for (const p of policy.params.values()) t.equal(p.grad, null);
  for (const p of policy.trainable().values()) t.ok(p.grad, 'adapters get gradients');
  policy.dispose();
});

t.test('built-in pairs with --rejected model: the SFT model\'s own wrong answers, saved and reused on resume', async (t) => {
  const model = await loadGPT(modelDir);
  const pairs = syntheticPreferences(5, 40).slice(0, 12);
  const right = { ...pairs[0], chosen: 'zz', rejected: 'yy' };
  const { pairs: made, mistakes } = await withModelMistakes(model, [...pairs, right], 'alpaca', 3);
  const answers = await generateResponses(model, [...pairs, right], 'alpaca', 3);
  made.forEach((p, i) => {
    const own = String(answers[i].model_response).trim();
    t.equal(p.chosen, [...pairs, right][i].chosen, 'chosen stays the right answer');
    t.equal(p.rejected, own !== '' && own !== p.chosen ? own : [...pairs, right][i].rejected,
      `pair ${i}: rejected is the model's answer "${own}" where wrong`);
  });
  t.equal(mistakes, made.filter((p, i) => p.rejected !== [...pairs, right][i].rejected).length);
  model.dispose();

  const out = path.join(dir, 'builtin-model');
  const opts: DpoOptions = { ...base, data: null, syntheticCount: 40, rejected: 'model', maxNewTokens: 3, epochs: 1000, maxSteps: 2 };
  await dpo({ ...opts, out });
  const saved = readFileSync(path.join(out, PAIRS_FILE), 'utf8');
  t.equal(JSON.parse(saved).length, 40, 'the pairs are in the run directory');
  await dpo({ ...opts, out, maxSteps: 4 }, out);
  t.equal(readFileSync(path.join(out, PAIRS_FILE), 'utf8'), saved, 'the resumed run read them, not made new ones');
  await t.rejects(dpo({ ...base, out: path.join(dir, 'x'), rejected: 'model' }),
    /--rejected chooses the built-in pairs' rejected answers; a --data file has its own/);
  await t.rejects(dpo({ ...base, out: path.join(dir, 'x'), data: null, rejected: 'mine' }),
    /unknown --rejected "mine": use other or model/);
});
