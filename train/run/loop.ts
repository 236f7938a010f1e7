// The one optimizer loop of every trainer (`wgpt train` on instruction data, `wgpt pretrain` on
// packed text, `wgpt dpo` on preference pairs): batches from a shuffled loader, the learning-rate
// schedule, one optimizer step each, the progress line, an evaluation row every N steps (the
// chapter's 0-based rule), a checkpoint at each epoch's end, and Ctrl-C/SIGTERM asking it to stop
// after the current step. The loop is pipelined: it records step N+1 before it reads step N's loss
// (a GPU runs one step while the host records the next), so a loss reaches the progress line, the
// finite check and onLoss one step late; before an evaluation, an epoch's end, a stop or the end
// the loss under way is read first, so every number is what an unpipelined loop gives. What
// differs (what one step does with a batch, what an evaluation measures, what happens between
// steps) comes in as functions. training-run.ts wraps it with the rest of a run (load or resume,
// metrics.jsonl, the final checkpoint); the studies call it as it is.
import { WgptError } from '../../engine/index.ts';
import type { DataLoader } from './loader.ts';
import type { MetricsLog } from './metrics-log.ts';
import type { AdamW } from './optim.ts';
import type { Progress } from './progress.ts';
import { learningRate } from './schedule.ts';
import type { StopSignals } from './stop-signals.ts';

export interface LoopRow {
  step: number;
  epoch: number;
  tokens_seen: number;
  train_loss: number;
  val_loss: number;
  elapsed_s: number;
}

/** What one optimizer step reports: its loss (or its readback under way) and the tokens it read. */
export interface StepResult {
  loss: number | Promise<number>;
  tokens: number;
}

/** The measured part of an evaluation row: the losses and whatever else a trainer logs (dpo's
 *  rewards); the loop fills in step, epoch, tokens seen and elapsed time around it. */
export type Measured<Row extends LoopRow> = Omit<Row, keyof Omit<LoopRow, 'train_loss' | 'val_loss'>>;

/** What a trainer brings to the loop. */
export interface LoopHooks<T, Row extends LoopRow> {
  /** One optimizer step on a batch of loader items at 0-based global step `step` (its dropout seed). */
  step: (items: T[], step: number) => Promise<StepResult>;
  /** The losses (and more) of one evaluation (none: the loop logs no rows; the studies). */
  evaluate?: () => Promise<Measured<Row>>;
  /** Words after "train loss X, val loss Y" in the evaluation's log line (dpo's reward margins). */
  describe?: (row: Row) => string;
  /** Before the next epoch starts (train's per-epoch sample). */
  onEpochEnd?: () => Promise<void>;
  /** After each step is recorded, with the global step count (pretrain's samples, the mask
   *  study's curve): the model is the one after that step; its loss may not be read yet. */
  afterStep?: (step: number) => Promise<void>;
  /** Each step's loss once read, in step order, with its 0-based step (the studies keep them all). */
  onLoss?: (step: number, loss: number) => void;
}

export interface LoopOptions<T, Row extends LoopRow> extends LoopHooks<T, Row> {
  opt: AdamW;
  loader: DataLoader<T>;
  /** Epochs to go through (Infinity: wrap around until totalSteps; the studies). */
  epochs: number;
  totalSteps: number;
  /** Global step and tokens seen so far (a resumed run's). */
  startStep: number;
  tokensSeen: number;
  /** The learning rate: constant without lrSchedule and warmupSteps (dpo). */
  schedule: { lr: number; lrSchedule?: string; warmupSteps?: number };
  /** Evaluate when the 0-based step is a multiple of this (with `evaluate`). */
  evalEvery?: number;
  /** The progress line (none: the mask study's runs go without). */
  progress?: Progress;
  metrics?: MetricsLog<Row>;
  /** At each epoch's end but the last (none: no checkpoints; the studies). */
  checkpoint?: (step: number, tokensSeen: number) => Promise<void>;
  /** Ctrl-C and SIGTERM: the loop stops after the step under way (none: they end the process). */
  stop?: StopSignals;
  /** Read each loss before recording the next step (tests compare the two; same numbers). */
  pipelined?: boolean;
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
  const { opt, loader, progress, stop } = o;
  const evalEvery = o.evaluate ? o.evalEvery ?? 1 : Infinity;
  let { startStep: step, tokensSeen } = o;
  const started = performance.now();
  let stepTokens = 0;
  // The step recorded last whose loss is not read yet (its 0-based step, the epoch it ran in).
  let pending: { step: number; epoch: number; loss: number | Promise<number> } | null = null;
  const readLoss = async (): Promise<void> => {
    if (!pending) return;
    const p = pending;
    pending = null;
    const loss = await p.loss;
    if (!Number.isFinite(loss)) throw new WgptError(`the loss became ${loss} at step ${p.step}; lower --lr`);
    o.onLoss?.(p.step, loss);
    const elapsed = (performance.now() - started) / 1000;
    progress?.update({ step: p.step + 1, totalSteps: o.totalSteps, loss, epoch: p.epoch, tokensPerSecond: stepTokens / elapsed });
  };
  try {
    while (step < o.totalSteps && !stop?.requested) {
      const items = loader.nextBatch();
      if (!items) {
        await readLoss();
        await o.onEpochEnd?.();
        loader.nextEpoch();
        if (loader.epoch >= o.epochs) break;
        await o.checkpoint?.(step, tokensSeen);
        continue;
      }
      opt.options.lr = learningRate(step, {
        lr: o.schedule.lr, schedule: o.schedule.lrSchedule ?? 'constant', warmupSteps: o.schedule.warmupSteps ?? 0,
        totalSteps: o.totalSteps,
      });
      const { loss, tokens } = await o.step(items, step);
      await readLoss(); // the step before this one: its loss was read back while this one was recorded
      pending = { step, epoch: loader.epoch, loss };
      tokensSeen += tokens;
      stepTokens += tokens;
      step++;
      // The chapter evaluates when its 0-based global step is a multiple of eval_freq.
      const evaluates = (step - 1) % evalEvery === 0;
      if (evaluates || o.pipelined === false) await readLoss();
      if (evaluates && o.evaluate) {
        const elapsed = (performance.now() - started) / 1000;
        const measured = await o.evaluate();
        const row = {
          step: step - 1, epoch: loader.epoch + loader.cursor / loader.length, tokens_seen: tokensSeen, ...measured, elapsed_s: elapsed,
        } as Row;
        o.metrics?.append(row);
        progress?.log(`ep ${loader.epoch + 1} (step ${String(row.step).padStart(6, '0')}): train loss ${row.train_loss.toFixed(3)}, ` +
          `val loss ${row.val_loss.toFixed(3)}${o.describe?.(row) ?? ''}`);
      }
      await o.afterStep?.(step);
    }
    await readLoss();
  } finally {
    progress?.done();
  }
  return { step, tokensSeen, seconds: (performance.now() - started) / 1000, stepTokens, interrupted: stop?.requested ?? false };
}
