// GELU (tanh form) and the fused bias + GELU of the MLP, forward and VJP side by side.
import { ShapeError } from '../errors.ts';
import { record, shapeStr, Tensor } from '../tensor.ts';
import { BIAS_GELU, BIAS_GELU_BACKWARD, GELU, GELU_BACKWARD } from '../../kernels/activation.ts';
import { assertF32, eachWindow, launch1d, rowWindows } from './util.ts';

/** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function gelu(x: Tensor): Tensor {
  assertF32(x, 'gelu');
  const out = Tensor.empty(x.shape, 'f32', 'gelu');
  eachWindow(x.size, (e0, n) => launch1d(GELU, n, { n }, [x.bind(e0, n), out.bind(e0, n)], 'gelu'));
  return record(out, 'gelu', [x], (g) => {
    const dx = Tensor.empty(x.shape, 'f32', 'gelu backward');
    eachWindow(x.size, (e0, n) => launch1d(GELU_BACKWARD, n, { n }, [x.bind(e0, n), g.bind(e0, n), dx.bind(e0, n)], 'gelu backward'));
    return [dx];
  });
}

/** gelu(x + bias), bias [D] broadcast over the last axis of x [..., D]. */
export function biasGelu(x: Tensor, bias: Tensor): Tensor {
  assertF32(x, 'biasGelu');
  assertF32(bias, 'biasGelu');
  const d = x.shape[x.ndim - 1];
  if (x.ndim < 1 || bias.ndim !== 1 || bias.shape[0] !== d || d === 0) {
    throw new ShapeError(`biasGelu: x ${shapeStr(x.shape)} needs a bias of shape [${d}], got ${shapeStr(bias.shape)}`);
  }
  const out = Tensor.empty(x.shape, 'f32', 'biasGelu');
  eachWindow(x.size, (e0, n) => launch1d(BIAS_GELU, n, { n, base: e0, d }, [x.bind(e0, n), bias.bind(), out.bind(e0, n)], 'biasGelu'));
  return record(out, 'biasGelu', [x, bias], (g) => {
    // The bias gradient summed down each column as dx is written (windows of whole rows).
    const dx = Tensor.empty(x.shape, 'f32', 'biasGelu backward');
    const dbias = Tensor.empty(bias.shape, 'f32', 'biasGelu dbias');
    rowWindows(x.size / d, d).forEach((w, i) => launch1d(BIAS_GELU_BACKWARD, d,
      { rows: w.rows, d, shift: w.shift, accumulate: i > 0 ? 1 : 0 },
      [x.bind(w.elem0, w.count), bias.bind(), g.bind(w.elem0, w.count), dx.bind(w.elem0, w.count), dbias.bind()],
      'biasGelu backward, dbias'));
    return [x.requiresGrad ? dx : (dx.dispose(), null), bias.requiresGrad ? dbias : (dbias.dispose(), null)];
  });
}
