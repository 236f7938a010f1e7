// Benchmark peer: PyTorch on the CPU, and on a CUDA GPU where torch sees one (fp32, TF32 off: the
// peer a GPU user would pick), through bench/peers/torch_peer.py in a child process.
// The interpreter is the first of /usr/bin/python3 and `python3` (PATH) that can import torch.
// A missing interpreter or torch is reported as `{ ok: false, reason }`, never faked. The child
// inherits the environment (LD_LIBRARY_PATH can point torch at another libblas.so.3); results say
// which BLAS was used, and warn when it is the slow reference BLAS.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MatmulMode, MatmulResult, PeerError, StepResult } from './tfjs.ts';
import type { PeerConfig } from './weights.ts';

export type { MatmulMode, MatmulResult, PeerError, StepResult } from './tfjs.ts';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_peer.py');
const CANDIDATES = ['/usr/bin/python3', 'python3'];

/** Which BLAS torch's matmuls run on: the mapped library paths, and a warning for reference BLAS. */
export interface TorchInfo {
  threads: number;
  blas: string;
  blas_warning?: string;
}
export type TorchMatmulResult = MatmulResult & TorchInfo;
export type TorchStepResult = StepResult & TorchInfo;

export type TorchAvailability = ({ ok: true; version: string; python: string; cuda: boolean; cudaDevice?: string } & TorchInfo)
  | { ok: false; reason: string };

/** Where torch runs a request. */
export type TorchDevice = 'cpu' | 'cuda';

interface RunOutput {
  code: number | null;
  stdout: string;
  stderr: string;
  spawnError?: string;
}

function run(python: string, request: object, timeoutMs: number): Promise<RunOutput> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const child = spawn(python, [SCRIPT, JSON.stringify(request)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = (out: RunOutput): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(out);
    };
    child.on('error', (e) => done({ code: null, stdout, stderr, spawnError: e.message }));
    child.on('close', (code, signal) => done({ code: code ?? (signal ? -1 : null), stdout, stderr }));
  });
}

/** The last line of stdout parsed as JSON, or an explanation of why there is none. */
function parse(out: RunOutput): Record<string, unknown> | { error: string } {
  if (out.spawnError) return { error: out.spawnError };
  const line = out.stdout.trim().split('\n').pop() ?? '';
  try {
    const v = JSON.parse(line) as unknown;
    if (v && typeof v === 'object') return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  const tail = out.stderr.trim().split('\n').slice(-3).join(' | ');
  return { error: `torch peer exited with ${out.code} and no JSON result${tail ? `: ${tail}` : ''}` };
}

let found: Promise<TorchAvailability> | null = null;

async function findPython(): Promise<TorchAvailability> {
  const reasons: string[] = [];
  for (const python of CANDIDATES) {
    const r = parse(await run(python, { kind: 'available' }, 120_000));
    if ('error' in r) {
      reasons.push(`${python}: ${r.error}`);
      continue;
    }
    const info: TorchInfo = { threads: Number(r.threads), blas: String(r.blas) };
    if (typeof r.blas_warning === 'string') info.blas_warning = r.blas_warning;
    const cudaDevice = typeof r.cuda_device === 'string' ? r.cuda_device : undefined;
    return { ok: true, version: String(r.version), python, cuda: r.cuda === true, cudaDevice, ...info };
  }
  return { ok: false, reason: reasons.join('; ') };
}

export function torchAvailable(): Promise<TorchAvailability> {
  found ??= findPython();
  return found;
}

async function request<T>(req: object, timeoutMs: number): Promise<T | PeerError> {
  const avail = await torchAvailable();
  if (!avail.ok) return { error: `torch unavailable: ${avail.reason}` };
  const r = parse(await run(avail.python, req, timeoutMs));
  if ('error' in r) return { error: String(r.error) };
  return r as T;
}

/** See torch_peer.py: C[m,n], inner k, median of `reps` after two warm-ups (2 threads on the CPU). */
export function torchMatmul(m: number, n: number, k: number, mode: MatmulMode, reps: number, timeoutMs = 600_000,
  device: TorchDevice = 'cpu'): Promise<TorchMatmulResult | PeerError> {
  return request<TorchMatmulResult>({ kind: 'matmul', m, n, k, mode, reps, device }, timeoutMs);
}

/**
 * One GPT-2 training step per repetition on the weights in `weightsFile` (safetensors, Hugging
 * Face names, e.g. from writePeerFiles) and the batch in `batchFile` ({inputs, targets}).
 */
export function torchStep(config: PeerConfig, weightsFile: string, batchFile: string, reps: number, timeoutMs = 600_000,
  device: TorchDevice = 'cpu'): Promise<TorchStepResult | PeerError> {
  return request<TorchStepResult>(
    { kind: 'step', config, weights: path.resolve(weightsFile), batch: path.resolve(batchFile), reps, device },
    timeoutMs,
  );
}
