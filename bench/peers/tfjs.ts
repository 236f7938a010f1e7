// Benchmark peer: TensorFlow.js 4.22 with its WebGPU backend, on the same Dawn adapter wgpt uses.
//
// What it takes to run tfjs-backend-webgpu headless in Node (found by trying; not documented by tfjs):
//   - the backend checks `navigator.gpu` when its module is evaluated, so the adapter is set up and
//     `globalThis.navigator = { gpu }` installed BEFORE the backend is imported (dynamic import);
//   - Dawn's GPU object must stay referenced for the life of the process (engine/adapter.ts keeps
//     every instance it creates), or dawn.node crashes;
//   - on the software adapter (Dawn's OpenGL ES backend on llvmpipe, EGL_PLATFORM=surfaceless)
//     requestAdapter must ask for featureLevel 'compatibility': the `gpu` handed to tfjs wraps
//     Dawn's and returns the adapter chosen by engine/adapter.ts (a real GPU with core features
//     where there is one, else the compatibility adapter), so tfjs and wgpt measure the same device;
//   - WEBGPU_CPU_FORWARD is turned off, or tfjs runs ops on small tensors on the CPU.
// tfjs returns wrong data without an error when a binding exceeds maxStorageBufferBindingSize
// (128 MiB here): cases that would need one are refused with an error instead of being timed.
//
// Every function returns an `{ error }` object instead of throwing when tfjs cannot run a case.
//
// Run directly for one measurement in its own process (what `wgpt bench` can use for isolation):
//   npx tsx bench/peers/tfjs.ts '{"kind":"matmul","m":1024,"n":1024,"k":1024,"mode":"x·W","reps":5}'
//   npx tsx bench/peers/tfjs.ts '{"kind":"step","config":{...},"seed":1234,"reps":2}'
// prints one JSON line.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type * as TF from '@tensorflow/tfjs-core';
import { chooseAdapter } from '../../engine/adapter.ts';
import { checkReps, cpuNow, message, overBindingLimit, stats, type Timing } from './measure.ts';
import { peerBatch, peerWeights, validatePeerConfig, type PeerConfig } from './weights.ts';
import { servePeerRequest } from './serve.ts';

export { peerWeights, peerBatch, writePeerFiles, SMALL_CONFIG, type PeerConfig } from './weights.ts';

export type MatmulMode = 'x·W' | 'dy·Wᵀ' | 'xᵀ·dy';
export const MATMUL_MODES: readonly MatmulMode[] = ['x·W', 'dy·Wᵀ', 'xᵀ·dy'];

/**
 * Timings in milliseconds: median, min and max wall time over the timed repetitions, and the
 * median CPU time of the whole process (all threads) per repetition. On the software adapter
 * llvmpipe's threads are in-process, so cpu_ms is the work done and stays meaningful when other
 * processes compete for the cores (wall time then grows, cpu_ms does not); on a real GPU it is
 * only the host's share.
 */
export type { Timing } from './measure.ts';
export interface MatmulResult extends Timing {
  impl: string;
  version: string;
  gflops: number;
}
export interface StepResult extends Timing {
  impl: string;
  version: string;
  tokens_per_s: number;
  /** Loss of the first step, before any update: equal across implementations on equal inputs. */
  loss: number;
  /** Loss computed in the last timed step (after warm-up + reps - 1 updates). */
  loss_last: number;
}
export interface PeerError {
  error: string;
}
export type Availability = { ok: true; version: string; adapter: string } | { ok: false; reason: string };

type TFModule = typeof TF;
interface Loaded {
  tf: TFModule;
  version: string;
  adapter: string;
  maxBinding: number;
}

let loading: Promise<Loaded> | null = null;


async function loadTf(): Promise<Loaded> {
  // engine/adapter.ts sets EGL_PLATFORM=surfaceless and asks for featureLevel 'compatibility' on
  // the software path, and holds Dawn's GPU object for the life of the process.
  const choice = await chooseAdapter('auto');
  const adapter = choice.adapter;
  let handedOut = false;
  const gpu = {
    // tfjs calls this once, from its backend factory. A Dawn adapter makes a single device, so
    // asking twice is an error rather than a silently shared adapter.
    requestAdapter: async (_options?: GPURequestAdapterOptions): Promise<GPUAdapter | null> => {
      if (handedOut) throw new Error('tfjs peer: the adapter was already consumed');
      handedOut = true;
      return adapter;
    },
  };
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  }
  const tf = (await import('@tensorflow/tfjs-core')) as unknown as TFModule;
  // tfjs-core's Node bundle has no gradient functions: the union package registers them (into
  // tfjs's global registry, shared with tfjs-core). It also registers its cpu and webgl backends,
  // which are never initialised here.
  await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-webgpu');
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not initialise its webgpu backend on this adapter');
  await tf.ready();
  if (tf.getBackend() !== 'webgpu') throw new Error(`tfjs fell back to backend '${tf.getBackend()}'`);
  const require = createRequire(import.meta.url);
  const backendVersion = (require('@tensorflow/tfjs-backend-webgpu/package.json') as { version: string }).version;
  return {
    tf,
    version: `tfjs-core ${tf.version_core} + tfjs-backend-webgpu ${backendVersion}`,
    adapter: `${choice.description} (${choice.backend}, ${choice.featureLevel})`,
    maxBinding: adapter.limits.maxStorageBufferBindingSize,
  };
}

