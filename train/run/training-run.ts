// What every trainer (train, pretrain, dpo) does around its own data and step, once: load the
// model or resume a checkpoint (model, LoRA adapters, optimizer moments, data order), put fresh
// LoRA adapters on, make the optimizer over what trains, keep metrics.jsonl and the progress line,
// run the shared loop (loop.ts) with a checkpoint at each epoch's end and at the end, and save
// the result. A trainer reads as: TrainingRun.start, its data, run.begin, run.loop, its outputs.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { saveGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import { initLora, type LoraSpec } from '../../model/lora.ts';
import { saveAdapters, saveMerged } from '../../model/peft.ts';
import { loadTrainingCheckpoint, saveTrainingCheckpoint, type TrainState } from './checkpoint.ts';
import type { DataLoader } from './loader.ts';
import { trainingLoop, type LoopHooks, type LoopOptions, type LoopResult, type LoopRow } from './loop.ts';
import { MetricsLog } from './metrics-log.ts';
import { AdamW } from './optim.ts';
import { writeLossPlot } from './plot.ts';
import { Progress } from './progress.ts';
import { refuseFinished, runCheckpointed } from './run-dir.ts';
import { StopSignals } from './stop-signals.ts';

export interface RunSetup {
  /** The run directory. */
  out: string;
  /** The run's options, saved in every checkpoint: a resumed run reads them back. */
  options: object;
  /** A run directory whose checkpoint to continue, bit for bit (null: a fresh run). */
  resumeDir: string | null;
  /** A fresh run's model; with LoRA also the base a resumed run's adapters go back onto. */
  loadModel: () => Promise<GPT>;
  /** Adapters to train on a fresh model, the base frozen (null: every weight trains). */
  lora?: LoraSpec | null;
  /** The adapters' initialisation seed. */
  seed: number;
  lr: number;
  weightDecay: number;
}

/** How far a run goes: every epoch, or fewer steps. */
export interface RunPlan {
  epochs: number;
  maxSteps: number | null;
}

export interface RunResult extends LoopResult {
  secondsPerStep: number;
  tokensPerSecond: number;
}

export class TrainingRun<T, Row extends LoopRow> {
  // Set by begin(), once the data are read and checked.
  /** metrics.jsonl: empty for a fresh run, read back for a resumed one. */
  metrics!: MetricsLog<Row>;
  progress!: Progress;
  private loader!: DataLoader<T>;
  private plan!: RunPlan;

  private constructor(private readonly setup: RunSetup, readonly model: GPT, readonly opt: AdamW, readonly state: TrainState | null) {}

  /** The model and optimizer of a fresh run, or of the checkpoint in `resumeDir`. Only what trains
   *  gets optimizer state: every parameter, or the adapters' A and B. */
  static async start<T, Row extends LoopRow>(s: RunSetup): Promise<TrainingRun<T, Row>> {
    const makeOpt = (m: GPT): AdamW => new AdamW([...m.trainable().values()], { lr: s.lr, weightDecay: s.weightDecay });
    if (s.resumeDir) {
      const { model, opt, state } = await loadTrainingCheckpoint(s.resumeDir, makeOpt, s.loadModel);
      return new TrainingRun(s, model, opt, state);
    }
    const model = await s.loadModel();
    if (s.lora) {
      try {
        model.useAdapters(initLora(model.config, s.lora, s.seed));
      } catch (e) {
        model.dispose();
        throw e;
      }
    }
    return new TrainingRun(s, model, makeOpt(model), null);
  }

  get resumed(): boolean {
    return this.state !== null;
  }

  /** The global step the loop starts from: 0, or the checkpoint's. */
  get startStep(): number {
    return this.state?.step ?? 0;
  }

  /** The steps the run makes in all (its learning-rate schedule ends there). */
  get totalSteps(): number {
    return Math.min(this.plan.epochs * this.loader.length, this.plan.maxSteps ?? Infinity);
  }

