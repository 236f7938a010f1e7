// Batched matrix product with either operand transposed, forward and VJP side by side.
// Operands larger than one binding are bound in row windows (see matmulInto), so the LM head of
// GPT-2 (50257 x 768 floats, past the 128 MiB binding limit) works like any other matmul.
import { ShapeError } from '../errors.ts';
import { getDevice, record, shapeStr, Tensor } from '../tensor.ts';
import { PAD, UNPAD } from '../../kernels/restride.ts';
import { dispatchMatmul, llvmpipeVec4Kernel, up4, type MatmulDispatch } from './matmul-plan.ts';
import { SMALL_WORK } from '../tune/choices.ts';
import { sumTo } from './sum-to.ts';
import { assertF32, recording } from './util.ts';
import type { Binding } from '../device.ts';

export { overrideMatmul } from './matmul-plan.ts';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

interface Operand {
  t: Tensor;
  rows: number; // rows as stored
  cols: number; // row length as stored
  batch: number; // batch count (1 = shared by every batch of the product)
}

/** Splits [0, n) into steps of at most `step`. */
function spans(n: number, step: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += step) out.push([s, Math.min(step, n - s)]);
  return out;
}

const COPY_WG = 64;

interface Rows {
  off: number;
  ld: number;
  batch: number;
}

/** Copies `rows` rows of `cols` floats per batch between a float layout and a vec4 one (offset,
 *  stride and batch stride of the vec4 side in vec4s); see restride.wgsl. */
function restride(toVec4: boolean, src: Binding, dst: Binding, batches: number, rows: number, cols: number, s: Rows, dd: Rows, acc: boolean): void {
  getDevice().dispatch({
    kernel: toVec4 ? PAD : UNPAD, constants: { WG: COPY_WG, ...(toVec4 ? {} : { ACC: acc ? 1 : 0 }) },
    params: { cols, s_off: s.off, s_ld: s.ld, s_batch: s.batch, d_off: dd.off, d_ld: dd.ld, d_batch: dd.batch },
    bindings: [src, dst], label: 'matmul restride', workgroups: [Math.ceil(up4(cols) / 4 / COPY_WG), rows, batches],
  });
}

/** On llvmpipe a product with a long K (the LM head's dx = dlogits·wte: K = 50257) is computed in
 *  slices of about this many: unsliced, each invocation streams a strip of B over all of K (16
 *  columns of rows 3 KB apart: a 150 MB span at K = 50257), which ran markedly slower; shapes up to
 *  K = 4096 are not sliced (no gain measured), so every GPT-2 layer keeps its summation order.
 *  Measured: docs/measurements.md, 'Matmul on llvmpipe'. */
const K_CHUNK = 2048;

/** On llvmpipe an operand whose rows are not 16-byte aligned (the LM head's 50257 columns) is loaded
 *  float by float and a C so stored is written float by float, at about half the speed of vec4
 *  (docs/measurements.md, 'Matmul on llvmpipe'): such an operand is first copied to rows padded to a multiple
 *  of 4 (zeros past the end), and such a C computed there and copied back. */
