// The op-test helper: checks an op's forward and backward on the GPU against a float64 CPU
// reference. Reference gradients come from central finite differences of L(x) = sum(G * f(x)) in
// f64, for a random upstream gradient G, so every VJP is checked against its forward's definition.
import type { Test } from 'tap';
import { backward, param, tidy, Tensor } from '../../engine/index.ts';

export type Ref = (...inputs: Float64Array[]) => Float64Array;

export interface Input {
  shape: number[];
  /** Values; random normal when absent. */
  data?: ArrayLike<number>;
  dtype?: 'f32' | 'i32';
  /** Check this input's gradient (default: f32 inputs). */
  grad?: boolean;
}

export interface OpCheck {
  inputs: Input[];
  gpu: (...xs: Tensor[]) => Tensor;
  cpu: Ref;
  /** Absolute + relative tolerance for the forward (default 1e-5 + 1e-4·|ref|). */
  atol?: number;
  rtol?: number;
  /** Tolerances for gradients (default 1e-4 + 1e-3·|ref|). */
  gradAtol?: number;
  gradRtol?: number;
  /** Finite-difference step (default 1e-6). */
  h?: number;
}

/** Deterministic normal samples (mulberry32 + Box-Muller). */
export function randn(n: number, seed: number, scale = 1): Float64Array {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

/** Largest violation of |got - want| <= atol + rtol*|want|, as a ratio (<= 1 passes). A NaN or an
 *  infinity on either side is a violation of ratio Infinity (the first one is reported), as is a
 *  length mismatch (at -1): a comparison that skipped NaN would pass a kernel that writes NaN. */
export function worst(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): { ratio: number; at: number } {
  if (got.length !== want.length) return { ratio: Infinity, at: -1 };
  let ratio = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i]) || !Number.isFinite(want[i])) return { ratio: Infinity, at: i };
    const diff = Math.abs(got[i] - want[i]);
    const r = diff === 0 ? 0 : diff / (atol + rtol * Math.abs(want[i]));
    if (r > ratio) {
      ratio = r;
      at = i;
    }
  }
  return { ratio, at };
}

export function assertClose(t: Test, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  t.equal(got.length, want.length, `${what}: length`);
  const { ratio, at } = worst(got, want, atol, rtol);
  t.ok(ratio <= 1, `${what}: max error ratio ${ratio.toFixed(3)}` +
    (ratio > 1 && at >= 0 ? ` at ${at}: got ${got[at]}, want ${want[at]}` : ''));
}

/** The largest finite |want[i]|: the scale of a tensor's absolute tolerance (a NaN in want is
 *  worst()'s to report, not a reason for an infinite tolerance). */
export function finiteScale(want: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i])) scale = Math.max(scale, Math.abs(want[i]));
  return scale;
}

/** Every element within rtol of itself plus atol of the tensor's largest (for values that are ~0
 *  by cancellation): the golden gradients' check. A bound on max|g| alone leaves most of a head's
 *  rows unchecked. */
export function assertGradClose(t: Test, got: ArrayLike<number>, want: ArrayLike<number>, what: string, rtol = 1e-3, atol = 1e-6): void {
  t.equal(got.length, want.length, `${what}: length`);
  const { ratio, at } = worst(got, want, atol * finiteScale(want), rtol);
  let ng = 0;
  let nw = 0;
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    ng += got[i] ** 2;
    nw += want[i] ** 2;
  }
  const normErr = (Math.sqrt(ng) - Math.sqrt(nw)) / Math.sqrt(nw);
  t.ok(ratio <= 1, `${what}: worst element ${ratio.toFixed(3)} of its tolerance, norm ${normErr.toExponential(2)} relative` +
    (ratio > 1 && at >= 0 ? ` (at ${at}: ${got[at]} vs ${want[at]})` : ''));
}

export async function checkOp(t: Test, name: string, spec: OpCheck): Promise<void> {
  const values = spec.inputs.map((inp, i) => Float64Array.from(inp.data ?? randn(inp.shape.reduce((a, b) => a * b, 1), 1000 + i * 7919)));
  const want = spec.cpu(...values);
  const g = randn(want.length, 4242);
  const wantsGrad = spec.inputs.map((inp) => (inp.grad ?? (inp.dtype ?? 'f32') === 'f32'));
  const inputs = spec.inputs.map((inp, i) => {
    const x = Tensor.fromData(values[i], inp.shape, inp.dtype ?? 'f32');
    return wantsGrad[i] ? param(x) : x;
  });
  const out = tidy(() => {
    const out = spec.gpu(...inputs);
    if (wantsGrad.some((w) => w)) backward(out, Tensor.fromData(g, out.shape));
    return out;
  });
  const got = await out.toArray();
  assertClose(t, got, want, spec.atol ?? 1e-5, spec.rtol ?? 1e-4, `${name} forward`);
  const h = spec.h ?? 1e-6;
  for (let i = 0; i < inputs.length; i++) {
    if (!wantsGrad[i]) continue;
    const x = values[i];
    const ref = new Float64Array(x.length);
    const loss = (): number => {
      const y = spec.cpu(...values);
      let s = 0;
      for (let j = 0; j < y.length; j++) s += g[j] * y[j];
      return s;
    };
    for (let j = 0; j < x.length; j++) {
      const keepX = x[j];
      x[j] = keepX + h;
      const up = loss();
      x[j] = keepX - h;
      const down = loss();
      x[j] = keepX;
      ref[j] = (up - down) / (2 * h);
    }
    const grad = inputs[i].grad;
    t.ok(grad, `${name}: input ${i} has a gradient`);
    if (grad) assertClose(t, await grad.toArray(), ref, spec.gradAtol ?? 1e-4, spec.gradRtol ?? 1e-3, `${name} grad of input ${i}`);
  }
  out.dispose();
  for (const x of inputs) {
    x.grad?.dispose();
    x.dispose();
  }
}
