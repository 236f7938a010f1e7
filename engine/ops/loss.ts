// Cross-entropy from logits, fused (online log-sum-exp per row, softmax - onehot backward), forward
// and VJP side by side, optionally with a weight per row (the prompt-loss weight). Logits larger
// than one binding (8 x 128 x 50257 floats) are processed in windows of rows.
import { ShapeError, WgptError } from '../errors.ts';
import { record, shapeStr, Tensor } from '../tensor.ts';
import { CE_BACKWARD, CE_FINISH, CE_FORWARD } from '../../kernels/loss.ts';
import { assertF32, launchRows, recording, rowWindows, rowWorkgroup } from './util.ts';

/** PyTorch's cross_entropy ignore_index: a target with this value is left out of the loss. */
export const IGNORE_INDEX = -100;

export interface CrossEntropyOptions {
  /** Targets equal to this are left out of the loss and the count (default IGNORE_INDEX, as PyTorch). */
  ignoreIndex?: number;
  /** Divide the summed loss by this instead of the count of non-ignored targets ("pad-in-mean"),
   *  or with `weights` instead of the sum of their weights. */
  denominator?: number;
  /** f32 [N]: a finite weight >= 0 per row (the caller checks the values: an f32 tensor has no
   *  host copy here). The loss is sum(w * loss) / sum(w) over the rows whose target
   *  counts (Huerta-Enochian & Ko's prompt-loss weight; Hugging Face's weighted mean), and each
   *  row's gradient is scaled by its weight; a weight of 0 is an ignored row. No gradient flows
   *  to the weights. All weights 1 give the unweighted loss and gradients bit for bit. */
  weights?: Tensor;
}

function check(logits: Tensor, targets: Tensor, ignoreIndex: number, op: string): { rows: number; v: number } {
  assertF32(logits, op);
  if (targets.dtype !== 'i32') throw new ShapeError(`${op}: targets must be i32, got ${targets.dtype}`);
  if (logits.ndim < 2) throw new ShapeError(`${op}: logits must be [N, V], got ${shapeStr(logits.shape)}`);
  const v = logits.shape[logits.ndim - 1];
  const rows = v === 0 ? 0 : logits.size / v;
  if (targets.size !== rows) {
    throw new ShapeError(`${op}: ${shapeStr(targets.shape)} targets for logits ${shapeStr(logits.shape)} (${rows} rows)`);
  }
  if (!Number.isInteger(ignoreIndex)) throw new WgptError(`${op}: ignoreIndex must be an integer`);
  const host = targets.host;
  if (host) {
    for (let i = 0; i < host.length; i++) {
      const t = host[i];
      if (t !== ignoreIndex && (t < 0 || t >= v)) {
        throw new ShapeError(`${op}: target ${t} at row ${i} is outside [0, ${v}) and is not ignoreIndex (${ignoreIndex})`);
      }
    }
  }
  return { rows, v };
}

/** Per-row max and log-sum of exp(x - max) (the backward's stats) and loss (0 at ignored rows,
 *  times the row's weight when weighted). Unweighted, the weights' slot holds the targets (unread). */
function rowsForward(logits: Tensor, targets: Tensor, weights: Tensor | undefined, rows: number, v: number, ignore: number,
  label: string): { stats: Tensor; losses: Tensor } {
  const stats = Tensor.empty([rows, 2], 'f32', `${label} max, log-sum`);
  const losses = Tensor.empty([rows], 'f32', `${label} rows`);
  for (const w of rowWindows(rows, v)) {
    launchRows(CE_FORWARD, w.rows, { rows: w.rows, v, shift: w.shift, row0: w.row0, ignore, weighted: weights ? 1 : 0 },
      [logits.bind(w.elem0, w.count), targets.bind(), stats.bind(), losses.bind(), (weights ?? targets).bind()],
      `${label} ${shapeStr(logits.shape)}`, rowWorkgroup(256));
  }
  return { stats, losses };
}

/** dx = (softmax - onehot) * g / denom (times the row's weight), window by window. Without a
 *  denominator: the per-token losses' backward, each row its own g[row] (PER_ROW; g fills the
 *  denominator's unread slot). */
