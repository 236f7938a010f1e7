// Generation for many prompts at once: a batch of sequences advanced together, one token each per
// step, over one KV cache. Prompts are left-padded to a common length; each sequence's padded keys
// are masked in attention (paddedAttention) and its positions count from its first real token, so
// every answer is the one its prompt gets alone (generate() is this with a batch of one; the padded
// softmax reduces in the same order whatever the padding, and the P·V matmul adds exact zeros).
// Greedy steps take the argmax on the GPU and read back one id per sequence; sampling reads back
// the logits and draws from each sequence's own seeded generator.
//
// A sequence leaves the cache when it stops (<|endoftext|>) or when its tokens pass the context.
// The cache is then compacted (a gather of the remaining rows, and the leading slots that are
// padding for all of them dropped), so finished sequences stop costing work; compacting only on
// the steps where someone leaves keeps that cost to a few gathers per batch.
// Past the context the window slides, as in the single-prompt path: learned positions shift by one
// each step, so no cached key stays valid, and such sequences are recomputed over their last ctx
// tokens every step, together (equal windows: no padding, flash attention but in the last block).
// Prompts are taken in order of length, batchSize at a time, so a batch pads little.
import { argmax, concat, embedding, keep, noGrad, reshape, slice, Tensor, tidy, WgptError } from '../engine/index.ts';
import type { GPT, KVCache } from './gpt.ts';
import { uniform } from './random.ts';
import { pickToken } from './sampling.ts';
import { END_OF_TEXT } from './tokenizer.ts';

/** Prompts advanced together by default: on llvmpipe tokens/s grows up to ~16-32 (the per-step
 *  dispatches and the LM head's weight reads are shared), while a batch runs as long as its
 *  longest answer. */
export const DEFAULT_GEN_BATCH = 16;

export interface GenerationCounts {
  /** Prompts finished. */
  done: number;
  total: number;
  /** Tokens generated so far (all prompts). */
  tokens: number;
  /** Of the unfinished prompts in the running batch: the sum of tokens/maxNewTokens (progress
   *  inside a batch, for time-left estimates). */
  partial: number;
}

export interface BatchGenerateOptions {
  maxNewTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topK?: number;
  /** Each prompt samples from its own generator with this seed (as it would alone). */
  seed?: number;
  /** Stop at this id without emitting it (default <|endoftext|>; null = never stop early). */
  stopToken?: number | null;
  /** Prompts advanced together (DEFAULT_GEN_BATCH). */
  batchSize?: number;
  /** Called with each new token of prompt `index` as soon as it is chosen. */
  onToken?: (index: number, id: number) => void;
  /** Called after every step. */
  onProgress?: (counts: GenerationCounts) => void;
}

interface Sequence {
  index: number;
  tokens: number[];
  out: number[];
  random: () => number;
  done: boolean;
}

/** Sequences whose keys and values sit in one left-padded cache: row r is seqs[r], its real slots
 *  start at starts[r]. */
interface PaddedBatch {
  seqs: Sequence[];
  starts: number[];
  cache: KVCache;
  keyStart: Tensor;
}

/** Prefill scores are [n, H, T, T] floats: prompts are prefilled in groups under this size. */
const PREFILL_SCORE_BYTES = 256 * 2 ** 20;
/** Sliding windows recomputed in one forward: at most this many tokens. */
const SLIDING_TOKENS = 4096;

function disposeBatch(b: PaddedBatch): void {
  for (const t of [...b.cache.keys, ...b.cache.values, b.keyStart]) t.dispose();
}

/** Generates up to maxNewTokens after each prompt (token ids); returns only the new ids, per prompt. */
export async function generateBatch(model: GPT, prompts: readonly number[][], opts: BatchGenerateOptions = {}): Promise<number[][]> {
  const batchSize = opts.batchSize ?? DEFAULT_GEN_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new WgptError(
    `generation batch size must be a positive integer, got ${batchSize}`);
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new WgptError(`generate: prompt ${i} is empty`);
  });
  const outs: number[][] = prompts.map(() => []);
  const counts: GenerationCounts = { done: 0, total: prompts.length, tokens: 0, partial: 0 };
  const order = prompts.map((_, i) => i).sort((a, b) => prompts[a].length - prompts[b].length || a - b);
  for (let c = 0; c < order.length; c += batchSize) {
    const seqs = order.slice(c, c + batchSize).map((index): Sequence => ({
      index, tokens: [...prompts[index]], out: outs[index], random: uniform(opts.seed ?? 0), done: false,
    }));
    await runBatch(model, seqs, opts, counts);
  }
  return outs;
}

