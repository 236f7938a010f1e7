// The prompt-loss-weight study's table: per weight, each metric's mean ± standard deviation and
// min–max over seeds, and per metric one plain sentence comparing the best and the worst weight by
// a paired test over seeds and questions (compare.ts: it claims a difference only where the test
// shows one), plus the chapter's own question, W = 0 (the prompt mask) against W = 1 (no mask). Pure functions of the
// runs' results, so a tiny grid checks them; writePlwReport adds the plot and the files.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { spreadPanels, writeChart } from '../run/charts.ts';
import { meanSd } from '../sweep/report.ts';
import { comparisonText, pairedComparison, type PairedSeed } from './compare.ts';
import type { DataLengths, PlwRunResult } from './plw-run.ts';

/** What the table shows of a run, and which way is better (null: neither, a diagnostic). */
const PLW_METRICS = [
  { key: 'val_response_loss', label: 'val response loss', better: 'lower' },
  { key: 'exact_match', label: 'held-out exact match', better: 'higher' },
  { key: 'rouge_l', label: 'held-out ROUGE-L', better: 'higher' },
  { key: 'grad_norm_prompt', label: 'gradient norm, prompt', better: null },
  { key: 'grad_norm_response', label: 'gradient norm, response', better: null },
] as const;
export type PlwMetric = (typeof PLW_METRICS)[number]['key'];

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (0 for one value). */
  sd: number;
  min: number;
  max: number;
  values: number[];
}

export interface WeightRow {
  weight: number;
  runs: number;
  seeds: number[];
  metrics: Record<PlwMetric, Summary>;
}

export interface PlwTable {
  rows: WeightRow[];
  /** One sentence per metric (and the mask-vs-no-mask comparison where both weights ran). */
  findings: Record<PlwMetric, string>;
  lengths: DataLengths | null;
}

export function summarize(values: number[]): Summary {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  const [mean, sd] = n ? meanSd(v) : [NaN, NaN];
  return { n, mean, sd, min: n ? Math.min(...v) : NaN, max: n ? Math.max(...v) : NaN, values: v };
}

const pct = (key: PlwMetric): boolean => key === 'exact_match';
/** A metric's value as the table prints it (exact match in %). */
function fmtValue(key: PlwMetric, v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (pct(key)) return `${(100 * v).toFixed(1)}%`;
  if (key.startsWith('grad_norm')) return v.toPrecision(3);
  return v.toFixed(key === 'rouge_l' ? 3 : 4);
}
const cell = (key: PlwMetric, s: Summary): string =>
  (s.n === 0 ? '-' : `${fmtValue(key, s.mean)} ± ${fmtValue(key, s.sd)} [${fmtValue(key, s.min)}–${fmtValue(key, s.max)}]`);

/** Two weights compared on the seeds both ran (compare.ts): per question where both runs recorded
 *  their answers' correctness (exact match), else one number per run. */
function compare(key: PlwMetric, a: WeightRow, b: WeightRow, results: readonly PlwRunResult[]): { shown: boolean; text: string } {
  const run = (w: number, seed: number): PlwRunResult | undefined => results.find((r) => r.prompt_loss_weight === w && r.seed === seed);
  const pairs: PairedSeed[] = [];
  for (const seed of a.seeds) {
    const [x, y] = [run(a.weight, seed), run(b.weight, seed)];
    if (!x || !y || !Number.isFinite(x[key]) || !Number.isFinite(y[key])) continue;
    const perQuestion = key === 'exact_match' && x.correct && y.correct && x.correct.length === y.correct.length && x.correct.length > 0;
    pairs.push(perQuestion ? { seed, a: x.correct!, b: y.correct! } : { seed, a: [x[key]], b: [y[key]] });
  }
  const head = `W = ${a.weight} (${fmtValue(key, a.metrics[key].mean)}) against W = ${b.weight} (${fmtValue(key, b.metrics[key].mean)})`;
  if (pairs.length === 0) return { shown: false, text: `${head}: no seed ran both, nothing to compare` };
  const c = pairedComparison(pairs);
  return { shown: c.shown, text: `${head}: ${comparisonText(c, (v) => fmtDiff(key, v))}` };
}

/** A difference as the table prints its metric (exact match in percentage points). */
const fmtDiff = (key: PlwMetric, v: number): string => (pct(key) ? `${(100 * v).toFixed(1)} pt` : fmtValue(key, v));

function finding(key: PlwMetric, label: string, better: 'lower' | 'higher' | null, rows: WeightRow[],
  results: readonly PlwRunResult[]): string {
  const live = rows.filter((r) => r.metrics[key].n > 0);
  if (live.length < 2) return `${label}: fewer than two weights have values; nothing to compare.`;
  if (live.every((r) => r.metrics[key].n < 2)) return `${label}: one seed per weight, ` +
    `so there is no seed spread to compare the differences with.`;
  const sorted = [...live].sort((a, b) => a.metrics[key].mean - b.metrics[key].mean);
  const [lo, hi] = [sorted[0], sorted[sorted.length - 1]];
  if (lo.metrics[key].mean === hi.metrics[key].mean) return `${label}: every weight has the same mean, ` +
    `${fmtValue(key, lo.metrics[key].mean)}; nothing to compare.`;
  const [first, last] = better === 'higher' ? [hi, lo] : [lo, hi];
  const head = better === null ? `${label} (a diagnostic): lowest` : `${label} (${better} is better): best`;
  const c = compare(key, first, last, results);
  let text = `${head} W = ${first.weight}, ${better === null ? 'highest' : 'worst'} W = ${last.weight}; ${c.text}.`;
  const w0 = live.find((r) => r.weight === 0);
  const w1 = live.find((r) => r.weight === 1);
  if (w0 && w1 && !([first, last].includes(w0) && [first, last].includes(w1))) {
    text += ` The prompt mask against no mask: ${compare(key, w0, w1, results).text}.`;
  }
  return text;
}

