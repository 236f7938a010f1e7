// Shared by the `wgpt bench` suites: the row every figure is reported as, timing (median of several
// runs after warm-up, with min and max, and the process CPU time), the machine description, and
// the spawning of the TypeScript WebGPU peers (TensorFlow.js, jax-js) as one request per process (a
// Dawn crash there cannot take the bench down).
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getDevice, openDevice, type Device } from '../engine/index.ts';
import { cpuClass } from '../engine/tune/cache.ts';
import { tuningOf } from '../engine/tune/choices.ts';
import { cpuNow, median } from './peers/measure.ts';

export type Impl = 'wgpt' | 'jax-js' | 'tfjs-webgpu' | 'torch-cpu' | 'torch-cuda';

/** One measured figure. Times in ms per operation (per call, per step, per generate call). */
export interface BenchRow {
  /** `<suite>/<case>`, e.g. `matmul/qkv`, `attention/forward`, `step/small`. */
  name: string;
  impl: Impl | string;
  /** What the row measured beyond its name (shape, T, cache on/off, the composed form, ...). */
  variant?: string;
  ms?: number;
  ms_min?: number;
  ms_max?: number;
  /** Median process CPU time (all threads, llvmpipe's included) per operation. */
  cpu_ms?: number;
  runs?: number;
  gflops?: number;
  gbps?: number;
  /** Model FLOP/s over the matmul peak measured in the same run (see `peak`). */
  mfu?: number;
  /** Throughput of the wgpt row over this row's (theirs ms / ours ms): > 1 means wgpt is faster. */
  ratio?: number;
  /** What `ratio` compares against, in words. */
  ratio_baseline?: string;
  mode?: string;
  m?: number;
  n?: number;
  k?: number;
  tokens_per_s?: number;
  /** First-step loss (before any update): equal across implementations on equal weights and batch. */
  loss?: number;
  /** Loss of the last timed step. */
  loss_last?: number;
  /** First call of a compiled peer (jax-js: trace, kernel generation, shader compile, and the first run), ms; not in `ms`. */
  compile_ms?: number;
  peak_bytes?: number;
  buffers_created?: number;
  submits?: number;
  dispatches?: number;
  /** Host µs spent recording one dispatch (validation, lookups, encoding; submits excluded). */
  record_us?: number;
  /** A step's host ms recording it (its submits excluded). */
  host_ms?: number;
  /** A step's GPU ms, taken as gpu_timing says. */
  gpu_ms?: number;
  gpu_timing?: string;
  version?: string;
  note?: string;
  /** Set when the case did not run: a missing peer, a refused shape, a skipped case. No figures then. */
  error?: string;
}

export interface Machine {
  adapter: string;
  backend: string;
  cpu: string;
  /** Model, family and vector class (engine/tune/cache.ts cpuClass). */
  cpu_class: string;
  cores: number;
  memory_gib: number;
  node: string;
  platform: string;
  load_avg: number[];
  /** The kernel variants in force, set when the suites have run (kernelChoices). */
  kernels?: string;
}

export function machine(device: Device): Machine {
  const cpus = os.cpus();
  return {
    adapter: device.adapterDescription,
    backend: `${device.backend} (${device.featureLevel})`,
    cpu: cpus[0]?.model ?? 'unknown',
    cpu_class: cpuClass(),
    cores: cpus.length,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    load_avg: os.loadavg().map((x) => +x.toFixed(2)),
  };
}

/** The kernel variants in force, in one phrase: the tuner's choice per class, or the defaults. */
export function kernelChoices(device: Device): string {
  const s = tuningOf(device);
  if (!s.enabled) return 'built-in defaults (WGPT_TUNE=off)';
  const chosen = [...s.results].map(([cls, r]) => `${cls}: ${r.choice}`);
  return chosen.length ? `chosen by the tuner on this machine (${chosen.join('; ')})` : 'built-in defaults (nothing measured here)';
}

export { median };

/** Deterministic values in [-amp, amp) (a linear congruential generator), for benchmark inputs. */
export function seeded(n: number, seed: number, amp: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 2 * amp;
  }
  return out;
}

export interface Timing {
  ms: number;
  ms_min: number;
  ms_max: number;
  cpu_ms: number;
  runs: number;
}

/**
 * `warmup` untimed calls, then `runs` timed calls of `fn` (which must finish its GPU work, e.g. end
 * in `await device.finish()` (the completion barrier) or a readback). Wall time and process CPU time per call.
 */
