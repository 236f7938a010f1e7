/// <reference lib="dom" />
// The browser tests' bundle (served in place of the page's main.js): every op family checked
// against its f64 reference with the op tests' own helper (checkOp, whose tap `t` is replaced by a
// recorder), and a few training steps of `tiny` (tiny-steps.ts) whose losses the test compares
// with Node's. It sets window.wgptChecks.
import { configurePlatform } from '../../engine/platform/browser.ts';
import {
  add, adamwStep, argmax, biasGelu, causalSelfAttention, concat, crossEntropy, dropout, embedding, gelu, layerNorm, matmul, mean,
  openDevice, permute, scale, slice, softmax, sum, Tensor, transpose, zeros,
} from '../../engine/index.ts';
import type { Test } from 'tap';
import { checkOp, randn, worst } from '../helpers/opcheck.ts';
import { attentionRef, broadcast2, crossEntropyRef, layerNormRef, matmulRef, softmaxRef } from '../helpers/ref.ts';
import { tinyLosses } from './tiny-steps.ts';

configurePlatform({ WGPT_TUNE: 'off' });

interface Outcome {
  family: string;
  ok: boolean;
  failures: string[];
}

/** The part of tap's Test that checkOp uses, recording failures. */
function recorder(failures: string[]): Test {
  const note = (ok: unknown, what?: string): boolean => {
    if (!ok) failures.push(what ?? 'check failed');
    return !!ok;
  };
  return {
    ok: note,
    equal: (a: unknown, b: unknown, what?: string) => note(a === b, `${what}: ${a} !== ${b}`),
    same: (a: unknown, b: unknown, what?: string) => note(JSON.stringify(a) === JSON.stringify(b), `${what}: ${JSON.stringify(a)}`),
  } as unknown as Test;
}

const K = Math.sqrt(2 / Math.PI);
const geluRef = (x: number): number => 0.5 * x * (1 + Math.tanh(K * (x + 0.044715 * x ** 3)));

