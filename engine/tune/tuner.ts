// The tuner: for each class of work (engine/tune/choices.ts: matmul products, AdamW on a large
// parameter) it times the candidate variants on this adapter, keeps the fastest and writes it to
// the machine's cache file, as Triton's autotune and cuBLASLt's heuristics do: the fastest kernel
// depends on the CPU (llvmpipe's storage loads cost several times more with AVX2 code than with
// AVX-512), the Mesa version and the GPU, so it is measured where it runs, once.
//
// Each candidate runs on the class's first shape met (a product clamped to at most 512x1024x1024,
// AdamW to 4M floats, so one run takes milliseconds, not seconds): a first dispatch (the JIT
// compile, which counts against the budget), then, once the process's other threads are quiet,
// rounds in which every candidate runs in turn, timed to the GPU's completion (finish()); the
// median of the rounds decides. The wait matters: Mesa writes each fresh compile into its disk
// cache on a thread of its own, and rounds timed while it worked measured a cold first class far
// too low (docs/measurements.md, 'The tuner's classes and rounds'). A
// process spends at most BUDGET_MS tuning, each class at most CLASS_BUDGET_MS: candidates are
// timed in order (the built-in default first) and the list stops where the next one's compile
// would pass the class's budget.
import { platform } from '#platform';
import type { Binding, Device } from '../device.ts';
import { WgptError } from '../errors.ts';
import { setting } from '../settings.ts';
import { saveTuneFile, type ClassResult } from './cache.ts';
import { classKey, classOf, parseClassKey, tuningOf, type Candidate, type MatmulClass, type Pending } from './choices.ts';
import { matmulTunable, type Shape } from './matmul-pick.ts';

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
const MAX_ADAMW = 1 << 22;

export interface TuneOptions {
  /** Milliseconds for all classes (default: what is left of this process's BUDGET_MS). */
  budgetMs?: number;
  /** Per class (default CLASS_BUDGET_MS). */
  classBudgetMs?: number;
  /** Where progress goes (default: stderr); null for none. */
  log?: ((line: string) => void) | null;
}

/** How the tuner records a candidate's dispatches: the ops' own single-dispatch functions
 *  (engine/ops/matmul-lower.ts, engine/ops/adamw.ts), handed in by engine/index.ts so that tune/
 *  imports nothing of ops/ (ops/ asks tune/ for its choices). */
export interface TuneDispatch {
  matmul(d: Shape & { a: Binding; b: Binding; c: Binding; accumulate: boolean }, transA: boolean, transB: boolean, label: string,
    candidate: Candidate): void;
  adamw(windows: Binding[], n4: number, scalars: Record<string, number>, textures: boolean, label: string): void;
}

let dispatchers: TuneDispatch | null = null;

/** Sets how the tuner records its dispatches (engine/index.ts, once). */
export function setTuneDispatch(d: TuneDispatch): void {
  dispatchers = d;
}

function dispatch(): TuneDispatch {
  if (!dispatchers) throw new Error('tuner: no dispatch functions set (engine/index.ts sets them; open the device through it)');
  return dispatchers;
}

/** The work a model meets, which `wgpt tune` measures (the caller says which: the engine knows
 *  no model): products [m, n, k, transA, transB], every operand vec4-aligned, and AdamW on a
 *  parameter of `adamw` floats. */
export interface StandardWork {
  products: Array<[m: number, n: number, k: number, transA: boolean, transB: boolean]>;
  adamw: number;
}

/** The classes `wgpt tune` measures on this device: the standard products under the keys the
 *  engine looks them up by (classOf), and AdamW;
 *  those with one candidate only are left out. */
export function standardClasses(device: Device, work: StandardWork): Pending[] {
  const products = work.products.map(([m, n, k, ta, tb]): Pending => ({ cls: classOf(m, n, k, ta, tb, true, true).cls, m, n, k }));
  const all: Pending[] = [...products, { cls: { kind: 'adamw' }, m: 1, n: work.adamw, k: 1 }];
  const s = tuningOf(device);
  return all.filter((p) => s.candidates(p.cls).length > 1);
}

