// Generation: the KV cache gives the same tokens as recomputing the context; cropping to the
// context; sampling is seeded; the end token stops generation without being emitted; a batch of
// prompts (left-padded, compacted as answers stop or slide) gives each prompt its answer alone.
import t from 'tap';
import { randomGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';
import { generate, pickToken } from '../model/generate.ts';
import { generateBatch } from '../model/generate-batch.ts';
import { withDevice } from './helpers/device.ts';

await withDevice(t);
// Large init so a random model's greedy choices are not ties.
const model = randomGPT(getConfig('tiny', { dModel: 32, nLayers: 2, nHeads: 2, contextLength: 24 }), 11);

t.test('the KV cache gives the same tokens as the full recompute, past the context length too', async (t) => {
  const prompt = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290];
  const withCache = await generate(model, prompt, { maxNewTokens: 30, stopToken: null });
  const without = await generate(model, prompt, { maxNewTokens: 30, stopToken: null, cache: false });
  t.equal(withCache.length, 30);
  t.same(withCache, without);
  const sampledA = await generate(model, prompt, { maxNewTokens: 12, temperature: 1, topK: 50, seed: 3, stopToken: null });
  const sampledB = await generate(model, prompt, { maxNewTokens: 12, temperature: 1, topK: 50, seed: 3, stopToken: null, cache: false });
  t.same(sampledA, sampledB, 'sampling with a seed is the same with and without the cache');
});

t.test('the end token stops generation and is not emitted', async (t) => {
  const prompt = [464, 2068];
  const free = await generate(model, prompt, { maxNewTokens: 6, stopToken: null });
  const stopped = await generate(model, prompt, { maxNewTokens: 6, stopToken: free[3] });
  t.same(stopped, free.slice(0, free.indexOf(free[3])), 'stops at the first occurrence of the stop token');
});

t.test('pickToken', async (t) => {
  const logits = Float32Array.from([0.1, 2, 2, -1]);
  t.equal(pickToken(logits, 0, undefined, Math.random), 1, 'greedy takes the first maximum, as argmax');
  const counts = [0, 0, 0, 0];
  // Uniforms on an even grid: each of the two best gets half of them.
  for (let i = 0; i < 2000; i++) counts[pickToken(logits, 1, 2, () => (i + 0.5) / 2000)]++;
  t.equal(counts[0] + counts[3], 0, 'top-k 2 never picks outside the two best');
  t.ok(Math.abs(counts[1] - counts[2]) <= 2, `equal logits are picked equally (${counts[1]} vs ${counts[2]})`);
});

t.test('a batch of prompts gives each prompt the greedy answer it gets alone', async (t) => {
  // A small output vocabulary with <|endoftext|>: with this seed some answers stop early at it
  // (after 1, 10 and 19 tokens) while the others run to maxNewTokens; 30 new tokens cross the
  // context of 24 (the window slides), and the last prompt is longer than the context.
  const vocab = [11, 13, 262, 290, 464, 625, 2068, 3290, 7586, 16931, 18045, 21831, 50256];
  const small = randomGPT(getConfig('tiny', { dModel: 32, nLayers: 2, nHeads: 2, contextLength: 24, outputVocab: vocab }), 16);
  const words = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290];
  const prompts = [1, 4, 7, 10, 13, 16, 19, 22, 25].map((n) => Array.from({ length: n }, (_, i) => words[(i * 7 + n) % 9]));
  const alone: number[][] = [];
  for (const p of prompts) alone.push(await generate(small, p, { maxNewTokens: 30 }));
  t.same(alone.map((a) => a.length), [30, 19, 30, 30, 10, 30, 30, 1, 30], 'the answers stop early or run on, as this test needs');
  const recomputed = await generate(small, prompts[4], { maxNewTokens: 30, cache: false });
  t.same(alone[4], recomputed, 'the batch-of-one path equals the full recompute');
  for (const batchSize of [4, 16]) {
    const streamed: number[][] = prompts.map(() => []);
    const progress: number[] = [];
    const batched = await generateBatch(small, prompts, {
      maxNewTokens: 30, batchSize, onToken: (i, id) => streamed[i].push(id), onProgress: (c) => progress.push(c.done),
    });
    t.same(batched, alone, `batch size ${batchSize}: every answer equals the one-at-a-time answer`);
    t.same(streamed, alone, `batch size ${batchSize}: tokens are streamed to their prompt`);
    t.equal(progress[progress.length - 1], prompts.length, 'progress ends with every prompt done');
  }
  // Sampling keeps the logits path: per prompt, the same draws as alone.
  const sampled = await generateBatch(small, prompts.slice(0, 3), { maxNewTokens: 8, temperature: 1, topK: 5, seed: 4, stopToken: null });
  for (let i = 0; i < 3; i++) {
    t.same(sampled[i], await generate(small, prompts[i], { maxNewTokens: 8, temperature: 1, topK: 5, seed: 4, stopToken: null }),
      `sampled prompt ${i}`);
  }
  small.dispose();
});
