// The matmul lowering: a product (operands as stored, C preallocated) becomes matmul dispatches.
// Operands larger than one binding are bound in row windows (the LM head of GPT-2, 50257 x 768
// floats, is past the 128 MiB binding limit); on llvmpipe a long K is cut into slices and an
// unaligned operand copied to aligned rows first; an operand the chosen kernel reads as a texture is
// copied into one. Which kernel runs each dispatch: engine/tune/matmul-pick.ts.
import { ShapeError } from '../errors.ts';
import { getDevice, Tensor } from '../tensor.ts';
import { TEXTURE_ROW } from '../../kernels/kernel.ts';
import { ROUND_F16 } from '../../kernels/f16-round.ts';
import { PAD, UNPAD } from '../../kernels/restride.ts';
import { SMALL_WORK, type Candidate } from '../tune/choices.ts';
import { f16Operands, llvmpipeVec4Kernel, pickMatmul, up4, type Shape } from '../tune/matmul-pick.ts';
import { launch1d } from './util.ts';
import type { Binding, OperandTexture, TextureBinding } from '../device.ts';

/** One matmul dispatch: its shape (as in the kernels' parameter block) and its bound windows. */
export interface MatmulDispatch extends Shape {
  a: Binding;
  b: Binding;
  c: Binding;
  accumulate: boolean;
}