/** Measures again every standard class and every class in the cache (`wgpt tune`). */
export async function retune(device: Device, work: StandardWork, opts: TuneOptions = {}): Promise<Map<string, ClassResult>> {
  const s = tuningOf(device);
  if (!s.enabled) throw new WgptError('WGPT_TUNE=off: unset it to measure the kernels');
  if (!matmulTunable(device)) {
    throw new WgptError('a matmul override is in force (WGPT_MATMUL_TILE, WGPT_MATMUL_TEXTURES, overrideMatmul): ' +
      'unset it to measure the candidates');
  }
  const classes = new Map(standardClasses(device, work).map((p) => [classKey(p.cls), p]));
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
  // With a matmul override in force, the products' choices are not in force: nothing to measure.
  const pending = [...s.pending.values()].filter((p) => p.cls.kind !== 'matmul' || matmulTunable(device));
  s.pending.clear();
  if (pending.length === 0) return;
  const budget = setting('WGPT_TUNE_BUDGET_S') ?? BUDGET_MS;
  return tuneClasses(device, pending, { budgetMs: Math.max(0, budget - s.spentMs) }).then(() => undefined);
}

/** Times the candidates of each class and records the winners in the device's tuning state and
 *  in the machine's cache file; returns the results. */
export async function tuneClasses(device: Device, classes: Pending[], opts: TuneOptions = {}): Promise<Map<string, ClassResult>> {
  const s = tuningOf(device);
  const log = opts.log === undefined ? platform.warn : opts.log;
  const start = performance.now();
  const budget = opts.budgetMs ?? Math.max(0, BUDGET_MS - s.spentMs);
  const out = new Map<string, ClassResult>();
  if (classes.length > 0 && log) {
    const most = Number.isFinite(budget) ? `, at most ${Math.round(budget / 1000)} s` : '';
    log(`wgpt: measuring the kernels for this machine (once; ${classes.length} class${classes.length > 1 ? 'es' : ''} of work${most}; ` +
      `kept in ${s.file})`);
  }
  for (const p of classes) {
    const left = budget - (performance.now() - start);
    const candidates = s.candidates(p.cls);
    const result = left > 0
      ? await timeClass(device, p, candidates, Math.min(left, opts.classBudgetMs ?? CLASS_BUDGET_MS))
      : null;
    const key = classKey(p.cls);
    const r: ClassResult = result ?? {
      choice: candidates[0].name, shape: [p.m, p.n, p.k], unit: unitOf(p), speed: {}, first_s: {}, measured_at: new Date().toISOString(),
    };
    s.results.set(key, r);
    out.set(key, r);
    if (log) log(`wgpt: ${p.cls.kind === 'matmul' ? 'matmul ' : ''}${key}: ${describe(r)}`);
  }
  s.spentMs += performance.now() - start;
  saveTuneFile(s.file, { key: s.key, classes: Object.fromEntries(s.results) });
  return out;
}

function describe(r: ClassResult): string {
  const rows = Object.entries(r.speed).sort((x, y) => y[1] - x[1]);
  if (rows.length === 0) return `${r.choice} (not measured: the tuning budget was spent)`;
  return `${r.choice} at ${r.shape.join('x')} (${rows.map(([n, g]) => `${n} ${g.toFixed(1)}`).join(', ')} ${r.unit})`;
}

const unitOf = (p: Pending): ClassResult['unit'] => (p.cls.kind === 'matmul' ? 'GFLOP/s' : 'GB/s');

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
    const c0 = platform.cpuMicros();
    await new Promise((r) => setTimeout(r, QUIET_STEP_MS));
    // A tab cannot see its CPU time: one step's wait is all it gets.
    if (c0 === null || platform.cpuMicros()! - c0 < QUIET_STEP_MS * 100) return;
  }
}

