// The one optimizer loop of every trainer (`wgpt train` on instruction data, `wgpt pretrain` on
// packed text, `wgpt dpo` on preference pairs): batches from a shuffled loader, the learning-rate
// schedule, one optimizer step each, the progress line, an evaluation row every N steps (the
// chapter's 0-based rule), a checkpoint at each epoch's end, and Ctrl-C/SIGTERM asking it to stop
// after the current step. What differs (what one step does with a batch, what an evaluation
// measures, what happens between steps) comes in as functions. setup.ts wraps it with the rest of
// a run (load or resume, metrics.jsonl, the final checkpoint).
import { WgptError } from '../../engine/index.ts';
import type { DataLoader } from './loader.ts';
import type { MetricsLog } from './metrics-log.ts';
import type { AdamW } from './optim.ts';
import type { Progress } from './progress.ts';
import { learningRate } from './schedule.ts';
import { StopSignals } from './stop-signals.ts';

export interface LoopRow {
  step: number;
  epoch: number;
  tokens_seen: number;
  train_loss: number;
  val_loss: number;
  elapsed_s: number;
}

/** What one optimizer step reports: its loss and the tokens it read (tokens seen, tokens/s). */
export interface StepResult {
  loss: number;
  tokens: number;
}

/** The measured part of an evaluation row: the losses and whatever else a trainer logs (dpo's
 *  rewards); the loop fills in step, epoch, tokens seen and elapsed time around it. */
export type Measured<Row extends LoopRow> = Omit<Row, keyof Omit<LoopRow, 'train_loss' | 'val_loss'>>;

/** What a trainer brings to the loop. */
export interface LoopHooks<T, Row extends LoopRow> {
  /** One optimizer step on a batch of loader items at 0-based global step `step` (its dropout seed). */
  step: (items: T[], step: number) => Promise<StepResult>;
  /** The losses (and more) of one evaluation. */
  evaluate: () => Promise<Measured<Row>>;
  /** Words after "train loss X, val loss Y" in the evaluation's log line (dpo's reward margins). */
  describe?: (row: Row) => string;
  /** Before the next epoch starts (train's per-epoch sample). */
  onEpochEnd?: () => Promise<void>;
  /** After each step, with the global step count (pretrain's samples). */
  afterStep?: (step: number) => Promise<void>;
}

export interface LoopOptions<T, Row extends LoopRow> extends LoopHooks<T, Row> {
  opt: AdamW;
  loader: DataLoader<T>;
  epochs: number;
  totalSteps: number;
  /** Global step and tokens seen so far (a resumed run's). */
  startStep: number;
  tokensSeen: number;
  /** The learning rate: constant without lrSchedule and warmupSteps (dpo). */
  schedule: { lr: number; lrSchedule?: string; warmupSteps?: number };
  evalEvery: number;
  progress: Progress;
  metrics: MetricsLog<Row>;
  checkpoint: (step: number, tokensSeen: number) => Promise<void>;
}

export interface LoopResult {
  step: number;
  tokensSeen: number;
  /** Wall time of the loop and the tokens of the steps it made (not a resumed run's earlier ones). */
  seconds: number;
  stepTokens: number;
  interrupted: boolean;
}

export async function trainingLoop<T, Row extends LoopRow>(o: LoopOptions<T, Row>): Promise<LoopResult> {
  const { opt, loader, progress } = o;
  let { startStep: step, tokensSeen } = o;
  const stop = new StopSignals();
  const started = performance.now();
  let stepTokens = 0;
  try {
    while (step < o.totalSteps && !stop.requested) {
      const items = loader.nextBatch();
      if (!items) {
        await o.onEpochEnd?.();
        loader.nextEpoch();
        if (loader.epoch >= o.epochs) break;
        await o.checkpoint(step, tokensSeen);
        continue;
      }
      opt.options.lr = learningRate(step, {
        lr: o.schedule.lr, schedule: o.schedule.lrSchedule ?? 'constant', warmupSteps: o.schedule.warmupSteps ?? 0,
        totalSteps: o.totalSteps,
      });
      const { loss, tokens } = await o.step(items, step);
      if (!Number.isFinite(loss)) throw new WgptError(`the loss became ${loss} at step ${step}; lower --lr`);
      tokensSeen += tokens;
      stepTokens += tokens;
      step++;
      const elapsed = (performance.now() - started) / 1000;
      progress.update({ step, totalSteps: o.totalSteps, loss, epoch: loader.epoch, tokensPerSecond: stepTokens / elapsed });
      // The chapter evaluates when its 0-based global step is a multiple of eval_freq.
      if ((step - 1) % o.evalEvery === 0) {
        const measured = await o.evaluate();
        const row = {
          step: step - 1, epoch: loader.epoch + loader.cursor / loader.length, tokens_seen: tokensSeen, ...measured, elapsed_s: elapsed,
        } as Row;
        o.metrics.append(row);
        progress.log(`ep ${loader.epoch + 1} (step ${String(row.step).padStart(6, '0')}): train loss ${row.train_loss.toFixed(3)}, ` +
          `val loss ${row.val_loss.toFixed(3)}${o.describe?.(row) ?? ''}`);
      }
      await o.afterStep?.(step);
    }
  } finally {
    stop.dispose();
    progress.done();
  }
  return { step, tokensSeen, seconds: (performance.now() - started) / 1000, stepTokens, interrupted: stop.requested };
}