async function runBatch(model: GPT, seqs: Sequence[], opts: BatchGenerateOptions, counts: GenerationCounts): Promise<void> {
  const maxNew = opts.maxNewTokens ?? 50;
  const stop = opts.stopToken === undefined ? END_OF_TEXT : opts.stopToken;
  const ctx = model.config.contextLength;
  let cached: PaddedBatch | null = null;
  try {
    for (let step = 0; step < maxNew; step++) {
      const live = seqs.filter((s) => !s.done);
      if (live.length === 0) break;
      const picks: [Sequence, number][] = [];
      if (step === 0) {
        const fresh = live.filter((s) => s.tokens.length <= ctx);
        if (fresh.length > 0) {
          const first = prefill(model, fresh);
          cached = first.batch;
          picks.push(...await pick(model, fresh, first.logits, opts));
        }
      } else if (cached) {
        picks.push(...await pick(model, cached.seqs, decode(model, cached), opts));
      }
      const sliding = live.filter((s) => s.tokens.length > ctx);
      const per = Math.max(1, Math.floor(SLIDING_TOKENS / ctx));
      for (let i = 0; i < sliding.length; i += per) {
        const group = sliding.slice(i, i + per);
        picks.push(...await pick(model, group, recompute(model, group), opts));
      }
      for (const [s, next] of picks) {
        if (stop !== null && next === stop) {
          finish(s, counts);
          continue;
        }
        s.tokens.push(next);
        s.out.push(next);
        counts.tokens++;
        opts.onToken?.(s.index, next);
        if (s.out.length >= maxNew) finish(s, counts);
      }
      // Leave the cache: stopped, or past the context (recomputed from now on).
      if (cached?.seqs.some((s) => s.done || s.tokens.length > ctx)) cached = compact(cached, (s) => !s.done && s.tokens.length <= ctx);
      counts.partial = seqs.reduce((n, s) => n + (s.done ? 0 : s.out.length / maxNew), 0);
      opts.onProgress?.(counts);
    }
  } finally {
    if (cached) disposeBatch(cached);
  }
  for (const s of seqs) if (!s.done) finish(s, counts);
  counts.partial = 0;
  opts.onProgress?.(counts);
}

function finish(s: Sequence, counts: GenerationCounts): void {
  s.done = true;
  counts.done++;
}

/** Runs the prompts (each at most ctx tokens) left-padded to the longest, filling a new cache;
 *  returns it and the logits [n, V] of each prompt's last position. */
function prefill(model: GPT, seqs: Sequence[]): { batch: PaddedBatch; logits: Tensor } {
  const T = Math.max(...seqs.map((s) => s.tokens.length));
  const starts = seqs.map((s) => T - s.tokens.length);
  const { nHeads } = model.config;
  const per = Math.max(1, Math.floor(PREFILL_SCORE_BYTES / (nHeads * T * T * 4)));
  const caches: KVCache[] = [];
  const logits: Tensor[] = [];
  return noGrad(() => tidy(() => {
    for (let g = 0; g < seqs.length; g += per) {
      const group = seqs.slice(g, g + per);
      const ids: number[] = [];
      const positions: number[] = [];
      group.forEach((s, r) => {
        const pad = starts[g + r];
        for (let i = 0; i < T; i++) {
          // Padding: any valid id and position (its keys are masked, its outputs unused).
          ids.push(i < pad ? END_OF_TEXT : s.tokens[i - pad]);
          positions.push(i < pad ? 0 : i - pad);
        }
      });
      const cache: KVCache = { keys: [], values: [], length: 0 };
      const h = model.hidden(Tensor.fromData(ids, [group.length, T], 'i32'), {
        cache, keyStart: Tensor.fromData(starts.slice(g, g + per), [group.length], 'i32'),
        positions: Tensor.fromData(positions, [group.length, T], 'i32'), lastOnly: true,
      });
      caches.push(cache);
      // Every prompt ends at the last slot (left padding): only that row is computed past the last
      // block's keys and values, and goes through the LM head.
      logits.push(model.logits(reshape(h, [group.length, h.shape[2]])));
    }
    const merge = (pick: (c: KVCache) => Tensor[]): Tensor[] => pick(caches[0]).map((_, l) => {
      if (caches.length === 1) return pick(caches[0])[l];
      const all = caches.map((c) => pick(c)[l]);
      const merged = keep(concat(all, 0));
      for (const t of all) t.dispose();
      return merged;
    });
    const cache: KVCache = { keys: merge((c) => c.keys), values: merge((c) => c.values), length: T };
    const keyStart = keep(Tensor.fromData(starts, [seqs.length], 'i32'));
    const all = logits.length === 1 ? logits[0] : concat(logits, 0);
    return { batch: { seqs, starts, cache, keyStart }, logits: all };
  }));
}