/** An operand as stored. */
export interface Operand {
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
function restride(toVec4: boolean, src: Binding, dst: Binding, batches: number, rows: number, cols: number, s: Rows, dd: Rows,
  acc: boolean): void {
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

/** d with its A and B copied to rows padded to a multiple of 4 where they are not so stored (and
 *  the copy fits one binding); the copies are pushed to temps. */
function alignOperands(d: MatmulDispatch, transA: boolean, transB: boolean, label: string, temps: Tensor[]): MatmulDispatch {
  const { maxStorageBufferBindingSize, maxComputeWorkgroupsPerDimension: maxGroups } = getDevice().limits;
  const maxFloats = maxStorageBufferBindingSize / 4;
  // An operand as stored: `rows` rows of `cols` floats at stride ld, per batch (stride 0: shared).
  const aligned = (bind: Binding, rows: number, cols: number, ld: number, off: number,
    batchStride: number): [Binding, number, number, number] | null => {
    if (ld % 4 === 0 && off % 4 === 0 && batchStride % 4 === 0) return null;
    const copies = batchStride === 0 ? 1 : d.batches;
    const ld4 = up4(cols);
    if (copies * rows * ld4 > maxFloats || rows > maxGroups || copies > maxGroups) return null;
    const t = Tensor.empty([copies * rows * ld4], 'f32', `${label} aligned operand`);
    temps.push(t);
    restride(true, bind, t.bind(), copies, rows, cols, { off, ld, batch: batchStride },
      { off: 0, ld: ld4 / 4, batch: (rows * ld4) / 4 }, false);
    return [t.bind(), ld4, 0, batchStride === 0 ? 0 : rows * ld4];
  };
  const out = { ...d };
  const pa = aligned(d.a, transA ? d.k : d.m, transA ? d.m : d.k, d.lda, d.aOff, d.aBatch);
  if (pa) [out.a, out.lda, out.aOff, out.aBatch] = pa;
  const pb = aligned(d.b, transB ? d.n : d.k, transB ? d.k : d.n, d.ldb, d.bOff, d.bBatch);
  if (pb) [out.b, out.ldb, out.bOff, out.bBatch] = pb;
  return out;
}

/** On llvmpipe an operand whose rows are not 16-byte aligned (the LM head's 50257 columns) is loaded
 *  float by float and a C so stored is written float by float, at about half the speed of vec4
 *  (docs/measurements.md, 'Matmul on llvmpipe'): such an operand is first copied to rows padded to a multiple
 *  of 4 (zeros past the end), and such a C computed there and copied back. */
function dispatchAligned(d: MatmulDispatch, transA: boolean, transB: boolean, label: string): void {
  const { maxStorageBufferBindingSize, maxComputeWorkgroupsPerDimension: maxGroups } = getDevice().limits;
  const maxFloats = maxStorageBufferBindingSize / 4;
  const temps: Tensor[] = [];
  const out = alignOperands(d, transA, transB, label, temps);
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
    restride(false, cTemp.bind(), d.c, d.batches, d.m, d.n, { off: 0, ld: n4 / 4, batch: (d.m * n4) / 4 },
      { off: d.cOff, ld: d.ldc, batch: d.cBatch }, d.accumulate);
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
  if (f16Operands(device)) {
    const [ra, rb] = [roundedF16(a.t, label), roundedF16(b.t, label)];
    try {
      matmulFloat({ ...a, t: ra }, { ...b, t: rb }, c, m, n, k, transA, transB, accumulate, label);
    } finally {
      ra.dispose();
      rb.dispose();
    }
    return;
  }
  matmulFloat(a, b, c, m, n, k, transA, transB, accumulate, label);
}

/** A copy of t rounded to f16 values (kept as f32), in windows that fit one binding. */
function roundedF16(t: Tensor, label: string): Tensor {
  const { maxStorageBufferBindingSize: maxBytes, minStorageBufferOffsetAlignment: align } = getDevice().limits;
  const step = Math.floor(maxBytes / align) * (align / 4);
  const out = Tensor.empty([t.size], 'f32', `${label} f16 operand`);
  for (let s = 0; s < t.size; s += step) {
    const n = Math.min(step, t.size - s);
    launch1d(ROUND_F16, n, { n }, [t.bind(s, n), out.bind(s, n)], `${label} f16 operand`);
  }
  return out;
}

function matmulFloat(a: Operand, b: Operand, c: Tensor, m: number, n: number, k: number,
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
    if (llvmpipeVec4Kernel(device) && mm * nn * kk >= SMALL_WORK) {
      // A long K in K_CHUNK slices, each accumulated into C (slices a multiple of 4 long, so their
      // offsets keep vec4 alignment).
      const slices = kk > 2 * K_CHUNK ? Math.ceil(kk / K_CHUNK) : 1;
      if (slices === 1) {
        dispatchAligned(d, transA, transB, label);
        return;
      }
      // A misaligned operand is copied to aligned rows once, not once a slice.
      const temps: Tensor[] = [];
      const w = alignOperands(d, transA, transB, label, temps);
      const step = up4(Math.ceil(kk / slices));
      for (let k0 = 0; k0 < kk; k0 += step) {
        dispatchAligned({ ...w, k: Math.min(step, kk - k0), aOff: w.aOff + (transA ? k0 * w.lda : k0),
          bOff: w.bOff + (transB ? k0 : k0 * w.ldb), accumulate: acc || k0 > 0 }, transA, transB, label);
      }
      for (const t of temps) t.dispose();
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

/** The part of an operand's window a dispatch reads, from its offset (a multiple of 4 floats) to
 *  its last element rounded up to a whole vec4, copied into a texture; null where it cannot be
 *  (the copy would pass the buffer's end, or the texture the adapter's size). */
function operandTexture(bind: Binding, off: number, rows: number, cols: number, ld: number, batchStride: number,
  batches: number, label: string): OperandTexture | null {
  const span = up4((batchStride === 0 ? 0 : (batches - 1) * batchStride) + (rows - 1) * ld + cols);
  const window = { buffer: bind.buffer, offset: bind.offset + off * 4, size: span * 4 };
  if (window.offset + window.size > bind.buffer.size) return null;
  return getDevice().operandTexture(window, TEXTURE_ROW, label);
}

/** Records one dispatch of C = op(A)·op(B) (or +=), with the class's chosen variant or `candidate`. */
export function dispatchMatmul(d: MatmulDispatch, transA: boolean, transB: boolean, label: string,
  candidate: Candidate | null = null): void {
  const device = getDevice();
  let p = pickMatmul(device, d, transA, transB, d.accumulate, candidate, true);
  let a: Binding | TextureBinding = d.a;
  let b: Binding | TextureBinding = d.b;
  let { aOff, bOff } = d;
  const held: OperandTexture[] = [];
  if (p.texA || p.texB) {
    const ta = p.texA ? operandTexture(d.a, d.aOff, transA ? d.k : d.m, transA ? d.m : d.k, d.lda, d.aBatch, d.batches, label) : null;
    const tb = p.texB ? operandTexture(d.b, d.bOff, transB ? d.n : d.k, transB ? d.k : d.n, d.ldb, d.bBatch, d.batches, label) : null;
    if ((p.texA && !ta) || (p.texB && !tb)) {
      ta?.release();
      tb?.release();
      p = pickMatmul(device, d, transA, transB, d.accumulate, candidate, false);
    } else {
      if (ta) [a, aOff] = [ta.binding, 0];
      if (tb) [b, bOff] = [tb.binding, 0];
      held.push(...[ta, tb].filter((x): x is OperandTexture => x !== null));
    }
  }
  device.dispatch({
    kernel: p.kernel, constants: p.constants, label, workgroups: p.workgroups,
    params: {
      m: d.m, n: d.n, k: d.k, lda: d.lda, ldb: d.ldb, ldc: d.ldc, a_batch: d.aBatch, b_batch: d.bBatch, c_batch: d.cBatch,
      a_off: aOff, b_off: bOff, c_off: d.cOff, accumulate: d.accumulate ? 1 : 0,
    },
    bindings: [a, b, d.c],
  });
  // Back to the pool: a later copy into one of them runs after this dispatch. In reverse, so the
  // pool (last in, first out) hands the same textures to the same operands next time and a
  // repeated product finds its cached bind group (in order, A and B swapped textures every call).
  for (const x of held.reverse()) x.release();
}