export async function timeRuns(fn: () => Promise<unknown>, runs: number, warmup = 1): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = cpuNow();
    const t0 = performance.now();
    await fn();
    wall.push(performance.now() - t0);
    cpu.push(cpuNow() - c0);
  }
  return { ms: median(wall), ms_min: Math.min(...wall), ms_max: Math.max(...wall), cpu_ms: median(cpu), runs };
}

/** Prints one row as a line of the running log. */
export function logRow(r: BenchRow): void {
  const what = r.variant ?? (r.mode ? `${r.mode} ${r.m}x${r.n}x${r.k}` : '');
  const head = `${r.name.padEnd(30)} ${String(r.impl).padEnd(12)} ${what.padEnd(30)}`;
  if (r.error) {
    console.log(`${head} ${r.error}`);
    return;
  }
  const fig: string[] = [];
  if (r.ms !== undefined) fig.push(`${fmt(r.ms)} ms [${fmt(r.ms_min)} .. ${fmt(r.ms_max)}]`);
  if (r.gflops !== undefined) fig.push(`${r.gflops.toFixed(2)} GFLOP/s`);
  if (r.gbps !== undefined) fig.push(`${r.gbps.toFixed(2)} GB/s`);
  if (r.tokens_per_s !== undefined) fig.push(`${r.tokens_per_s.toFixed(1)} tok/s`);
  if (r.loss !== undefined) fig.push(`loss ${r.loss.toFixed(5)}`);
  if (r.compile_ms !== undefined) fig.push(`compile ${fmt(r.compile_ms)} ms`);
  if (r.ratio !== undefined) fig.push(`wgpt/this ${r.ratio.toFixed(2)}x`);
  if (r.note) fig.push(r.note);
  console.log(`${head} ${fig.join('  ')}`);
}

export function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || !Number.isFinite(x)) return '';
  if (Math.abs(x) >= 1000) return x.toFixed(0);
  return x.toPrecision(digits);
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---- the TypeScript WebGPU peers (TensorFlow.js, jax-js), one request per process ---------------

const PEERS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'peers');

/** Runs `bench/peers/<file> '<request>'` in a child Node (tsx loader) and parses its JSON line; a
 *  crash, a timeout or no output becomes `{ error }` naming the peer. */
function peerRequest<T extends object>(file: string, label: string, request: object, timeoutMs: number): Promise<T | { error: string }> {
  const cli = path.join(PEERS_DIR, file);
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(process.execPath, ['--import', 'tsx', cli, JSON.stringify(request)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: path.dirname(PEERS_DIR),
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ error: `${label} peer: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        const v = JSON.parse(line) as T;
        if (v && typeof v === 'object') return resolve(v);
      } catch {
        // fall through
      }
      const tail = stderr.split('\n').filter((l) => l.trim() && !l.startsWith('Warning:')).slice(-2).join(' | ');
      resolve({ error: `${label} peer exited with ${signal ?? code}${signal === 'SIGKILL' ? ' (timed out)' : ''} ` +
        `and no result${tail ? `: ${tail}` : ''}` });
    });
  });
}

/** One TensorFlow.js request (bench/peers/tfjs.ts) in its own process. */
export function tfjsRequest<T extends object>(request: object, timeoutMs = 600_000): Promise<T | { error: string }> {
  return peerRequest<T>('tfjs.ts', 'tfjs', request, timeoutMs);
}

/** One jax-js request (bench/peers/jaxjs.ts) in its own process. */
export function jaxjsRequest<T extends object>(request: object, timeoutMs = 600_000): Promise<T | { error: string }> {
  return peerRequest<T>('jaxjs.ts', 'jax-js', request, timeoutMs);
}

export function isError(x: object): x is { error: string } {
  return 'error' in x && typeof (x as { error: unknown }).error === 'string';
}

/** The device already open (inside `wgpt bench`), or a new one for a standalone script; `opened`
 *  says whether the caller must close it. */
export async function currentOrOpenDevice(): Promise<{ device: Device; opened: boolean }> {
  try {
    return { device: getDevice(), opened: false };
  } catch {
    return { device: await openDevice(), opened: true };
  }
}

/** The note a torch-cpu row carries: which BLAS it ran on, and "reference" where that is netlib's
 *  (10x slower than OpenBLAS: not the peer a user who installs torch gets, so it must say so). */
export function blasNote(res: { blas?: unknown; blas_warning?: unknown }): string | undefined {
  if (typeof res.blas !== 'string') return undefined;
  const libs = res.blas.split(', ').map((p) => p.split('/').pop()).join(', ');
  return res.blas_warning ? `BLAS: ${libs} (reference BLAS, not OpenBLAS: install libopenblas0-pthread)` : `BLAS: ${libs}`;
}
