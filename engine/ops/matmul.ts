// Batched matrix product with either operand transposed, forward and VJP side by side. The shapes
// are checked here; engine/ops/matmul-lower.ts turns the product into dispatches.
import { ShapeError } from '../errors.ts';
import { record, shapeStr, Tensor } from '../tensor.ts';
import { matmulInto } from './matmul-lower.ts';
import { assertF32, recording } from './util.ts';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/** Shapes: a [..., M, K] (or [..., K, M] with transA), b [K, N] or [..., K, N] (or transposed).
 *  Leading axes of a and b must match, or b is 2-D and shared by every batch. */
function matmulRaw(a: Tensor, b: Tensor, transA: boolean, transB: boolean, label = 'matmul'): Tensor {
  assertF32(a, label);
  assertF32(b, label);
  if (a.ndim < 2 || b.ndim < 2) throw new ShapeError(`${label}: operands must be at least 2-D, ` +
    `got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const [k2, n] = transB ? [bc, br] : [br, bc];
  const aLead = a.shape.slice(0, -2);
  const bLead = b.shape.slice(0, -2);
  const leadOk = bLead.length === 0 || (bLead.length === aLead.length && bLead.every((d, i) => d === aLead[i]));
  if (k !== k2 || !leadOk) {
    throw new ShapeError(`${label}: cannot multiply ${shapeStr(a.shape)}${transA ? 'ᵀ' : ''} by ${shapeStr(b.shape)}${transB ? 'ᵀ' : ''}`);
  }
  let batch = aLead.reduce((x, y) => x * y, 1);
  const out = Tensor.empty([...aLead, m, n], 'f32', label);
  if (out.size === 0) return out;
  if (k === 0) throw new ShapeError(`${label}: inner dimension is 0`);
  // A batch of row blocks times one shared matrix is a single taller matmul: bigger tiles, one dispatch.
  const fold = bLead.length === 0 && !transA && batch > 1;
  const rows = fold ? ar * batch : ar;
  if (fold) batch = 1;
  matmulInto({ t: a, rows, cols: ac, batch }, { t: b, rows: br, cols: bc, batch: bLead.length ? batch : 1 },
    out, fold ? rows : m, n, k, transA, transB, false, label);
  return out;
}

/** op(a) · op(b). */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  // Its B gradient would need Aᵀ over a batch of transposed blocks, which the backward cannot
  // form: refuse here, where the caller can still change it, not at backward().
  if (transA && b.ndim === 2 && a.ndim > 2 && recording(b)) {
    throw new ShapeError(`matmul: a transposed batched A ${shapeStr(a.shape)}ᵀ with a shared B ${shapeStr(b.shape)} ` +
      `that needs a gradient is not supported; transpose A first (transpose(a)) or give B a batch axis`);
  }
  const out = matmulRaw(a, b, transA, transB);
  return record(out, 'matmul', [a, b], (g) => {
    // C = A·B: dA = g·Bᵀ, dB = Aᵀ·g (transposes folded into the kernel's operand order).
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) da = transA ? matmulRaw(b, g, transB, true, 'matmul dA') : matmulRaw(g, b, false, !transB, 'matmul dA');
    if (b.requiresGrad) {
      const shared = b.ndim === 2 && a.ndim > 2;
      const a2 = shared ? a.view([a.size / a.shape[a.ndim - 1], a.shape[a.ndim - 1]]) : a;
      const g2 = shared ? g.view([g.size / g.shape[g.ndim - 1], g.shape[g.ndim - 1]]) : g;
      db = transB ? matmulRaw(g2, a2, true, transA, 'matmul dB') : matmulRaw(a2, g2, !transA, false, 'matmul dB');
      if (shared) {
        a2.dispose();
        g2.dispose();
      }
    }
    // db has b's shape: a shared B's gradient is one product over the folded batch.
    return [da, db];
  }, { fresh: true });
}
