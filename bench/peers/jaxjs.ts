// Benchmark peer: jax-js (npm `@jax-js/jax`), a JAX-like library in TypeScript whose `jit` fuses
// traced programs into shape-specialised WebGPU kernels, on the same Dawn adapter wgpt uses.
//
// What it takes to run jax-js headless in Node (it targets browsers):
//   - its WebGPU backend calls `navigator.gpu.requestAdapter()` in `init('webgpu')` and reads
//     `navigator.userAgent` while generating kernels, so `globalThis.navigator = { gpu, userAgent }`
//     is installed BEFORE it is imported (dynamic import);
//   - `gpu` hands out the adapter engine/adapter.ts chooses (a real GPU with core features where
//     there is one, else llvmpipe at featureLevel 'compatibility'), which also keeps Dawn's GPU
//     object alive for the life of the process (dawn.node crashes if it is collected);
//   - results are read with the async `data()`: its synchronous read goes through OffscreenCanvas.
// jax-js binds whole buffers (no offset slicing): a buffer over maxStorageBufferBindingSize (128 MiB
// on llvmpipe; GPT-2's 147 MiB token embedding) would be a validation error and a dropped dispatch,
// so such cases are refused up front; any uncaptured WebGPU error during a measurement fails it.
//
// Every function returns an `{ error }` object instead of throwing when jax-js cannot run a case.
// Run directly for one measurement in its own process (what `wgpt bench` does, via jaxjsRequest):
//   npx tsx bench/peers/jaxjs.ts '{"kind":"matmul","m":1024,"n":1024,"k":1024,"mode":"x·W","reps":5}'
//   npx tsx bench/peers/jaxjs.ts '{"kind":"step","config":{...},"seed":1234,"reps":2}'
// prints one JSON line.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type * as JAX from '@jax-js/jax';
import { chooseAdapter } from '../../engine/adapter.ts';
import { MATMUL_MODES, type Availability, type MatmulMode, type MatmulResult, type PeerError, type StepResult } from './tfjs.ts';
import { buildTrainStep } from './jaxjs-gpt2.ts';
import { checkReps, cpuNow, message, overBindingLimit, stats } from './measure.ts';
import { mulberry32, peerBatch, peerWeights, streamSeed, validatePeerConfig, type PeerConfig } from './weights.ts';
import { servePeerRequest } from './serve.ts';

/** Times of a jax-js measurement, plus the first call (trace + jit + WGSL + Dawn/Mesa compile). */
export interface JaxMatmulResult extends MatmulResult {
  compile_ms: number;
  /** C row-major, only when the request asked for it (`returnOutput`, small shapes, self-check). */
  output?: number[];
}
export interface JaxStepResult extends StepResult {
  compile_ms: number;
}

export type JaxModule = typeof JAX;
interface Loaded {
  jax: JaxModule;
  version: string;
  adapter: string;
  maxBinding: number;
  /** WebGPU errors nobody caught (validation errors of dropped dispatches): a measurement with any fails. */
  errors: string[];
}

let loading: Promise<Loaded> | null = null;


async function loadJax(): Promise<Loaded> {
  const choice = await chooseAdapter('auto');
  let handedOut = false;
  const gpu = {
    // A Dawn adapter makes a single device: asking twice is an error, never a silently shared adapter.
    requestAdapter: async (_options?: GPURequestAdapterOptions): Promise<GPUAdapter | null> => {
      if (handedOut) throw new Error('jax-js peer: the adapter was already consumed');
      handedOut = true;
      return choice.adapter;
    },
  };
  const nav = { gpu, userAgent: `Node.js/${process.versions.node}` };
  Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
  const jax = (await import('@jax-js/jax')) as JaxModule;
  const devices = await jax.init('webgpu');
  if (!devices.includes('webgpu')) throw new Error(`jax-js did not start its webgpu backend (got ${devices.join(', ') || 'none'})`);
  jax.defaultDevice('webgpu');
  const errors: string[] = [];
  jax.getWebGPUDevice().addEventListener('uncapturederror', (ev) => {
    errors.push((ev as GPUUncapturedErrorEvent).error.message);
  });
  // Its package.json is not in its `exports`: read it beside the resolved entry (dist/index.js).
  const pkg = new URL('../package.json', import.meta.resolve('@jax-js/jax'));
  const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  return {
    jax,
    version: `@jax-js/jax ${version}`,
    adapter: `${choice.description} (${choice.backend}, ${choice.featureLevel})`,
    maxBinding: choice.adapter.limits.maxStorageBufferBindingSize,
    errors,
  };
}

