// One batch, one forward and backward: the loss, how many targets it counted, and every
// parameter's gradient (by Hugging Face name). The masking study and `wgpt grads` build on this.
import { backward, keep, tidy, WgptError } from '../../engine/index.ts';
import type { GPT } from '../../model/gpt.ts';
import { allowedMaxLengthFor, collate, IGNORE_INDEX } from '../data/collate.ts';
import { encodeEntry } from '../data/encode.ts';
import type { Entry } from '../data/entries.ts';
import { batchLoss, type Batch } from '../run/step.ts';

export interface GradientReport {
  loss: number;
  /** Targets that are not -100. */
  count: number;
  /** L2 norm of each trainable parameter's gradient, by Hugging Face name (with LoRA adapters:
   *  theirs, by PEFT name, as the base is frozen). */
  gradNorms: Record<string, number>;
  globalNorm: number;
}

/** Parses an inclusive range "A-B" (or a single index) against `n` entries. */
export function parseExamples(spec: string, n: number): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(spec.trim());
  if (!m) throw new WgptError(`--examples must look like A-B (e.g. 0-7), got "${spec}"`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (b < a) throw new WgptError(`--examples ${spec}: the range ends before it starts`);
  if (b >= n) throw new WgptError(`--examples ${spec}: the data has ${n} entries (0-${n - 1})`);
  return [a, b];
}

/** Tokenizes and collates entries exactly as training does, as one batch. */
export function batchOf(entries: readonly Entry[], style: string, mask: string, contextLength: number): Batch {
  return collate(entries.map((e) => encodeEntry(e, style)), { mask, allowedMaxLength: allowedMaxLengthFor(contextLength) });
}

export function countTargets(batch: Batch): number {
  let n = 0;
  for (const t of batch.targets) if (t !== IGNORE_INDEX) n++;
  return n;
}

/** Runs forward + backward on one batch; returns the loss and the gradients as host arrays. */
export async function gradientsOf(model: GPT, batch: Batch): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const trainable = model.trainable();
  for (const p of trainable.values()) {
    p.grad?.dispose();
    p.grad = null;
  }
  const loss = tidy(() => {
    const l = batchLoss(model, batch);
    backward(l);
    return keep(l);
  });
  const value = await loss.item();
  loss.dispose();
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of trainable) {
    grads.set(name, p.grad ? ((await p.grad.toArray()) as Float32Array) : new Float32Array(p.size));
    p.grad?.dispose();
    p.grad = null;
  }
  return { loss: value, grads };
}

/** L2 norm, summed in f64. */
export function l2(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

export async function gradientReport(model: GPT, batch: Batch): Promise<GradientReport> {
  const { loss, grads } = await gradientsOf(model, batch);
  const gradNorms: Record<string, number> = {};
  let sq = 0;
  for (const [name, g] of grads) {
    gradNorms[name] = l2(g);
    sq += gradNorms[name] ** 2;
  }
  return { loss, count: countTargets(batch), gradNorms, globalNorm: Math.sqrt(sq) };
}
