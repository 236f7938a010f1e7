// `wgpt bench step`: one training step (forward, backward, AdamW lr 1e-4 wd 0.1) on the seeded peer
// weights and batch (bench/peers/weights.ts), for wgpt and the peers on exactly the same numbers:
// the first-step losses printed side by side show that the work is the same.
//   small  2 layers, d=256, 4 heads, T=128, B=4, vocab 50257
//   gpt2   124M (12 layers, d=768, 12 heads), the chapter's batch 8 × 64 tokens (skipped by --quick)
//   gpt2-medium  355M (24 layers, d=1024, 16 heads), 8 × 64 (on a real GPU only)
// Peers: PyTorch on the CPU, PyTorch on CUDA where torch sees a GPU, jax-js and TensorFlow.js on
// WebGPU (one process per request; jax-js's compile time is reported apart from its step time).
// wgpt loads the weights through loadGPT from the safetensors file the peers read, with a
// config.json beside it. Per steady step: buffers created (must be 0), submits, dispatches.
// Beside it, wgpt's LoRA step (rank 16 on attn and mlp, the base frozen) on the same weights.
import os from 'node:os';
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { backward, Tensor, tidy, WgptError, type Device } from '../engine/index.ts';
import { loadGPT } from '../model/build.ts';
import type { GPTConfig } from '../model/config.ts';
import { writeHFConfig } from '../model/hf-config-file.ts';
import { initLora, loraParamCount, loraSpec, type LoraSpec } from '../model/lora.ts';
import { AdamW } from '../train/run/optim.ts';
import { blasNote, errorText, isError, logRow, median, type BenchRow } from './common.ts';
import { peerBatch, SMALL_CONFIG, writePeerFiles, type PeerConfig } from './peers/weights.ts';
import { torchAvailable, torchStep } from './peers/torch.ts';
import type { StepResult } from './peers/tfjs.ts';
import { jaxjsRequest, tfjsRequest } from './common.ts';
import type { JaxStepResult } from './peers/jaxjs.ts';

export const SEED = 1234;
/** A TypeScript WebGPU peer's step request (compile + warm-up + timed runs) is killed after this. */
const WEBGPU_PEER_TIMEOUT_MS = 900_000;
export const STEP_CONFIGS: Record<string, PeerConfig> = {
  small: SMALL_CONFIG,
  gpt2: { nLayers: 12, dModel: 768, nHeads: 12, T: 64, B: 8, vocab: 50257 },
  'gpt2-medium': { nLayers: 24, dModel: 1024, nHeads: 16, T: 64, B: 8, vocab: 50257 },
};

/** Matmul FLOPs of one training step (forward 2·, backward 4· per multiply-add), attention full T². */
export function stepFlops(c: PeerConfig): number {
  const tokens = c.B * c.T;
  const linear = 6 * tokens * (12 * c.dModel * c.dModel * c.nLayers + c.vocab * c.dModel);
  const attention = 12 * c.nLayers * c.B * c.T * c.T * c.dModel;
  return linear + attention;
}

interface WgptStep {
  ms: number; ms_min: number; ms_max: number; cpu_ms: number; runs: number;
  loss: number; loss_last: number; peak_bytes: number; buffers_created: number; submits: number; dispatches: number;
  /** Host µs to record one dispatch (Counters.recordMs over the step's dispatches). */
  record_us: number;
  /** Host ms per step spent recording it (the step's synchronous part, its submits excluded). */
  host_ms: number;
  /** GPU ms per step, and how it was taken (gpu_timing). */
  gpu_ms: number;
  gpu_timing: string;
}

/** How gpu_ms is taken: GPU timestamps are not read here yet, so it is the wall time from the end
 *  of recording to the loss read back (on llvmpipe, where submit runs the work, that is the work). */
const GPU_TIMING = 'wall time from the end of recording to the loss read back';

/** LoRA as exercise 7.4 sets it up: rank 16, alpha 16, on attn and mlp. */
const BENCH_LORA = loraSpec(16);

