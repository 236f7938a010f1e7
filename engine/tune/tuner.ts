// The matmul tuner: for each class of product (engine/tune/choices.ts) it times the candidate
// variants on this adapter, keeps the fastest and writes it to the machine's cache file, as
// Triton's autotune and cuBLASLt's heuristics do: the fastest kernel depends on the CPU (llvmpipe's
// storage loads cost 7x more on an AVX2-only CPU than with AVX-512), the Mesa version and the GPU,
// so it is measured where it runs, once.
//
// Each candidate runs on the class's first shape met (clamped to at most 512x1024x1024, so one run
// takes milliseconds, not seconds): a first dispatch (the JIT compile, which counts against the
// budget), then, once the process's other threads are quiet, rounds in which every candidate runs
// in turn, timed to the GPU's completion (finish()); the median of the rounds decides. The wait
// matters: Mesa writes each fresh compile into its disk cache on a thread of its own, and rounds
// timed while it worked measured a cold first class 30-45% low (AVX2 code on the 2-core EPYC:
// 19-25 against 33-45 GFLOP/s with the cache warm). A process spends at most BUDGET_MS tuning, each
// class at most CLASS_BUDGET_MS: candidates are timed in order (the built-in default first) and
// the list stops where the next one's compile would pass the class's budget.
import type { Device } from '../device.ts';
import { WgptError } from '../errors.ts';
import { dispatchMatmul, matmulTunable } from '../ops/matmul-plan.ts';
import { saveTuneFile, type ClassResult } from './cache.ts';
import { candidatesFor, classKey, parseClassKey, tuningOf, type Candidate, type Pending } from './choices.ts';

/** WGPT_TUNE_BUDGET_S changes it (the tests' runs use a few seconds). */
const BUDGET_MS = 60_000;
const CLASS_BUDGET_MS = 20_000;
export const ROUNDS = 5;
/** The wait for quiet: at most this long, in steps of QUIET_STEP_MS, until the process used under
 *  10% of a core over a step. */
const QUIET_MAX_MS = 5_000;
const QUIET_STEP_MS = 50;
/** A timed run records enough dispatches of a candidate to last about this long. */
const RUN_MS = 15;
const MAX_DIMS = [512, 1024, 1024];

export interface TuneOptions {
  /** Milliseconds for all classes (default: what is left of this process's BUDGET_MS). */
  budgetMs?: number;
  /** Per class (default CLASS_BUDGET_MS). */
  classBudgetMs?: number;
  /** Where progress goes (default: stderr); null for none. */
  log?: ((line: string) => void) | null;
}

/** The classes a GPT-2 run meets, at GPT-2 small's shapes for 1024 tokens (each clamped when
 *  timed): a linear layer's forward, input gradient and weight gradient, and greedy decoding of 16
 *  prompts (a layer, and the LM head's h·Wteᵀ). `wgpt tune` measures these and any class this
 *  machine's cache holds. */
export const STANDARD_CLASSES: Pending[] = [
  { cls: { form: 'nn', vecA: true, vecB: true, bucket: 'large' }, m: 1024, n: 2304, k: 768 },
  { cls: { form: 'nt', vecA: true, vecB: true, bucket: 'large' }, m: 1024, n: 768, k: 2304 },
  { cls: { form: 'tn', vecA: true, vecB: true, bucket: 'large' }, m: 768, n: 2304, k: 1024 },
  { cls: { form: 'nn', vecA: true, vecB: true, bucket: 'thin' }, m: 16, n: 2304, k: 768 },
  { cls: { form: 'nt', vecA: true, vecB: true, bucket: 'thin' }, m: 16, n: 50257, k: 768 },
];