/** One step of the cached sequences: each feeds its last token; logits [n, V]. */
function decode(model: GPT, b: PaddedBatch): Tensor {
  const n = b.seqs.length;
  return noGrad(() => tidy(() => {
    const ids = Tensor.fromData(b.seqs.map((s) => s.tokens[s.tokens.length - 1]), [n, 1], 'i32');
    const positions = Tensor.fromData(b.seqs.map((s) => s.tokens.length - 1), [n, 1], 'i32');
    const h = model.hidden(ids, { cache: b.cache, keyStart: b.keyStart, positions }, b.cache.length);
    return model.logits(reshape(h, [n, h.shape[2]]));
  }));
}

/** The sliding window: each sequence's last ctx tokens from scratch (as the single-prompt path
 *  does past the context); logits [n, V] of the last position. */
function recompute(model: GPT, seqs: Sequence[]): Tensor {
  const ctx = model.config.contextLength;
  return noGrad(() => tidy(() => {
    const ids = Tensor.fromData(seqs.flatMap((s) => s.tokens.slice(-ctx)), [seqs.length, ctx], 'i32');
    const h = model.hidden(ids, { lastOnly: true });
    return model.logits(reshape(h, [seqs.length, h.shape[2]]));
  }));
}

/** The next logit column of each sequence from logits [n, V] (disposed): greedy reads back only
 *  the argmax ids; sampling reads back the rows. Returns token ids (the output vocabulary mapped). */
async function pick(model: GPT, seqs: Sequence[], logits: Tensor, opts: BatchGenerateOptions): Promise<[Sequence, number][]> {
  const temperature = opts.temperature ?? 0;
  let columns: number[];
  if (!(temperature > 0)) {
    const ids = noGrad(() => tidy(() => argmax(logits)));
    columns = Array.from(await ids.toArray());
    ids.dispose();
  } else {
    const v = logits.shape[1];
    const rows = (await logits.toArray()) as Float32Array;
    columns = seqs.map((s, r) => pickToken(rows.subarray(r * v, (r + 1) * v), temperature, opts.topK, s.random));
  }
  logits.dispose();
  return seqs.map((s, r) => [s, model.tokenAt(columns[r])]);
}

/** Keeps the cache rows of the sequences that pass `stays` (a gather over the batch axis) and drops
 *  leading slots that are padding for all of them. */
function compact(b: PaddedBatch, stays: (s: Sequence) => boolean): PaddedBatch | null {
  const rows = b.seqs.flatMap((s, r) => (stays(s) ? [r] : []));
  if (rows.length === 0) {
    disposeBatch(b);
    return null;
  }
  const starts = rows.map((r) => b.starts[r]);
  const drop = Math.min(...starts);
  if (rows.length === b.seqs.length && drop === 0) return b;
  const next = noGrad(() => tidy(() => {
    const index = Tensor.fromData(rows, [rows.length], 'i32');
    const shrink = (t: Tensor): Tensor => {
      const [n, h, l, dh] = t.shape;
      // The embedding op is a row gather: the cache as a table of one row per sequence.
      const kept = rows.length < n ? reshape(embedding(reshape(t, [n, h * l * dh]), index), [rows.length, h, l, dh]) : t;
      return keep(drop > 0 ? slice(kept, 2, drop, l - drop) : kept);
    };
    const cache: KVCache = { keys: b.cache.keys.map(shrink), values: b.cache.values.map(shrink), length: b.cache.length - drop };
    const shifted = starts.map((s) => s - drop);
    return { seqs: rows.map((r) => b.seqs[r]), starts: shifted, cache, keyStart: keep(Tensor.fromData(shifted, [rows.length], 'i32')) };
  }));
  disposeBatch(b);
  return next;
}
