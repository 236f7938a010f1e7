// Terminal progress: a one-line bar redrawn in place on a TTY; on a pipe or in CI, a plain line
// every few seconds, so logs stay readable.

export interface ProgressInfo {
  step: number;
  totalSteps: number;
  loss?: number;
  tokensPerSecond?: number;
  epoch: number;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(s % 60).padStart(2, '0')}`;
}

export class Progress {
  private readonly started = performance.now();
  private readonly startStep: number;
  private lastPrint = 0;
  private drawn = false;

  constructor(startStep: number, private readonly stream: NodeJS.WriteStream = process.stderr, private readonly quietEveryMs = 10_000) {
    this.startStep = startStep;
  }

  update(p: ProgressInfo): void {
    const elapsed = (performance.now() - this.started) / 1000;
    const done = p.step - this.startStep;
    const left = done > 0 ? (elapsed / done) * (p.totalSteps - p.step) : NaN;
    const loss = p.loss === undefined ? '' : ` loss ${p.loss.toFixed(3)}`;
    const tps = p.tokensPerSecond === undefined ? '' : ` ${Math.round(p.tokensPerSecond)} tok/s`;
    const text = `ep ${p.epoch + 1} step ${p.step}/${p.totalSteps}${loss}${tps} ${clock(elapsed)} elapsed, ${clock(left)} left`;
    if (this.stream.isTTY) {
      const width = 24;
      const fill = Math.round((width * Math.min(p.step, p.totalSteps)) / Math.max(p.totalSteps, 1));
      this.stream.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${text}\x1b[K`);
      this.drawn = true;
    } else if (performance.now() - this.lastPrint > this.quietEveryMs || p.step === p.totalSteps) {
      this.stream.write(`${text}\n`);
      this.lastPrint = performance.now();
    }
  }

  /** Prints a line above the bar. */
  log(line: string): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.stream.write(`${line}\n`);
  }

  done(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
