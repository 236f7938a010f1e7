// The optimizer loop that `wgpt train` (instruction data) and `wgpt pretrain` (packed text) share:
// batches from a shuffled loader, the learning-rate schedule, one AdamW step each, the progress
// line, an evaluation row every N steps (the chapter's 0-based rule), a checkpoint at each epoch's
// end, and Ctrl-C/SIGTERM asking it to stop after the current step. What differs (how a batch is
// made, what an evaluation measures, what happens between steps) comes in as functions.
import { WgptError } from '../../engine/index.ts';
import type { GPT } from '../../model/gpt.ts';
import type { Batch } from './step.ts';
import type { DataLoader } from './loader.ts';
import type { MetricsLog } from './metrics-log.ts';
import type { AdamW } from './optim.ts';
import type { Progress } from './progress.ts';
import { learningRate } from './schedule.ts';
import { StopSignals } from './stop-signals.ts';
import { trainStep } from './step.ts';

export interface LoopRow {
  step: number;
  epoch: number;
  tokens_seen: number;
  train_loss: number;
  val_loss: number;
  elapsed_s: number;
}

export interface LoopOptions<T, Row extends LoopRow> {
  model: GPT;
  opt: AdamW;
  loader: DataLoader<T>;
  epochs: number;
  totalSteps: number;
  /** Global step and tokens seen so far (a resumed run's). */
  step: number;
  tokensSeen: number;
  schedule: { lr: number; lrSchedule?: string; warmupSteps?: number };
  evalEvery: number;
  progress: Progress;
  metrics: MetricsLog<Row>;
  makeBatch: (items: T[]) => Batch;
  /** The losses of one evaluation (the row's other fields are filled in here). */
  evaluate: () => Promise<Omit<Row, keyof Omit<LoopRow, 'train_loss' | 'val_loss'>>>;
  /** Before the next epoch starts (train's per-epoch sample). */
  onEpochEnd?: () => Promise<void>;
  /** After each step, with the global step count (pretrain's samples). */
  afterStep?: (step: number) => Promise<void>;
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
  const { model, opt, loader, progress } = o;
  let { step, tokensSeen } = o;
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
      const batch = o.makeBatch(items);
      opt.options.lr = learningRate(step, {
        lr: o.schedule.lr, schedule: o.schedule.lrSchedule ?? 'constant', warmupSteps: o.schedule.warmupSteps ?? 0, totalSteps: o.totalSteps,
      });
      const lossValue = await trainStep(model, opt, batch, step);
      if (!Number.isFinite(lossValue)) throw new WgptError(`the loss became ${lossValue} at step ${step}; lower --lr`);
      tokensSeen += batch.batch * batch.seqLen;
      stepTokens += batch.batch * batch.seqLen;
      step++;
      const elapsed = (performance.now() - started) / 1000;
      progress.update({ step, totalSteps: o.totalSteps, loss: lossValue, epoch: loader.epoch, tokensPerSecond: stepTokens / elapsed });
      // The chapter evaluates when its 0-based global step is a multiple of eval_freq.
      if ((step - 1) % o.evalEvery === 0) {
        const losses = await o.evaluate();
        const row = {
          step: step - 1, epoch: loader.epoch + loader.cursor / loader.length, tokens_seen: tokensSeen, ...losses, elapsed_s: elapsed,
        } as Row;
        o.metrics.append(row);
        progress.log(`ep ${loader.epoch + 1} (step ${String(row.step).padStart(6, '0')}): train loss ${row.train_loss.toFixed(3)}, val loss ${row.val_loss.toFixed(3)}`);
      }
      await o.afterStep?.(step);
    }
  } finally {
    stop.dispose();
    progress.done();
  }
  return { step, tokensSeen, seconds: (performance.now() - started) / 1000, stepTokens, interrupted: stop.requested };
}
