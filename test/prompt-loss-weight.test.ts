// The prompt-loss weight on real batches: collate's weights and denominator by hand; W = 0 gives the
// prompt mask's loss and every gradient bit for bit, W = 1 the unmasked ones (with the whole
// vocabulary and with an output vocabulary, as the built-in base has); a fractional W is the weighted
// mean of the per-token losses; bad values and --mask combinations are refused in one line; and
// `wgpt train --prompt-loss-weight` resumes with its weight, bit for bit.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { crossEntropyPerToken, noGrad, reshape, Tensor, tidy } from '../engine/index.ts';
import { randomGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';
import type { GPT } from '../model/gpt.ts';
import { collate, IGNORE_INDEX } from '../train/data/collate.ts';
import { encodeEntry, outputVocabOf, type EncodedEntry } from '../train/data/encode.ts';
import { checkPromptLossWeight } from '../train/data/loss-masks.ts';
import type { Batch } from '../train/run/step.ts';
import { gradientsOf } from '../train/eval/grads.ts';
import { generateSyntheticData } from '../train/data/synthetic.ts';
import { withDevice } from './helpers/device.ts';
import { microRun } from './helpers/micro-run.ts';

await withDevice(t);
const { dir, modelDir, dataFile } = await microRun('wgpt-plw-');
const entries = generateSyntheticData({ seed: 11, count: 40 }).slice(0, 6);
const items = entries.map((e) => encodeEntry(e, 'alpaca'));
const config = getConfig('tiny', { dModel: 32, nLayers: 1, nHeads: 2, contextLength: 96 });
const models: Record<string, GPT> = {
  'whole vocabulary': randomGPT(config, 5),
  'output vocabulary': randomGPT({ ...config, outputVocab: outputVocabOf(entries, 'alpaca') }, 5),
};
t.teardown(() => Object.values(models).forEach((m) => m.dispose()));

t.test('collate: W on the prompt targets, 1 on the rest; the denominator is the sum of the counted weights', async (t) => {
  const none = collate(items, { mask: 'none' });
  const b = collate(items, { mask: 'none', promptLossWeight: 0.1 });
  t.same(Array.from(b.targets), Array.from(none.targets), 'the targets are the unmasked ones');
  t.ok(b.weights instanceof Float32Array && b.weights.length === b.targets.length, 'one weight per target');
  t.notOk('weights' in none, 'no weights without a prompt-loss weight');
  let prompt = 0;
  let rest = 0;
  let wrong = 0;
  items.forEach((it, r) => {
    for (let i = 0; i < b.seqLen; i++) {
      // Targets 0..P-2 predict the prompt's own tokens: the prompt mask's targets.
      if (b.weights![r * b.seqLen + i] !== (i < it.promptLength - 1 ? Math.fround(0.1) : 1)) wrong++;
      if (b.targets[r * b.seqLen + i] === IGNORE_INDEX) continue;
      if (i < it.promptLength - 1) prompt++;
      else rest++;
    }
  });
  t.equal(wrong, 0, 'each item: W on targets 0..P-2, 1 from the response header on');
  t.equal(rest, collate(items, { mask: 'prompt' }).lossDenominator, 'what stays at weight 1 is what the prompt mask counts');
  t.equal(b.lossDenominator, prompt * Math.fround(0.1) + rest, `denominator W·${prompt} + ${rest}`);
  t.equal(collate(items, { mask: 'none', promptLossWeight: 1 }).lossDenominator, none.lossDenominator);
  t.equal(collate(items, { mask: 'none', promptLossWeight: 0 }).lossDenominator, rest);
});

function sameBits(t: Test, a: { loss: number; grads: Map<string, Float32Array> }, b: { loss: number; grads: Map<string, Float32Array> },
  what: string): void {
  t.ok(Object.is(a.loss, b.loss), `${what}: loss ${a.loss} vs ${b.loss}`);
  let differ = 0;
  let total = 0;
  let nonzero = 0;
  for (const [name, g] of a.grads) {
    const h = b.grads.get(name)!;
    for (let i = 0; i < g.length; i++) {
      total++;
      if (g[i] !== 0) nonzero++;
      if (!Object.is(g[i], h[i])) differ++;
    }
  }
  t.equal(b.grads.size, a.grads.size, `${what}: the same parameters`);
  t.equal(differ, 0, `${what}: every gradient element equal (${differ} of ${total} differ; ${nonzero} nonzero)`);
}

// Two real batches (different lengths, so different padding) under each model.
const batches: EncodedEntry[][] = [items.slice(0, 3), items.slice(3)];
for (const [name, model] of Object.entries(models)) {
  t.test(`${name}: W = 0 is the prompt mask and W = 1 no mask, loss and every gradient bit for bit`, async (t) => {
    for (const [bi, its] of batches.entries()) {
      sameBits(t, await gradientsOf(model, collate(its, { mask: 'none', promptLossWeight: 0 })),
        await gradientsOf(model, collate(its, { mask: 'prompt' })), `batch ${bi}, W = 0 vs --mask prompt`);
      sameBits(t, await gradientsOf(model, collate(its, { mask: 'none', promptLossWeight: 1 })),
        await gradientsOf(model, collate(its, { mask: 'none' })), `batch ${bi}, W = 1 vs --mask none`);
    }
    // And a weight in between is neither.
    const half = await gradientsOf(model, collate(batches[0], { mask: 'none', promptLossWeight: 0.5 }));
    const none = await gradientsOf(model, collate(batches[0], { mask: 'none' }));
    const prompt = await gradientsOf(model, collate(batches[0], { mask: 'prompt' }));
    t.ok(half.loss !== none.loss && half.loss !== prompt.loss, `W = 0.5: loss ${half.loss} is neither ${none.loss} nor ${prompt.loss}`);
  });
}

t.test('a fractional W is the weighted mean of the per-token losses: (W·Σprompt + Σrest) / (W·Nprompt + Nrest)', async (t) => {
  const model = models['whole vocabulary'];
  const plain = collate(batches[0], { mask: 'none' });
  const perToken = noGrad(() => tidy(() => {
    const logits = model.forward(Tensor.fromData(plain.inputs, [plain.batch, plain.seqLen], 'i32'));
    return crossEntropyPerToken(reshape(logits, [plain.batch * plain.seqLen, logits.shape[2]]),
      Tensor.fromData(plain.targets, [plain.targets.length], 'i32'));
  }));
  const losses = await perToken.toArray();
  perToken.dispose();
  for (const w of [0.01, 0.1, 0.5]) {
    const b: Batch = collate(batches[0], { mask: 'none', promptLossWeight: w });
    let num = 0;
    let den = 0;
    b.targets.forEach((tg, i) => {
      if (tg === IGNORE_INDEX) return;
      num += b.weights![i] * losses[i];
      den += b.weights![i];
    });
    const got = (await gradientsOf(model, b)).loss;
    t.ok(Math.abs(got - num / den) < 1e-5 * Math.abs(num / den), `W = ${w}: ${got} vs ${num / den}`);
  }
});

t.test('bad weights and masks are one-line errors that say what to give (checked where they enter: train())', async (t) => {
  for (const bad of [1.5, -0.1, NaN, Infinity]) {
    t.throws(() => checkPromptLossWeight(bad, 'none'),
      /--prompt-loss-weight must be a number from 0 to 1 \(0: the prompt mask, 1: no mask\)/);
  }
  t.throws(() => checkPromptLossWeight(0.5, 'prompt'),
    /give it with --mask none, not --mask prompt \(--mask prompt is --prompt-loss-weight 0\)/);
  t.throws(() => checkPromptLossWeight(0.5, 'pad-in-mean'), /not --mask pad-in-mean/);
  t.throws(() => collate([[1, 2, 3]], { mask: 'none', promptLossWeight: 0.5 }), /the prompt-loss weight needs encodeEntry\(\) items/);
  t.throws(() => tidy(() => models['whole vocabulary'].loss(Tensor.fromData([1, 2], [1, 2], 'i32'),
    Tensor.fromData([2, 3], [1, 2], 'i32'), { weights: [1, -1] })),
    /weight -1 at target 1; weights must be finite and >= 0/);
});

const CLI = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
function wgpt(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}
const fast = (out: string, steps: number): string[] => ['train', '--data', dataFile, '--model', modelDir, '--out', out,
  '--max-steps', String(steps), '--batch-size', '4',
  '--epochs', '100', '--eval-every', '100', '--eval-batches', '1', '--max-new-tokens', '0', '--output-vocab', 'data'];

t.test('wgpt train --prompt-loss-weight: refused when out of range, saved in the checkpoint, resumed bit for bit', async (t) => {
  const bad = wgpt([...fast(path.join(dir, 'bad'), 1), '--prompt-loss-weight', '1.5']);
  t.equal(bad.code, 1);
  t.match(bad.out, /^wgpt train: --prompt-loss-weight must be a number from 0 to 1 \(0: the prompt mask, 1: no mask\), got 1\.5\n$/,
    'one line');
  const masked = wgpt([...fast(path.join(dir, 'bad'), 1), '--prompt-loss-weight', '0.5', '--mask', 'prompt']);
  t.match(masked.out, /--prompt-loss-weight weighs the prompt within the unmasked loss: give it with --mask none, not --mask prompt/);

  const straight = path.join(dir, 'plw-straight');
  const split = path.join(dir, 'plw-split');
  const plain = path.join(dir, 'plw-none');
  for (const [out, steps, extra] of [[straight, 4, ['--prompt-loss-weight', '0.1']], [split, 2, ['--prompt-loss-weight', '0.1']],
    [plain, 4, []]] as const) {
    const r = wgpt([...fast(out, steps), ...extra]);
    t.equal(r.code, 0, r.code === 0 ? `${path.basename(out)} trained` : r.out);
  }
  const state = JSON.parse(readFileSync(path.join(split, 'checkpoint/state.json'), 'utf8'));
  t.equal(state.options.promptLossWeight, 0.1, 'the checkpoint keeps the weight');
  const refused = wgpt(['train', '--resume', split, '--max-steps', '4', '--prompt-loss-weight', '0.5']);
  t.match(refused.out, /--prompt-loss-weight 0\.5: .* was trained with --prompt-loss-weight 0\.1 and resumes with it; leave the flag out/);
  const resumed = wgpt(['train', '--resume', split, '--max-steps', '4']);
  t.equal(resumed.code, 0, resumed.code === 0 ? 'resumed' : resumed.out);
  const weights = (d: string): Buffer => readFileSync(path.join(d, 'model.safetensors'));
  t.ok(weights(split).equals(weights(straight)), '2 steps + resume 2 = 4 straight, byte for byte (the resume kept W = 0.1)');
  t.notOk(weights(plain).equals(weights(straight)), 'and W = 0.1 trains other weights than no weighting');
});
