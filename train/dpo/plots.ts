// The DPO run's plots: its loss as train's loss plot (loss-plot.svg/.png, epochs below and tokens
// seen above), and the reward margin, train and validation, against the step
// (reward-margin-plot.svg/.png).
import path from 'node:path';
import { lineChart, writeChart } from '../run/charts.ts';
import { writeLossPlot } from '../run/plot.ts';
import type { DpoMetricsRow } from './trainer.ts';

export async function writeDpoPlots(dir: string, rows: readonly DpoMetricsRow[]): Promise<void> {
  await writeLossPlot(path.join(dir, 'loss-plot.svg'), {
    epochsSeen: rows.map((m) => m.epoch), tokensSeen: rows.map((m) => m.tokens_seen),
    trainLosses: rows.map((m) => m.train_loss), valLosses: rows.map((m) => m.val_loss), title: 'DPO loss',
  });
  await writeChart(path.join(dir, 'reward-margin-plot'), lineChart('DPO reward margin (chosen - rejected)', 'step', 'reward margin', {
    train: rows.map((m) => [m.step, m.train_reward_margin]),
    validation: rows.map((m) => [m.step, m.val_reward_margin]),
  }));
}