/** Measures again every standard class and every class in the cache (`wgpt tune`). */
export async function retune(device: Device, opts: TuneOptions = {}): Promise<Map<string, ClassResult>> {
  const s = tuningOf(device);
  if (!s.enabled) throw new WgptError('WGPT_TUNE=off: unset it to measure the matmul kernels');
  if (!matmulTunable()) throw new WgptError('a matmul tile is forced (WGPT_MATMUL_TILE): unset it to measure the candidates');
  const classes = new Map(STANDARD_CLASSES.map((p) => [classKey(p.cls), p]));
  for (const [key, r] of s.results) {
    const cls = parseClassKey(key);
    if (cls && !classes.has(key)) classes.set(key, { cls, m: r.shape[0], n: r.shape[1], k: r.shape[2] });
  }
  s.pending.clear();
  return tuneClasses(device, [...classes.values()], { budgetMs: Infinity, ...opts });
}

/** Measures the classes met since the last call (Device.beforeWait), within this process's budget.
 *  Classes left over when the budget is spent keep the default and are not measured again. */
export function tunePending(device: Device): Promise<void> | void {
  const s = tuningOf(device);
  if (!s.enabled || s.pending.size === 0) return;
  if (!matmulTunable()) {
    s.pending.clear();
    return;
  }
  const pending = [...s.pending.values()];
  s.pending.clear();
  const budget = process.env.WGPT_TUNE_BUDGET_S !== undefined ? Number(process.env.WGPT_TUNE_BUDGET_S) * 1000 : BUDGET_MS;
  if (!(budget >= 0)) throw new WgptError(`WGPT_TUNE_BUDGET_S must be a number of seconds, got "${process.env.WGPT_TUNE_BUDGET_S}"`);
  return tuneClasses(device, pending, { budgetMs: Math.max(0, budget - s.spentMs) }).then(() => undefined);
}

/** Times the candidates of each class and records the winners in the device's tuning state and
 *  in the machine's cache file; returns the results. */
export async function tuneClasses(device: Device, classes: Pending[], opts: TuneOptions = {}): Promise<Map<string, ClassResult>> {
  const s = tuningOf(device);
  const log = opts.log === undefined ? (line: string) => process.stderr.write(`${line}\n`) : opts.log;
  const start = performance.now();
  const budget = opts.budgetMs ?? Math.max(0, BUDGET_MS - s.spentMs);
  const out = new Map<string, ClassResult>();
  if (classes.length > 0 && log) {
    const most = Number.isFinite(budget) ? `, at most ${Math.round(budget / 1000)} s` : '';
    log(`wgpt: measuring the matmul kernels for this machine (once; ${classes.length} product class${classes.length > 1 ? 'es' : ''}${most}; kept in ${s.file})`);
  }
  for (const p of classes) {
    const left = budget - (performance.now() - start);
    const candidates = candidatesFor(device.kernelProfile, p.cls);
    const result = left > 0
      ? await timeClass(device, p, candidates, Math.min(left, opts.classBudgetMs ?? CLASS_BUDGET_MS))
      : null;
    const key = classKey(p.cls);
    const r: ClassResult = result ?? {
      choice: candidates[0].name, shape: [p.m, p.n, p.k], gflops: {}, first_s: {}, measured_at: new Date().toISOString(),
    };
    s.results.set(key, r);
    out.set(key, r);
    if (log) log(`wgpt: matmul ${key}: ${describe(r)}`);
  }
  s.spentMs += performance.now() - start;
  saveTuneFile(s.file, { key: s.key, classes: Object.fromEntries(s.results) });
  return out;
}

function describe(r: ClassResult): string {
  const rows = Object.entries(r.gflops).sort((x, y) => y[1] - x[1]);
  if (rows.length === 0) return `${r.choice} (not measured: the tuning budget was spent)`;
  return `${r.choice} at ${r.shape.join('x')} (${rows.map(([n, g]) => `${n} ${g.toFixed(1)}`).join(', ')} GFLOP/s)`;
}

/** Deterministic values in [-1, 1): real numbers, no denormals or NaN to slow a CPU down. */
function fill(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/** Waits until this process's threads (Mesa's shader-cache writer, llvmpipe's workers) are idle,
 *  or QUIET_MAX_MS. */
async function quiet(): Promise<void> {
  const until = performance.now() + QUIET_MAX_MS;
  while (performance.now() < until) {
    const c0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, QUIET_STEP_MS));
    const used = process.cpuUsage(c0);
    if (used.user + used.system < QUIET_STEP_MS * 100) return;
  }
}

