// A restricted output vocabulary (config.outputVocab, `wgpt train --output-vocab data`): the loss
// is the cross-entropy over those columns of the full logits, only their head rows get a
// gradient from the head, generation picks only those tokens, and the restriction is saved.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { backward, noGrad, Tensor, tidy } from '../engine/index.ts';
import { loadGPT, randomGPT, saveGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';
import { generate } from '../model/generate.ts';
import { generateSyntheticData } from '../train/data/synthetic.ts';
import { encodeEntry, outputVocabOf } from '../train/data/encode.ts';
import { withDevice } from './helpers/device.ts';

await withDevice(t);
const VOCAB = [3, 7, 8, 20, 41, 42, 60, 96];
const base = { vocabSize: 97, contextLength: 16, dModel: 24, nLayers: 2, nHeads: 3, layerNormEps: 1e-5, dropout: 0, tiedHead: true };
const full = randomGPT(base, 5);
const restricted = randomGPT({ ...base, outputVocab: VOCAB }, 5);
const ids = [3, 50, 7, 8, 90, 20, 41, 2, 60, 96, 42, 8];
const targets = [7, -100, 8, 20, -100, 41, 42, 60, 96, 3, -100, 8];

t.test('the loss is the cross-entropy over the output columns of the full logits', async (t) => {
  const logits = (await noGrad(() => tidy(() => full.forward(Tensor.fromData(ids, [2, 6], 'i32')))).toArray()) as Float32Array;
  let sum = 0;
  let n = 0;
  targets.forEach((y, i) => {
    if (y < 0) return;
    const row = VOCAB.map((v) => logits[i * 97 + v]);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    sum += lse - logits[i * 97 + y];
    n++;
  });
  const loss = tidy(() => {
    const l = restricted.loss(Tensor.fromData(ids, [2, 6], 'i32'), Tensor.fromData(targets, [2, 6], 'i32'));
    backward(l);
    return l;
  });
  t.ok(Math.abs((await loss.item()) - sum / n) < 1e-5, `loss ${await loss.item()} vs ${sum / n}`);
  const g = (await restricted.p('wte.weight').grad!.toArray()) as Float32Array;
  const rowNorm = (r: number): number => Math.hypot(...g.subarray(r * 24, (r + 1) * 24));
  const touched = new Set([...VOCAB, ...ids]);
  const untouched = Array.from({ length: 97 }, (_, r) => r).filter((r) => !touched.has(r));
  t.ok(untouched.every((r) => rowNorm(r) === 0), 'rows outside the output vocabulary and the input get no gradient');
  t.ok(VOCAB.every((r) => rowNorm(r) > 0), 'every output row gets one');
  restricted.p('wte.weight').grad!.dispose();
  restricted.p('wte.weight').grad = null;
});

t.test('generation picks only output tokens; a target outside is a clear error', async (t) => {
  const out = await generate(restricted, [3, 7], { maxNewTokens: 12, temperature: 2, seed: 1, stopToken: null });
  t.equal(out.length, 12);
  t.ok(out.every((id) => VOCAB.includes(id)), `generated ${out}`);
  t.throws(() => restricted.targetColumns([5]), /target token 5 is outside the model's output vocabulary of 8 tokens/);
});

t.test('saved with the model (config.json) and loaded back', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wgpt-ov-'));
  await saveGPT(restricted, dir);
  t.same(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).wgpt_output_vocab, VOCAB);
  const back = await loadGPT(dir);
  t.same(back.config.outputVocab, VOCAB);
  const a = await tidy(() => back.loss(Tensor.fromData(ids, [2, 6], 'i32'), Tensor.fromData(targets, [2, 6], 'i32'))).item();
  const b = await tidy(() => restricted.loss(Tensor.fromData(ids, [2, 6], 'i32'), Tensor.fromData(targets, [2, 6], 'i32'))).item();
  t.equal(a, b);
  back.dispose();
});

t.test('outputVocabOf: every token of the data and <|endoftext|>, ascending', async (t) => {
  const entries = generateSyntheticData({ seed: 1, count: 50 });
  const v = outputVocabOf(entries, 'alpaca');
  t.ok(v.includes(50256));
  t.ok(v.every((id, i) => i === 0 || id > v[i - 1]), 'ascending, distinct');
  const all = new Set(v);
  t.ok(entries.every((e) => encodeEntry(e, 'alpaca').ids.every((id) => all.has(id))), 'covers every token');
  t.ok(v.length < 500, `${v.length} tokens`);
  t.throws(() => getConfig('tiny', { outputVocab: [5, 3] }), /ascending distinct/);
});