/** One step of full finetuning, or with `lora` of LoRA adapters on the frozen model. */
export async function wgptStep(
  device: Device, config: PeerConfig, weights: string, reps: number, lora: LoraSpec | null = null,
): Promise<WgptStep> {
  const model = await loadGPT(weights);
  if (lora) model.useAdapters(initLora(model.config, lora, SEED));
  const opt = new AdamW([...model.trainable().values()], { lr: 1e-4, weightDecay: 0.1 });
  const batch = peerBatch(config, SEED);
  const ids = Tensor.fromData(batch.inputs, [config.B, config.T], 'i32');
  const targets = Tensor.fromData(batch.targets, [config.B, config.T], 'i32');
  try {
    const c = device.counters;
    let hostMs = 0;
    const step = async (): Promise<number> => {
      const t0 = performance.now();
      const submitted = c.submitMs;
      const l = tidy(() => {
        const x = model.loss(ids, targets);
        backward(x);
        return x;
      });
      opt.update();
      hostMs = performance.now() - t0 - (c.submitMs - submitted);
      const v = await l.item();
      l.dispose();
      return v;
    };
    const loss = await step(); // warm-up: compiles, fills the buffer pool; its loss is before any update
    c.peakLiveBytes = c.liveBytes;
    const wall: number[] = [];
    const cpu: number[] = [];
    const created: number[] = [];
    const submits: number[] = [];
    const dispatches: number[] = [];
    const recordUs: number[] = [];
    const host: number[] = [];
    const gpuMs: number[] = [];
    let lossLast = loss;
    for (let i = 0; i < reps; i++) {
      const before = { ...c };
      const u0 = process.cpuUsage();
      const t0 = performance.now();
      lossLast = await step();
      wall.push(performance.now() - t0);
      host.push(hostMs);
      gpuMs.push(wall[wall.length - 1] - hostMs);
      const u = process.cpuUsage(u0);
      cpu.push((u.user + u.system) / 1000);
      created.push(c.buffersCreated - before.buffersCreated);
      submits.push(c.submits - before.submits);
      dispatches.push(c.dispatches - before.dispatches);
      recordUs.push((1000 * (c.recordMs - before.recordMs)) / Math.max(1, c.dispatches - before.dispatches));
    }
    return {
      ms: median(wall), ms_min: Math.min(...wall), ms_max: Math.max(...wall), cpu_ms: median(cpu), runs: reps,
      loss, loss_last: lossLast, peak_bytes: c.peakLiveBytes, buffers_created: Math.max(...created),
      submits: median(submits), dispatches: median(dispatches), record_us: median(recordUs),
      host_ms: median(host), gpu_ms: median(gpuMs), gpu_timing: GPU_TIMING,
    };
  } finally {
    ids.dispose();
    targets.dispose();
    opt.dispose();
    model.dispose();
    device.releasePooled();
  }
}

export interface StepSuiteOptions {
  /** Only these configs (default: by adapter and --quick). */
  configs?: string[];
  /** Run the peers (default true). */
  peers?: boolean;
}