export function loadJaxPeer(): Promise<Loaded> {
  loading ??= loadJax();
  return loading;
}

function checkErrors(errors: string[]): void {
  if (errors.length) throw new Error(`WebGPU error during the run (results would be wrong): ${errors[0]}`);
}

export async function jaxjsAvailable(): Promise<Availability> {
  try {
    const { jax, version, adapter, errors } = await loadJaxPeer();
    const np = jax.numpy;
    const r = await np.array([1, 2]).add(np.array([3, 4])).data();
    checkErrors(errors);
    if (r[0] !== 4 || r[1] !== 6) return { ok: false, reason: `jax-js webgpu computed 1+3=${r[0]}, 2+4=${r[1]}` };
    return { ok: true, version, adapter };
  } catch (e) {
    return { ok: false, reason: message(e) };
  }
}

const tooBig = (what: string, elements: number, maxBinding: number): string | null =>
  overBindingLimit(what, elements, maxBinding, 'buffer', 'jax-js binds whole buffers, so the dispatch would be dropped');

/** Uniform [-1, 1) operands from the peers' seeded generator (so a self-check can recompute C). */
export function matmulOperand(rows: number, cols: number, seed: number, name: string): Float32Array {
  const next = mulberry32(streamSeed(seed, name));
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = (next() / 4294967296) * 2 - 1;
  return out;
}

/**
 * C[m,n] = A·B with inner dimension k, in the three layouts of a linear layer's training, each as
 * one `jit` function: 'x·W' A[m,k]·B[k,n]; 'dy·Wᵀ' A[m,k]·B[n,k]ᵀ; 'xᵀ·dy' A[k,m]ᵀ·B[k,n].
 * The first call (tracing, kernel generation, pipeline and Mesa JIT compile) is `compile_ms`; a
 * second untimed call warms up; then `reps` timed calls, each ending on `await c.data()`.
 */
export async function jaxjsMatmul(
  m: number, n: number, k: number, mode: MatmulMode, reps: number, returnOutput = false, seed = 1,
): Promise<JaxMatmulResult | PeerError> {
  try {
    checkReps(reps);
    if (!MATMUL_MODES.includes(mode)) throw new Error(`unknown matmul mode '${mode}'`);
    const { jax, version, maxBinding, errors } = await loadJaxPeer();
    const big = tooBig('A', m * k, maxBinding) ?? tooBig('B', k * n, maxBinding) ?? tooBig('C', m * n, maxBinding);
    if (big) return { error: big };
    const np = jax.numpy;
    const transA = mode === 'xᵀ·dy';
    const transB = mode === 'dy·Wᵀ';
    const aShape = transA ? [k, m] : [m, k];
    const bShape = transB ? [n, k] : [k, n];
    const a = np.array(matmulOperand(aShape[0], aShape[1], seed, 'A')).reshape(aShape);
    const b = np.array(matmulOperand(bShape[0], bShape[1], seed, 'B')).reshape(bShape);
    // The transposes are views (no copy) that jit hands to its matmul kernel generator with the operand.
    const f = jax.jit((x: JAX.Array, y: JAX.Array) =>
      np.matmul(transA ? x.transpose() : x, transB ? y.transpose() : y));
    const times: number[] = [];
    const cpu: number[] = [];
    let compileMs = 0;
    let output: number[] | undefined;
    try {
      for (let i = 0; i < reps + 2; i++) {
        const c0 = cpuNow();
        const t0 = performance.now();
        const c = f(a.ref, b.ref);
        const data = await c.data();
        const dt = performance.now() - t0;
        const dc = cpuNow() - c0;
        if (i === 0) compileMs = dt;
        if (i >= 2) {
          times.push(dt);
          cpu.push(dc);
        }
        if (returnOutput && i === reps + 1) output = Array.from(data as Float32Array);
      }
    } finally {
      a.dispose();
      b.dispose();
      f.dispose();
    }
    checkErrors(errors);
    const t = stats(times, cpu);
    return { impl: 'jax-js', version, ...t, gflops: (2 * m * n * k) / (t.ms * 1e6), compile_ms: compileMs, output };
  } catch (e) {
    return { error: `jax-js matmul ${m}x${n}x${k} ${mode}: ${message(e)}` };
  }
}