/** What the tuner runs for a class: candidate `c` recorded `times` times on buffers made for it,
 *  and the work one run does (FLOPs, or bytes moved). */
interface Workload {
  shape: [number, number, number];
  work: number;
  run(c: Candidate, times: number): void;
  free(): void;
}

/** Buffers of `sizes` floats, each filled with values from `fill` unless its seed is 0. */
function buffers(device: Device, sizes: [number, number][]): { bindings: Binding[]; free: () => void } {
  const made = sizes.map(([size, seed]) => {
    const { buffer, bytes } = device.allocate(size * 4, 'tuning');
    if (seed) device.upload(buffer, 0, fill(size, seed), 'tuning');
    return { buffer, bytes };
  });
  return {
    bindings: made.map((b, i) => ({ buffer: b.buffer, offset: 0, size: sizes[i][0] * 4 })),
    free: () => made.forEach((b) => device.release(b.buffer, b.bytes)),
  };
}

function matmulWorkload(device: Device, cls: MatmulClass, p: Pending): Workload {
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
  const { bindings: [a, b, c], free } = buffers(device, [[sa.rows * sa.ld, 1], [sb.rows * sb.ld, 2], [m * n, 0]]);
  return {
    shape: [m, n, k], work: 2 * m * n * k, free,
    run: (cand, times) => {
      for (let i = 0; i < times; i++) {
        dispatch().matmul({
          m, n, k, batches: 1, lda: sa.ld, ldb: sb.ld, ldc: n, aBatch: 0, bBatch: 0, cBatch: 0, aOff: 0, bOff: 0, cOff: 0,
          a, b, c, accumulate: false,
        }, transA, transB, `matmul tuning ${cand.name}`, cand);
      }
    },
  };
}

function adamwWorkload(device: Device, p: Pending): Workload {
  const n = Math.min(MAX_ADAMW, Math.ceil(p.n / 4) * 4);
  const { bindings, free } = buffers(device, [[n, 1], [n, 2], [n, 3], [n, 4]]);
  // Tiny steps, so the parameters stay real numbers over every run.
  const scalars = { decay: 1 - 1e-9, step: 1e-9, b1: 0.9, omb1: 0.1, b2: 0.999, omb2: 0.001, eps: 1e-8, rbc2: 1 };
  return {
    // Read p, g, m, v; write p, m, v.
    shape: [1, n, 1], work: 7 * 4 * n, free,
    run: (cand, times) => {
      for (let i = 0; i < times; i++) {
        dispatch().adamw(bindings, n / 4, scalars, 'adamwTextures' in cand && cand.adamwTextures, `adamw tuning ${cand.name}`);
      }
    },
  };
}

async function timeClass(device: Device, p: Pending, candidates: Candidate[], budgetMs: number): Promise<ClassResult | null> {
  const started = performance.now();
  const w = p.cls.kind === 'matmul' ? matmulWorkload(device, p.cls, p) : adamwWorkload(device, p);
  const timed = async (c: Candidate, times: number): Promise<number> => {
    const t0 = performance.now();
    w.run(c, times);
    await device.finish('tuning');
    return (performance.now() - t0) / times;
  };
  try {
    await device.finish('tuning');
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
    const speed: Record<string, number> = {};
    let best: Candidate | null = null;
    for (const [c, ts] of times) {
      const sorted = [...ts].sort((x, y) => x - y);
      speed[c.name] = +(w.work / sorted[sorted.length >> 1] / 1e6).toFixed(2);
      if (!best || speed[c.name] > speed[best.name]) best = c;
    }
    return { choice: best!.name, shape: w.shape, unit: unitOf(p), speed, first_s: first, measured_at: new Date().toISOString() };
  } catch (e) {
    throw new WgptError(
      `measuring the kernels (${classKey(p.cls)}) failed: ${(e as Error).message}; WGPT_TUNE=off runs the built-in kernels`,
      { cause: e },
    );
  } finally {
    w.free();
  }
}
