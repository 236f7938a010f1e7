// Matmul benchmark (not a test): GFLOP/s of the engine's matmul op at 1024³ and at the GPT-2-small
// training shapes for 1024 tokens, in the three forms a linear layer runs (forward x·W, input
// gradient dy·Wᵀ, weight gradient xᵀ·dy), with the naive kernel's 1024³ figure beside as a baseline,
// and the cost of one dispatch. Each figure is the median of several timed runs after a warm-up run
// (which also pays the kernel's JIT compile); a run is `await device.finish()` (the GPU's completion) around `perRun`
// matmuls recorded inside noGrad + tidy. With --compare every shape is also measured with the
// generic tiled kernel (overrideMatmul({ kernel: 'generic' }), the software path before the llvmpipe kernel),
// the two kernels' runs interleaved so load on a shared machine hits both alike. `first` is the
// warm-up call: the JIT compile plus one run, wall and process CPU seconds (cold only with
// MESA_SHADER_CACHE_DISABLE=true or a fresh MESA_SHADER_CACHE_DIR).
//   npx tsx bench/matmul.ts [--json out.json] [--quick] [--runs N] [--compare] [--only name,name]
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { closeDevice, matmul, noGrad, Tensor, tidy, type Device } from '../engine/index.ts';
import { currentOrOpenDevice } from './common.ts';
import { median } from './peers/measure.ts';
import { overrideMatmul } from '../engine/tune/matmul-pick.ts';
import { WG } from '../kernels/kernel.ts';
import { FILL } from '../kernels/elementwise.ts';
import { bareDawnDispatches } from './dispatch-bare.ts';

export type MatmulMode = 'x·W' | 'dy·Wᵀ' | 'xᵀ·dy';

export interface MatmulRow {
  name: string;
  mode: MatmulMode;
  m: number;
  n: number;
  k: number;
  ms: number;
  ms_min: number;
  ms_max: number;
  gflops: number;
  /** The kernel: 'tiled' (the backend's own) or 'generic'. */
  kernel?: string;
  /** The warm-up call (compile + one run): wall and process CPU seconds. */
  first_s?: number;
  first_cpu_s?: number;
}

export interface MatmulBench {
  rows: MatmulRow[];
  /** Cost of one dispatch recorded among many in one submit, in µs: a 4-float kernel through
   *  Device.dispatch, and a 4x4x4 matmul through the op (allocation and tidy included). */
  dispatchUs: number;
  /** The same dispatch written against Dawn directly (bench/dispatch-bare.ts), µs, and wgpt's in
   *  rounds interleaved with it. */
  bareDawnUs: number;
  interleavedUs: number;
  /** Of dispatchUs, the engine's own host time to record one (Counters.recordMs); the rest is the
   *  adapter running it (on llvmpipe mostly handing each dispatch to its worker threads). */
  recordUs: number;
  matmulOpUs: number;
  device: string;
}

const TOKENS = 1024;
/** GPT-2 small's linear layers: [name, in, out]. The Conv1D layers store W as [in, out]; the LM
 *  head is wte itself, stored [out, in] = [50257, 768] (HEAD_LAYOUT), and is measured so. */
const LAYERS: [string, number, number][] = [
  ['qkv', 768, 2304],
  ['attn-proj', 768, 768],
  ['fc', 768, 3072],
  ['proj', 3072, 768],
  ['lm-head', 768, 50257],
];

interface Timing {
  ms: number;
  min: number;
  max: number;
  firstS: number;
  firstCpuS: number;
}

/** Times each of `fns` (which record GPU work) as ms per call: a warm-up call each, then `runs`
 *  rounds of `perRun` calls of each in turn. */
async function timeEach(device: Device, fns: (() => void)[], runs: number, perRun: number): Promise<Timing[]> {
  const once = (fn: () => void, n: number): void => noGrad(() => tidy(() => {
    for (let i = 0; i < n; i++) fn();
  }));
  const first: { s: number; cpu: number }[] = [];
  for (const fn of fns) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    once(fn, 1);
    await device.finish();
    const cpu = process.cpuUsage(c0);
    first.push({ s: (performance.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6 });
  }
  const ms: number[][] = fns.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < fns.length; i++) {
      const t0 = performance.now();
      once(fns[i], perRun);
      await device.finish();
      ms[i].push((performance.now() - t0) / perRun);
    }
  }
  return ms.map((x, i) => ({ ms: median(x), min: Math.min(...x), max: Math.max(...x), firstS: first[i].s, firstCpuS: first[i].cpu }));
}