function dispatchAligned(d: MatmulDispatch, transA: boolean, transB: boolean, label: string): void {
  const { maxStorageBufferBindingSize, maxComputeWorkgroupsPerDimension: maxGroups } = getDevice().limits;
  const maxFloats = maxStorageBufferBindingSize / 4;
  const temps: Tensor[] = [];
  // An operand as stored: `rows` rows of `cols` floats at stride ld, per batch (stride 0: shared).
  const aligned = (bind: Binding, rows: number, cols: number, ld: number, off: number, batchStride: number): [Binding, number, number, number] | null => {
    if (ld % 4 === 0 && off % 4 === 0 && batchStride % 4 === 0) return null;
    const copies = batchStride === 0 ? 1 : d.batches;
    const ld4 = up4(cols);
    if (copies * rows * ld4 > maxFloats || rows > maxGroups || copies > maxGroups) return null;
    const t = Tensor.empty([copies * rows * ld4], 'f32', `${label} aligned operand`);
    temps.push(t);
    restride(true, bind, t.bind(), copies, rows, cols, { off, ld, batch: batchStride }, { off: 0, ld: ld4 / 4, batch: (rows * ld4) / 4 }, false);
    return [t.bind(), ld4, 0, batchStride === 0 ? 0 : rows * ld4];
  };
  const out = { ...d };
  const pa = aligned(d.a, transA ? d.k : d.m, transA ? d.m : d.k, d.lda, d.aOff, d.aBatch);
  if (pa) [out.a, out.lda, out.aOff, out.aBatch] = pa;
  const pb = aligned(d.b, transB ? d.n : d.k, transB ? d.k : d.n, d.ldb, d.bOff, d.bBatch);
  if (pb) [out.b, out.ldb, out.bOff, out.bBatch] = pb;
  const n4 = up4(d.n);
  const padC = !(d.ldc % 4 === 0 && d.cOff % 4 === 0 && d.cBatch % 4 === 0 && d.n % 4 === 0)
    && d.batches * d.m * n4 <= maxFloats && d.m <= maxGroups && d.batches <= maxGroups;
  let cTemp: Tensor | null = null;
  if (padC) {
    cTemp = Tensor.empty([d.batches * d.m * n4], 'f32', `${label} aligned result`);
    temps.push(cTemp);
    // The kernel fills whole padded rows (columns past n are never copied back), so it may store vec4s.
    Object.assign(out, { c: cTemp.bind(), n: n4, ldc: n4, cOff: 0, cBatch: d.m * n4, accumulate: false });
  }
  dispatchMatmul(out, transA, transB, label);
  if (cTemp) {
    restride(false, cTemp.bind(), d.c, d.batches, d.m, d.n, { off: 0, ld: n4 / 4, batch: (d.m * n4) / 4 }, { off: d.cOff, ld: d.ldc, batch: d.cBatch }, d.accumulate);
  }
  // Back to the pool: later commands run after the ones recorded here.
  for (const t of temps) t.dispose();
}

/** C = op(A) · op(B), or C += when `accumulate`; a and b as stored, c preallocated [batch, m, n].
 *  Each operand is bound as a window of whole rows small enough for one binding: A by M (or K
 *  when transposed), B by K (or N when transposed), C by M; partial K sums accumulate into C. */
