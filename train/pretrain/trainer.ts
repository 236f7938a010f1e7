// `wgpt pretrain`: next-token training on plain text, as nanoGPT does it. The text is packed into
// blocks (blocks.ts); the loop, checkpoints, Ctrl-C, metrics.jsonl and the loss plot are every
// trainer's (run/training-run.ts); sampled continuations of a few prompts are printed and saved in
// samples.jsonl before training, every --sample-every steps and at the end. The result is a plain GPT-2 model
// directory: `wgpt train --model DIR`, `wgpt generate` and transformers load it.
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/index.ts';
import { loadGPT, randomGPT } from '../../model/build.ts';
import { validateConfig } from '../../model/config.ts';
import { generateBatch } from '../../model/generate-batch.ts';
import type { GPT } from '../../model/gpt.ts';
import { readHFConfig } from '../../model/hf-config-file.ts';
import { fromHFConfig } from '../../model/hf-names.ts';
import { decode, encode } from '../../model/tokenizer.ts';
import { DataLoader } from '../run/loader.ts';
import type { LoopRow } from '../run/loop.ts';
import { checkSchedule } from '../run/schedule.ts';
import { TrainingRun } from '../run/training-run.ts';
import { lossStep } from '../run/step.ts';
import { blockBatch, blockCount, splitTokens, streamLoss, textVocab, type TokenSplits } from './blocks.ts';
import { readTextCorpus } from './corpus.ts';

export interface PretrainOptions {
  /** A .txt file, a directory of them or a corpus name (corpus.ts); null: the built-in text. */
  data: string | null;
  /** A size name (from scratch for tiny and mini, or with fromScratch), or weights to continue. */
  model: string;
  /** A Hugging Face GPT-2 config.json: a from-scratch model of that shape (instead of model). */
  config: string | null;
  fromScratch: boolean;
  out: string;
  blockSize: number;
  batchSize: number;
  epochs: number;
  maxSteps: number | null;
  lr: number;
  weightDecay: number;
  lrSchedule: string;
  warmupSteps: number;
  evalEvery: number;
  evalBatches: number;
  /** Sampled continuations every N steps (0: only before and after training). */
  sampleEvery: number;
  prompts: string[];
  sampleTokens: number;
  seed: number;
  /** 'all', or 'data': the softmax spans only the tokens of the text (see outputVocabOf in data/encode.ts). */
  outputVocab: string;
  dropout?: number;
}

/** What a run trains on: documents, and optionally a separate validation text and tokens the
 *  output vocabulary must hold beyond the text's own (the built-in base: its instruction data's). */
export interface PretrainText {
  source: string;
  documents: string[];
  valDocuments?: string[];
  extraVocab?: readonly number[];
}

export interface Sample {
  step: number;
  prompt: string;
  text: string;
}

export interface PretrainResult {
  steps: number;
  metrics: LoopRow[];
  samples: Sample[];
  secondsPerStep: number;
  tokensPerSecond: number;
  interrupted: boolean;
}

/** Checks every option that can be checked before anything is read, loaded or written (the flag
 *  table checks the integers: bin/commands/flags.ts). */
export function checkPretrainOptions(o: PretrainOptions): void {
  checkSchedule(o.lrSchedule);
  if (!['all', 'data'].includes(o.outputVocab)) throw new WgptError(`unknown --output-vocab "${o.outputVocab}": use all or data`);
  if (!(o.lr > 0)) throw new WgptError(`--lr must be above 0, got ${o.lr}`);
  if (!(o.weightDecay >= 0)) throw new WgptError(`--weight-decay must be 0 or more, got ${o.weightDecay}`);
  if (o.prompts.some((p) => p.length === 0)) throw new WgptError('--prompt must not be empty');
}

async function loadModel(o: PretrainOptions, vocab: number[] | undefined): Promise<GPT> {
  if (o.config === null) return loadGPT(o.model, { fromScratch: o.fromScratch, seed: o.seed, dropout: o.dropout, outputVocab: vocab });
  const config = { ...fromHFConfig(await readHFConfig(o.config), o.config), ...(vocab ? { outputVocab: vocab } : {}) };
  if (o.dropout !== undefined) config.dropout = o.dropout;
  validateConfig(config);
  return randomGPT(config, o.seed);
}

