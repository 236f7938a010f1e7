// `wgpt bench matmul`: the engine's matmul (bench/matmul.ts's benchMatmul) at 1024³ and the GPT-2
// small training shapes, with the peers beside it on the same shapes where they are installed:
// jax-js and TensorFlow.js on WebGPU (same Dawn adapter, one process per request), PyTorch on the CPU, and
// PyTorch on CUDA (cuBLAS fp32, TF32 off) where torch sees a GPU, at every shape and form.
// A peer that is missing is reported as missing; a shape it refuses, or one skipped for time, says so.
import type { Device } from '../engine/index.ts';
import { benchMatmul, type MatmulRow } from './matmul.ts';
import { blasNote, errorText, isError, jaxjsRequest, logRow, tfjsRequest, type BenchRow } from './common.ts';
import { torchAvailable, torchMatmul } from './peers/torch.ts';
import type { MatmulResult } from './peers/tfjs.ts';
import type { JaxMatmulResult } from './peers/jaxjs.ts';

export interface MatmulSuite {
  rows: BenchRow[];
  /** Best wgpt GFLOP/s measured here: the peak MFU figures are taken against. */
  peak: number;
  dispatchUs: number;
  matmulOpUs: number;
}

/** Peer figures for the wgpt rows whose shape name is in `shapes`; `reps` timed runs each. */
type PeerPlan = { shapes: string[]; reps: number };

