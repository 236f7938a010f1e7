// Learning-rate schedules, as nanoGPT's get_lr: linear warm-up from 0 over `warmupSteps`, then
// either constant (the chapter's recipe) or a cosine decay to `minLrRatio`·lr at `totalSteps`.
// The rate is a pure function of the global step, so a resumed run follows the same curve.

export const LR_SCHEDULES = ['constant', 'cosine'] as const;

export interface ScheduleOptions {
  lr: number;
  schedule: string;
  warmupSteps: number;
  /** The step at which the cosine reaches its floor (the run's planned length). */
  totalSteps: number;
  minLrRatio?: number;
}

export function checkSchedule(name: string): void {
  if (!(LR_SCHEDULES as readonly string[]).includes(name)) {
    throw new Error(`unknown learning-rate schedule "${name}": expected one of ${LR_SCHEDULES.join(', ')}`);
  }
}

/** The learning rate for the update made at 0-based global step `step`. */
export function learningRate(step: number, o: ScheduleOptions): number {
  checkSchedule(o.schedule);
  if (step < o.warmupSteps) return (o.lr * (step + 1)) / (o.warmupSteps + 1);
  if (o.schedule === 'constant') return o.lr;
  const floor = o.lr * (o.minLrRatio ?? 0.1);
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, (step - o.warmupSteps) / span);
  return floor + 0.5 * (1 + Math.cos(Math.PI * progress)) * (o.lr - floor);
}