function load(): Promise<Loaded> {
  loading ??= loadTf();
  return loading;
}

export async function tfjsAvailable(): Promise<Availability> {
  try {
    const { tf, version, adapter } = await load();
    // One tiny op end to end, on the GPU (CPU forwarding is off).
    const r = await tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).data();
    if (r[0] !== 4 || r[1] !== 6) return { ok: false, reason: `tfjs webgpu computed 1+3=${r[0]}, 2+4=${r[1]}` };
    return { ok: true, version, adapter };
  } catch (e) {
    return { ok: false, reason: message(e) };
  }
}

const tooBig = (what: string, elements: number, maxBinding: number): string | null =>
  overBindingLimit(what, elements, maxBinding, 'binding', 'tfjs would return wrong data without an error');

/**
 * C[m,n] = A·B with inner dimension k, in the three layouts of a linear layer's training:
 * 'x·W' A[m,k]·B[k,n]; 'dy·Wᵀ' A[m,k]·B[n,k]ᵀ; 'xᵀ·dy' A[k,m]ᵀ·B[k,n].
 * Median of `reps` timed runs after two warm-ups (the first compiles); each run ends with
 * `await c.data()`, which flushes tfjs's queue and waits for the result.
 */
export async function tfjsMatmul(m: number, n: number, k: number, mode: MatmulMode, reps: number): Promise<MatmulResult | PeerError> {
  try {
    checkReps(reps);
    if (!MATMUL_MODES.includes(mode)) throw new Error(`unknown matmul mode '${mode}'`);
    const { tf, version, maxBinding } = await load();
    const big = tooBig('A', m * k, maxBinding) ?? tooBig('B', k * n, maxBinding) ?? tooBig('C', m * n, maxBinding);
    if (big) return { error: big };
    const transA = mode === 'xᵀ·dy';
    const transB = mode === 'dy·Wᵀ';
    const a = tf.randomUniform(transA ? [k, m] : [m, k], -1, 1, 'float32', 1);
    const b = tf.randomUniform(transB ? [n, k] : [k, n], -1, 1, 'float32', 2);
    const times: number[] = [];
    const cpu: number[] = [];
    try {
      for (let i = 0; i < reps + 2; i++) {
        const c0 = cpuNow();
        const t0 = performance.now();
        const c = tf.matMul(a, b, transA, transB);
        await c.data();
        const dt = performance.now() - t0;
        const dc = cpuNow() - c0;
        c.dispose();
        if (i >= 2) {
          times.push(dt);
          cpu.push(dc);
        }
      }
    } finally {
      a.dispose();
      b.dispose();
    }
    const t = stats(times, cpu);
    return { impl: 'tfjs-webgpu', version, ...t, gflops: (2 * m * n * k) / (t.ms * 1e6) };
  } catch (e) {
    return { error: `tfjs matmul ${m}x${n}x${k} ${mode}: ${message(e)}` };
  }
}

// AdamW as in the torch peer (torch.optim.AdamW defaults but lr 1e-4, weight decay 0.1): tfjs's
// Adam plus decoupled decay p ← p·(1 − lr·wd) before the Adam update, applied to every parameter
// as `AdamW(model.parameters())` does.
const LR = 1e-4;
const WEIGHT_DECAY = 0.1;
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;
const LN_EPS = 1e-5;

let runId = 0;

/**
 * One GPT-2 training step per repetition (pre-LN blocks, causal attention, GELU tanh, tied LM
 * head, mean cross-entropy, AdamW) with tf ops, `tf.variableGrads` and `tf.train.adam`, on
 * peerWeights(config, seed) and peerBatch(config, seed). One untimed warm-up step (compiles;
 * gives `loss`), then `reps` timed steps; each ends by reading the loss, which flushes the whole
 * step including the update.
 */
