// Ctrl-C and preemption for the training loop (loop.ts): SIGINT or SIGTERM asks the loop to stop
// after its current step and save the checkpoint `--resume` continues from. SIGTERM too: schedulers
// preempt with it (Slurm requeue, Kubernetes eviction) and kill a grace period later, time enough
// to save.
export class StopSignals {
  /** A stop was asked for. */
  requested = false;
  private readonly onSignal = (): void => {
    this.requested = true;
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Gives the signals back to their default handling. */
  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