/**
 * One GPT-2 training step per repetition (bench/peers/jaxjs-gpt2.ts: pre-LN blocks, causal
 * attention, GELU tanh, tied head, mean cross-entropy, AdamW lr 1e-4 wd 0.1 as torch.optim.AdamW)
 * as ONE `jit` function over (params, Adam state) built on `valueAndGrad`, on peerWeights(config,
 * seed) and peerBatch(config, seed). The first call (compile + step 1, whose loss is before any
 * update) is untimed and reported as `compile_ms`; then `reps` timed steps. Each step ends when
 * the loss has been read and every updated parameter and moment is ready (jax.blockUntilReady).
 */
export async function jaxjsStep(config: PeerConfig, reps: number, seed = 1234): Promise<JaxStepResult | PeerError> {
  try {
    checkReps(reps);
    validatePeerConfig(config);
    const { jax, version, maxBinding, errors } = await loadJaxPeer();
    const { dModel: D, nHeads: H, T, B, vocab: V } = config;
    const N = B * T;
    const big =
      tooBig(`wte [${V}, ${D}]`, V * D, maxBinding) ??
      tooBig(`the logits [${N}, ${V}]`, N * V, maxBinding) ??
      tooBig(`the attention scores [${B}, ${H}, ${T}, ${T}]`, B * H * T * T, maxBinding) ??
      tooBig(`the MLP activations [${N}, ${4 * D}]`, N * 4 * D, maxBinding);
    if (big) return { error: big };

    const np = jax.numpy;
    const weights = peerWeights(config, seed);
    const batch = peerBatch(config, seed);
    const train = buildTrainStep(jax, config);
    let params: Record<string, JAX.Array> = {};
    let mom: Record<string, JAX.Array> = {};
    let vel: Record<string, JAX.Array> = {};
    for (const [name, w] of weights) {
      params[name] = np.array(w.data).reshape(w.shape);
      mom[name] = np.zeros(w.shape);
      vel[name] = np.zeros(w.shape);
    }
    const inputs = np.array(batch.inputs, { dtype: np.int32 }).reshape([B, T]);
    const targets = np.array(batch.targets, { dtype: np.int32 }).reshape([B, T]);
    let t = 0;
    const step = async (): Promise<number> => {
      t++;
      const hyper = train.hyper(t);
      const [loss, p2, m2, v2] = train.fn(params, mom, vel, hyper, inputs.ref, targets.ref);
      params = p2;
      mom = m2;
      vel = v2;
      // The loss alone does not cover the update: wait for every new parameter and moment too.
      await jax.blockUntilReady([params, mom, vel]);
      return (await loss.data())[0];
    };
    try {
      const t0 = performance.now();
      const loss = await step();
      const compileMs = performance.now() - t0;
      checkErrors(errors);
      if (!Number.isFinite(loss)) return { error: `jax-js step: first-step loss is ${loss}` };
      const times: number[] = [];
      const cpu: number[] = [];
      let lossLast = loss;
      for (let i = 0; i < reps; i++) {
        const c0 = cpuNow();
        const t1 = performance.now();
        lossLast = await step();
        times.push(performance.now() - t1);
        cpu.push(cpuNow() - c0);
      }
      checkErrors(errors);
      const s = stats(times, cpu);
      return { impl: 'jax-js', version, ...s, tokens_per_s: N / (s.ms / 1000), loss, loss_last: lossLast, compile_ms: compileMs };
    } finally {
      jax.tree.dispose([params, mom, vel, inputs, targets]);
      train.fn.dispose();
    }
  } catch (e) {
    return { error: `jax-js step: ${message(e)}` };
  }
}

// ---- command line: one measurement per process, one JSON line on stdout (serve.ts) ----
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await servePeerRequest({
    available: () => jaxjsAvailable(),
    matmul: (req) => jaxjsMatmul(Number(req.m), Number(req.n), Number(req.k), req.mode as MatmulMode, Number(req.reps ?? 5),
      req.returnOutput === true),
    step: (req) => jaxjsStep(req.config as PeerConfig, Number(req.reps ?? 2), req.seed === undefined ? 1234 : Number(req.seed)),
  });
}
