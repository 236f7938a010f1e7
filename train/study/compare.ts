// A paired comparison of two settings of a study (two prompt-loss weights) over the same seeds and,
// where the runs record them, the same questions: the difference's mean, a 95% bootstrap interval
// that resamples seeds and then questions within each seed (both sides together: the pairs stay
// pairs), and an exact sign-flip test over the seeds. A difference is called shown only when the
// interval excludes 0 and the sign-flip test gives p < 0.05. The seed is the unit that repeats the
// training's randomness, and with n seeds the smallest two-sided p a sign-flip test can give is
// 2 / 2^n: it takes SEEDS_NEEDED seeds before any difference can be shown (3 seeds never can).
import { Rng } from '../run/loader.ts';

/** The two-sided level of the test and the interval. */
export const ALPHA = 0.05;
/** The fewest paired seeds with which the sign-flip test can reach p < ALPHA (2 / 2^n < ALPHA). */
export const SEEDS_NEEDED = Math.ceil(Math.log2(2 / ALPHA) + 1e-9);
const RESAMPLES = 4000;

/** One seed's values on both sides: a number per run, or a number per question (same questions). */
export interface PairedSeed {
  seed: number;
  a: number[];
  b: number[];
}

export interface PairedComparison {
  /** a − b, averaged over seeds (each seed's mean over its questions). */
  diff: number;
  lo: number;
  hi: number;
  /** Exact two-sided sign-flip p over the seeds' mean differences. */
  p: number;
  seeds: number;
  /** Questions per seed (1: one number per run). */
  questions: number;
  shown: boolean;
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Exact sign-flip test: the share of the 2^n sign patterns whose |mean| is at least the observed. */
export function signFlipP(diffs: readonly number[]): number {
  const n = diffs.length;
  if (n === 0) return 1;
  const observed = Math.abs(mean(diffs)) - 1e-12;
  let hits = 0;
  for (let mask = 0; mask < 2 ** n; mask++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += mask & (1 << i) ? -diffs[i] : diffs[i];
    if (Math.abs(s / n) >= observed) hits++;
  }
  return hits / 2 ** n;
}

/** The paired comparison of `pairs` (one per seed, each side the same length). */
export function pairedComparison(pairs: readonly PairedSeed[], seed = 1): PairedComparison {
  for (const p of pairs) if (p.a.length !== p.b.length || p.a.length === 0) {
    throw new Error(`seed ${p.seed}: the two sides have ${p.a.length} and ${p.b.length} values; a paired comparison needs the same`);
  }
  const d = pairs.map((p) => p.a.map((x, i) => x - p.b[i]));
  const perSeed = d.map(mean);
  const rng = new Rng(seed);
  const stats: number[] = [];
  for (let r = 0; r < RESAMPLES; r++) {
    let s = 0;
    for (let k = 0; k < d.length; k++) {
      const q = d[rng.int(d.length)];
      let m = 0;
      for (let j = 0; j < q.length; j++) m += q[rng.int(q.length)];
      s += m / q.length;
    }
    stats.push(s / d.length);
  }
  stats.sort((x, y) => x - y);
  const lo = stats[Math.floor((ALPHA / 2) * RESAMPLES)];
  const hi = stats[Math.ceil((1 - ALPHA / 2) * RESAMPLES) - 1];
  const p = signFlipP(perSeed);
  return { diff: mean(perSeed), lo, hi, p, seeds: pairs.length, questions: Math.min(...pairs.map((x) => x.a.length)),
    shown: (lo > 0 || hi < 0) && p < ALPHA };
}

/** The comparison in words, claiming no more than it shows. `fmt` prints a difference. */
export function comparisonText(c: PairedComparison, fmt: (x: number) => string): string {
  const over = `${c.seeds} paired seeds${c.questions > 1 ? ` x ${c.questions} questions` : ''}`;
  const numbers = `difference ${fmt(c.diff)}, 95% paired bootstrap interval [${fmt(c.lo)}, ${fmt(c.hi)}] over ${over}, ` +
    `sign-flip p = ${c.p.toFixed(3)}`;
  if (c.shown) return `${numbers}: a difference is shown`;
  if (c.seeds < SEEDS_NEEDED) return `${numbers}: no difference can be shown with ${c.seeds} seeds ` +
    `(the sign-flip test needs at least ${SEEDS_NEEDED} to reach p < ${ALPHA})`;
  return `${numbers}: no difference is shown`;
}