function rowsBackward(logits: Tensor, targets: Tensor, stats: Tensor, g: Tensor, denom: Tensor | null, weights: Tensor | undefined,
  rows: number, v: number, ignore: number, label: string): Tensor {
  const dx = Tensor.empty(logits.shape, 'f32', `${label} backward`);
  for (const w of rowWindows(rows, v)) {
    launchRows(CE_BACKWARD, w.rows, { rows: w.rows, v, shift: w.shift, row0: w.row0, ignore, weighted: weights ? 1 : 0 },
      [logits.bind(w.elem0, w.count), targets.bind(), stats.bind(), g.bind(), (denom ?? g).bind(), dx.bind(w.elem0, w.count),
        (weights ?? targets).bind()], `${label} backward`, rowWorkgroup(256), denom ? undefined : { PER_ROW: 1 });
  }
  return dx;
}

/** Mean cross-entropy of logits [N, V] (or [..., V]) against i32 targets [N]: the sum over targets
 *  that are not `ignoreIndex`, divided by their count (computed on the GPU) or by `denominator`;
 *  with `weights`, the weighted sum divided by the sum of the counted rows' weights.
 *  When every target is ignored (and no denominator is given) the loss is defined as 0 and every
 *  gradient is 0; PyTorch returns NaN there, which would poison a training step. */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ignore = opts.ignoreIndex ?? IGNORE_INDEX;
  const { rows, v } = check(logits, targets, ignore, 'crossEntropy');
  if (opts.denominator !== undefined && !Number.isFinite(opts.denominator)) {
    throw new WgptError(`crossEntropy: denominator ${opts.denominator} is not a finite number`);
  }
  const weights = opts.weights;
  if (weights) {
    assertF32(weights, 'crossEntropy weights');
    if (weights.size !== rows) throw new ShapeError(`crossEntropy: weights ${shapeStr(weights.shape)} for ${rows} rows: give one per row`);
  }
  const { stats, losses } = rowsForward(logits, targets, weights, rows, v, ignore, 'crossEntropy');
  const out = Tensor.empty([], 'f32', 'crossEntropy');
  const denom = Tensor.empty([1], 'f32', 'crossEntropy denominator');
  const useDenom = opts.denominator !== undefined;
  const weighted = weights ? 1 : 0;
  launchRows(CE_FINISH, 1, { rows, v, ignore, use_denom: useDenom ? 1 : 0, denom: opts.denominator ?? 0, weighted },
    [losses.bind(), targets.bind(), out.bind(), denom.bind(), (weights ?? targets).bind()], 'crossEntropy mean', rowWorkgroup(256));
  losses.dispose();
  if (!recording(logits)) {
    stats.dispose();
    denom.dispose();
    return out;
  }
  return record(out, 'crossEntropy', [logits],
    (g) => [rowsBackward(logits, targets, stats, g, denom, weights, rows, v, ignore, 'crossEntropy')]);
}

/** Per-row cross-entropy, (max - logits[target]) + log-sum, shape logits.shape[:-1]; 0 at ignored
 *  rows. Its VJP gives each row its own upstream gradient: dx = g[row] * (softmax - onehot), 0 at
 *  ignored rows (DPO weighs each sequence's tokens by 1/count through a matmul after this). */
export function crossEntropyPerToken(logits: Tensor, targets: Tensor, opts: { ignoreIndex?: number } = {}): Tensor {
  const ignore = opts.ignoreIndex ?? IGNORE_INDEX;
  const { rows, v } = check(logits, targets, ignore, 'crossEntropyPerToken');
  const { stats, losses } = rowsForward(logits, targets, undefined, rows, v, ignore, 'crossEntropyPerToken');
  const out = losses.view(logits.shape.slice(0, -1));
  losses.dispose();
  if (!recording(logits)) {
    stats.dispose();
    return out;
  }
  return record(out, 'crossEntropyPerToken', [logits],
    (g) => [rowsBackward(logits, targets, stats, g, null, undefined, rows, v, ignore, 'crossEntropyPerToken')]);
}
