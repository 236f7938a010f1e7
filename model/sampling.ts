// Choosing the next token from one row of logits: greedy (the first maximum, as torch.argmax;
// batched greedy decoding does the same on the GPU, engine/ops/argmax.ts) or sampling with
// temperature and top-k from a seeded generator.

/** Picks the next token from one row of logits. Greedy takes the first maximum (as torch.argmax). */
export function pickToken(logits: Float32Array, temperature: number, topK: number | undefined, random: () => number): number {
  if (!(temperature > 0)) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let ids = Array.from(logits.keys());
  if (topK && topK < ids.length) ids = ids.sort((a, b) => logits[b] - logits[a]).slice(0, topK);
  const max = Math.max(...ids.map((i) => logits[i]));
  const weights = ids.map((i) => Math.exp((logits[i] - max) / temperature));
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (let j = 0; j < ids.length; j++) {
    r -= weights[j];
    if (r <= 0) return ids[j];
  }
  return ids[ids.length - 1];
}
