// LayerNorm over the last axis, forward and VJP side by side. The forward saves each row's mean and
// rstd for the backward (not recomputed); dx is one kernel per row, which also adds the gradient x
// gathered before (the residual path's: sumsFirst), and dweight/dbias one column reduction over
// the rows in a fixed order (deterministic).
import { ShapeError } from '../errors.ts';
import { record, shapeStr, Tensor } from '../tensor.ts';
import { LN_BACKWARD_DX, LN_BACKWARD_WB, LN_FORWARD } from '../../kernels/norm.ts';
import { assertF32, launch1d, launchRows, recording, rowWindows, rowWorkgroup } from './util.ts';

/** (x - mean) / sqrt(var + eps) * weight + bias over the last axis; weight and bias are [D]. */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  for (const t of [x, weight, bias]) assertF32(t, 'layerNorm');
  const d = x.shape[x.ndim - 1];
  if (x.ndim < 1 || weight.ndim !== 1 || bias.ndim !== 1 || weight.shape[0] !== d || bias.shape[0] !== d) {
    throw new ShapeError(`layerNorm: x ${shapeStr(x.shape)} needs weight and bias of shape [${d}], ` +
      `got ${shapeStr(weight.shape)} and ${shapeStr(bias.shape)}`);
  }
  const rows = x.size / Math.max(d, 1);
  const out = Tensor.empty(x.shape, 'f32', 'layerNorm');
  const mean = Tensor.empty([rows], 'f32', 'layerNorm mean');
  const rstd = Tensor.empty([rows], 'f32', 'layerNorm rstd');
  if (out.size > 0) {
    for (const w of rowWindows(rows, d)) {
      launchRows(LN_FORWARD, w.rows, { rows: w.rows, d, shift: w.shift, row0: w.row0, eps },
        [x.bind(w.elem0, w.count), weight.bind(), bias.bind(), out.bind(w.elem0, w.count), mean.bind(), rstd.bind()],
        `layerNorm ${shapeStr(x.shape)}`, rowWorkgroup(64));
    }
  }
  if (!recording(x, weight, bias)) {
    mean.dispose();
    rstd.dispose();
    return out;
  }
  return record(out, 'layerNorm', [x, weight, bias], (g, prior) => {
    const windows = rowWindows(rows, d);
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(x.shape, 'f32', 'layerNorm dx');
      for (const w of windows) {
        const win = (t: Tensor) => t.bind(w.elem0, w.count);
        launchRows(LN_BACKWARD_DX, w.rows, { rows: w.rows, d, shift: w.shift, row0: w.row0, add: prior ? 1 : 0 },
          [win(x), weight.bind(), win(g), mean.bind(), rstd.bind(), win(prior ?? g), win(dx)],
          prior ? 'layerNorm backward dx + prior' : 'layerNorm backward dx', rowWorkgroup(64));
      }
    }
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (weight.requiresGrad || bias.requiresGrad) {
      dw = Tensor.empty([d], 'f32', 'layerNorm dweight');
      db = Tensor.empty([d], 'f32', 'layerNorm dbias');
      windows.forEach((w, i) => {
        launch1d(LN_BACKWARD_WB, d, { rows: w.rows, d, shift: w.shift, row0: w.row0, accumulate: i > 0 ? 1 : 0 },
          [x.bind(w.elem0, w.count), g.bind(w.elem0, w.count), mean.bind(), rstd.bind(), dw!.bind(), db!.bind()],
          'layerNorm backward dweight/dbias');
      });
    }
    return [dx, dw, db];
  }, { fresh: true, sumsFirst: true });
}
