// The DPO run's reward margin, train and validation, against the step (reward-margin-plot.svg/.png);
// its loss plot is every trainer's (run/training-run.ts, titled "DPO loss").
import path from 'node:path';
import { lineChart, writeChart } from '../run/charts.ts';

/** The fields of a metrics.jsonl row (trainer.ts's DpoMetricsRow) the chart reads: named here, so this
 *  file and the trainer do not import each other. */
export interface MarginRow {
  step: number;
  train_reward_margin: number;
  val_reward_margin: number;
}

export async function writeRewardMarginPlot(dir: string, rows: readonly MarginRow[]): Promise<void> {
  await writeChart(path.join(dir, 'reward-margin-plot'), lineChart('DPO reward margin (chosen - rejected)', 'step', 'reward margin', {
    train: rows.map((m) => [m.step, m.train_reward_margin]),
    validation: rows.map((m) => [m.step, m.val_reward_margin]),
  }));
}
