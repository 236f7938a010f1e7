// Batching for training and evaluation. The train loader shuffles with its own tiny PRNG (not
// Math.random) so a run is reproducible from its seed and a checkpoint can store the exact state
// (PRNG state + this epoch's order + position) and resume on the very next batch.

/** mulberry32: a 32-bit-state PRNG; small, fast and good enough for shuffling. The whole state is
 *  one uint32, which makes saving/restoring it trivial. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  getState(): number {
    return this.s;
  }
  setState(state: number): void {
    this.s = state >>> 0;
  }
}

/** Fisher–Yates permutation of 0..n-1. */
export function shuffledIndices(n: number, rng: Rng): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export interface LoaderOptions {
  batchSize: number;
  shuffle?: boolean;
  /** Drop the last partial batch (the chapter's train loader does; val/test keep it). */
  dropLast?: boolean;
  seed?: number;
}

/** Everything needed to resume mid-epoch; plain JSON for the checkpoint file. */
export interface LoaderState {
  epoch: number;
  /** Index of the next batch within this epoch. */
  cursor: number;
  /** This epoch's order of item indices. */
  order: number[];
  rngState: number;
}

export class DataLoader<T> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private rng: Rng;
  epoch = 0;
  cursor = 0;
  order: number[];

  constructor(
    readonly items: readonly T[],
    options: LoaderOptions,
  ) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new Error(`batch size must be a positive integer, got ${options.batchSize}`);
    }
    this.batchSize = options.batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.rng = new Rng(options.seed ?? 123);
    this.order = this.drawOrder();
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.items.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  private drawOrder(): number[] {
    const n = this.items.length;
    return this.shuffle ? shuffledIndices(n, this.rng) : Array.from({ length: n }, (_, i) => i);
  }

  /** The next batch of this epoch, or null when the epoch is over (then call nextEpoch()). */
  nextBatch(): T[] | null {
    if (this.cursor >= this.length) return null;
    const start = this.cursor * this.batchSize;
    const idx = this.order.slice(start, start + this.batchSize);
    this.cursor++;
    return idx.map((i) => this.items[i]);
  }

  /** Starts the next epoch with a fresh order drawn from the PRNG. */
  nextEpoch(): void {
    this.epoch++;
    this.cursor = 0;
    this.order = this.drawOrder();
  }

  /** The remaining batches of the current epoch; afterwards the loader is on the next epoch. */
  *epochBatches(): Generator<T[]> {
    for (let b = this.nextBatch(); b !== null; b = this.nextBatch()) yield b;
    this.nextEpoch();
  }

  getState(): LoaderState {
    return { epoch: this.epoch, cursor: this.cursor, order: [...this.order], rngState: this.rng.getState() };
  }

  setState(state: LoaderState): void {
    const n = this.items.length;
    const sorted = [...state.order].sort((a, b) => a - b);
    if (sorted.length !== n || sorted.some((v, i) => v !== i)) {
      throw new Error(`loader state does not match the data: its order is not a permutation of ${n} items`);
    }
    this.epoch = state.epoch;
    this.cursor = state.cursor;
    this.order = [...state.order];
    this.rng.setState(state.rngState);
  }
}

/** Chapter 7 train loader: shuffled, drop_last. Errors early if no full batch fits. */
export function trainLoader<T>(items: readonly T[], batchSize: number, seed = 123): DataLoader<T> {
  if (items.length < batchSize) {
    throw new Error(`the train split has ${items.length} entries, fewer than the batch size ${batchSize}: no batch can be formed`);
  }
  return new DataLoader(items, { batchSize, shuffle: true, dropLast: true, seed });
}

/** Val/test loader: file order, keeps the last partial batch. */
export function evalLoader<T>(items: readonly T[], batchSize: number): DataLoader<T> {
  return new DataLoader(items, { batchSize, shuffle: false, dropLast: false });
}
