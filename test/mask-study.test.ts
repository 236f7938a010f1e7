// Loss masks do what they say: prompt masking removes prompt targets (and renormalises over what
// is left), padding changes nothing except under pad-in-mean, and the study is reproducible.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomGPT, saveGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';
import { collate, IGNORE_INDEX } from '../train/data/collate.ts';
import { encodeEntry } from '../train/data/encode.ts';
import type { Batch } from '../train/run/step.ts';
import { countTargets, gradientsOf, parseExamples } from '../train/eval/grads.ts';
import { accumulate, cosine, maskStudy, type StudyOptions } from '../train/study/mask-study.ts';
import { generateSyntheticData } from '../train/data/synthetic.ts';
import { withDevice } from './helpers/device.ts';

await withDevice(t);
const dir = mkdtempSync(path.join(tmpdir(), 'wgpt-mask-'));
const config = getConfig('tiny', { dModel: 32, nLayers: 1, nHeads: 2, contextLength: 96 });
const model = randomGPT(config, 3);
const entries = generateSyntheticData({ seed: 9, count: 40 }).slice(0, 3);
const items = entries.map((e) => encodeEntry(e, 'alpaca'));
const modelDir = path.join(dir, 'micro');
await saveGPT(model, modelDir);
const dataFile = path.join(dir, 'data.json');
writeFileSync(dataFile, JSON.stringify(generateSyntheticData({ seed: 5, count: 60 })));

t.test('per-batch gradients are summed in f64 (an f32 running mean drops each batch\'s low bits)', async (t) => {
  // 2^24 + 1 + 1 is exact in f64 and 2^24 in f32; a mean of 3 batches of 1/3 each is 1 - 6e-8 in f32.
  const sum = new Map<string, Float64Array>();
  for (const v of [2 ** 24, 1, 1]) accumulate(sum, new Map([['w', Float32Array.of(v, 1 / 3)]]));
  t.ok(sum.get('w') instanceof Float64Array, 'the running sum is f64');
  t.equal(sum.get('w')![0], 2 ** 24 + 2);
  t.equal(sum.get('w')![1] / 3, Math.fround(1 / 3), 'three thirds (f32 inputs) average back exactly');
  t.equal(cosine(Float64Array.of(1, 1e-9), Float64Array.of(1, -1e-9)), (1 - 1e-18) / (1 + 1e-18));
});

function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let m = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  }
  return m;
}

t.test('count matches a count by hand', async (t) => {
  const b = collate(items, { mask: 'prompt' });
  let hand = 0;
  // Target t predicts token t+1: t = 0..L-2 predict the item's own tokens, t = L-1 its end token.
  // Prompt masking drops t = 0..P-2, so L - (P - 1) targets remain per item.
  for (const it of items) hand += it.ids.length - (it.promptLength - 1);
  t.equal(countTargets(b), hand);
  t.equal(b.lossDenominator, hand);
});

t.test('prompt masking removes prompt targets, it does not just scale the gradient', async (t) => {
  const none = collate(items, { mask: 'none' });
  const prompt = collate(items, { mask: 'prompt' });
  // The complement: only the prompt targets counted.
  const onlyPrompt: Batch = { ...none, targets: none.targets.map((v, i) => (prompt.targets[i] === IGNORE_INDEX ? v : IGNORE_INDEX)) };
  onlyPrompt.lossDenominator = countTargets(onlyPrompt);
  const [gn, gp, go] = [await gradientsOf(model, none), await gradientsOf(model, prompt), await gradientsOf(model, onlyPrompt)];
  // Sum over counted targets decomposes: N_none·G_none = N_prompt·G_prompt + N_only·G_only.
  const [nn, np, no] = [none.lossDenominator, prompt.lossDenominator, onlyPrompt.lossDenominator];
  t.ok(Math.abs(nn * gn.loss - np * gp.loss - no * go.loss) < 1e-3 * nn, 'loss sums decompose');
  let worst = 0;
  let scale = 0;
  for (const [k, g] of gn.grads) {
    const p = gp.grads.get(k)!;
    const o = go.grads.get(k)!;
    for (let i = 0; i < g.length; i++) {
      worst = Math.max(worst, Math.abs(nn * g[i] - np * p[i] - no * o[i]));
      scale = Math.max(scale, Math.abs(nn * g[i]));
    }
  }
  t.ok(worst < 2e-4 * scale, `gradient sums decompose (worst ${worst.toExponential(2)} of ${scale.toExponential(2)})`);
  // And the masked gradient points elsewhere than the unmasked one.
  let dot = 0, a2 = 0, b2 = 0;
  for (const [k, g] of gn.grads) {
    const p = gp.grads.get(k)!;
    for (let i = 0; i < g.length; i++) {
      dot += g[i] * p[i];
      a2 += g[i] * g[i];
      b2 += p[i] * p[i];
    }
  }
  t.ok(dot / Math.sqrt(a2 * b2) < 0.999, 'not a scaled copy of the unmasked gradient');
});

