// The DPO run's reward margin, train and validation, against the step (reward-margin-plot.svg/.png);
// its loss plot is every trainer's (run/setup.ts, titled "DPO loss").
import path from 'node:path';
import { lineChart, writeChart } from '../run/charts.ts';
import type { DpoMetricsRow } from './trainer.ts';

export async function writeRewardMarginPlot(dir: string, rows: readonly DpoMetricsRow[]): Promise<void> {
  await writeChart(path.join(dir, 'reward-margin-plot'), lineChart('DPO reward margin (chosen - rejected)', 'step', 'reward margin', {
    train: rows.map((m) => [m.step, m.train_reward_margin]),
    validation: rows.map((m) => [m.step, m.val_reward_margin]),
  }));
}
