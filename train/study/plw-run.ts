// One run of the prompt-loss-weight study (`wgpt mask-study --plw W --seeds 1`, what each task of
// the study's sweep runs): finetune with the prompt's targets weighted W, then measure what the
// papers compare, the same way for every W:
//   - the response-only loss on the validation split (the prompt mask's targets, whatever W trained);
//   - exact match and ROUGE-L of greedy answers to the held-out (test) split;
//   - the gradient norms of the prompt's and of the response's mean loss on fixed train batches,
//     before and after training (how hard each region pulls, and whether they pull together);
//   - the data's instruction/response length ratio, the quantity the papers say decides the outcome.
// The result is plw-run.json in the run directory (the sweep reads it back, plw-study.ts
// gathers the table). No checkpoint: a stopped run starts again.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/index.ts';
import { loadGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import { allowedMaxLengthFor, collate, IGNORE_INDEX } from '../data/collate.ts';
import { encodeEntry, encodeSplit, outputVocabOf, type EncodedEntry } from '../data/encode.ts';
import { requireNonEmpty, splitData, type Entry } from '../data/entries.ts';
import { withResponseLength } from '../data/fact-responses.ts';
import { gradientsOf, l2 } from '../eval/grads.ts';
import { trainLoader } from '../run/loader.ts';
import { accumulate } from './mask-study.ts';
import { AdamW } from '../run/optim.ts';
import { ensureBuiltinBase } from '../builtin/base.ts';
import { Progress } from '../run/progress.ts';
import { checkStyle } from '../data/prompts.ts';
import { generateResponses } from '../eval/responses.ts';
import { trainingLoop, type LoopRow } from '../run/loop.ts';
import { exactMatch, scoreResponses } from '../eval/score.ts';
import { lossStep, type Batch } from '../run/step.ts';
import type { SyntheticEntry } from '../data/synthetic.ts';
import { loadEntries } from '../data/load.ts';
import { evaluateLoss } from '../eval/loss.ts';

export const PLW_RUN_FILE = 'plw-run.json';

export interface PlwRunOptions {
  /** A model directory or file, a size name, or 'builtin' (the built-in base, made when absent). */
  model: string;
  fromScratch: boolean;
  /** 'facts', 'ch07', a JSON file, or null (the built-in synthetic tasks). */
  data: string | null;
  /** The facts world's answers: short, plain or long (fact-responses.ts); null for other data. */
  responseLength: string | null;
  promptLossWeight: number;
  seed: number;
  steps: number;
  batchSize: number;
  lr: number;
  /** Linear warm-up over this many steps, then a cosine to lr/10 at the last step (the built-in run's). */
  warmupSteps: number;
  weightDecay: number;
  style: string;
  /** Validation batches for the response-only loss (null: the whole split). */
  evalBatches: number | null;
  /** Train batches (file order) whose region gradients are measured. */
  gradBatches: number;
  /** Test entries answered and scored (null: the whole split). */
  heldOut: number | null;
  /** Tokens per held-out answer (null: the longest test answer's tokens + 4 for the fact world, else 64). */
  maxNewTokens: number | null;
  syntheticCount: number;
  genBatch?: number;
  out: string;
}

export interface RegionGradients {
  /** L2 norm of the gradient of the prompt targets' mean loss (averaged over the batches). */
  prompt: number;
  /** The same for the response's targets (header, answer, end token: what the prompt mask keeps). */
  response: number;
  /** Cosine similarity of the two gradients. */
  cosine: number;
}

export interface DataLengths {
  /** Mean targets per train entry in the prompt (what W weighs) and in the response. */
  instruction_tokens: number;
  response_tokens: number;
  /** Their ratio over the train split (Huerta-Enochian & Ko's R_g is roughly its inverse). */
  instruction_response_ratio: number;
}

export interface PlwRunResult {
  prompt_loss_weight: number;
  seed: number;
  val_response_loss: number;
  val_response_loss_before: number;
  exact_match: number;
  /** Per held-out question, in the test split's order: 1 when answered exactly (the paired comparison's unit). */
  correct?: number[];
  rouge_l: number;
  held_out: number;
  grad_norm_prompt: number;
  grad_norm_response: number;
  gradients: { before: RegionGradients; after: RegionGradients };
  lengths: DataLengths;
  train_loss: number[];
  seconds: { total: number; training: number; answers: number };
  options: PlwRunOptions;
}

/** The study's data: the fact world with its answers made short, plain or long, or any other. */
async function studyEntries(o: Pick<PlwRunOptions, 'data' | 'responseLength' | 'seed' | 'syntheticCount'>): Promise<Entry[]> {
  const entries = await loadEntries(o.data, o.seed, o.syntheticCount);
  if (o.responseLength === null) return entries;
  if (o.data !== 'facts') throw new WgptError(
    `--response-length applies to the fact world (--data facts), not to --data ${o.data ?? '(built-in tasks)'}`);
  return withResponseLength(entries as SyntheticEntry[], o.responseLength);
}

/** Prompt and response target counts of encoded entries, as collate() counts them. */
export function dataLengths(items: readonly EncodedEntry[]): DataLengths {
  let prompt = 0;
  let response = 0;
  for (const it of items) {
    prompt += Math.max(0, it.promptLength - 1); // targets 0..P-2 predict prompt tokens 1..P-1
    response += it.ids.length - it.promptLength + 1; // header, answer and the end token
  }
  return { instruction_tokens: prompt / items.length, response_tokens: response / items.length,
    instruction_response_ratio: prompt / response };
}

/** One region's targets only: the prompt's (what W weighs) or the rest (what the prompt mask keeps). */
export function regionBatch(items: readonly EncodedEntry[], region: 'prompt' | 'response', allowedMaxLength: number): Batch {
  const response = collate(items, { mask: 'prompt', allowedMaxLength });
  if (region === 'response') return response;
  const all = collate(items, { mask: 'none', allowedMaxLength });
  const targets = all.targets.map((v, i) => (response.targets[i] === IGNORE_INDEX ? v : IGNORE_INDEX));
  return { ...all, targets, lossDenominator: targets.filter((v) => v !== IGNORE_INDEX).length };
}

/** Gradient norms of each region's mean loss, summed over the batches in f64. */
async function regionGradients(model: GPT, batches: readonly EncodedEntry[][], allowed: number): Promise<RegionGradients> {
  const sums = { prompt: new Map<string, Float64Array>(), response: new Map<string, Float64Array>() };
  for (const items of batches) {
    for (const region of ['prompt', 'response'] as const) accumulate(sums[region],
      (await gradientsOf(model, regionBatch(items, region, allowed))).grads);
  }
  const norm = (m: Map<string, Float64Array>): number => Math.sqrt([...m.values()].reduce((s, g) => s + l2(g) ** 2, 0)) / batches.length;
  let dot = 0;
  for (const [name, g] of sums.prompt) {
    const h = sums.response.get(name)!;
    for (let i = 0; i < g.length; i++) dot += g[i] * h[i];
  }
  const [p, r] = [norm(sums.prompt), norm(sums.response)];
  return { prompt: p, response: r, cosine: p === 0 || r === 0 ? NaN : dot / (p * r * batches.length ** 2) };
}

/** The model for the study: a from-scratch one predicts over its data's tokens; a loaded one with
 *  an output vocabulary (the built-in base) gets the data's tokens added to it (short answers
 *  start without a space, a token its biographies never had). */
async function loadStudyModel(o: PlwRunOptions, entries: readonly Entry[], log: (line: string) => void): Promise<GPT> {
  const spec = o.model === 'builtin' ? await ensureBuiltinBase(log) : o.model;
  const dataVocab = outputVocabOf(entries, o.style);
  if (o.fromScratch) return loadGPT(spec, { fromScratch: true, seed: o.seed, outputVocab: dataVocab });
  const model = await loadGPT(spec, { seed: o.seed });
  const own = model.config.outputVocab;
  if (!own || dataVocab.every((id) => own.includes(id))) return model;
  model.dispose();
  return loadGPT(spec, { outputVocab: [...new Set([...own, ...dataVocab])].sort((a, b) => a - b) });
}

export async function plwRun(o: PlwRunOptions, log: (line: string) => void = console.error): Promise<PlwRunResult> {
  const started = performance.now();
  checkStyle(o.style);
  const splits = splitData(await studyEntries(o));
  requireNonEmpty(splits.train, 'train');
  requireNonEmpty(splits.val, 'validation');
  const model = await loadStudyModel(o, [...splits.train, ...splits.test, ...splits.val], log);
  try {
    const allowed = allowedMaxLengthFor(model.config.contextLength);
    const encode = (es: readonly Entry[], split: string): EncodedEntry[] => encodeSplit(es, (e) => encodeEntry(e, o.style), allowed, split);
    const trainItems = encode(splits.train, 'train');
    const valItems = encode(splits.val, 'validation');
    const lengths = dataLengths(trainItems);
    const nGrad = Math.max(1, Math.min(o.gradBatches, Math.floor(trainItems.length / o.batchSize)));
    const gradBatches = Array.from({ length: nGrad }, (_, b) => trainItems.slice(b * o.batchSize, (b + 1) * o.batchSize));
    const responseLoss = (): Promise<number> => evaluateLoss(model, valItems, o.batchSize, o.evalBatches ?? Infinity, 'prompt', allowed);

    const before = await regionGradients(model, gradBatches, allowed);
    const lossBefore = await responseLoss();
    log(`W = ${o.promptLossWeight}, seed ${o.seed}: ${splits.train.length} train entries, ` +
      `${lengths.instruction_tokens.toFixed(1)} prompt and ${lengths.response_tokens.toFixed(1)} response targets each ` +
      `(ratio ${lengths.instruction_response_ratio.toFixed(2)}); val response loss before ${lossBefore.toFixed(4)}`);

    const trainStarted = performance.now();
    const opt = new AdamW([...model.trainable().values()], { lr: o.lr, weightDecay: o.weightDecay });
    const trainLoss: number[] = [];
    try {
      await trainingLoop<EncodedEntry, LoopRow>({
        opt, loader: trainLoader(trainItems, o.batchSize, o.seed), epochs: Infinity, totalSteps: o.steps, startStep: 0, tokensSeen: 0,
        schedule: { lr: o.lr, lrSchedule: 'cosine', warmupSteps: o.warmupSteps }, progress: new Progress(0),
        step: lossStep(model, opt,
          (items) => collate(items, { mask: 'none', allowedMaxLength: allowed, promptLossWeight: o.promptLossWeight })),
        onLoss: (_, loss) => trainLoss.push(loss),
      });
    } finally {
      opt.dispose();
    }
    const training = (performance.now() - trainStarted) / 1000;

    const after = await regionGradients(model, gradBatches, allowed);
    const lossAfter = await responseLoss();
    const answersStarted = performance.now();
    const heldOut = o.heldOut === null ? splits.test : splits.test.slice(0, o.heldOut);
    const maxNewTokens = o.maxNewTokens
      ?? (o.data === 'facts' ? Math.max(0, ...encode(heldOut, 'test').map((it) => it.ids.length - it.promptLength)) + 4 : 64);
    const responses = heldOut.length > 0 && maxNewTokens > 0
      ? await generateResponses(model, heldOut, o.style, maxNewTokens, { batchSize: o.genBatch, label: 'held-out answers' })
      : [];
    const scored = scoreResponses(responses);
    const answers = (performance.now() - answersStarted) / 1000;
    const result: PlwRunResult = {
      prompt_loss_weight: o.promptLossWeight, seed: o.seed,
      val_response_loss: lossAfter, val_response_loss_before: lossBefore,
      exact_match: responses.length > 0 ? scored.accuracy : NaN, rouge_l: responses.length > 0 ? scored.rougeL : NaN, held_out: scored.n,
      correct: responses.map((r) => Number(exactMatch(r.model_response ?? '', r.output))),
      grad_norm_prompt: after.prompt, grad_norm_response: after.response, gradients: { before, after },
      lengths, train_loss: trainLoss,
      seconds: { total: (performance.now() - started) / 1000, training, answers }, options: o,
    };
    mkdirSync(o.out, { recursive: true });
    writeFileSync(path.join(o.out, 'test-responses.json'), JSON.stringify(responses, null, 2));
    writeFileSync(path.join(o.out, PLW_RUN_FILE), JSON.stringify(result, null, 2));
    log(`W = ${o.promptLossWeight}, seed ${o.seed}: val response loss ${lossAfter.toFixed(4)}, held-out exact match ` +
      `${(100 * result.exact_match).toFixed(1)}% of ${scored.n}, ROUGE-L ${result.rouge_l.toFixed(3)}; gradient norms after: prompt ` +
      `${after.prompt.toExponential(3)}, response ${after.response.toExponential(3)} (cosine ${after.cosine.toFixed(3)}); ` +
      `${result.seconds.total.toFixed(0)} s`);
    return result;
  } finally {
    model.dispose();
  }
}
