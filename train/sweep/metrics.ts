// The final numbers of one finished run, read back from the files its command writes: what the
// sweep report compares across the grid.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { scoreResponses } from '../eval/score.ts';
import type { Entry } from '../data/entries.ts';

/** The last row of a run's metrics.jsonl. */
function lastRow(runDir: string): Record<string, number> {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!existsSync(file)) throw new WgptError(`${file} not found`);
  const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);
  const last = rows[rows.length - 1];
  if (!last) throw new WgptError(`${file} is empty`);
  return last;
}

/** `wgpt train`: the last evaluation of metrics.jsonl, and held-out exact match when it answered. */
export function trainMetrics(runDir: string): Record<string, number> {
  const last = lastRow(runDir);
  const out: Record<string, number> = { val_loss: last.val_loss, train_loss: last.train_loss, eval_step: last.step };
  const responses = path.join(runDir, 'test-responses.json');
  if (existsSync(responses)) out.exact_match = scoreResponses(JSON.parse(readFileSync(responses, 'utf8')) as Entry[]).accuracy;
  return out;
}

/** `wgpt pretrain`: the last evaluation of metrics.jsonl. */
export function pretrainMetrics(runDir: string): Record<string, number> {
  const last = lastRow(runDir);
  return { val_loss: last.val_loss, train_loss: last.train_loss, eval_step: last.step };
}

/** `wgpt mask-study`: per strategy, the validation response-only loss after training and exact match;
 *  a prompt-loss-weight run (--plw W, plw-run.json): its response-only loss, scores and gradient norms. */
export function maskStudyMetrics(runDir: string): Record<string, number> {
  const plw = path.join(runDir, 'plw-run.json');
  if (existsSync(plw)) {
    const r = JSON.parse(readFileSync(plw, 'utf8')) as Record<string, number>;
    return Object.fromEntries(['val_response_loss', 'exact_match', 'rouge_l', 'grad_norm_prompt',
      'grad_norm_response'].map((k) => [k, r[k]]));
  }
  const file = path.join(runDir, 'study.json');
  if (!existsSync(file)) throw new WgptError(`${file} not found`);
  const study = JSON.parse(readFileSync(file, 'utf8')) as {
    training: Record<string, { curve: [number, number][]; exactMatch: number | null }>
  };
  const out: Record<string, number> = {};
  for (const [s, t] of Object.entries(study.training)) out[`val_response_loss_${s}`] = t.curve[t.curve.length - 1][1];
  for (const [s, t] of Object.entries(study.training)) if (t.exactMatch !== null) out[`exact_match_${s}`] = t.exactMatch;
  return out;
}

/** `wgpt dpo`: the last evaluation of metrics.jsonl, and held-out preference accuracy and exact match. */
export function dpoMetrics(runDir: string): Record<string, number> {
  const last = lastRow(runDir);
  const out: Record<string, number> = {
    val_loss: last.val_loss, train_loss: last.train_loss, val_reward_margin: last.val_reward_margin,
    train_reward_margin: last.train_reward_margin, eval_step: last.step,
  };
  const summary = path.join(runDir, 'dpo-summary.json');
  if (existsSync(summary)) {
    const s = JSON.parse(readFileSync(summary, 'utf8')) as { after?: { preference?: { accuracy: number }; exact?: { accuracy: number } } };
    if (s.after?.preference) out.preference_accuracy = s.after.preference.accuracy;
    if (s.after?.exact) out.exact_match = s.after.exact.accuracy;
  }
  return out;
}
