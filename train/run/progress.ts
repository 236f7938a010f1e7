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

/** A bar redrawn in place on a TTY, else a plain line every quietEveryMs and at the end. */
class Line {
  protected readonly started = performance.now();
  private lastPrint = -Infinity; // the first update prints at once
  private finalPrinted = false;
  protected drawn = false;

  constructor(protected readonly stream: NodeJS.WriteStream = process.stderr, private readonly quietEveryMs = 10_000) {}

  protected get elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }

  protected draw(fraction: number, text: string, final: boolean): void {
    if (this.stream.isTTY) {
      const width = 24;
      const fill = Math.round(width * Math.min(Math.max(fraction, 0), 1));
      this.stream.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${text}\x1b[K`);
      this.drawn = true;
    } else if (!this.finalPrinted && (performance.now() - this.lastPrint > this.quietEveryMs || final)) {
      this.stream.write(`${text}\n`);
      this.lastPrint = performance.now();
      this.finalPrinted = final;
    }
  }

  done(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

export interface GenerationInfo {
  done: number;
  total: number;
  tokens: number;
  /** Progress of the unfinished prompts under way, in prompts (see GenerationCounts). */
  partial: number;
}

/** "test responses 12/110 prompts, 85 tok/s, 1:02 elapsed, 4:10 left". Time left assumes the
 *  prompts under way run to the token limit: an upper bound that tightens as answers stop. */
export class GenerationProgress extends Line {
  constructor(private readonly label: string, stream: NodeJS.WriteStream = process.stderr, quietEveryMs = 10_000) {
    super(stream, quietEveryMs);
  }

  update(g: GenerationInfo): void {
    const elapsed = this.elapsed;
    const fraction = g.total > 0 ? (g.done + g.partial) / g.total : 1;
    const left = fraction > 0 ? (elapsed * (1 - fraction)) / fraction : NaN;
    const tps = elapsed > 0 ? Math.round(g.tokens / elapsed) : 0;
    const text = `${this.label} ${g.done}/${g.total} prompts, ${tps} tok/s, ${clock(elapsed)} elapsed, ${clock(left)} left`;
    this.draw(fraction, text, g.done === g.total);
  }
}

export class Progress extends Line {
  private readonly startStep: number;
  /** When this process's first step ended: the time left counts from there, since that step holds
   *  the kernels' compiles and the tuner's measuring (minutes on a slow machine, milliseconds later). */
  private firstStepEnd: number | null = null;

  constructor(startStep: number, stream: NodeJS.WriteStream = process.stderr, quietEveryMs = 10_000) {
    super(stream, quietEveryMs);
    this.startStep = startStep;
  }

  update(p: ProgressInfo): void {
    const elapsed = this.elapsed;
    const done = p.step - this.startStep;
    if (this.firstStepEnd === null && done > 0) this.firstStepEnd = elapsed;
    const timed = done - 1; // the steps after the first
    const left = p.step >= p.totalSteps ? 0
      : timed > 0 ? ((elapsed - this.firstStepEnd!) / timed) * (p.totalSteps - p.step) : NaN;
    const loss = p.loss === undefined ? '' : ` loss ${p.loss.toFixed(3)}`;
    const tps = p.tokensPerSecond === undefined ? '' : ` ${Math.round(p.tokensPerSecond)} tok/s`;
    const eta = Number.isNaN(left) ? 'estimating' : `${clock(left)} left`;
    const text = `ep ${p.epoch + 1} step ${p.step}/${p.totalSteps}${loss}${tps} ${clock(elapsed)} elapsed, ${eta}`;
    this.draw(Math.min(p.step, p.totalSteps) / Math.max(p.totalSteps, 1), text, p.step === p.totalSteps);
  }

  /** Prints a line above the bar. */
  log(line: string): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.stream.write(`${line}\n`);
  }
}
