// GPT-2 built from engine ops: pre-LN blocks, learned positions, fused bias+GELU MLP, causal
// attention, a tied or separate LM head. Parameters are held by their Hugging Face names, so
// loading, saving and per-parameter gradient reports need no translation table.
import {
  add, addBias, biasGelu, concat, crossEntropy, dropout, embedding, IGNORE_INDEX, keep, layerNorm, matmul, paddedAttention, param,
  permute, qkvAttention, reshape, scale, slice, softmax, splitHeads, Tensor, WgptError,
} from '../engine/index.ts';
import type { GPTConfig } from './config.ts';
import { loraMatmul, type LoraAdapters } from './lora.ts';
import { hfTensorSpecs } from './hf-names.ts';

/** A step's dropout seed times this plus the site's salt (1 .. 3·layers) seeds each dropout site: a prime
 *  larger than any salt, so distinct (seed, site) pairs get distinct seeds while seed · 7919 stays below 2^32. */
const DROPOUT_SEED_STRIDE = 7919;

export interface ForwardOptions {
  /** Dropout on (training) or off (evaluation, generation). */
  train?: boolean;
  /** Seeds this forward's dropout masks; vary it per step. */
  dropoutSeed?: number;
  /** Keys and values of the positions seen so far (generation), extended in place. */
  cache?: KVCache;
  /** A left-padded batch (batched generation, forward only): i32 [B] index of each sequence's
   *  first real position in the cache (or in ids without a cache); the keys before it are masked. */
  keyStart?: Tensor;
  /** With keyStart: i32 [B, T] position ids of the fed tokens, counted from each sequence's first
   *  real token (padding may take any position below the context length). */
  positions?: Tensor;
  /** Only the last position's hidden state is wanted (generation): the last block computes every
   *  position's keys and values (and caches them) but its attention output and MLP for the last
   *  row alone; hidden() returns [B, 1, D]. Forward only. */
  lastOnly?: boolean;
}

/** Per layer, the keys and values [B, H, L, Dh] of the L positions already processed. */
export interface KVCache {
  keys: Tensor[];
  values: Tensor[];
  length: number;
}

/** Attention [B, Tq, D] over the qkv projection's output and its bias, for new queries over cached
 *  and new keys: with a cache the new tokens attend to every cached position, and causally among
 *  themselves (only one new token is allowed then, except in a padded batch). With keyStart, each
 *  sequence's padded keys are masked; lastOnly (tail): only the last position's query. Without a
 *  cache, keyStart or tail (training) this is qkvAttention, which adds the bias itself. */
function attention(projected: Tensor, bias: Tensor, heads: number, opts: ForwardOptions, layer: number, tail: boolean): Tensor {
  const { cache, keyStart } = opts;
  if (!cache && !keyStart && !tail) return qkvAttention(projected, heads, bias);
  const qkv = add(projected, bias);
  const [b, t, d3] = qkv.shape;
  const [q0, k, v] = splitHeads(qkv, heads);
  // lastOnly: the last block's one query attends over all keys (unpadded: every key from 0).
  const q = tail ? slice(q0, 2, t - 1, 1) : q0;
  const starts = keyStart ?? (tail ? Tensor.fromData(new Array<number>(b).fill(0), [b], 'i32') : undefined);
  let att: Tensor;
  if (!cache) att = paddedAttention(q, k, v, starts!);
  else {
    const old = cache.keys[layer];
    if (old && q.shape[2] !== 1 && !starts) throw new WgptError('GPT: with a filled KV cache, feed one token at a time');
    const keys = old ? concat([old, k], 2) : k;
    const values = old ? concat([cache.values[layer], v], 2) : v;
    old?.dispose();
    cache.values[layer]?.dispose();
    cache.keys[layer] = keep(keys);
    cache.values[layer] = keep(values);
    if (starts) att = paddedAttention(q, keys, values, starts);
    else if (!old) return qkvAttention(projected, heads, bias);
    else att = matmul(softmax(scale(matmul(q, keys, { transB: true }), 1 / Math.sqrt(q.shape[3]))), values);
  }
  return reshape(permute(att, [0, 2, 1, 3]), [b, q.shape[2], d3 / 3]);
}

export class GPT {
  /** Parameters by Hugging Face name, in the order of hfTensorSpecs. */
  readonly params = new Map<string, Tensor>();
  /** With config.outputVocab: its ids on the GPU (rows of the head to gather) and id -> column. */
  private readonly outputIds: Tensor | null = null;
  private readonly outputColumn: Map<number, number> | null = null;
  /** LoRA adapters (useAdapters): then only they train and the base weights are frozen. */
  private adapters: LoraAdapters | null = null;
  private adaptersOff = false;

