// The masking study: what each loss mask does to the loss and to every gradient on the same
// batches, and how training under each compares, measured with one loss that means the same thing
// for all of them (the response-only loss on val) and with scores of generated responses.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crossEntropyPerToken, noGrad, reshape, Tensor, tidy, WgptError } from '../../engine/index.ts';
import { loadGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import { barChart, lineChart, writeChart } from '../run/charts.ts';
import { allowedMaxLengthFor, collate, IGNORE_INDEX, REGIONS, targetRegions, type Region } from '../data/collate.ts';
import { encodeEntry, type EncodedEntry } from '../data/encode.ts';
import { getLossMask } from '../data/loss-masks.ts';
import { requireNonEmpty, splitData } from '../data/entries.ts';
import { gradientsOf, l2 } from '../eval/grads.ts';
import { trainLoader } from '../run/loader.ts';
import { AdamW } from '../run/optim.ts';
import { generateResponses } from '../eval/responses.ts';
import { scoreResponses } from '../eval/score.ts';
import { trainingLoop, type LoopRow } from '../run/loop.ts';
import { lossStep } from '../run/step.ts';
import { loadEntries } from '../data/load.ts';
import { evaluateLoss } from '../eval/loss.ts';

export interface StudyOptions {
  model: string;
  fromScratch: boolean;
  data: string | null;
  strategies: string[];
  steps: number;
  out: string;
  style: string;
  seed: number;
  batchSize: number;
  /** Batches of the train split (in file order) for the gradient comparison. */
  batches: number;
  lr: number;
  weightDecay: number;
  /** Val batches for the comparable (response-only) loss. */
  evalBatches: number;
  /** Held-out (test split) entries to generate responses for and score. */
  heldOut: number;
  maxNewTokens: number;
  syntheticCount: number;
  /** Held-out prompts generated together (DEFAULT_GEN_BATCH). */
  genBatch?: number;
}

interface StrategyGradients {
  loss: number;
  count: number;
  countByRegion: Record<Region, number>;
  layerNorms: Record<string, number>;
  globalNorm: number;
}

/** The layer a parameter belongs to, for per-layer norms. */
export function layerOf(name: string): string {
  return /^h\.\d+/.exec(name)?.[0] ?? (name.startsWith('ln_f') ? 'ln_f' : name.startsWith('lm_head') ? 'lm_head' : 'embeddings');
}

/** Cosine similarity, summed in f64. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  const n = l2(a) * l2(b);
  return n === 0 ? NaN : dot / n;
}

/** Adds one batch's gradients into running f64 sums: averaging in f32 (as this study once did)
 *  drops each batch's low bits, about 1e-7 of the sum per batch, before any norm or cosine. */
export function accumulate(sum: Map<string, Float64Array>, grads: Map<string, Float32Array>): void {
  for (const [name, g] of grads) {
    let acc = sum.get(name);
    if (!acc) sum.set(name, (acc = new Float64Array(g.length)));
    for (let i = 0; i < g.length; i++) acc[i] += g[i];
  }
}

/** Mean per-token loss of each region (prompt, header, response, end) on one batch. */
async function regionLosses(model: GPT, items: EncodedEntry[], allowed: number,
  sums: Record<Region, { loss: number; n: number }>): Promise<void> {
  const batch = collate(items, { mask: 'none', allowedMaxLength: allowed });
  const regions = targetRegions(items, allowed);
  const perToken = noGrad(() => tidy(() => {
    const ids = Tensor.fromData(batch.inputs, [batch.batch, batch.seqLen], 'i32');
    const targets = Tensor.fromData(model.targetColumns(batch.targets), [batch.batch * batch.seqLen], 'i32');
    const logits = model.forward(ids);
    return crossEntropyPerToken(reshape(logits, [batch.batch * batch.seqLen, logits.shape[2]]), targets);
  }));
  const values = await perToken.toArray();
  perToken.dispose();
  regions.forEach((r, i) => {
    if (batch.targets[i] === IGNORE_INDEX) return;
    sums[r].loss += values[i];
    sums[r].n++;
  });
}

export async function maskStudy(opts: StudyOptions, log: (line: string) => void = console.error): Promise<Record<string, unknown>> {
  if (opts.strategies.length === 0) throw new WgptError('give at least one strategy');
  for (const s of opts.strategies) getLossMask(s);
  const entries = await loadEntries(opts.data, opts.seed, opts.syntheticCount);
  const splits = splitData(entries);
  requireNonEmpty(splits.train, 'train');
  requireNonEmpty(splits.val, 'validation');
  const load = (): Promise<GPT> => loadGPT(opts.model, { fromScratch: opts.fromScratch, seed: opts.seed });
  mkdirSync(opts.out, { recursive: true });

  // (a) The same batches under every strategy, from the same weights.
  let model = await load();
  const allowed = allowedMaxLengthFor(model.config.contextLength);
  const encode = (es: typeof entries): EncodedEntry[] => es.map((e) => encodeEntry(e, opts.style));
  const trainItems = encode(splits.train);
  const valItems = encode(splits.val);
  const nBatches = Math.max(1, Math.min(opts.batches, Math.floor(trainItems.length / opts.batchSize)));
  const batchItems = Array.from({ length: nBatches }, (_, b) => trainItems.slice(b * opts.batchSize, (b + 1) * opts.batchSize));
  const regionSums = Object.fromEntries(REGIONS.map((r) => [r, { loss: 0, n: 0 }])) as Record<Region, { loss: number; n: number }>;
  for (const items of batchItems) await regionLosses(model, items, allowed, regionSums);
  const grads = new Map<string, Map<string, Float64Array>>();
  const perStrategy: Record<string, StrategyGradients> = {};
  for (const s of opts.strategies) {
    const sum = new Map<string, Float64Array>();
    const countByRegion = Object.fromEntries(REGIONS.map((r) => [r, 0])) as Record<Region, number>;
    let loss = 0;
    let count = 0;
    for (const items of batchItems) {
      const batch = collate(items, { mask: s, allowedMaxLength: allowed });
      const regions = targetRegions(items, allowed);
      batch.targets.forEach((t, i) => {
        if (t !== IGNORE_INDEX) countByRegion[regions[i]]++;
      });
      count += batch.targets.filter((t) => t !== IGNORE_INDEX).length;
      const g = await gradientsOf(model, batch);
      loss += g.loss / nBatches;
      accumulate(sum, g.grads);
    }
    for (const acc of sum.values()) for (let i = 0; i < acc.length; i++) acc[i] /= nBatches;
    grads.set(s, sum);
    const layerSq: Record<string, number> = {};
    let total = 0;
    for (const [name, g] of sum) {
      const sq = l2(g) ** 2;
      layerSq[layerOf(name)] = (layerSq[layerOf(name)] ?? 0) + sq;
      total += sq;
    }
    perStrategy[s] = {
      loss, count, countByRegion, globalNorm: Math.sqrt(total),
      layerNorms: Object.fromEntries(Object.entries(layerSq).map(([k, v]) => [k, Math.sqrt(v)])),
    };
    log(`${s}: loss ${loss.toFixed(4)}, ${count} counted targets, gradient norm ${Math.sqrt(total).toExponential(3)}`);
  }
  const cosines: Record<string, { whole: number; perParameter: Record<string, number> }> = {};
  for (let i = 0; i < opts.strategies.length; i++) {
    for (let j = i + 1; j < opts.strategies.length; j++) {
      const [a, b] = [opts.strategies[i], opts.strategies[j]];
      const ga = grads.get(a)!;
      const gb = grads.get(b)!;
      const names = [...ga.keys()];
      // The whole gradient's cosine from per-parameter sums (no concatenated copy of the model).
      let dot = 0, na = 0, nb = 0;
      for (const k of names) {
        const [x, y] = [ga.get(k)!, gb.get(k)!];
        for (let e = 0; e < x.length; e++) {
          dot += x[e] * y[e];
          na += x[e] * x[e];
          nb += y[e] * y[e];
        }
      }
      cosines[`${a} vs ${b}`] = {
        whole: na === 0 || nb === 0 ? NaN : dot / Math.sqrt(na * nb),
        perParameter: Object.fromEntries(names.map((k) => [k, cosine(ga.get(k)!, gb.get(k)!)])),
      };
    }
  }
  grads.clear();
  model.dispose();

  // (b) Training under each strategy from the same weights, seed and data order.
  const heldOut = splits.test.slice(0, opts.heldOut);
  const evalEvery = Math.max(1, Math.floor(opts.steps / 5));
  const training: Record<string, { curve: [number, number][]; trainLoss: number[]; exactMatch: number; rougeL: number; n: number }> = {};
  for (const s of opts.strategies) {
    model = await load();
    const opt = new AdamW([...model.params.values()], { lr: opts.lr, weightDecay: opts.weightDecay });
    const loader = trainLoader(trainItems, opts.batchSize, opts.seed);
    const responseLoss = (): Promise<number> => evaluateLoss(model, valItems, opts.batchSize, opts.evalBatches, 'prompt', allowed);
    const curve: [number, number][] = [[0, await responseLoss()]];
    const trainLoss: number[] = [];
    await trainingLoop<EncodedEntry, LoopRow>({
      opt, loader, epochs: Infinity, totalSteps: opts.steps, startStep: 0, tokensSeen: 0, schedule: { lr: opts.lr },
      // Dropout seeds 1, 2, ...: the study's numbers since it was written.
      step: lossStep(model, opt, (items) => collate(items, { mask: s, allowedMaxLength: allowed }), (step) => step + 1),
      onLoss: (_, loss) => trainLoss.push(loss),
      afterStep: async (step) => {
        if (step % evalEvery === 0 || step === opts.steps) curve.push([step, await responseLoss()]);
      },
    });
    const scored = heldOut.length > 0 && opts.maxNewTokens > 0
      ? scoreResponses(await generateResponses(model, heldOut, opts.style, opts.maxNewTokens,
        { batchSize: opts.genBatch, label: `${s}: held-out responses` }))
      : { accuracy: NaN, rougeL: NaN, n: 0 };
    training[s] = { curve, trainLoss, exactMatch: scored.accuracy, rougeL: scored.rougeL, n: scored.n };
    log(`${s}: after ${opts.steps} steps val response-only loss ${curve[curve.length - 1][1].toFixed(4)}, ` +
      `exact match ${(100 * scored.accuracy).toFixed(1)}%`);
    opt.dispose();
    model.dispose();
  }

  const regionLoss = Object.fromEntries(REGIONS.filter((r) => r !== 'pad').map((r) => [r, {
    meanLoss: regionSums[r].n ? regionSums[r].loss / regionSums[r].n : NaN, tokens: regionSums[r].n,
  }]));
  const study = { options: opts, regionLoss, gradients: perStrategy, cosines, training };
  writeFileSync(path.join(opts.out, 'study.json'), JSON.stringify(study, null, 2));
  await writeReport(opts, study);
  return study;
}

async function writeReport(opts: StudyOptions, study: {
  regionLoss: Record<string, { meanLoss: number; tokens: number }>; gradients: Record<string, StrategyGradients>;
  cosines: Record<string, { whole: number }>;
  training: Record<string, { curve: [number, number][]; exactMatch: number; rougeL: number; n: number }>;
}): Promise<void> {
  const S = opts.strategies;
  const layers = Object.keys(study.gradients[S[0]].layerNorms);
  const charts = {
    regions: await writeChart(path.join(opts.out, 'region-loss'), barChart('Per-token loss by region (initial weights)', 'mean loss',
      Object.keys(study.regionLoss), { loss: Object.values(study.regionLoss).map((r) => r.meanLoss) })),
    layers: await writeChart(path.join(opts.out, 'layer-grad-norms'), barChart('Gradient norm per layer', 'L2 norm', layers,
      Object.fromEntries(S.map((s) => [s, layers.map((l) => study.gradients[s].layerNorms[l])])))),
    curves: await writeChart(path.join(opts.out, 'val-response-loss'), lineChart('Val loss on response tokens (comparable)', 'step',
      'loss', Object.fromEntries(S.map((s) => [s, study.training[s].curve])))),
  };
  const md = [
    '# Loss-masking study', '',
    `Model \`${opts.model}\`${opts.fromScratch ? ' (random init)' : ''}, data \`${opts.data ?? 'built-in tasks'}\`, ` +
      `style ${opts.style}, seed ${opts.seed}; gradients averaged over ${opts.batches} batch(es) of ${opts.batchSize}; ` +
      `${opts.steps} training steps per strategy (lr ${opts.lr}).`, '',
    '## What each mask counts', '',
    `| region | mean loss per token | tokens | ${S.map((s) => `counted by ${s}`).join(' | ')} |`,
    `|---|---|---|${S.map(() => '---').join('|')}|`,
    ...Object.entries(study.regionLoss).map(([r, v]) =>
      `| ${r} | ${v.meanLoss.toFixed(4)} | ${v.tokens} | ${S.map((s) => study.gradients[s].countByRegion[r as Region]).join(' | ')} |`),
    '', `![per-region loss](${path.basename(charts.regions)})`, '',
    '## Gradients on the same batches', '',
    '| strategy | loss | counted targets | global gradient norm |', '|---|---|---|---|',
    ...S.map((s) =>
      `| ${s} | ${study.gradients[s].loss.toFixed(4)} | ${study.gradients[s].count} | ${study.gradients[s].globalNorm.toExponential(4)} |`),
    '', '| pair | cosine similarity of the whole gradient |', '|---|---|',
    ...Object.entries(study.cosines).map(([k, v]) => `| ${k} | ${v.whole.toFixed(4)} |`),
    '', `![gradient norm per layer](${path.basename(charts.layers)})`, '',
    'Per-parameter cosines are in `study.json`.', '',
    '## Training under each mask', '',
    'Every strategy is scored with the same val loss, over the response header, the response and the end token only ' +
      '(the chapter warns that masked and unmasked losses are otherwise not comparable).', '',
    '| strategy | final val response loss | held-out exact match | ROUGE-L |', '|---|---|---|---|',
    ...S.map((s) => {
      const t = study.training[s];
      return `| ${s} | ${t.curve[t.curve.length - 1][1].toFixed(4)} | ${(100 * t.exactMatch).toFixed(1)}% of ${t.n} | ` +
        `${t.rougeL.toFixed(3)} |`;
    }),
    '', `![val response loss](${path.basename(charts.curves)})`, '',
  ];
  writeFileSync(path.join(opts.out, 'report.md'), md.join('\n'));
}
