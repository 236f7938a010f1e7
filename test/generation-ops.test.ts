// The two ops batched greedy generation adds: argmax on the GPU (first maximum, as torch.argmax)
// and attention over a left-padded batch (padded keys masked per sequence, causal among new queries),
// each against a CPU reference; and a padded sequence's attention equals the unpadded one exactly.
import t from 'tap';
import { argmax, noGrad, paddedAttention, param, Tensor, tidy } from '../engine/index.ts';
import { randn } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';

// A 1 MiB binding cap: 8 rows of 50257 logits are bound in windows of whole rows.
await withDevice(t, { maxStorageBufferBindingSize: 1 << 20 });

function argmaxRef(x: Float32Array, len: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / len; r++) {
    let best = 0;
    for (let j = 1; j < len; j++) if (x[r * len + j] > x[r * len + best]) best = j;
    out.push(best);
  }
  return out;
}

t.test('argmax: first maximum per row, ties included, at vocabulary width, past one binding', async (t) => {
  const len = 50257;
  const rows = 8;
  const x = Float32Array.from(randn(rows * len, 3));
  // Row 1: a tie between two far-apart columns; row 2: a tie at the very end; row 3: all equal;
  // row 4: the maximum in column 0 only.
  x[len + 40000] = 9;
  x[len + 123] = 9;
  x[2 * len + len - 1] = 7;
  x[2 * len + len - 2] = 7;
  x.fill(-2, 3 * len, 4 * len);
  x[4 * len] = 50;
  const ids = tidy(() => argmax(Tensor.fromData(x, [rows, len])));
  const got = Array.from(await ids.toArray());
  ids.dispose();
  t.same(got, argmaxRef(x, len));
  t.same(got.slice(1, 5), [123, len - 2, 0, 0], 'ties go to the first maximum');
});

t.test('argmax: leading axes kept, short rows', async (t) => {
  const x = Float32Array.from(randn(3 * 4 * 5, 9));
  const ids = tidy(() => argmax(Tensor.fromData(x, [3, 4, 5])));
  t.same(ids.shape, [3, 4]);
  t.equal(ids.dtype, 'i32');
  t.same(Array.from(await ids.toArray()), argmaxRef(x, 5));
  ids.dispose();
});

/** Attention of q [B, H, Tq, Dh] over k, v [B, H, Tk, Dh] in f64, keys [start[b], Tk - Tq + i]. */
function paddedRef(q: Float64Array, k: Float64Array, v: Float64Array, shape: number[], tk: number, start: number[]): Float64Array {
  const [B, H, tq, dh] = shape;
  const out = new Float64Array(B * H * tq * dh);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < tq; i++) {
    const qo = ((b * H + h) * tq + i) * dh;
    const ko = (b * H + h) * tk * dh;
    const last = tk - tq + i;
    const s: number[] = [];
    for (let j = start[b]; j <= last; j++) {
      let acc = 0;
      for (let d = 0; d < dh; d++) acc += q[qo + d] * k[ko + j * dh + d];
      s.push(acc / Math.sqrt(dh));
    }
    if (s.length === 0) continue;
    const m = Math.max(...s);
    const e = s.map((x) => Math.exp(x - m));
    const l = e.reduce((a, b) => a + b, 0);
    e.forEach((p, n) => {
      for (let d = 0; d < dh; d++) out[qo + d] += (p / l) * v[ko + (start[b] + n) * dh + d];
    });
  }
  return out;
}

async function run(q: Float64Array, k: Float64Array, v: Float64Array, qs: number[], ks: number[], start: number[]): Promise<Float32Array> {
  const out = noGrad(() => tidy(() => paddedAttention(Tensor.fromData(q, qs), Tensor.fromData(k, ks), Tensor.fromData(v, ks),
    Tensor.fromData(start, [start.length], 'i32'))));
  const a = (await out.toArray()) as Float32Array;
  out.dispose();
  return a;
}

t.test('padded attention matches the f64 reference: prefill (Tq = Tk) and one new query', async (t) => {
  for (const [B, H, tq, tk, dh, start] of [[3, 2, 7, 7, 6, [0, 3, 6]], [3, 2, 1, 11, 8, [0, 5, 10]], [2, 3, 4, 9, 5, [2, 0]]] as const) {
    const q = randn(B * H * tq * dh, 1);
    const k = randn(B * H * tk * dh, 2);
    const v = randn(B * H * tk * dh, 3);
    const got = await run(q, k, v, [B, H, tq, dh], [B, H, tk, dh], [...start]);
    const want = paddedRef(q, k, v, [B, H, tq, dh], tk, [...start]);
    let err = 0;
    for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
    t.ok(err < 1e-5, `B ${B} H ${H} Tq ${tq} Tk ${tk} Dh ${dh} starts ${start}: max error ${err.toExponential(2)}`);
    // A query at a padded position (i before the start) sees no key: its output is exactly zero.
    if (tq === tk) t.equal(got[((2 * H) * tq) * dh], 0, 'padded query rows are zero');
  }
});

t.test('a left-padded sequence gets bit-for-bit the attention it gets alone', async (t) => {
  const [H, T, dh, pad] = [2, 13, 8, 5];
  const q = randn(H * T * dh, 7);
  const k = randn(H * T * dh, 8);
  const v = randn(H * T * dh, 9);
  const alone = await run(q, k, v, [1, H, T, dh], [1, H, T, dh], [0]);
  // The same sequence after `pad` positions of junk, next to an unpadded other sequence.
  const padT = T + pad;
  const padded = (x: Float64Array, junk: number): Float64Array => {
    const out = randn(2 * H * padT * dh, junk, 5);
    for (let h = 0; h < H; h++) out.set(x.subarray(h * T * dh, (h + 1) * T * dh), (h * padT + pad) * dh);
    return out;
  };
  const got = await run(padded(q, 11), padded(k, 12), padded(v, 13), [2, H, padT, dh], [2, H, padT, dh], [pad, 0]);
  let same = true;
  for (let h = 0; h < H; h++) for (let i = 0; i < T * dh; i++) same &&= got[(h * padT + pad) * dh + i] === alone[h * T * dh + i];
  t.ok(same, 'every output float of the real positions is identical');
});

t.test('padded attention refuses to record a tape (it has no backward)', async (t) => {
  const q = param(Tensor.fromData(randn(8, 1), [1, 1, 2, 4]));
  t.throws(() => tidy(() => paddedAttention(q, q, q, Tensor.fromData([0], [1], 'i32'))), /no backward/);
  q.dispose();
});