  constructor(readonly config: GPTConfig, tensors: Map<string, Tensor>) {
    for (const spec of hfTensorSpecs(config)) {
      const t = tensors.get(spec.name);
      if (!t) throw new WgptError(`GPT: missing parameter ${spec.name}`);
      if (t.shape.join() !== spec.shape.join()) {
        throw new WgptError(`GPT: parameter ${spec.name} has shape [${t.shape}], expected [${spec.shape}]`);
      }
      this.params.set(spec.name, keep(param(t)));
    }
    if (config.outputVocab) {
      this.outputIds = keep(Tensor.fromData(config.outputVocab, [config.outputVocab.length], 'i32'));
      this.outputColumn = new Map(config.outputVocab.map((id, i) => [id, i]));
    }
  }

  p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new WgptError(`GPT: no parameter ${name}`);
    return t;
  }

  get lora(): LoraAdapters | null {
    return this.adapters;
  }

  /** Adds LoRA adapters (the model owns them from now on) and freezes every base parameter: the
   *  base gets no gradient buffers and its matmuls no weight-gradient products. */
  useAdapters(adapters: LoraAdapters): void {
    if (this.adapters) throw new WgptError('GPT: the model already has adapters');
    for (const t of this.params.values()) t.requiresGrad = false;
    this.adapters = adapters;
  }

  /** What an optimizer updates: the adapters' A and B when there are adapters, else every parameter. */
  trainable(): Map<string, Tensor> {
    return this.adapters ? this.adapters.params : this.params;
  }

  /** Runs fn with the adapter branch off: the base model (DPO's reference, without a second copy). */
  withoutAdapters<T>(fn: () => T): T {
    const prev = this.adaptersOff;
    this.adaptersOff = true;
    try {
      return fn();
    } finally {
      this.adaptersOff = prev;
    }
  }

  /** x·W of a Conv1D layer (no bias), plus its LoRA branch when it has one. */
  private project(x: Tensor, module: string): Tensor {
    return loraMatmul(x, this.p(`${module}.weight`), this.adaptersOff ? null : this.adapters, module);
  }

  /** The output head: wte itself when tied. */
  get head(): Tensor {
    return this.config.tiedHead ? this.p('wte.weight') : this.p('lm_head.weight');
  }

  /** Logits [..., V] from hidden states [..., D]: one column per token of the output vocabulary
   *  (the whole vocabulary, or config.outputVocab: the head's rows gathered, so only those rows
   *  get a gradient and the softmax spans only those tokens). */
  logits(h: Tensor): Tensor {
    const head = this.outputIds ? embedding(this.head, this.outputIds) : this.head;
    const logits = matmul(h, head, { transB: true });
    return this.adapters?.has('lm_head') && !this.adaptersOff ? add(logits, this.adapters.delta(h, 'lm_head')) : logits;
  }

  /** The token id of logit column `column`. */
  tokenAt(column: number): number {
    return this.config.outputVocab ? this.config.outputVocab[column] : column;
  }

  /** Target token ids as logit columns (-100 stays); a target outside the output vocabulary is an error. */
  targetColumns(targets: ArrayLike<number>): number[] {
    const map = this.outputColumn;
    return Array.from(targets, (id) => {
      if (!map || id === IGNORE_INDEX) return id;
      const c = map.get(id);
      if (c === undefined) throw new WgptError(`target token ${id} is outside the model's output vocabulary of ${map.size} tokens`);
      return c;
    });
  }

  private linear(x: Tensor, prefix: string): Tensor {
    return add(this.project(x, prefix), this.p(`${prefix}.bias`));
  }

  /** x + dropout(linear(h)): without dropout the projection's bias and the residual add are one
   *  dispatch (addBias, the same bits). */
  private residual(x: Tensor, h: Tensor, module: string, opts: ForwardOptions, salt: number): Tensor {
    if (opts.train && this.config.dropout > 0) return add(x, this.drop(this.linear(h, module), opts, salt));
    return addBias(x, this.project(h, module), this.p(`${module}.bias`));
  }

  private drop(x: Tensor, opts: ForwardOptions, salt: number): Tensor {
    const p = opts.train ? this.config.dropout : 0;
    return p > 0 ? dropout(x, p, ((opts.dropoutSeed ?? 0) * DROPOUT_SEED_STRIDE + salt) >>> 0) : x;
  }

  /** The final hidden states [B, T, D] (lastOnly: [B, 1, D]) for token ids [B, T] at positions
   *  start.. (KV cache). */
  hidden(ids: Tensor, opts: ForwardOptions = {}, start = 0): Tensor {
    const { nHeads: h, nLayers, contextLength, layerNormEps: eps } = this.config;
    if (ids.ndim !== 2 || ids.dtype !== 'i32') throw new WgptError(
      `GPT: token ids must be i32 [batch, time], got ${ids.dtype} [${ids.shape}]`);
    const t = ids.shape[1];
    const { keyStart, positions } = opts;
    if (!keyStart !== !positions) throw new WgptError('GPT: a padded batch needs both keyStart and positions');
    // A padded cache may hold more slots than the context; the positions themselves may not pass it.
    let maxPosition = start + t;
    if (positions) maxPosition = (positions.host ?? new Int32Array(1)).reduce((m, p) => Math.max(m, p + 1), 0);
    if (maxPosition > contextLength) {
      throw new WgptError(`GPT: ${maxPosition} positions exceed the context length ${contextLength}; crop the input`);
    }
    if (positions && positions.shape.join() !== ids.shape.join()) throw new WgptError(
      `GPT: positions [${positions.shape}] do not match ids [${ids.shape}]`);
    if (opts.cache && start !== opts.cache.length) throw new WgptError(
      `GPT: the KV cache holds ${opts.cache.length} positions, not ${start}`);
    const wpe = this.p('wpe.weight');
    let x = add(embedding(this.p('wte.weight'), ids), positions ? embedding(wpe, positions) : slice(wpe, 0, start, t));
    x = this.drop(x, opts, 1);
    for (let l = 0; l < nLayers; l++) {
      const pre = `h.${l}`;
      const ln1 = layerNorm(x, this.p(`${pre}.ln_1.weight`), this.p(`${pre}.ln_1.bias`), eps);
      const tail = opts.lastOnly === true && l === nLayers - 1 && t > 1;
      const att = attention(this.project(ln1, `${pre}.attn.c_attn`), this.p(`${pre}.attn.c_attn.bias`), h, opts, l, tail);
      if (tail) x = slice(x, 1, t - 1, 1);
      x = this.residual(x, att, `${pre}.attn.c_proj`, opts, 2 + 3 * l);
      const ln2 = layerNorm(x, this.p(`${pre}.ln_2.weight`), this.p(`${pre}.ln_2.bias`), eps);
      const fc = biasGelu(this.project(ln2, `${pre}.mlp.c_fc`), this.p(`${pre}.mlp.c_fc.bias`));
      x = this.residual(x, fc, `${pre}.mlp.c_proj`, opts, 3 + 3 * l);
    }
    if (opts.cache) opts.cache.length += t;
    return layerNorm(x, this.p('ln_f.weight'), this.p('ln_f.bias'), eps);
  }

  /** Logits [B, T, V] for ids at positions start.. (start > 0 only with a KV cache). */
  forward(ids: Tensor, opts: ForwardOptions = {}, start = 0): Tensor {
    return this.logits(this.hidden(ids, opts, start));
  }

  /** Mean cross-entropy over targets that are not -100 (or over `denominator` targets); with
   *  `weights` (one per target, row-major like `targets`, each finite and >= 0: the prompt-loss
   *  weight), sum(w·loss) / sum(w) over them (or / `denominator`).
   *  Only positions with a counted target of nonzero weight go through the LM head: with prompt
   *  masking or padding that skips most of the vocabulary-sized work, and changes no number (a
   *  zero weight is an ignored target in the loss kernel too). */
  loss(ids: Tensor, targets: Tensor, opts: ForwardOptions & { denominator?: number; weights?: ArrayLike<number> } = {}): Tensor {
    const host = targets.host;
    if (!host && this.outputIds) throw new WgptError('GPT.loss: a model with an output vocabulary needs targets made with Tensor.fromData');
    const w = opts.weights;
    if (w) {
      if (!host) throw new WgptError('GPT.loss: weights need targets made with Tensor.fromData');
      if (w.length !== host.length) throw new WgptError(
        `GPT.loss: ${w.length} weights for ${host.length} targets; give one weight per target`);
      for (let i = 0; i < w.length; i++) {
        if (!(w[i] >= 0) || !Number.isFinite(w[i])) throw new WgptError(
          `GPT.loss: weight ${w[i]} at target ${i}; weights must be finite and >= 0`);
      }
    }
    // What the loss needs from the host is uploaded before the forward is recorded (uploads at the
    // start of a step).
    let rowIds: Tensor | null = null;
    let kept: Tensor | null = null;
    let keptWeights: ArrayLike<number> | undefined = w;
    if (host) {
      const columns = this.targetColumns(host);
      const keep: number[] = [];
      for (let i = 0; i < columns.length; i++) if (columns[i] !== IGNORE_INDEX && w?.[i] !== 0) keep.push(i);
      if (keep.length > 0 && keep.length < columns.length) {
        rowIds = Tensor.fromData(keep, [keep.length], 'i32');
        kept = Tensor.fromData(keep.map((i) => columns[i]), [keep.length], 'i32');
        if (w) keptWeights = keep.map((i) => w[i]);
      } else if (this.outputIds) kept = Tensor.fromData(columns, [columns.length], 'i32');
    }
    const weights = keptWeights ? Tensor.fromData(Float32Array.from(keptWeights), [keptWeights.length]) : undefined;
    const h = this.hidden(ids, opts);
    const [b, t, d] = h.shape;
    const flat = reshape(h, [b * t, d]);
    // A row gather with a deterministic scatter backward: the embedding op on the hidden states.
    const rows = rowIds ? embedding(flat, rowIds) : flat;
    return crossEntropy(this.logits(rows), kept ?? reshape(targets, [b * t]), { denominator: opts.denominator, weights });
  }

  parameterCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  dispose(): void {
    this.outputIds?.dispose();
    this.adapters?.dispose();
    for (const t of this.params.values()) {
      t.grad?.dispose();
      t.dispose();
    }
    this.params.clear();
  }
}
