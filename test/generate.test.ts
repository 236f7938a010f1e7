// Generation: the KV cache gives the same tokens as recomputing the context; cropping to the
// context; sampling is seeded; the end token stops generation without being emitted.
import t from 'tap';
import { randomGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';
import { generate, pickToken } from '../model/generate.ts';
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