/** One sampled continuation (temperature 0.8, top-k 40) of each prompt, each from its own seed. */
async function sample(model: GPT, o: PretrainOptions, step: number): Promise<Sample[]> {
  if (o.sampleTokens === 0) return [];
  const out: Sample[] = [];
  for (const [i, prompt] of o.prompts.entries()) {
    const [ids] = await generateBatch(model, [encode(prompt).slice(-model.config.contextLength + 1)], {
      maxNewTokens: o.sampleTokens, temperature: 0.8, topK: 40, seed: o.seed + 1000 * step + i, stopToken: null,
    });
    out.push({ step, prompt, text: decode(ids) });
  }
  return out;
}

export async function pretrain(o: PretrainOptions, text: () => PretrainText, resumeDir: string | null = null): Promise<PretrainResult> {
  checkPretrainOptions(o);
  const corpus = text();
  const splits: TokenSplits = splitTokens(corpus.documents, o.blockSize, corpus.valDocuments);
  const vocab = o.outputVocab === 'data'
    ? textVocab(splits, corpus.extraVocab)
    : undefined;
  const run = await TrainingRun.start<number, LoopRow>({
    out: o.out, options: o, resumeDir, seed: o.seed, lr: o.lr, weightDecay: o.weightDecay, loadModel: () => loadModel(o, vocab),
  });
  try {
    if (o.blockSize > run.model.config.contextLength) {
      throw new WgptError(`--block-size ${o.blockSize} is longer than the model's context of ${run.model.config.contextLength}`);
    }
    return await trainOnText(o, corpus.source, splits, run);
  } finally {
    run.dispose();
  }
}

async function trainOnText(o: PretrainOptions, source: string, splits: TokenSplits,
  run: TrainingRun<number, LoopRow>): Promise<PretrainResult> {
  const { model } = run;
  const blocks = Array.from({ length: blockCount(splits.train, o.blockSize) }, (_, i) => i);
  if (blocks.length < o.batchSize) throw new WgptError(
    `the text makes ${blocks.length} training blocks of ${o.blockSize} tokens, fewer than --batch-size ${o.batchSize}`);
  const loader = new DataLoader(blocks, { batchSize: o.batchSize, shuffle: true, dropLast: true, seed: o.seed });
  run.begin(loader, o);
  const samplesFile = path.join(o.out, 'samples.jsonl');
  if (!run.resumed) writeFileSync(samplesFile, '');
  const samples: Sample[] = [];
  const showSamples = async (step: number): Promise<void> => {
    for (const s of await sample(model, o, step)) {
      samples.push(s);
      appendFileSync(samplesFile, `${JSON.stringify(s)}\n`);
      run.log(`sample at step ${step}: ${JSON.stringify(s.prompt + s.text)}`);
    }
  };
  run.log(`${source}: ${splits.train.length.toLocaleString('en-US')} training tokens (${blocks.length} blocks of ${o.blockSize}), ` +
    `${splits.val.length.toLocaleString('en-US')} validation tokens (${splits.valRule}); ` +
    `${model.parameterCount().toLocaleString('en-US')} parameters` +
    `${model.config.outputVocab ? `, an output vocabulary of ${model.config.outputVocab.length} tokens` : ''}`);
  if (!run.resumed) await showSamples(0);
  const losses = async (): Promise<Pick<LoopRow, 'train_loss' | 'val_loss'>> => ({
    train_loss: await streamLoss(model, splits.train, o, o.evalBatches),
    val_loss: await streamLoss(model, splits.val, o, o.evalBatches),
  });
  const r = await run.loop({
    schedule: o, evalEvery: o.evalEvery,
    step: lossStep(model, run.opt, (items) => blockBatch(splits.train, items, o.blockSize)),
    evaluate: losses,
    afterStep: async (step) => {
      if (o.sampleEvery > 0 && step % o.sampleEvery === 0 && step < run.totalSteps) await showSamples(step);
    },
  });
  const { secondsPerStep, tokensPerSecond } = r;
  const result = { steps: r.step, metrics: run.metrics.rows, samples, secondsPerStep, tokensPerSecond };
  if (r.interrupted) return { ...result, interrupted: true };
  if (run.metrics.rows.at(-1)?.step !== r.step - 1) {
    // The last step is evaluated too, so a run reports where it ended (train's rule may skip it).
    const epoch = loader.epoch + loader.cursor / loader.length;
    run.metrics.append({ step: r.step - 1, epoch, tokens_seen: r.tokensSeen, ...(await losses()), elapsed_s: r.seconds });
  }
  await run.saveModel(null);
  await run.plotLosses();
  await showSamples(r.step);
  return { ...result, interrupted: false };
}

/** The text of --data (a file, directory or corpus name). */
export function textOf(data: string): () => PretrainText {
  return () => readTextCorpus(data);
}