async function time(device: Device, fn: () => void, runs: number, perRun: number): Promise<Timing> {
  return (await timeEach(device, [fn], runs, perRun))[0];
}

/** Layers whose W is stored [out, in] (the tied LM head: logits = x·wteᵀ), as the model multiplies them. */
const HEAD_LAYOUT = new Set(['lm-head']);

/** The operands of one form of a linear layer in -> out over `t` tokens (W stored [in, out], or
 *  [out, in] with `outIn`: then x·W is x·Wᵀ, dy·Wᵀ is dy·W and xᵀ·dy is dW = dyᵀ·x, [out, in]). */
function operands(mode: MatmulMode, t: number, inp: number, out: number,
  outIn = false): { a: number[]; b: number[]; ta: boolean; tb: boolean; m: number; n: number; k: number } {
  if (outIn) {
    switch (mode) {
      case 'x·W': return { a: [t, inp], b: [out, inp], ta: false, tb: true, m: t, n: out, k: inp };
      case 'dy·Wᵀ': return { a: [t, out], b: [out, inp], ta: false, tb: false, m: t, n: inp, k: out };
      case 'xᵀ·dy': return { a: [t, out], b: [t, inp], ta: true, tb: false, m: out, n: inp, k: t };
    }
  }
  switch (mode) {
    case 'x·W': return { a: [t, inp], b: [inp, out], ta: false, tb: false, m: t, n: out, k: inp };
    case 'dy·Wᵀ': return { a: [t, out], b: [inp, out], ta: false, tb: true, m: t, n: inp, k: out };
    case 'xᵀ·dy': return { a: [t, inp], b: [t, out], ta: true, tb: false, m: inp, n: out, k: t };
  }
}

function filled(shape: number[], seed: number): Tensor {
  const n = shape[0] * shape[1];
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 2654435761 + seed) % 1000) / 1000 - 0.5;
  return Tensor.fromData(data, shape);
}

export interface BenchMatmulOptions {
  json?: string;
  quick?: boolean;
  /** Timed runs per shape (default 3 with quick, else 7). */
  runs?: number;
  /** Which (shape name, mode) pairs to measure; all when absent. Names: 'naive 1024³', '1024³', LAYERS. */
  filter?: (name: string, mode: MatmulMode) => boolean;
  /** Work per timed run, in FLOPs: calls per run = round(flopsPerRun / flops), 1..16 (default 8e9). */
  flopsPerRun?: number;
  /** Also measure the generic tiled kernel at every shape, interleaved with the backend's own. */
  compare?: boolean;
}

