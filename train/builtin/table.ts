// The built-in run's table, from one summary.json or several (one per seed): every number the
// report shows, named once (builtinColumns), and printed as a share (one seed) or as mean ± sd and
// [min–max] over seeds. Pure, so the notes' tables regenerate from the runs' summary.json files.
import { meanSd } from '../sweep/report.ts';
import type { BuiltinSummary } from './run.ts';

/** Every number of a summary the table shows, by a name (row/column). */
export function builtinColumns(s: BuiltinSummary): Record<string, number> {
  const out: Record<string, number> = {};
  const tasks = Object.keys(s.heldout_exact_match.per_task);
  for (const task of [...tasks, 'overall']) {
    const pick = <T extends { accuracy: number }>(all: T, per: Record<string, T> | undefined): number =>
      (task === 'overall' ? all.accuracy : per?.[task]?.accuracy ?? NaN);
    out[`${task}/base cloze`] = pick(s.base_cloze_accuracy, s.base_cloze_accuracy.per_task);
    out[`${task}/base`] = s.base_exact_match ? pick(s.base_exact_match, s.base_exact_match.per_task) : NaN;
    out[`${task}/finetuned`] = pick(s.heldout_exact_match, s.heldout_exact_match.per_task);
    out[`${task}/control`] = pick(s.control_exact_match, s.control_exact_match.per_task);
  }
  const u = s.heldout_unseen_instruction;
  for (const form of Object.keys(u.finetuned.per_form)) {
    for (const who of ['base', 'finetuned', 'control'] as const) out[`unseen ${form}/${who}`] = u[who].per_form[form]?.accuracy ?? NaN;
  }
  out['copied answer share/finetuned'] = s.copied_answer_share.finetuned.share;
  out['copied answer share/control'] = s.copied_answer_share.control.share;
  out['copied answer share/chance'] = s.copied_answer_share.chance;
  // Where the base knew every fact (or none), the other share has no questions: '-', not 0%.
  const { known, unknown } = s.heldout_by_base_knowledge;
  out['finetuned on base-known facts/finetuned'] = known.n ? known.accuracy : NaN;
  out['finetuned on base-unknown facts/finetuned'] = unknown.n ? unknown.accuracy : NaN;
  return out;
}

export interface Spread {
  mean: number;
  sd: number;
  min: number;
  max: number;
  values: number[];
}

/** Each column over the summaries (seeds): mean, sample sd, range and the values (those a seed
 *  has: a column without questions in a seed is left out there). */
export function spreadOver(summaries: readonly BuiltinSummary[]): Record<string, Spread> {
  const cols = summaries.map(builtinColumns);
  return Object.fromEntries(Object.keys(cols[0] ?? {}).map((k) => {
    const values = cols.map((c) => c[k]).filter(Number.isFinite);
    const [mean, sd] = meanSd(values);
    return [k, { mean, sd, min: Math.min(...values), max: Math.max(...values), values }];
  }));
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : '-');
const cell = (s: Spread | undefined): string => (s === undefined ? '' : s.values.length === 0 ? '-' : s.values.length === 1 ? pct(s.mean)
  : `${pct(s.mean)} ± ${(100 * s.sd).toFixed(1)} [${pct(s.min)}–${pct(s.max)}]`);

const COLUMNS = ['base cloze', 'base', 'finetuned', 'control', 'chance'];

/** The table as markdown: a row per task, per unseen form and per check, a column per model. */
export function builtinMarkdown(summaries: readonly BuiltinSummary[]): string {
  const spread = spreadOver(summaries);
  const rows = [...new Set(Object.keys(spread).map((k) => k.split('/')[0]))];
  const used = COLUMNS.filter((c) => rows.some((r) => spread[`${r}/${c}`]));
  return [
    `| held out | ${used.join(' | ')} |`, `|${['', ...used].map(() => ' --- ').join('|')}|`,
    ...rows.map((r) => `| ${r} | ${used.map((c) => cell(spread[`${r}/${c}`])).join(' | ')} |`),
  ].join('\n');
}