t.test('padding changes nothing under none and prompt, and does under pad-in-mean', async (t) => {
  for (const mask of ['none', 'prompt', 'pad-in-mean']) {
    const plain = collate(items, { mask });
    const padded = collate(items, { mask, padToLength: plain.seqLen + 9 });
    t.equal(padded.seqLen, plain.seqLen + 9);
    const a = await gradientsOf(model, plain);
    const b = await gradientsOf(model, padded);
    if (mask === 'pad-in-mean') {
      t.ok(Math.abs(a.loss - b.loss) > 1e-3, `${mask}: padding lowers the loss (${a.loss} -> ${b.loss})`);
      t.ok(maxDiff(a.grads, b.grads) > 1e-6, `${mask}: padding changes the gradients`);
    } else {
      t.ok(Math.abs(a.loss - b.loss) < 1e-6, `${mask}: same loss (${a.loss} vs ${b.loss})`);
      t.ok(maxDiff(a.grads, b.grads) < 1e-7, `${mask}: same gradients (max diff ${maxDiff(a.grads, b.grads)})`);
    }
  }
});

t.test('bad ranges and unknown strategies are clear errors', async (t) => {
  t.throws(() => parseExamples('7-3', 10), /ends before it starts/);
  t.throws(() => parseExamples('0-10', 10), /has 10 entries \(0-9\)/);
  t.throws(() => parseExamples('a-b', 10), /must look like A-B/);
  t.same(parseExamples('0-7', 10), [0, 7]);
  await t.rejects(maskStudy({ ...studyOptions('x'), strategies: ['none', 'bogus'] }), /unknown loss mask "bogus"/);
});

function studyOptions(out: string): StudyOptions {
  return {
    model: modelDir, fromScratch: false, data: dataFile, strategies: ['none', 'prompt', 'pad-in-mean'], steps: 3, out: path.join(dir, out),
    style: 'alpaca', seed: 1, batchSize: 4, batches: 1, lr: 1e-3, weightDecay: 0.1,
    evalBatches: 1, heldOut: 2, maxNewTokens: 3, syntheticCount: 0,
  };
}

t.test('the same seed gives the same study numbers', async (t) => {
  const a = await maskStudy(studyOptions('a'), () => {});
  const b = await maskStudy(studyOptions('b'), () => {});
  const strip = (s: Record<string, unknown>): string => JSON.stringify({ ...s, options: undefined });
  t.equal(strip(a), strip(b));
  const study = JSON.parse(readFileSync(path.join(dir, 'a', 'study.json'), 'utf8'));
  t.ok(study.gradients.prompt.count < study.gradients.none.count, 'prompt masking counts fewer targets');
  t.ok(study.gradients['pad-in-mean'].loss < study.gradients.none.loss, 'pads in the mean dilute the loss');
  t.match(readFileSync(path.join(dir, 'a', 'report.md'), 'utf8'), /cosine similarity/);
});