/** The table of a study's finished runs, grouped by weight in ascending order. */
export function plwTable(results: readonly PlwRunResult[]): PlwTable {
  const weights = [...new Set(results.map((r) => r.prompt_loss_weight))].sort((a, b) => a - b);
  const rows = weights.map((weight): WeightRow => {
    const runs = results.filter((r) => r.prompt_loss_weight === weight);
    return {
      weight, runs: runs.length, seeds: runs.map((r) => r.seed),
      metrics: Object.fromEntries(PLW_METRICS.map((m) => [m.key, summarize(runs.map((r) => r[m.key]))])) as Record<PlwMetric, Summary>,
    };
  });
  const findings = Object.fromEntries(PLW_METRICS.map((m) =>
    [m.key, finding(m.key, m.label, m.better, rows, results)])) as Record<PlwMetric, string>;
  // The lengths depend on the data only (each seed draws its own entries: their mean).
  const mean = (k: keyof DataLengths): number => summarize(results.map((r) => r.lengths[k])).mean;
  const lengths = results.length === 0 ? null : {
    instruction_tokens: mean('instruction_tokens'), response_tokens: mean('response_tokens'),
    instruction_response_ratio: mean('instruction_response_ratio'),
  };
  return { rows, findings, lengths };
}

/** The markdown table: one row per weight, mean ± sd [min–max] over seeds per metric. */
export function plwMarkdownTable(table: PlwTable): string {
  const head = ['W', 'runs', ...PLW_METRICS.map((m) => m.label)];
  return [
    `| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`,
    ...table.rows.map((r) =>
      `| ${[String(r.weight), String(r.runs), ...PLW_METRICS.map((m) => cell(m.key, r.metrics[m.key]))].join(' | ')} |`),
  ].join('\n');
}

export interface StudyDescription {
  /** One line on the model, data and training recipe. */
  setup: string;
  /** The command that reproduces it. */
  command: string;
  /** Runs finished in all, planned, and run by this call (the others were done before). */
  runs: { done: number; planned: number; ranNow?: number };
  /** This call's wall time. */
  wallSeconds?: number;
}

/** Writes DIR/plw-study.md, DIR/plw-study.json and DIR/plw-study.{svg,png}; returns the markdown. */
export async function writePlwReport(dir: string, results: readonly PlwRunResult[], d: StudyDescription): Promise<string> {
  const table = plwTable(results);
  const xs = table.rows.map((r) => String(r.weight));
  const spread = (key: PlwMetric): { values: number[] }[] =>
    table.rows.map((r) => ({ values: r.metrics[key].values.map((v) => (pct(key) ? 100 * v : v)) }));
  const chart = await writeChart(path.join(dir, 'plw-study'),
    spreadPanels('Prompt-loss weight: mean (square), seeds (dots), min–max (bar)', 'prompt-loss weight W', xs, [
      { title: 'val response loss', series: { loss: spread('val_response_loss') } },
      { title: 'held-out exact match (%)', series: { 'exact match': spread('exact_match') } },
      { title: 'held-out ROUGE-L', series: { 'ROUGE-L': spread('rouge_l') } },
      { title: 'gradient norm after training', series: { prompt: spread('grad_norm_prompt'), response: spread('grad_norm_response') } },
    ]));
  const L = table.lengths;
  const md = [
    '# Prompt-loss weight study', '',
    d.setup, '',
    `\`${d.command}\``, '',
    `${d.runs.done} of ${d.runs.planned} runs done${d.wallSeconds === undefined ? ''
      : `; this call ran ${d.runs.ranNow ?? d.runs.done} of them in ${(d.wallSeconds / 60).toFixed(1)} min wall`}.`, '',
    L ? `Instruction/response length: ${L.instruction_tokens.toFixed(1)} prompt targets and ` +
      `${L.response_tokens.toFixed(1)} response targets (header, answer, end token) per train entry, ` +
      `ratio ${L.instruction_response_ratio.toFixed(2)} (R_g = ${(1 / L.instruction_response_ratio).toFixed(2)}).`
      : 'No run is done yet.', '',
    plwMarkdownTable(table), '',
    'Each cell: mean ± standard deviation [min–max] over seeds. Val response loss: the response-only loss (header, answer, end token) ' +
      'on the validation split after training, the same targets for every W. ' +
      'Exact match and ROUGE-L: greedy answers to the held-out split. ' +
      'Gradient norms: of the prompt\'s and of the response\'s mean loss on fixed train batches, after training.', '',
    ...PLW_METRICS.map((m) => `- ${table.findings[m.key]}`), '',
    `![prompt-loss weight study](${path.basename(chart)})`, '',
  ].join('\n');
  writeFileSync(path.join(dir, 'plw-study.md'), md);
  writeFileSync(path.join(dir, 'plw-study.json'),
    `${JSON.stringify({ ...d, lengths: table.lengths, rows: table.rows, findings: table.findings }, null, 2)}\n`);
  return md;
}