export async function stepSuite(device: Device, quick: boolean, peak: number, opts: StepSuiteOptions = {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const push = (r: BenchRow): void => {
    rows.push(r);
    logRow(r);
  };
  const gpu = device.backend === 'gpu';
  type Reps = { wgpt: number; torch: number; jaxjs: number; tfjs: number };
  let plan: [string, Reps][] = gpu
    // On a GPU a step takes milliseconds: more runs, and gpt2-medium too (CPU torch is left out there).
    ? [
      ['small', { wgpt: 10, torch: 0, jaxjs: 5, tfjs: 3 }], ['gpt2', { wgpt: 10, torch: 0, jaxjs: 5, tfjs: 3 }],
      ['gpt2-medium', { wgpt: 10, torch: 0, jaxjs: 3, tfjs: 0 }],
    ]
    : quick
      ? [['small', { wgpt: 3, torch: 2, jaxjs: 2, tfjs: 1 }]]
      : [['small', { wgpt: 3, torch: 3, jaxjs: 3, tfjs: 1 }], ['gpt2', { wgpt: 2, torch: 2, jaxjs: 1, tfjs: 1 }]];
  if (opts.configs) {
    const bad = opts.configs.find((c) => !STEP_CONFIGS[c]);
    if (bad !== undefined) throw new WgptError(`--configs: unknown "${bad}"; use ${Object.keys(STEP_CONFIGS).join(', ')}`);
    const reps = (c: string): Reps => plan.find(([n]) => n === c)?.[1] ?? { wgpt: 2, torch: 2, jaxjs: 1, tfjs: 1 };
    plan = opts.configs.map((c) => [c, reps(c)]);
  }
  if (opts.peers === false) plan = plan.map(([c, r]) => [c, { wgpt: r.wgpt, torch: 0, jaxjs: 0, tfjs: 0 }]);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'wgpt-bench-step-'));
  // Per peer: ms per FLOP of its last measured step, to predict whether a bigger config fits the limit.
  const msPerFlop = new Map<string, number>();
  try {
    for (const [name, reps] of plan) {
      const config = STEP_CONFIGS[name];
      const sub = path.join(dir, name);
      const files = await writePeerFiles(config, SEED, sub);
      const gcfg: GPTConfig = {
        vocabSize: config.vocab, contextLength: config.T, dModel: config.dModel, nLayers: config.nLayers,
        nHeads: config.nHeads, layerNormEps: 1e-5, dropout: 0, tiedHead: true,
      };
      await writeHFConfig(path.join(sub, 'config.json'), gcfg);
      const tokens = config.B * config.T;
      const flops = stepFlops(config);
      const variant = `${config.nLayers}L d=${config.dModel} ${config.B}×${config.T}`;
      let ours: BenchRow;
      try {
        const w = await wgptStep(device, config, files.weights, reps.wgpt);
        ours = {
          name: `step/${name}`, impl: 'wgpt', variant, ...w, tokens_per_s: tokens / (w.ms / 1000),
          gflops: flops / w.ms / 1e6, mfu: flops / w.ms / 1e6 / peak,
          note: `${w.dispatches} dispatches, ${w.submits} submits, ${w.record_us.toFixed(1)} µs host time to record each; ` +
            `${w.host_ms.toFixed(1)} ms host, ${w.gpu_ms.toFixed(1)} ms GPU (${w.gpu_timing})`,
        };
      } catch (e) {
        ours = { name: `step/${name}`, impl: 'wgpt', variant, error: `failed: ${errorText(e)}` };
      }
      push(ours);
      // LoRA on the same weights and batch: the base frozen (no dW products, no AdamW state for it).
      try {
        const w = await wgptStep(device, config, files.weights, reps.wgpt, BENCH_LORA);
        const trainable = loraParamCount(gcfg, BENCH_LORA);
        push({
          name: `step/${name}`, impl: `wgpt LoRA r${BENCH_LORA.rank}`, variant, ...w, tokens_per_s: tokens / (w.ms / 1000),
          ratio: ours.ms ? ours.ms / w.ms : undefined, ratio_baseline: ours.ms ? `wgpt full finetuning step/${name}, same run` : undefined,
          note: `${trainable.toLocaleString('en-US')} trainable parameters (attn+mlp, alpha ${BENCH_LORA.alpha}), ` +
            `${w.dispatches} dispatches`,
        });
      } catch (e) {
        push({ name: `step/${name}`, impl: `wgpt LoRA r${BENCH_LORA.rank}`, variant, error: `failed: ${errorText(e)}` });
      }
      const peerRow = (impl: string, res: (StepResult & { compile_ms?: number }) | { error: string }): BenchRow => {
        if (isError(res)) return { name: `step/${name}`, impl, variant, error: res.error };
        return {
          name: `step/${name}`, impl, variant, ms: res.ms, ms_min: res.ms_min, ms_max: res.ms_max, cpu_ms: res.cpu_ms,
          compile_ms: res.compile_ms,
          tokens_per_s: res.tokens_per_s, gflops: flops / res.ms / 1e6, loss: res.loss, loss_last: res.loss_last, version: res.version,
          ratio: ours.ms ? res.ms / ours.ms : undefined,
          ratio_baseline: ours.ms ? `${impl} step/${name} on the same weights and batch` : undefined,
          note: impl === 'torch-cpu' ? blasNote(res as { blas?: unknown }) : undefined,
        };
      };
      const th = await torchAvailable().catch((e: unknown) => ({ ok: false as const, reason: errorText(e) }));
      if (reps.torch > 0) {
        push(th.ok
          ? peerRow('torch-cpu', await torchStep(config, files.weights, files.batch, reps.torch, 1_200_000))
          : { name: `step/${name}`, impl: 'torch-cpu', variant, error: `missing: ${th.reason}` });
      }
      if (opts.peers === false) continue;
      if (th.ok && th.cuda) push(peerRow('torch-cuda', await torchStep(config, files.weights, files.batch, 10, 600_000, 'cuda')));
      else if (gpu) {
        push({ name: `step/${name}`, impl: 'torch-cuda', variant, error: `missing: ${th.ok ? 'torch sees no CUDA GPU' : th.reason}` });
      }
      // The TypeScript WebGPU peers, each in its own process. A step that cannot finish within the
      // time limit is not started: its expected time comes from its measured step on a smaller
      // config, scaled by FLOPs (reported, never faked).
      const webgpuPeer = async (
        impl: string, runs: number,
        request: (req: object, timeoutMs: number) => Promise<(StepResult & { compile_ms?: number }) | { error: string }>,
      ): Promise<void> => {
        if (runs <= 0) return;
        const perFlop = msPerFlop.get(impl);
        const expectedMs = perFlop === undefined ? 0 : perFlop * flops * (1 + runs);
        const row = expectedMs > WEBGPU_PEER_TIMEOUT_MS
          ? {
            name: `step/${name}`, impl, variant,
            error: `skipped: its step/small time scaled by FLOPs gives ~${Math.round(expectedMs / 60000)} min for warm-up + ` +
              `${runs} run(s), past the ${WEBGPU_PEER_TIMEOUT_MS / 60000} min limit`,
          }
          : peerRow(impl, await request({ kind: 'step', config, seed: SEED, reps: runs }, WEBGPU_PEER_TIMEOUT_MS));
        push(row);
        if (row.ms !== undefined) msPerFlop.set(impl, row.ms / flops);
      };
      await webgpuPeer('jax-js', reps.jaxjs, (req, t) => jaxjsRequest<JaxStepResult>(req, t));
      await webgpuPeer('tfjs-webgpu', reps.tfjs, (req, t) => tfjsRequest<StepResult>(req, t));
      const losses = rows.filter((r) => r.name === `step/${name}` && r.loss !== undefined).map((r) => `${r.impl} ${r.loss!.toFixed(6)}`);
      console.log(`step/${name} first-step losses: ${losses.join(', ')}`);
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
  return rows;
}