export function matmulInto(a: Operand, b: Operand, c: Tensor, m: number, n: number, k: number,
  transA: boolean, transB: boolean, accumulate: boolean, label: string): void {
  const device = getDevice();
  const batch = Math.max(a.batch, b.batch);
  const aBatch = a.batch === 1 ? 0 : a.rows * a.cols;
  const bBatch = b.batch === 1 ? 0 : b.rows * b.cols;
  const fits = (op: Operand): boolean => op.rows * op.cols * op.batch * 4 <= device.limits.maxStorageBufferBindingSize;
  const run = (mm: number, nn: number, kk: number, batches: number, aBind: Binding, bBind: Binding,
    cBind: Binding, aOff: number, bOff: number, cOff: number, acc: boolean): void => {
    const d: MatmulDispatch = {
      m: mm, n: nn, k: kk, batches, lda: a.cols, ldb: b.cols, ldc: n, aBatch, bBatch, cBatch: m * n, aOff, bOff, cOff,
      a: aBind, b: bBind, c: cBind, accumulate: acc,
    };
    // Past SMALL_WORK multiply-adds a misaligned operand is copied to aligned rows first (the copy
    // is a few percent of the matmul there; below it the float-load kernel is as good).
    if (llvmpipeVec4Kernel() && mm * nn * kk >= SMALL_WORK) {
      // A long K in K_CHUNK slices, each accumulated into C (slices a multiple of 4 long, so their
      // offsets keep vec4 alignment).
      const slices = kk > 2 * K_CHUNK ? Math.ceil(kk / K_CHUNK) : 1;
      const step = up4(Math.ceil(kk / slices));
      for (let k0 = 0; k0 < kk; k0 += step) {
        dispatchAligned({ ...d, k: Math.min(step, kk - k0), aOff: aOff + (transA ? k0 * a.cols : k0), bOff: bOff + (transB ? k0 : k0 * b.cols), accumulate: acc || k0 > 0 },
          transA, transB, label);
      }
    } else {
      dispatchMatmul(d, transA, transB, label);
    }
  };
  if (fits(a) && fits(b) && c.size * 4 <= device.limits.maxStorageBufferBindingSize) {
    run(m, n, k, batch, a.t.bind(), b.t.bind(), c.bind(), 0, 0, 0, accumulate);
    return;
  }
  // Windowed path: one batch at a time, every operand bound as a range of its stored rows. A
  // window's start is aligned down to the offset alignment and the remainder added to the kernel's
  // element offset (a_off, b_off, c_off), so row lengths and batch strides need no alignment.
  const align = device.limits.minStorageBufferOffsetAlignment / 4;
  const fitRows = (cols: number): number => Math.floor((Math.floor(device.limits.maxStorageBufferBindingSize / 4) - align + 1) / cols);
  // Steps are multiples of 16 where possible, so every window's offsets keep the alignment that
  // vec4 loads and stores need (and interior windows have no ragged tiles).
  const by16 = (x: number): number => (x >= 16 ? x - (x % 16) : x);
  const mStep = by16(Math.min(transA ? m : fitRows(a.cols), fitRows(n)));
  const nStep = by16(Math.min(transB ? fitRows(b.cols) : n, n));
  const kStep = by16(Math.min(transA ? fitRows(a.cols) : k, transB ? k : fitRows(b.cols), k));
  if (mStep < 1 || nStep < 1 || kStep < 1) {
    throw new ShapeError(`${label}: a row of ${Math.max(a.cols, b.cols, n)} floats does not fit one binding`);
  }
  const win = (t: Tensor, start: number, count: number): [Binding, number] => {
    const s0 = Math.floor(start / align) * align;
    return [t.bind(s0, start - s0 + count), start - s0];
  };
  for (let bi = 0; bi < batch; bi++) {
    const aBase = a.batch === 1 ? 0 : bi * a.rows * a.cols;
    const bBase = b.batch === 1 ? 0 : bi * b.rows * b.cols;
    const cBase = bi * m * n;
    for (const [m0, mc] of spans(m, mStep)) {
      for (const [n0, nc] of spans(n, nStep)) {
        spans(k, kStep).forEach(([k0, kc], ki) => {
          const [aRow0, aRows, aOff] = transA ? [k0, kc, m0] : [m0, mc, k0];
          const [bRow0, bRows, bOff] = transB ? [n0, nc, k0] : [k0, kc, n0];
          const [aBind, aShift] = win(a.t, aBase + aRow0 * a.cols, aRows * a.cols);
          const [bBind, bShift] = win(b.t, bBase + bRow0 * b.cols, bRows * b.cols);
          const [cBind, cShift] = win(c, cBase + m0 * n, mc * n);
          run(mc, nc, kc, 1, aBind, bBind, cBind, aOff + aShift, bOff + bShift, n0 + cShift, accumulate || ki > 0);
        });
      }
    }
  }
}

/** Shapes: a [..., M, K] (or [..., K, M] with transA), b [K, N] or [..., K, N] (or transposed).
 *  Leading axes of a and b must match, or b is 2-D and shared by every batch. */
function matmulRaw(a: Tensor, b: Tensor, transA: boolean, transB: boolean, label = 'matmul'): Tensor {
  assertF32(a, label);
  assertF32(b, label);
  if (a.ndim < 2 || b.ndim < 2) throw new ShapeError(`${label}: operands must be at least 2-D, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
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
    throw new ShapeError(`matmul: a transposed batched A ${shapeStr(a.shape)}ᵀ with a shared B ${shapeStr(b.shape)} that needs a gradient is not supported; transpose A first (transpose(a)) or give B a batch axis`);
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
      if (shared && transA) throw new ShapeError('matmul: a transposed batched A with a shared B is not supported');
      db = transB ? matmulRaw(g2, a2, true, transA, 'matmul dB') : matmulRaw(a2, g2, !transA, false, 'matmul dB');
      if (shared) {
        a2.dispose();
        g2.dispose();
      }
      db = sumTo(db, b.shape);
    }
    return [da, db];
  }, { fresh: true });
}