export async function tfjsStep(config: PeerConfig, reps: number, seed = 1234): Promise<StepResult | PeerError> {
  let vars: TF.Variable[] = [];
  let optimizer: TF.AdamOptimizer | null = null;
  let consts: TF.Tensor[] = [];
  try {
    checkReps(reps);
    validatePeerConfig(config);
    const { tf, version, maxBinding } = await load();
    const { nLayers: L, dModel: D, nHeads: H, T, B, vocab: V } = config;
    const N = B * T;
    const hd = D / H;
    const big =
      tooBig(`the logits [${N}, ${V}]`, N * V, maxBinding) ??
      tooBig(`wte [${V}, ${D}]`, V * D, maxBinding) ??
      tooBig(`the attention scores [${B}, ${H}, ${T}, ${T}]`, B * H * T * T, maxBinding) ??
      tooBig(`the MLP activations [${N}, ${4 * D}]`, N * 4 * D, maxBinding);
    if (big) return { error: big };

    const run = runId++;
    const weights = peerWeights(config, seed);
    const P = new Map<string, TF.Variable>();
    for (const [name, w] of weights) {
      const v = tf.variable(tf.tensor(w.data, w.shape, 'float32'), true, `peer${run}/${name}`);
      P.set(name, v);
      vars.push(v);
    }
    const p = (name: string): TF.Variable => P.get(name)!;
    const batch = peerBatch(config, seed);
    const inputs = tf.tensor1d(batch.inputs, 'int32');
    const labels = tf.cast(tf.oneHot(tf.tensor1d(batch.targets, 'int32'), V), 'float32');
    // Additive causal mask [T, T]: 0 on and below the diagonal, -1e9 above.
    const maskData = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskData[i * T + j] = -1e9;
    const mask = tf.tensor2d(maskData, [T, T]);
    consts = [inputs, labels, mask];
    const scale = 1 / Math.sqrt(hd);
    const geluC = Math.sqrt(2 / Math.PI);

    const layerNorm = (x: TF.Tensor, g: TF.Tensor, b: TF.Tensor): TF.Tensor => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LN_EPS))), g), b);
    };
    const linear = (x: TF.Tensor, prefix: string): TF.Tensor =>
      tf.add(tf.matMul(x, p(`${prefix}.weight`)), p(`${prefix}.bias`));
    // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    const gelu = (x: TF.Tensor): TF.Tensor =>
      tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), geluC)), 1));
    const heads = (x: TF.Tensor): TF.Tensor => tf.transpose(tf.reshape(x, [B, T, H, hd]), [0, 2, 1, 3]);

    const lossFn = (): TF.Scalar => {
      // [N, D]: token embedding plus position embedding (wpe broadcast over the batch).
      const emb = tf.reshape(tf.gather(p('wte.weight'), inputs), [B, T, D]);
      let x: TF.Tensor = tf.reshape(tf.add(emb, p('wpe.weight')), [N, D]);
      for (let l = 0; l < L; l++) {
        const pre = `h.${l}.`;
        const h1 = layerNorm(x, p(`${pre}ln_1.weight`), p(`${pre}ln_1.bias`));
        const [q, k, v] = tf.split(linear(h1, `${pre}attn.c_attn`), 3, 1);
        const scores = tf.add(tf.mul(tf.matMul(heads(q), heads(k), false, true), scale), mask);
        const att = tf.matMul(tf.softmax(scores), heads(v));
        const y = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [N, D]);
        x = tf.add(x, linear(y, `${pre}attn.c_proj`));
        const h2 = layerNorm(x, p(`${pre}ln_2.weight`), p(`${pre}ln_2.bias`));
        x = tf.add(x, linear(gelu(linear(h2, `${pre}mlp.c_fc`)), `${pre}mlp.c_proj`));
      }
      const hf = layerNorm(x, p('ln_f.weight'), p('ln_f.bias'));
      const logits = tf.matMul(hf, p('wte.weight'), false, true);
      return tf.losses.softmaxCrossEntropy(labels, logits) as TF.Scalar;
    };

    const opt = tf.train.adam(LR, BETA1, BETA2, EPS);
    optimizer = opt;
    const step = async (): Promise<number> => {
      const { value, grads } = tf.variableGrads(lossFn, vars);
      tf.tidy(() => {
        for (const v of vars) v.assign(tf.mul(v, 1 - LR * WEIGHT_DECAY));
      });
      opt.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      tf.dispose(Object.values(grads));
      // Reading the loss submits everything queued before it, the update included, and waits.
      const loss = (await value.data())[0];
      value.dispose();
      return loss;
    };

    const loss = await step();
    if (!Number.isFinite(loss)) return { error: `tfjs step: first-step loss is ${loss}` };
    const times: number[] = [];
    const cpu: number[] = [];
    let lossLast = loss;
    for (let i = 0; i < reps; i++) {
      const c0 = cpuNow();
      const t0 = performance.now();
      lossLast = await step();
      times.push(performance.now() - t0);
      cpu.push(cpuNow() - c0);
    }
    const t = stats(times, cpu);
    return { impl: 'tfjs-webgpu', version, ...t, tokens_per_s: N / (t.ms / 1000), loss, loss_last: lossLast };
  } catch (e) {
    return { error: `tfjs step: ${message(e)}` };
  } finally {
    for (const v of vars) v.dispose();
    for (const c of consts) c.dispose();
    optimizer?.dispose();
    vars = [];
    consts = [];
  }
}

// ---- command line: one measurement per process, one JSON line on stdout (serve.ts) ----
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await servePeerRequest({
    available: () => tfjsAvailable(),
    matmul: (req) => tfjsMatmul(Number(req.m), Number(req.n), Number(req.k), req.mode as MatmulMode, Number(req.reps ?? 5)),
    step: (req) => tfjsStep(req.config as PeerConfig, Number(req.reps ?? 2), req.seed === undefined ? 1234 : Number(req.seed)),
  });
}
