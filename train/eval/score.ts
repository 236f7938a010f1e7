// Programmatic scoring of generated responses against reference outputs: exact match, ROUGE-L F1
// and per-task accuracy (for synthetic data with a `task`). No model needed, unlike judge.ts.
import { END_OF_TEXT_STRING } from '../../model/tokenizer.ts';
import type { Entry } from '../data/entries.ts';
import { checkStyle } from '../data/prompts.ts';

/** Exact-match normalisation: trim surrounding whitespace and case-fold (toLowerCase). Nothing
 *  else: punctuation and inner spacing still count, so "2 5 7" ≠ "2 5 7." and "257". */
export function normalizeAnswer(text: string): string {
  return text.trim().toLowerCase();
}

export function exactMatch(response: string, reference: string): boolean {
  return normalizeAnswer(response) === normalizeAnswer(reference);
}

/** ROUGE tokens: lowercased, split on anything that is not a letter or digit (whitespace and
 *  punctuation), empty pieces dropped. */
export function rougeTokens(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((s) => s.length > 0);
}

function lcsLength(a: readonly string[], b: readonly string[]): number {
  // One-row dynamic programme: O(|a|·|b|) time, O(|b|) memory.
  const row = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    let diag = 0;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = a[i - 1] === b[j - 1] ? diag + 1 : Math.max(row[j], row[j - 1]);
      diag = up;
    }
  }
  return row[b.length];
}

export interface RougeL {
  precision: number;
  recall: number;
  f1: number;
}

/** ROUGE-L: LCS of the token lists; precision = LCS/|response|, recall = LCS/|reference|.
 *  Two empty texts score 1; one empty text scores 0. */
export function rougeL(response: string, reference: string): RougeL {
  const r = rougeTokens(response);
  const g = rougeTokens(reference);
  if (r.length === 0 && g.length === 0) return { precision: 1, recall: 1, f1: 1 };
  if (r.length === 0 || g.length === 0) return { precision: 0, recall: 0, f1: 0 };
  const l = lcsLength(r, g);
  const precision = l / r.length;
  const recall = l / g.length;
  const f1 = l === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/** The chapter's response extraction: drop the prompt (by length, when the text starts with it),
 *  remove the response header label, strip. Also cuts at an end-of-text marker, in case the
 *  decoder kept it. Works with the continuation alone too. */
export function extractResponse(generatedText: string, promptText: string, style: string): string {
  const label = checkStyle(style) === 'alpaca' ? '### Response:' : '<|assistant|>:';
  let text = generatedText.startsWith(promptText) ? generatedText.slice(promptText.length) : generatedText;
  const end = text.indexOf(END_OF_TEXT_STRING);
  if (end >= 0) text = text.slice(0, end);
  return text.replaceAll(label, '').trim();
}

export interface ScoreGroup {
  n: number;
  correct: number;
  /** correct / n (exact match). */
  accuracy: number;
  /** Mean ROUGE-L F1. */
  rougeL: number;
}

export interface ScoreReport extends ScoreGroup {
  /** Per `task` (entries without a task are only in the totals). */
  perTask: Record<string, ScoreGroup>;
  /** Entries that had no model_response (left out of every number). */
  missing: number;
}

/** Scores entries that carry `model_response` against their `output`. */
export function scoreResponses(entries: readonly Entry[]): ScoreReport {
  const total = { n: 0, correct: 0, rouge: 0 };
  const groups = new Map<string, { n: number; correct: number; rouge: number }>();
  let missing = 0;
  for (const e of entries) {
    if (typeof e.model_response !== 'string') {
      missing++;
      continue;
    }
    const ok = exactMatch(e.model_response, e.output) ? 1 : 0;
    const f1 = rougeL(e.model_response, e.output).f1;
    const targets = [total];
    if (e.task !== undefined) {
      if (!groups.has(e.task)) groups.set(e.task, { n: 0, correct: 0, rouge: 0 });
      targets.push(groups.get(e.task)!);
    }
    for (const g of targets) {
      g.n++;
      g.correct += ok;
      g.rouge += f1;
    }
  }
  const finish = (g: { n: number; correct: number; rouge: number }): ScoreGroup => ({
    n: g.n,
    correct: g.correct,
    accuracy: g.n === 0 ? 0 : g.correct / g.n,
    rougeL: g.n === 0 ? 0 : g.rouge / g.n,
  });
  const perTask: Record<string, ScoreGroup> = {};
  for (const name of [...groups.keys()].sort()) perTask[name] = finish(groups.get(name)!);
  return { ...finish(total), perTask, missing };
}