export async function matmulSuite(_device: Device, quick: boolean): Promise<MatmulSuite> {
  // The full run times every shape in every form, the LM head's three included (its backward forms
  // are half of a small step's matmul work).
  const wanted = (name: string): boolean => !quick || ['1024³', 'qkv'].includes(name);
  const bench = await benchMatmul({ runs: quick ? 3 : 5, filter: wanted, flopsPerRun: 4e9 });
  const named = (r: MatmulRow): string => (r.name === 'naive 1024³' ? 'naive-1024³' : r.name);
  const ours = bench.rows.filter((r) => r.name !== 'naive 1024³');
  const peak = Math.max(...ours.map((r) => r.gflops));
  const rows: BenchRow[] = bench.rows.map((r) => ({
    name: `matmul/${named(r)}`, impl: 'wgpt', variant: r.name === 'naive 1024³' ? 'naive kernel (baseline)' : undefined,
    mode: r.mode, m: r.m, n: r.n, k: r.k, ms: r.ms, ms_min: r.ms_min, ms_max: r.ms_max, gflops: r.gflops, mfu: r.gflops / peak,
  }));

  const tfjs: PeerPlan = { shapes: ['1024³', 'qkv'], reps: quick ? 2 : 3 };
  // jax-js runs at tfjs's speed or better on llvmpipe (~6 GFLOP/s at 1024³): the same shapes, and the
  // rest of the GPT-2 shapes in a full run.
  const jaxjs: PeerPlan = { shapes: quick ? ['1024³', 'qkv'] : ['1024³', 'qkv', 'attn-proj', 'fc', 'proj'], reps: quick ? 2 : 3 };
  const torch: PeerPlan = { shapes: quick ? ['1024³', 'qkv'] : ['1024³', 'qkv', 'attn-proj', 'fc', 'proj'], reps: 3 };

  const peerRow = (r: MatmulRow, impl: string, res: (MatmulResult & { compile_ms?: number }) | { error: string },
    note?: string): BenchRow => {
    const base = { name: `matmul/${named(r)}`, impl, mode: r.mode, m: r.m, n: r.n, k: r.k };
    if (isError(res)) return { ...base, error: res.error };
    return {
      ...base, ms: res.ms, ms_min: res.ms_min, ms_max: res.ms_max, cpu_ms: res.cpu_ms, gflops: res.gflops,
      compile_ms: res.compile_ms, ratio: res.ms / r.ms, ratio_baseline: `${impl} at the same shape and mode`, version: res.version, note,
    };
  };

  // jax-js: each form is one jit function (the transpose a view inside it), one process per request.
  const jxAvail = await jaxjsRequest<{ ok: boolean; reason?: string }>({ kind: 'available' }, 180_000);
  const jxOk = !isError(jxAvail) && jxAvail.ok;
  const jxWhy = isError(jxAvail) ? jxAvail.error : jxAvail.reason ?? '';
  for (const r of ours) {
    if (!jaxjs.shapes.includes(r.name)) continue;
    const row = jxOk
      ? peerRow(r, 'jax-js', await jaxjsRequest<JaxMatmulResult>({ kind: 'matmul', m: r.m, n: r.n, k: r.k, mode: r.mode,
        reps: jaxjs.reps }))
      : { name: `matmul/${r.name}`, impl: 'jax-js', mode: r.mode, m: r.m, n: r.n, k: r.k, error: `missing: ${jxWhy}` };
    rows.push(row);
    logRow(row);
    if (!jxOk) break;
  }

  // TensorFlow.js WebGPU, one process per request.
  const tfAvail = await tfjsRequest<{ ok: boolean; reason?: string; version?: string }>({ kind: 'available' }, 180_000);
  const tfOk = !isError(tfAvail) && tfAvail.ok;
  const tfWhy = isError(tfAvail) ? tfAvail.error : tfAvail.reason ?? '';
  for (const r of ours) {
    if (!tfjs.shapes.includes(r.name)) continue;
    const row = tfOk
      ? peerRow(r, 'tfjs-webgpu', await tfjsRequest<MatmulResult>({ kind: 'matmul', m: r.m, n: r.n, k: r.k, mode: r.mode,
        reps: tfjs.reps }))
      : { name: `matmul/${r.name}`, impl: 'tfjs-webgpu', mode: r.mode, m: r.m, n: r.n, k: r.k, error: `missing: ${tfWhy}` };
    rows.push(row);
    logRow(row);
    if (!tfOk) break;
  }

  // PyTorch CPU.
  let thAvail: Awaited<ReturnType<typeof torchAvailable>>;
  try {
    thAvail = await torchAvailable();
  } catch (e) {
    thAvail = { ok: false, reason: errorText(e) };
  }
  for (const r of ours) {
    if (!torch.shapes.includes(r.name)) continue;
    let row: BenchRow;
    if (!thAvail.ok) row = { name: `matmul/${r.name}`, impl: 'torch-cpu', error: `missing: ${thAvail.reason}` };
    else {
      const res = await torchMatmul(r.m, r.n, r.k, r.mode, torch.reps);
      row = peerRow(r, 'torch-cpu', res, isError(res) ? undefined : blasNote(res));
    }
    rows.push(row);
    logRow(row);
    if (!thAvail.ok) break;
  }
  // PyTorch on CUDA: fast enough for every shape and form.
  if (thAvail.ok && thAvail.cuda) {
    for (const r of ours) {
      const row = peerRow(r, 'torch-cuda', await torchMatmul(r.m, r.n, r.k, r.mode, 10, 600_000, 'cuda'), thAvail.cudaDevice);
      rows.push(row);
      logRow(row);
    }
  } else {
    rows.push({ name: 'matmul/1024³', impl: 'torch-cuda', error: `missing: ${thAvail.ok ? 'torch sees no CUDA GPU' : thAvail.reason}` });
  }
  // Shapes wgpt measured that the CPU peers were not run at, said once.
  const left = ours.filter((r) => !torch.shapes.includes(r.name)).map((r) => r.name);
  if (left.length) {
    const note = `torch-cpu, jax-js and tfjs not run at ${[...new Set(left)].join(', ')} (time budget: they take minutes there)`;
    rows.push({ name: 'matmul/other-shapes', impl: 'peers', error: note });
  }
  rows.push({
    name: 'dispatch/raw', impl: 'wgpt', variant: '2000 dispatches, one submit', ms: bench.dispatchUs / 1000, record_us: bench.recordUs,
    note: `${bench.dispatchUs.toFixed(1)} µs per dispatch, ${bench.recordUs.toFixed(1)} µs of it the engine recording it`,
  });
  // The named baseline, interleaved round by round: what the adapter itself costs per dispatch.
  rows.push({
    name: 'dispatch/raw', impl: 'bare Dawn', variant: '2000 dispatches, one submit', ms: bench.bareDawnUs / 1000,
    ratio: bench.bareDawnUs / bench.interleavedUs,
    ratio_baseline: 'the same dispatch written against Dawn directly (bench/dispatch-bare.ts), rounds interleaved with wgpt\'s',
    note: `${bench.bareDawnUs.toFixed(1)} µs per dispatch against wgpt's ${bench.interleavedUs.toFixed(1)} µs in the same rounds: ` +
      `the rest of wgpt's cost is the adapter's`,
  });
  rows.push({ name: 'dispatch/matmul-op', impl: 'wgpt', variant: '4x4x4 matmul op', ms: bench.matmulOpUs / 1000,
    note: `${bench.matmulOpUs.toFixed(1)} µs per op` });
  return { rows, peak, dispatchUs: bench.dispatchUs, matmulOpUs: bench.matmulOpUs };
}
