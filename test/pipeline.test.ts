// The pipelined loop (train/run/loop.ts) records step N+1 before it reads step N's loss: the same
// numbers as the unpipelined loop bit for bit (losses, metrics.jsonl, weights, optimizer moments),
// across an epoch's end and a resume from a mid-run checkpoint; and the engine's readback in two
// halves (Tensor.itemLater) that it rests on.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Tensor } from '../engine/index.ts';
import { loadGPT } from '../model/build.ts';
import { collate } from '../train/data/collate.ts';
import { encodeEntry, type EncodedEntry } from '../train/data/encode.ts';
import { splitData } from '../train/data/entries.ts';
import { loadEntries } from '../train/data/load.ts';
import { evaluateLoss } from '../train/eval/loss.ts';
import { trainLoader } from '../train/run/loader.ts';
import type { LoopRow } from '../train/run/loop.ts';
import { TrainingRun } from '../train/run/training-run.ts';
import { lossStep } from '../train/run/step.ts';
import { withDevice } from './helpers/device.ts';
import { microRun } from './helpers/micro-run.ts';

const device = await withDevice(t);
const { dir, modelDir, dataFile } = await microRun('wgpt-pipeline-');
const splits = splitData(await loadEntries(dataFile, 1, 0));
const trainItems = splits.train.map((e) => encodeEntry(e, 'alpaca'));
const valItems = splits.val.map((e) => encodeEntry(e, 'alpaca'));

t.test('itemLater: the copy is submitted at once, the value comes later, the tensor may go first', async (t) => {
  const x = Tensor.fromData(new Float32Array([2.5]), [1]);
  const reads = device.counters.readbacks;
  const { value } = await x.itemLater();
  t.equal(device.counters.readbacks, reads + 1, 'one readback submitted');
  x.dispose();
  t.equal(await value, 2.5);
  await t.rejects(Tensor.fromData(new Float32Array([1, 2]), [2]).itemLater(), /item\(\): tensor has shape \[2\], not one element/);
});

interface Trace {
  losses: [number, number][];
  events: string[];
}

/** A micro finetuning through TrainingRun: 8 batches an epoch, evaluations every 3 steps, dropout on. */
async function run(out: string, maxSteps: number, pipelined: boolean, resumeDir: string | null = null): Promise<Trace> {
  const r = await TrainingRun.start<EncodedEntry, LoopRow>({
    out, options: { maxSteps }, resumeDir, seed: 1, lr: 1e-3, weightDecay: 0.1, loadModel: () => loadGPT(modelDir, { dropout: 0.1 }),
  });
  const trace: Trace = { losses: [], events: [] };
  try {
    r.begin(trainLoader(trainItems, 4, 123), { epochs: 3, maxSteps });
    const loss = (items: readonly EncodedEntry[]): Promise<number> => evaluateLoss(r.model, items, 4, 2, 'none', 96);
    const step = lossStep(r.model, r.opt, (items: EncodedEntry[]) => collate(items, { mask: 'none', allowedMaxLength: 96 }));
    await r.loop({
      schedule: { lr: 1e-3, lrSchedule: 'constant', warmupSteps: 2 }, evalEvery: 3, pipelined,
      step: (items, s) => {
        trace.events.push(`step ${s}`);
        return step(items, s);
      },
      evaluate: async () => ({ train_loss: await loss(trainItems), val_loss: await loss(valItems) }),
      onEpochEnd: async () => void trace.events.push('epoch end'),
      onLoss: (s, l) => {
        trace.events.push(`loss ${s}`);
        trace.losses.push([s, l]);
      },
    });
  } finally {
    r.dispose();
  }
  return trace;
}

const file = (out: string, name: string): Buffer => readFileSync(path.join(out, name));
const metrics = (out: string): string => file(out, 'metrics.jsonl').toString().replace(/"elapsed_s":[^,}]*/g, '"elapsed_s":0');

t.test('pipelined and unpipelined: the same numbers bit for bit, across an epoch and a resume', async (t) => {
  const plain = path.join(dir, 'plain');
  const piped = path.join(dir, 'piped');
  const resumed = path.join(dir, 'resumed');
  const a = await run(plain, 11, false);
  const b = await run(piped, 11, true);
  t.equal(a.losses.length, 11, 'every step reports its loss');
  t.same(b.losses, a.losses, 'per-step losses identical');
  t.same(a.events.slice(0, 6), ['step 0', 'loss 0', 'step 1', 'loss 1', 'step 2', 'loss 2'], 'unpipelined: each loss before the next step');
  t.same(b.events.slice(0, 8), ['step 0', 'loss 0', 'step 1', 'step 2', 'loss 1', 'step 3', 'loss 2', 'loss 3'],
    'pipelined: each step recorded before the last one\'s loss is read; evaluated steps (0, 3) read their own first');
  t.ok(b.events.indexOf('loss 7') < b.events.indexOf('epoch end'), 'the last loss of an epoch is read before its end');
  t.equal(metrics(piped), metrics(plain), 'metrics.jsonl identical but elapsed_s');
  t.equal(metrics(plain).trim().split('\n').length, 4, 'rows at steps 0, 3, 6, 9');
  for (const f of ['checkpoint/model.safetensors', 'checkpoint/optimizer.safetensors', 'checkpoint/state.json']) {
    t.ok(file(piped, f).equals(file(plain, f)), `${f} identical`);
  }
  // Stopped after 5 steps (mid-epoch), resumed to 11: the same as 11 straight, unpipelined.
  const first = await run(resumed, 5, true);
  const rest = await run(resumed, 11, true, resumed);
  t.same([...first.losses, ...rest.losses], a.losses, 'losses of the two halves identical');
  t.equal(metrics(resumed), metrics(plain), 'metrics.jsonl identical');
  for (const f of ['checkpoint/model.safetensors', 'checkpoint/optimizer.safetensors']) {
    t.ok(file(resumed, f).equals(file(plain, f)), `${f} identical`);
  }
});