  /** Once the data are read and checked: the loader where the checkpoint left it, the run
   *  directory, metrics.jsonl and the progress line (what the run writes, but the built-in DPO run's
   *  generated pairs, comes after this). */
  begin(loader: DataLoader<T>, plan: RunPlan): void {
    if (this.state) loader.setState(this.state.loader);
    this.loader = loader;
    this.plan = plan;
    if (this.state) refuseFinished(this.setup.out, this.startStep, { ...plan, stepsPerEpoch: loader.length });
    mkdirSync(this.setup.out, { recursive: true });
    this.metrics = new MetricsLog<Row>(this.setup.out, this.resumed);
    this.progress = new Progress(this.startStep);
  }

  /** A line above the progress bar. */
  log(line: string): void {
    this.progress.log(line);
  }

  /** Starts the progress line's clock again, so time left counts training only (after scoring
   *  the model before training). */
  restartProgress(): void {
    this.progress = new Progress(this.startStep);
  }

  /** "trainable parameters: N of M", with LoRA the adapters' shape and what stays frozen. */
  logTrainable(frozen: string): void {
    const { model } = this;
    const lora = model.lora;
    this.log(`trainable parameters: ${(lora ? lora.parameterCount() : model.parameterCount()).toLocaleString('en-US')} of ` +
      `${(model.parameterCount() + (lora?.parameterCount() ?? 0)).toLocaleString('en-US')}` +
      `${lora ? ` (LoRA rank ${lora.spec.rank}, alpha ${lora.spec.alpha}, ${lora.spec.targets.join(',')}; ${frozen})` : ''}`);
  }

  async checkpoint(step: number, tokensSeen: number): Promise<void> {
    await saveTrainingCheckpoint(this.setup.out, this.model, this.opt, {
      step, tokensSeen, loader: this.loader.getState(), options: this.setup.options as Record<string, unknown>,
    });
    runCheckpointed(this.setup.out); // the run an --overwrite replaced goes once this one can resume
  }

  /** The shared loop from where the run stands, then its checkpoint; an interrupted run says how
   *  to continue. */
  async loop(hooks: LoopHooks<T, Row> & Pick<LoopOptions<T, Row>, 'schedule' | 'evalEvery' | 'pipelined'>): Promise<RunResult> {
    // Held through the final save too: a second signal (a scheduler signals every process of the
    // job, and the launcher passes its own on) must not kill the run while it saves what resumes it.
    const stop = new StopSignals();
    let r: LoopResult;
    try {
      r = await trainingLoop<T, Row>({
        ...hooks, opt: this.opt, loader: this.loader, epochs: this.plan.epochs, totalSteps: this.totalSteps, stop,
        startStep: this.startStep, tokensSeen: this.state?.tokensSeen ?? 0, progress: this.progress, metrics: this.metrics,
        checkpoint: (step, tokensSeen) => this.checkpoint(step, tokensSeen),
      });
      await this.checkpoint(r.step, r.tokensSeen);
    } finally {
      stop.dispose();
    }
    if (r.interrupted) {
      const { out } = this.setup;
      this.log(`interrupted at step ${r.step}: checkpoint saved in ${path.join(out, 'checkpoint')}; continue with --resume ${out}`);
    }
    return { ...r, secondsPerStep: r.seconds / Math.max(r.step - this.startStep, 1), tokensPerSecond: r.stepTokens / r.seconds };
  }

  /** The trained model in the run directory: the whole model, or with LoRA the adapters (whose
   *  config names `baseModel`) and, with `merge`, the merged model too. */
  async saveModel(baseModel: string | null, merge = false): Promise<void> {
    const { model } = this;
    if (!model.lora) return saveGPT(model, this.setup.out);
    await saveAdapters(this.setup.out, model.lora, baseModel);
    if (merge) await saveMerged(model, this.setup.out);
  }

  /** loss-plot.svg/.png of metrics.jsonl (chapter 7's plot_losses), when there is a row. */
  async plotLosses(title?: string): Promise<void> {
    const rows = this.metrics.rows;
    if (rows.length === 0) return;
    await writeLossPlot(path.join(this.setup.out, 'loss-plot.svg'), {
      epochsSeen: rows.map((m) => m.epoch), tokensSeen: rows.map((m) => m.tokens_seen),
      trainLosses: rows.map((m) => m.train_loss), valLosses: rows.map((m) => m.val_loss), ...(title ? { title } : {}),
    });
  }

  dispose(): void {
    this.model.dispose();
    this.opt.dispose();
  }
}