/** One check per op family (the Node op tests run many shapes of each). */
const FAMILIES: Record<string, (t: Test) => Promise<void>> = {
  elementwise: (t) => checkOp(t, 'add broadcast', {
    inputs: [{ shape: [5, 7] }, { shape: [7] }], gpu: (a, b) => scale(add(a, b), 1.5),
    cpu: (a, b) => broadcast2(a, [5, 7], b, [7], (x, y) => 1.5 * (x + y)),
  }),
  reduce: (t) => checkOp(t, 'sum axis 0 then mean', {
    inputs: [{ shape: [6, 9] }], gpu: (x) => mean(sum(x, 0)),
    cpu: (x) => Float64Array.of(x.reduce((a, b) => a + b, 0) / 9),
  }),
  matmul: (t) => checkOp(t, 'matmul 13x17x11 transB', {
    inputs: [{ shape: [13, 11] }, { shape: [17, 11] }], gpu: (a, b) => matmul(a, b, { transB: true }),
    cpu: (a, b) => matmulRef(a, b, 1, 13, 11, 17, 11, false, true, true),
  }),
  layout: (t) => checkOp(t, 'permute, transpose, slice, concat', {
    inputs: [{ shape: [2, 3, 4] }],
    gpu: (x) => concat([slice(transpose(permute(x, [1, 0, 2])), 1, 1, 2), slice(transpose(permute(x, [1, 0, 2])), 1, 0, 1)], 1),
    cpu: (x) => {
      // y[i][k][j] = x[j][i][k] (permute then transpose: [3, 4, 2]); rows k = 1, 2 then k = 0
      const out: number[] = [];
      for (let i = 0; i < 3; i++) for (const k of [1, 2, 0]) for (let j = 0; j < 2; j++) out.push(x[j * 12 + i * 4 + k]);
      return Float64Array.from(out);
    },
  }),
  norm: (t) => checkOp(t, 'layerNorm [7, 33]', {
    inputs: [{ shape: [7, 33] }, { shape: [33] }, { shape: [33] }], gpu: (x, w, b) => layerNorm(x, w, b),
    cpu: (x, w, b) => layerNormRef(x, w, b, 33, 1e-5),
  }),
  activation: async (t) => {
    await checkOp(t, 'gelu', { inputs: [{ shape: [33, 7] }], gpu: (x) => gelu(x), cpu: (x) => x.map(geluRef) });
    await checkOp(t, 'biasGelu', {
      inputs: [{ shape: [5, 7] }, { shape: [7] }], gpu: (x, b) => biasGelu(x, b),
      cpu: (x, b) => broadcast2(x, [5, 7], b, [7], (u, v) => geluRef(u + v)),
    });
  },
  softmax: (t) => checkOp(t, 'softmax causal [2, 9, 9]', {
    inputs: [{ shape: [2, 9, 9] }], gpu: (x) => softmax(x, { causal: true }), cpu: (x) => softmaxRef(x, 9, true),
  }),
  attention: (t) => checkOp(t, 'flash attention [1, 2, 13, 8]', {
    inputs: [{ shape: [1, 2, 13, 8] }, { shape: [1, 2, 13, 8] }, { shape: [1, 2, 13, 8] }],
    gpu: (q, k, v) => causalSelfAttention(q, k, v), cpu: (q, k, v) => attentionRef(q, k, v, 2, 13, 8),
  }),
  loss: (t) => {
    const targets = [3, 0, 8, 5, 1];
    return checkOp(t, 'crossEntropy [5, 9]', {
      inputs: [{ shape: [5, 9] }, { shape: [5], data: targets, dtype: 'i32' }], gpu: (x, y) => crossEntropy(x, y),
      cpu: (x) => crossEntropyRef(x, 9, targets),
    });
  },
  embedding: (t) => {
    const ids = [2, 0, 2, 4];
    return checkOp(t, 'embedding [5, 6] ids 4', {
      inputs: [{ shape: [5, 6] }, { shape: [4], data: ids, dtype: 'i32' }], gpu: (w, i) => embedding(w, i),
      cpu: (w) => Float64Array.from(ids.flatMap((id) => Array.from(w.subarray(id * 6, id * 6 + 6)))),
    });
  },
  dropout: async (t) => {
    // Each element is dropped (0) or kept and scaled by 1/(1-p); about half of each.
    const x = Float32Array.from(randn(4000, 3), (v) => v + 5);
    const y = await dropout(Tensor.fromData(x, [4000]), 0.5, 11).toArray();
    let kept = 0;
    y.forEach((v, i) => {
      if (v !== 0) kept++;
      if (v !== 0 && Math.abs(v - 2 * x[i]) > 1e-5 * Math.abs(v)) t.ok(false, `dropout element ${i}: ${v} is neither 0 nor ${2 * x[i]}`);
    });
    t.ok(kept > 1800 && kept < 2200, `dropout kept ${kept} of 4000`);
  },
  argmax: async (t) => {
    const x = randn(6 * 50, 9);
    const got = await argmax(Tensor.fromData(x, [6, 50])).toArray();
    const want = Array.from({ length: 6 }, (_, r) => {
      const row = Array.from(x.subarray(r * 50, r * 50 + 50));
      return row.indexOf(Math.max(...row));
    });
    t.same(Array.from(got), want, 'argmax rows');
  },
  adamw: async (t) => {
    const n = 37;
    const p0 = randn(n, 1);
    const g = randn(n, 2);
    const o = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1 };
    const p = Tensor.fromData(p0, [n]);
    const m = zeros([n]);
    const v = zeros([n]);
    adamwStep(p, Tensor.fromData(g, [n]), m, v, o);
    const want = Array.from(p0, (x, i) => {
      const mh = ((1 - o.beta1) * g[i]) / (1 - o.beta1);
      const vh = ((1 - o.beta2) * g[i] ** 2) / (1 - o.beta2);
      return x * (1 - o.lr * o.weightDecay) - (o.lr * mh) / (Math.sqrt(vh) + o.eps);
    });
    const r = worst(await p.toArray(), want, 1e-6, 1e-5);
    t.ok(r.ratio <= 1, `adamw worst element ${r.ratio.toFixed(3)} of its tolerance`);
  },
};

async function ops(): Promise<Outcome[]> {
  await openDevice();
  const out: Outcome[] = [];
  for (const [family, check] of Object.entries(FAMILIES)) {
    const failures: string[] = [];
    try {
      await check(recorder(failures));
    } catch (e) {
      failures.push(`threw: ${(e as Error).message}`);
    }
    out.push({ family, ok: failures.length === 0, failures });
  }
  return out;
}

(globalThis as unknown as { wgptChecks: unknown }).wgptChecks = { ops, tinyLosses, families: Object.keys(FAMILIES) };
document.title = 'wgpt checks: ready';