async function timeClass(device: Device, p: Pending, candidates: Candidate[], budgetMs: number): Promise<ClassResult | null> {
  const started = performance.now();
  const { cls } = p;
  const transA = cls.form[0] === 't';
  const transB = cls.form[1] === 't';
  // Dimensions clamped and, for a vec4 operand, its row length a multiple of 4; a float operand
  // gets a row stride that is not, as the products of its class have.
  const r16 = (x: number): number => Math.ceil(x / 16) * 16;
  const [m, n, k] = [p.m, p.n, p.k].map((x, i) => r16(Math.min(x, MAX_DIMS[i])));
  const stored = (trans: boolean, rows: number, cols: number, vec: boolean): { rows: number; ld: number } => (trans
    ? { rows: cols, ld: rows + (vec ? 0 : 1) }
    : { rows, ld: cols + (vec ? 0 : 1) });
  const sa = stored(transA, m, k, cls.vecA);
  const sb = stored(transB, k, n, cls.vecB);
  const bufs = [[sa.rows * sa.ld, 1], [sb.rows * sb.ld, 2], [m * n, 0]].map(([size, seed]) => {
    const { buffer, bytes } = device.allocate(size * 4, 'matmul tuning');
    if (seed) device.upload(buffer, 0, fill(size, seed), 'matmul tuning');
    return { buffer, bytes, binding: { buffer, offset: 0, size: size * 4 } };
  });
  const run = (c: Candidate, times: number): void => {
    for (let i = 0; i < times; i++) {
      dispatchMatmul({
        m, n, k, batches: 1, lda: sa.ld, ldb: sb.ld, ldc: n, aBatch: 0, bBatch: 0, cBatch: 0, aOff: 0, bOff: 0, cOff: 0,
        a: bufs[0].binding, b: bufs[1].binding, c: bufs[2].binding, accumulate: false,
      }, transA, transB, `matmul tuning ${c.name}`, c);
    }
  };
  const timed = async (c: Candidate, times: number): Promise<number> => {
    const t0 = performance.now();
    run(c, times);
    await device.finish('matmul tuning');
    return (performance.now() - t0) / times;
  };
  try {
    await device.finish('matmul tuning');
    const first: Record<string, number> = {};
    const reps = new Map<Candidate, number>();
    let worstFirst = 0;
    for (const c of candidates) {
      const elapsed = performance.now() - started;
      if (reps.size > 0 && elapsed + worstFirst > budgetMs) break;
      const ms = await timed(c, 1);
      first[c.name] = +(ms / 1000).toFixed(2);
      worstFirst = Math.max(worstFirst, ms);
      reps.set(c, Math.max(1, Math.min(16, Math.ceil(RUN_MS / (await timed(c, 1))))));
    }
    await quiet();
    const times = new Map<Candidate, number[]>([...reps.keys()].map((c) => [c, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [c, n] of reps) times.get(c)!.push(await timed(c, n));
    }
    const gflops: Record<string, number> = {};
    let best: Candidate | null = null;
    for (const [c, ts] of times) {
      const sorted = [...ts].sort((x, y) => x - y);
      gflops[c.name] = +((2 * m * n * k) / sorted[sorted.length >> 1] / 1e6).toFixed(2);
      if (!best || gflops[c.name] > gflops[best.name]) best = c;
    }
    return { choice: best!.name, shape: [m, n, k], gflops, first_s: first, measured_at: new Date().toISOString() };
  } catch (e) {
    throw new WgptError(`measuring the matmul kernels (${classKey(cls)}) failed: ${(e as Error).message}; WGPT_TUNE=off runs the built-in kernels`, { cause: e });
  } finally {
    for (const b of bufs) device.release(b.buffer, b.bytes);
  }
}
