// Ctrl-C and preemption for the training loop (loop.ts): SIGINT or SIGTERM asks the loop to stop
// after its current step and save the checkpoint `--resume` continues from. SIGTERM too: schedulers
// preempt with it (Slurm requeue, Kubernetes eviction) and kill a grace period later, time enough
// to save. A browser tab has no signals: its run ends with the page.
const proc = typeof process === 'undefined' ? null : process;

export class StopSignals {
  /** A stop was asked for. */
  requested = false;
  private readonly onSignal = (): void => {
    this.requested = true;
  };

  constructor() {
    proc?.on('SIGINT', this.onSignal);
    proc?.on('SIGTERM', this.onSignal);
  }

  /** Gives the signals back to their default handling. */
  dispose(): void {
    proc?.off('SIGINT', this.onSignal);
    proc?.off('SIGTERM', this.onSignal);
  }
}
