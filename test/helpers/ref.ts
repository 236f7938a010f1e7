// Float64 CPU references for the op tests.

/** Broadcasts two shapes numpy-style and applies f element by element. */
export function broadcast2(a: Float64Array, as: number[], b: Float64Array, bs: number[],
  f: (x: number, y: number) => number): Float64Array {
  const n = Math.max(as.length, bs.length);
  const A = [...Array(n - as.length).fill(1), ...as];
  const B = [...Array(n - bs.length).fill(1), ...bs];
  const out = A.map((d, i) => Math.max(d, B[i]));
  const total = out.reduce((x, y) => x * y, 1);
  const res = new Float64Array(total);
  const idx = (shape: number[], coords: number[]): number => coords.reduce((acc, c, i) => acc * shape[i] + (shape[i] === 1 ? 0 : c), 0);
  for (let i = 0; i < total; i++) {
    const coords: number[] = [];
    let r = i;
    for (let d = n - 1; d >= 0; d--) {
      coords[d] = r % out[d];
      r = Math.floor(r / out[d]);
    }
    res[i] = f(a[idx(A, coords)], b[idx(B, coords)]);
  }
  return res;
}

/** C[b] = op(A[b]) · op(B[b]) with A stored [batch, ar, ac], B [batchB, br, bc] (batchB 1 = shared). */
export function matmulRef(a: Float64Array, b: Float64Array, batch: number, ar: number, ac: number, br: number, bc: number,
  transA: boolean, transB: boolean, bShared: boolean): Float64Array {
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const n = transB ? br : bc;
  const out = new Float64Array(batch * m * n);
  for (let z = 0; z < batch; z++) {
    const ao = z * ar * ac;
    const bo = bShared ? 0 : z * br * bc;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const x = transA ? a[ao + p * ac + i] : a[ao + i * ac + p];
          const y = transB ? b[bo + j * bc + p] : b[bo + p * bc + j];
          s += x * y;
        }
        out[z * m * n + i * n + j] = s;
      }
    }
  }
  return out;
}

/** Applies f to each row of length `len`. */
export function rows(x: Float64Array, len: number, f: (row: Float64Array) => Float64Array | number[]): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r * len < x.length; r++) out.set(f(x.subarray(r * len, (r + 1) * len)), r * len);
  return out;
}

/** Causal softmax attention over qkv [B, T, 3·H·dh] -> [B, T, H·dh] (q, k, v its thirds, head h at
 *  columns h·dh of each): the heads taken apart, attentionRef, and put back side by side. */
export function qkvAttentionRef(qkv: Float64Array, B: number, T: number, H: number, dh: number): Float64Array {
  const D = H * dh;
  const heads = [0, 1, 2].map((s) => {
    const x = new Float64Array(B * H * T * dh);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let d = 0; d < dh; d++) {
      x[((b * H + h) * T + t) * dh + d] = qkv[(b * T + t) * 3 * D + s * D + h * dh + d];
    }
    return x;
  });
  const o = attentionRef(heads[0], heads[1], heads[2], B * H, T, dh);
  const out = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let d = 0; d < dh; d++) {
    out[(b * T + t) * D + h * dh + d] = o[((b * H + h) * T + t) * dh + d];
  }
  return out;
}

/** Causal softmax attention over [bh, T, dh] heads, scale 1/sqrt(dh). */
export function attentionRef(q: Float64Array, k: Float64Array, v: Float64Array, bh: number, T: number, dh: number): Float64Array {
  const out = new Float64Array(bh * T * dh);
  const s = new Float64Array(T);
  const sc = 1 / Math.sqrt(dh);
  for (let b = 0; b < bh; b++) {
    const base = b * T * dh;
    for (let i = 0; i < T; i++) {
      let m = -Infinity;
      for (let j = 0; j <= i; j++) {
        let acc = 0;
        for (let d = 0; d < dh; d++) acc += q[base + i * dh + d] * k[base + j * dh + d];
        s[j] = acc * sc;
        if (s[j] > m) m = s[j];
      }
      let l = 0;
      for (let j = 0; j <= i; j++) {
        s[j] = Math.exp(s[j] - m);
        l += s[j];
      }
      for (let j = 0; j <= i; j++) {
        const p = s[j] / l;
        for (let d = 0; d < dh; d++) out[base + i * dh + d] += p * v[base + j * dh + d];
      }
    }
  }
  return out;
}

/** LayerNorm over rows of length d. */
export function layerNormRef(x: Float64Array, w: Float64Array, b: Float64Array, d: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r * d < x.length; r++) {
    const row = x.subarray(r * d, (r + 1) * d);
    const mean = row.reduce((a, v) => a + v, 0) / d;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / d;
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let j = 0; j < d; j++) out[r * d + j] = (row[j] - mean) * rstd * w[j] + b[j];
  }
  return out;
}

/** Softmax over rows of length len; causal: row r sees its first (r mod len) + 1 entries. */
export function softmaxRef(x: Float64Array, len: number, causal: boolean): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r * len < x.length; r++) {
    const n = causal ? (r % len) + 1 : len;
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, x[r * len + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x[r * len + j] - m);
    for (let j = 0; j < n; j++) out[r * len + j] = Math.exp(x[r * len + j] - m) / s;
  }
  return out;
}

/** Mean cross-entropy of logits [N, len] in f64 over the targets >= 0 (negative: ignored). */
export function crossEntropyRef(x: Float64Array, len: number, targets: number[]): Float64Array {
  const p = softmaxRef(x, len, false);
  let s = 0;
  let count = 0;
  targets.forEach((target, r) => {
    if (target < 0) return;
    s -= Math.log(p[r * len + target]);
    count++;
  });
  return Float64Array.of(s / count);
}