export async function benchMatmul(opts: BenchMatmulOptions = {}): Promise<MatmulBench> {
  const { device, opened } = await currentOrOpenDevice();
  const runs = opts.runs ?? (opts.quick ? 3 : 7);
  const keep = opts.filter ?? ((): boolean => true);
  const rows: MatmulRow[] = [];
  const print = (r: MatmulRow): void => {
    const first = r.first_s === undefined ? '' : `  first ${r.first_s.toFixed(1)} s (${r.first_cpu_s!.toFixed(1)} s CPU)`;
    console.log(`${r.name.padEnd(14)} ${r.mode.padEnd(7)} ${`${r.m}x${r.n}x${r.k}`.padEnd(17)} ${(r.kernel ?? '').padEnd(8)} ` +
      `${r.ms.toFixed(2).padStart(9)} ms  [${r.ms_min.toFixed(2)} .. ${r.ms_max.toFixed(2)}]  ${r.gflops.toFixed(1).padStart(6)} GFLOP/s ` +
      `[${(2 * r.m * r.n * r.k / r.ms_max / 1e6).toFixed(1)} .. ${(2 * r.m * r.n * r.k / r.ms_min / 1e6).toFixed(1)}]${first}`);
  };
  console.log(`matmul on ${device.adapterDescription} (${device.backend}), median of ${runs} runs after a warm-up`);
  console.log(`${'name'.padEnd(14)} ${'mode'.padEnd(7)} ${'m x n x k'.padEnd(17)} ${'ms'.padStart(9)}     [min .. max]            GFLOP/s`);
  const measure = async (name: string, mode: MatmulMode, t: number, inp: number, out: number): Promise<void> => {
    if (!keep(name, mode)) return;
    const o = operands(mode, t, inp, out, HEAD_LAYOUT.has(name));
    const a = filled(o.a, 1);
    const b = filled(o.b, 2);
    const flops = 2 * o.m * o.n * o.k;
    // Enough calls per run that one run is at least ~0.2 s of work at 40 GFLOP/s (by default).
    const perRun = Math.max(1, Math.min(16, Math.round((opts.flopsPerRun ?? 8e9) / flops)));
    const kinds: ('tiled' | 'generic' | 'naive')[] = name.startsWith('naive') ? ['naive'] : opts.compare ? ['generic', 'tiled'] : ['tiled'];
    const fns = kinds.map((kind) => (): void => {
      const prev = overrideMatmul(kind === 'tiled' ? null : { kernel: kind });
      try {
        matmul(a, b, { transA: o.ta, transB: o.tb });
      } finally {
        overrideMatmul(prev);
      }
    });
    const ts = await timeEach(device, fns, runs, perRun);
    a.dispose();
    b.dispose();
    ts.forEach((r, i) => {
      const row = { name, mode, m: o.m, n: o.n, k: o.k, ms: r.ms, ms_min: r.min, ms_max: r.max, gflops: flops / r.ms / 1e6,
        kernel: kinds[i], first_s: r.firstS, first_cpu_s: r.firstCpuS };
      rows.push(row);
      print(row);
    });
  };
  const modes: MatmulMode[] = ['x·W', 'dy·Wᵀ', 'xᵀ·dy'];
  try {
    await measure('naive 1024³', 'x·W', 1024, 1024, 1024);
    for (const mode of modes) await measure('1024³', mode, 1024, 1024, 1024);
    for (const [name, inp, out] of LAYERS) for (const mode of modes) await measure(name, mode, TOKENS, inp, out);

    // Dispatch cost: many tiny dispatches recorded into one pass, one submit.
    const n = 2000;
    const x = Tensor.fromData(new Float32Array(4), [4]);
    const before = { ms: device.counters.recordMs, n: device.counters.dispatches };
    const raw = await time(device, () => device.dispatch({
      kernel: FILL, constants: { WG }, params: { n: 4, value: 0 }, bindings: [x.bind()], workgroups: [1], label: 'bench dispatch',
    }), runs, n);
    const recordUs = (1000 * (device.counters.recordMs - before.ms)) / (device.counters.dispatches - before.n);
    // The baseline: the same dispatch against Dawn directly, rounds interleaved with wgpt's.
    const bare = bareDawnDispatches(device);
    const bareUs: number[] = [];
    const oursUs: number[] = [];
    await bare.run(n);
    for (let r = 0; r < runs; r++) {
      bareUs.push((1000 * (await bare.run(n))) / n);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        device.dispatch({ kernel: FILL, constants: { WG }, params: { n: 4, value: 0 }, bindings: [x.bind()], workgroups: [1],
          label: 'bench dispatch' });
      }
      await device.finish();
      oursUs.push((1000 * (performance.now() - t0)) / n);
    }
    bare.destroy();
    const p = filled([4, 4], 3);
    const op = await time(device, () => matmul(p, p), runs, n);
    x.dispose();
    p.dispose();
    const dispatchUs = raw.ms * 1000;
    const bareDawnUs = median(bareUs);
    const matmulOpUs = op.ms * 1000;
    console.log(`one dispatch, ${n} in one submit: ${dispatchUs.toFixed(1)} µs ` +
      `[${(raw.min * 1000).toFixed(1)} .. ${(raw.max * 1000).toFixed(1)}], of which ${recordUs.toFixed(1)} µs recording it; ` +
      `interleaved with bare Dawn: wgpt ${median(oursUs).toFixed(1)} µs, bare Dawn ${bareDawnUs.toFixed(1)} µs ` +
      `[${Math.min(...bareUs).toFixed(1)} .. ${Math.max(...bareUs).toFixed(1)}]; ` +
      `a 4x4x4 matmul op: ${matmulOpUs.toFixed(1)} µs [${(op.min * 1000).toFixed(1)} .. ${(op.max * 1000).toFixed(1)}]`);
    if (opts.json) writeFileSync(opts.json, JSON.stringify(rows, null, 2) + '\n');
    return { rows, dispatchUs, recordUs, bareDawnUs, interleavedUs: median(oursUs), matmulOpUs,
      device: `${device.adapterDescription} (${device.backend})` };
  } finally {
    if (opened) closeDevice(device);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--json');
  const only = args.indexOf('--only');
  const names = only >= 0 ? args[only + 1].split(',') : null;
  const runs = args.indexOf('--runs');
  await benchMatmul({
    json: at >= 0 ? args[at + 1] : undefined, quick: args.includes('--quick'), compare: args.includes('--compare'),
    runs: runs >= 0 ? Number(args[runs + 1]) : undefined,
    filter: names ? (name) => names.includes(name) : undefined,
  });
  process.exit(0);
}
