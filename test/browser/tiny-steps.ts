// A few optimizer steps of `tiny` on the built-in run's questions, the same in Node and in a tab
// (the browser test runs it in both and compares the losses): the CLI's model init, collation,
// loss, backward and AdamW, nothing page-specific.
import { getConfig } from '../../model/config.ts';
import { randomGPT } from '../../model/init.ts';
import { collate } from '../../train/data/collate.ts';
import { encodeEntry, outputVocabOf } from '../../train/data/encode.ts';
import { generateFactData } from '../../train/data/facts.ts';
import { AdamW } from '../../train/run/optim.ts';
import { lossStep } from '../../train/run/step.ts';

export async function tinyLosses(steps: number, batchSize = 2): Promise<number[]> {
  const entries = generateFactData({ seed: 123, count: 200 });
  const style = 'phi3';
  const model = randomGPT(getConfig('tiny', { outputVocab: outputVocabOf(entries, style) }), 7);
  const opt = new AdamW([...model.trainable().values()], { lr: 1e-3, weightDecay: 0.1 });
  const items = entries.map((e) => encodeEntry(e, style));
  const step = lossStep(model, opt, (batch: typeof items) => collate(batch, { mask: 'prompt' }));
  const losses: number[] = [];
  try {
    for (let s = 0; s < steps; s++) losses.push(await (await step(items.slice(s * batchSize, (s + 1) * batchSize), s)).loss);
  } finally {
    opt.dispose();
    model.dispose();
  }
  return losses;
}
