// Embedding lookup, forward and VJP side by side. The backward is deterministic without float
// atomics: the ids are known on the host, so the forward groups positions by id (CSR: sorted unique
// ids, offsets, positions in ascending order) and uploads that once; the backward sums, per unique
// id and column, the gradient rows of its positions in that fixed order into a zero-filled dW.
// The weight (GPT-2's wte is 147 MiB, past the 128 MiB binding limit) and the output are bound in
// windows of whole rows.
import { ShapeError, WgptError } from '../errors.ts';
import { record, shapeStr, Tensor } from '../tensor.ts';
import { GATHER, SCATTER } from '../../kernels/embedding.ts';
import { zeros } from './elementwise.ts';
import { assertF32, launch1d, recording, rowWindows, type RowWindow } from './util.ts';

interface Csr {
  uniq: Int32Array;
  offsets: Int32Array;
  positions: Int32Array;
}

/** Groups positions by id: unique ids ascending; positions of uniq[u] at positions[offsets[u]..offsets[u+1]), ascending. */
export function groupIds(ids: Int32Array): Csr {
  const positions = Int32Array.from(ids.keys());
  positions.sort((a, b) => ids[a] - ids[b] || a - b);
  const uniq: number[] = [];
  const offsets: number[] = [];
  for (let k = 0; k < positions.length; k++) {
    const id = ids[positions[k]];
    if (uniq.length === 0 || uniq[uniq.length - 1] !== id) {
      uniq.push(id);
      offsets.push(k);
    }
  }
  offsets.push(positions.length);
  return { uniq: Int32Array.from(uniq), offsets: Int32Array.from(offsets), positions };
}

/** Rows of weight [V, D] picked by i32 ids [...] (which must have a host copy, as Tensor.fromData
 *  keeps): [..., D]. */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  assertF32(weight, 'embedding');
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be [V, D], got ${shapeStr(weight.shape)}`);
  if (ids.dtype !== 'i32') throw new ShapeError(`embedding: ids must be i32, got ${ids.dtype}`);
  const host = ids.host;
  if (!host) throw new WgptError('embedding: the ids have no host copy (make them with Tensor.fromData); ' +
    'the backward groups them on the host');
  const [v, d] = weight.shape;
  for (let i = 0; i < host.length; i++) {
    if (host[i] < 0 || host[i] >= v) throw new ShapeError(`embedding: id ${host[i]} at position ${i} is outside [0, ${v})`);
  }
  const n = ids.size;
  // The backward's CSR is uploaded before the forward's dispatch: an upload among recorded work
  // costs a staged copy (device/recorder.ts), one before it none.
  const csr = recording(weight) ? groupIds(host) : null;
  const csrTensors = csr ? [csr.uniq, csr.offsets, csr.positions].map((a) => Tensor.fromData(a, [a.length], 'i32')) : [];
  const out = Tensor.empty([...ids.shape, d], 'f32', 'embedding');
  const windows = (count: number, o: RowWindow, w: RowWindow) => ({
    n: count, d, o_row0: o.row0, o_rows: o.rows, o_shift: o.shift, w_row0: w.row0, w_rows: w.rows, w_shift: w.shift,
  });
  const wWindows = rowWindows(v, d);
  const oWindows = rowWindows(n, d);
  if (d > 0) {
    for (const o of oWindows) {
      for (const w of wWindows) {
        let any = false;
        for (let r = o.row0; r < o.row0 + o.rows && !any; r++) any = host[r] >= w.row0 && host[r] < w.row0 + w.rows;
        if (!any) continue;
        const count = o.rows * d;
        launch1d(GATHER, count, windows(count, o, w),
          [ids.bind(), weight.bind(w.elem0, w.count), out.bind(o.elem0, o.count)], `embedding ${shapeStr(weight.shape)}`);
      }
    }
  }
  if (!csr) return out;
  const [uniq, offsets, positions] = csrTensors;
  // dW += the gradient rows of each id's positions (a zero-filled dW when it is the first
  // gradient of the weight, or the other use's gradient in place: the tied LM head's).
  const scatterInto = (g: Tensor, dw: Tensor): void => {
    if (d === 0) return;
    let u0 = 0;
    for (const w of wWindows) {
      // The unique ids in this weight window are a contiguous run of the sorted list.
      let u1 = u0;
      while (u1 < csr.uniq.length && csr.uniq[u1] < w.row0 + w.rows) u1++;
      if (u1 > u0) {
        const count = (u1 - u0) * d;
        for (const o of oWindows) {
          launch1d(SCATTER, count, { ...windows(count, o, w), u0 },
            [uniq.bind(), offsets.bind(), positions.bind(), g.bind(o.elem0, o.count), dw.bind(w.elem0, w.count)],
            'embedding backward');
        }
      }
      u0 = u1;
    }
  };
  return record(out, 'embedding', [weight], (g) => {
    const dw = zeros(weight.shape);
    scatterInto(g, dw);
    return [dw];
  }, { fresh: true, accumulate: scatterInto });
}
